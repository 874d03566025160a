"""One connection of this process: its bounded send queue and its lifecycle (HOLDING, LIVE, CLOSING, CLOSED)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import structlog

from deskchat.domain.errors import DomainError
from deskchat.domain.people import Actor, Technician
from deskchat.realtime.events import BaseFrame, ErrorFrame

log = structlog.get_logger()
CLOSE_TOO_SLOW = 1013
CLOSE_POLICY = 1008


class Transport(Protocol):
    """What the hub needs of a WebSocket."""

    async def send_text(self, data: str) -> None: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class SocketState(Enum):
    """Where a socket is in its life; it only moves forward, along ``_NEXT``."""

    # Until the client's first frame (its resume, if it sends one) is handled, live messages wait
    # in ``held``, so a message racing the resume can be neither doubled nor delivered out of order.
    HOLDING = "holding"
    LIVE = "live"        # frames flow
    CLOSING = "closing"  # nothing more is queued; the writer sends what waits, then closes the connection
    CLOSED = "closed"    # the writer is done


_NEXT = {
    SocketState.HOLDING: {SocketState.LIVE, SocketState.CLOSING, SocketState.CLOSED},
    SocketState.LIVE: {SocketState.CLOSING, SocketState.CLOSED},  # straight to CLOSED: the connection broke
    SocketState.CLOSING: {SocketState.CLOSED},
    SocketState.CLOSED: set(),
}


class IllegalTransition(RuntimeError):
    """A socket was asked to move to a state it cannot reach from the one it is in."""


@dataclass(eq=False)
class Socket:
    """One connection with its own bounded send queue and an explicit lifecycle (``SocketState``)."""

    transport: Transport
    actor: Actor
    token_id: int
    queue_size: int
    last_seq: dict[int, int] = field(default_factory=dict)
    first_seq: dict[int, int] = field(default_factory=dict)  # with last_seq: the range this socket got
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    held: list[tuple[int, int, str]] = field(default_factory=list)  # (chat, seq, text) while HOLDING
    state: SocketState = field(default=SocketState.HOLDING, init=False)
    _close_with: tuple[int, str] = field(default=(CLOSE_TOO_SLOW, ""), init=False, repr=False)

    def __post_init__(self) -> None:
        # Bounded by enqueue_text, not by the queue itself, so that a resume's replay of history
        # (finite, asked for by the client) can go past the bound that protects us from slow readers.
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    @property
    def is_technician(self) -> bool:
        """True for technicians and admins."""
        return isinstance(self.actor, Technician)

    @property
    def closed(self) -> bool:
        """Closing or closed: nothing more is queued."""
        return self.state in (SocketState.CLOSING, SocketState.CLOSED)

    def _move(self, to: SocketState) -> None:
        if to not in _NEXT[self.state]:
            raise IllegalTransition(f"a socket cannot go from {self.state.name} to {to.name}")
        self.state = to

    def hold(self, chat_id: int, seq: int, text: str) -> bool:
        """Keep a live message for later while HOLDING (True); otherwise it is to be delivered now (False)."""
        if self.state is not SocketState.HOLDING:
            return False
        self.held.append((chat_id, seq, text))
        return True

    def go_live(self) -> list[tuple[int, int, str]]:
        """HOLDING -> LIVE; returns the messages that waited, to deliver now in the order they came."""
        self._move(SocketState.LIVE)
        held, self.held = self.held, []
        return held

    def enqueue(self, frame: BaseFrame) -> None:
        """Queue a frame; a socket that fell this far behind is closed and will resume by seq."""
        self.enqueue_text(frame.text())

    def enqueue_text(self, text: str, *, replay: bool = False) -> None:
        """Queue an already encoded frame; live frames beyond the bound close a socket that fell behind."""
        if self.closed:
            return
        if replay or self.queue.qsize() < self.queue_size:
            self.queue.put_nowait(text)
        else:
            log.warning("socket_too_slow", actor_id=self.actor.id)
            while not self.queue.empty():  # drop it all: the client resumes after the last frame it got,
                self.queue.get_nowait()    # while dropping only the oldest would leave it a gap
            self.close_soon()

    def close_soon(self, code: int = CLOSE_TOO_SLOW, reason: str = "fell behind; reconnect and resume") -> None:
        """CLOSING: the writer closes the connection with ``code`` after what is queued (the first call decides)."""
        if self.closed:
            return
        self._move(SocketState.CLOSING)
        self._close_with = (code, reason)
        self.queue.put_nowait(None)

    def cut_off(self, exc: DomainError, reason: str) -> None:
        """The token no longer works: say why, then close with 1008 so the client does not retry with it."""
        self.enqueue(ErrorFrame.of(exc))
        self.close_soon(CLOSE_POLICY, reason)

    async def run_writer(self) -> None:
        """Send queued frames until CLOSING, then close the connection; the socket is CLOSED when this ends."""
        try:
            while (text := await self.queue.get()) is not None:
                await self.transport.send_text(text)
            with contextlib.suppress(Exception):
                await self.transport.close(*self._close_with)
        finally:
            if self.state is not SocketState.CLOSED:
                self._move(SocketState.CLOSED)
