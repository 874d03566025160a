"""The broker seam: events published after commit reach the hub of every server process.

An event is the JSON-able form of a typed envelope (``realtime/events.py``): ``{"frame": {...}, "to": {...}}``
for sockets, or ``{"control": ...}`` for hub housekeeping (closing a revoked token's sockets, say). Every
broker carries it as JSON text, the memory one too, so an event that would not survive Redis fails here alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog

Event = dict[str, Any]
Handler = Callable[[Event], Awaitable[None]]
Reconnected = Callable[[], Awaitable[None]]
log = structlog.get_logger()


class Broker(Protocol):
    """Carries events to every process's hub; the database stays the truth."""

    async def start(self, handler: Handler, on_reconnect: Reconnected | None = None) -> None:
        """Begin delivering published events to ``handler``; ``on_reconnect`` after an outage."""

    async def publish(self, event: Event | str) -> None:
        """Send an event (or its JSON text, already encoded) to every process (this one included)."""

    async def stop(self) -> None:
        """Stop delivering and release resources."""


class MemoryBroker:
    """One process: events go through a queue to this process's hub, in publish order, as JSON text."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self, handler: Handler, on_reconnect: Reconnected | None = None) -> None:
        """Begin delivering published events to ``handler`` (memory never disconnects)."""
        self._task = asyncio.create_task(self._run(handler), name="memory-broker")

    async def _run(self, handler: Handler) -> None:
        while True:
            text = await self._queue.get()
            try:
                await handler(json.loads(text))
            except Exception:  # one bad delivery must not stop the others
                log.exception("event_delivery_failed")

    async def publish(self, event: Event | str) -> None:
        """Queue an event for this process's hub, encoded as RedisBroker encodes it."""
        self._queue.put_nowait(event if isinstance(event, str) else json.dumps(event, separators=(",", ":")))

    async def stop(self) -> None:
        """Stop the delivery task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def make_broker(settings: Any, namespace: str = "deskchat") -> Broker:
    """Redis pub/sub when ``DESKCHAT_REDIS_URL`` is set, else in memory; ``namespace`` prefixes every channel."""
    if settings.redis_url:
        from deskchat.realtime.redis_broker import RedisBroker
        return RedisBroker(settings.redis_url, f"{namespace}:events")
    return MemoryBroker()
