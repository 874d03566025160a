"""Redis pub/sub broker: every process publishes to one channel and hands what it hears to its hub.

Redis is a wake-up, not the truth: when the connection drops, publishing logs and carries on,
the subscriber reconnects with backoff, and then the hub re-reads from the database whatever its
sockets missed (by seq), so nothing is lost and nothing is delivered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from deskchat.realtime.broker import Event, Handler

log = structlog.get_logger()
CHANNEL = "deskchat:events"
MAX_BACKOFF = 5.0


class RedisBroker:
    """Events cross processes through Redis pub/sub."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self.redis: Redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=None,
                                           health_check_interval=10)
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._on_reconnect: Callable[[], Awaitable[None]] | None = None

    async def start(self, handler: Handler, on_reconnect: Callable[[], Awaitable[None]] | None = None) -> None:
        """Subscribe, then deliver what arrives to ``handler``; wait until subscribed."""
        self._on_reconnect = on_reconnect
        self._task = asyncio.create_task(self._run(handler), name="redis-broker")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def _run(self, handler: Handler) -> None:
        backoff, first = 0.1, True
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._subscribed.set()
                    if not first and self._on_reconnect is not None:
                        await self._on_reconnect()
                    first, backoff = False, 0.1
                    log.info("broker_subscribed", channel=self._channel)
                    await self._listen(pubsub, handler)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._subscribed.clear()
                log.warning("broker_disconnected", error=str(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    async def _listen(self, pubsub: object, handler: Handler) -> None:
        async for message in pubsub.listen():  # type: ignore[attr-defined]
            if message.get("type") != "message":
                continue
            try:
                await handler(json.loads(message["data"]))
            except Exception:  # one bad event must not stop delivery
                log.exception("event_delivery_failed")

    async def publish(self, event: Event) -> None:
        """Publish to every process; if Redis is away, the hubs catch up from the database later."""
        try:
            await self.redis.publish(self._channel, json.dumps(event, separators=(",", ":")))
        except (RedisError, OSError) as exc:
            log.warning("publish_failed", error=str(exc))

    async def ready(self) -> bool:
        """Redis answers and we are subscribed."""
        try:
            return bool(await self.redis.ping()) and self._subscribed.is_set()
        except (RedisError, OSError):
            return False

    async def stop(self) -> None:
        """Stop listening and close the connection pool."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.redis.aclose()
