"""A socket's lifecycle is explicit: HOLDING -> LIVE -> CLOSING -> CLOSED, forward only."""

from __future__ import annotations

import asyncio

import pytest

from deskchat.domain.people import Requester
from deskchat.realtime.events import PongFrame
from deskchat.realtime.sockets import CLOSE_POLICY, IllegalTransition, Socket, SocketState

ERIN = Requester(1, "Erin", "erin@example.com")


class Transport:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed_with: tuple[int, str | None] | None = None

    async def send_text(self, data: str) -> None:
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with = (code, reason)


def test_a_socket_holds_goes_live_closes_and_is_closed() -> None:
    async def run() -> tuple[Socket, Transport]:
        transport = Transport()
        sock = Socket(transport, ERIN, 1, 10)
        writer = asyncio.create_task(sock.run_writer())
        assert sock.state is SocketState.HOLDING and sock.hold(7, 1, "held")
        assert sock.go_live() == [(7, 1, "held")] and sock.state is SocketState.LIVE
        assert not sock.hold(7, 2, "live")
        sock.enqueue(PongFrame())
        sock.close_soon(CLOSE_POLICY, "logged out")
        sock.close_soon()  # the first close decides the code
        assert sock.state is SocketState.CLOSING and sock.closed
        sock.enqueue(PongFrame())  # closing: nothing more is queued
        await writer
        return sock, transport

    sock, transport = asyncio.run(run())
    assert sock.state is SocketState.CLOSED
    assert transport.sent == ['{"type":"pong"}'] and transport.closed_with == (CLOSE_POLICY, "logged out")


def test_a_socket_never_goes_back() -> None:
    sock = Socket(Transport(), ERIN, 1, 10)
    sock.close_soon()
    with pytest.raises(IllegalTransition):
        sock.go_live()
    live = Socket(Transport(), ERIN, 1, 10)
    live.go_live()
    with pytest.raises(IllegalTransition):
        live.go_live()
