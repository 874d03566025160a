"""When every database connection stays busy, callers get 503 / close 1013 and come back; never a 500 or 1011.

A server with one pooled connection and a 50 ms pool timeout is flooded with requests and socket
connects at once: each request either succeeds or gets `503 overloaded` with `Retry-After`, each
socket either says hello or is closed with 1013 ("try again later", so clients reconnect and resume),
and afterwards the server answers normally.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from tests.support.client import open_desk
from tests.support.server import Server, postgres_database, sqlite_server

pytestmark = pytest.mark.anyio

TINY_POOL = {"DESKCHAT_DB_POOL_SIZE": "1", "DESKCHAT_DB_MAX_OVERFLOW": "0", "DESKCHAT_DB_POOL_TIMEOUT_SECONDS": "0.05"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def tiny_pool_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    if request.param == "sqlite":
        with sqlite_server(TINY_POOL) as srv:
            yield srv
    else:
        with postgres_database() as url, Server(url, env=TINY_POOL) as srv:
            yield srv


async def _connect(url: str, token: str) -> tuple[str, Any]:
    """'hello', or the close code the server sent before one."""
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "hello":
                    return "hello", None
                assert frame["type"] == "error" and frame["error"]["type"] == "overloaded", frame
        except websockets.ConnectionClosed:
            pass
        return "closed", ws.close_code


async def test_a_flood_gets_503_or_1013_never_500_and_the_server_recovers(tiny_pool_server: Server) -> None:
    async with open_desk(tiny_pool_server) as desk:
        group = await desk.group()
        tech, api, _ = await desk.technician([group["id"]], online=False)
        statuses: dict[int, int] = {}
        for _ in range(5):  # a flood is a race: five tries to see the pool run dry at least once
            responses = await asyncio.gather(*(api.request("GET", "/me") for _ in range(200)))
            for response in responses:
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 503:
                    assert response.headers["content-type"] == "application/problem+json"
                    assert response.headers["retry-after"] == "1"
                    assert response.json()["type"] == "overloaded"
                else:
                    assert response.status_code == 200, response.text
                    assert response.json()["id"] == tech["id"]
            if statuses.get(503):
                break
        assert set(statuses) == {200, 503}, statuses

        outcomes = await asyncio.gather(*(_connect(tiny_pool_server.ws_url, api.token or "") for _ in range(100)))
        assert {o for o in outcomes if o[0] == "closed"} <= {("closed", 1013)}, outcomes
        assert ("hello", None) in outcomes

        await asyncio.sleep(0.2)
        assert (await api.ok("GET", "/me"))["id"] == tech["id"]
        assert await _connect(tiny_pool_server.ws_url, api.token or "") == ("hello", None)
