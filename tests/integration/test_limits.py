"""Sizes and counts, and the hardening settings: body and frame limits, socket caps, HSTS, /metrics, /docs, CORS."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.integration.test_auth_admin import assert_problem
from tests.support.client import Desk, open_desk
from tests.support.server import Server, free_port, sqlite_server

pytestmark = pytest.mark.anyio
PORTAL = "http://portal.example"
METRICS_TOKEN = "metrics-secret-0123456789"


async def waiting_count(desk: Desk) -> int:
    return len((await desk.admin.ok("GET", "/chats?state=waiting&limit=200"))["items"])


async def test_a_body_over_the_limit_is_413_and_stores_nothing(desk: Desk) -> None:
    group = await desk.group()
    before = await waiting_count(desk)
    big = {"group_id": group["id"], "name": "Erin", "email": "erin@example.com", "message": "x" * (1024 * 1024 + 10)}
    declared = await desk.api().request("POST", "/chats", json=big)
    assert_problem(declared, 413, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        body = json.dumps(big).encode()
        for i in range(0, len(body), 64 * 1024):
            yield body[i:i + 64 * 1024]

    streamed = await desk.api().request("POST", "/chats", content=chunks(),
                                        headers={"content-type": "application/json"})
    assert_problem(streamed, 413, "payload_too_large")
    assert await waiting_count(desk) == before


@pytest.fixture(scope="module")
def capped() -> Iterator[Server]:
    env = {"DESKCHAT_MAX_SOCKETS_PER_TOKEN": "2", "DESKCHAT_MAX_UNAUTHENTICATED_SOCKETS": "2",
           "DESKCHAT_WS_MAX_FRAME_BYTES": "8192", "DESKCHAT_WS_AUTH_FRAME_BYTES": "512",
           "DESKCHAT_METRICS_TOKEN": METRICS_TOKEN, "DESKCHAT_COOKIE_SECURE": "true",
           "DESKCHAT_ALLOWED_ORIGINS": PORTAL}
    with sqlite_server(env) as srv:
        yield srv


@pytest.fixture
async def capped_desk(capped: Server) -> AsyncIterator[Desk]:
    async with open_desk(capped) as built:
        yield built


async def closing_code(ws: websockets.ClientConnection) -> int | None:
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    return ws.close_code


async def test_frames_over_the_limit_close_the_socket_with_1009(capped: Server, capped_desk: Desk) -> None:
    async with websockets.connect(capped.ws_url) as ws:  # before authentication: small
        await ws.send(json.dumps({"type": "auth", "token": "x" * 600}))
        assert await closing_code(ws) == 1009
    sock = await capped_desk.socket(capped_desk.admin.token or "")
    await sock.send(json.dumps({"type": "ping", "pad": "y" * 9000}))  # after: the sane limit
    assert await sock.wait_closed() == 1009


async def test_sockets_per_token_are_capped(capped: Server, capped_desk: Desk) -> None:
    token = capped_desk.admin.token or ""
    first, second = await capped_desk.socket(token), await capped_desk.socket(token)
    async with websockets.connect(capped.ws_url) as third:
        await third.send(json.dumps({"type": "auth", "token": token}))
        error = json.loads(await asyncio.wait_for(third.recv(), 10))
        assert error["type"] == "error" and error["error"]["type"] == "rate_limited"
        assert await closing_code(third) == 1013
    await first.close()
    await asyncio.sleep(0.3)
    await capped_desk.socket(token)  # room again
    assert not second.closed


async def test_sockets_that_never_authenticate_are_capped(capped: Server) -> None:
    idle = [await websockets.connect(capped.ws_url) for _ in range(2)]
    try:
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(capped.ws_url)
    finally:
        for ws in idle:
            await ws.close()
    await asyncio.sleep(0.3)
    async with websockets.connect(capped.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": "wrong"}))
        assert await closing_code(ws) == 1008


async def test_hsts_metrics_token_offline_docs_and_cors_without_credentials(capped: Server) -> None:
    async with httpx.AsyncClient(base_url=capped.url) as http:
        assert (await http.get("/healthz")).headers["strict-transport-security"].startswith("max-age=")
        assert_problem(await http.get("/metrics"), 401, "unauthorized")
        assert_problem(await http.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
        metrics = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert metrics.status_code == 200 and "deskchat" in metrics.text
        docs = await http.get("/docs")
        assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
        assert "http://" not in docs.text and "https://" not in docs.text  # nothing loaded from another site
        script = docs.text.split('src="', 1)[1].split('"', 1)[0]
        assert (await http.get(script)).status_code == 200
        preflight = await http.options("/api/v1/portal/groups", headers={
            "Origin": PORTAL, "Access-Control-Request-Method": "GET"})
        assert preflight.headers["access-control-allow-origin"] == PORTAL
        assert "access-control-allow-credentials" not in preflight.headers


def test_sqlite_files_are_readable_by_their_owner_only(capped: Server) -> None:
    files = [p for p in Path(capped.data_dir).iterdir() if p.name.startswith("deskchat.sqlite3")]
    assert any(p.name == "deskchat.sqlite3" for p in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))


@pytest.mark.parametrize("origins", ["*", "https://portal.example,*", "portal.example"])
def test_allowed_origins_must_be_exact_origins(tmp_path: Path, origins: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "DESKCHAT_DATA_DIR": str(tmp_path), "DESKCHAT_ALLOWED_ORIGINS": origins}
    result = subprocess.run([sys.executable, "-m", "deskchat", "serve", "--port", str(free_port())], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "DESKCHAT_ALLOWED_ORIGINS" in result.stderr and "not an origin" in result.stderr


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    """A client that is not the trusted proxy cannot pick its own address to escape the new-chat limit."""
    env = {"FORWARDED_ALLOW_IPS": "127.0.0.9", "DESKCHAT_RATE_LIMIT_ENABLED": "true",
           "DESKCHAT_RATE_LIMIT_NEW_CHATS_PER_MINUTE": "2"}
    with sqlite_server(env) as srv, httpx.Client(base_url=srv.url + "/api/v1") as http:
        group = http.post("/groups", json={"name": "Net"}, headers={"Authorization": "Bearer " + http.post(
            "/auth/login", json={"email": "admin@example.com", "password": "admin-pass-123"}).json()["token"]}).json()
        statuses = [http.post("/chats", headers={"X-Forwarded-For": f"10.9.9.{i}"}, json={
            "group_id": group["id"], "name": "Erin", "email": "erin@example.com", "message": "hi"}).status_code
            for i in range(4)]
        assert statuses[:2] == [201, 201] and statuses[2:] == [429, 429], statuses
