"""A socket that stops answering pings is dropped, and its technician stops counting as online."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import Iterator

import pytest

from tests.support.client import Desk, open_desk
from tests.support.server import Server, sqlite_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def fast_ping_server() -> Iterator[Server]:
    with sqlite_server({"DESKCHAT_WS_PING_INTERVAL_SECONDS": "1"}) as srv:
        yield srv


def _masked_text_frame(text: str) -> bytes:
    payload, mask = text.encode(), os.urandom(4)
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _silent_client(port: int, token: str) -> socket.socket:
    """A client that authenticates and then never reads again, so it never answers a ping."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert b" 101 " in sock.recv(4096)
    sock.sendall(_masked_text_frame(json.dumps({"type": "auth", "token": token})))
    return sock


async def _online_ids(desk: Desk) -> set[int]:
    listed = await desk.admin.ok("GET", "/technicians", params={"online": "true"})
    return {t["id"] for t in listed["items"]}


async def test_a_socket_that_stops_answering_pings_is_dropped(fast_ping_server: Server) -> None:
    async with open_desk(fast_ping_server) as desk:
        group = await desk.group()
        tech, api, _ = await desk.technician([group["id"]], online=False)
        await api.ok("PUT", "/me/status", json={"status": "online"})
        silent = _silent_client(fast_ping_server.port, api.token or "")
        try:
            for _ in range(50):
                if tech["id"] in await _online_ids(desk):
                    break
                await asyncio.sleep(0.1)
            assert tech["id"] in await _online_ids(desk), "the silent client's socket made them online"
            for _ in range(100):  # ping every 1 s, 1 s to answer: dropped within a few seconds
                if tech["id"] not in await _online_ids(desk):
                    break
                await asyncio.sleep(0.1)
            assert tech["id"] not in await _online_ids(desk)
        finally:
            silent.close()
