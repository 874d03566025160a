"""Redis pub/sub broker: every process publishes to one channel and hands what it hears to its hub.

Redis is a wake-up, not the truth. While it is away, publishing fails fast (the write is already
committed) and the subscriber reconnects with backoff; once subscribed again it calls ``on_reconnect``
and the hub re-reads from the database whatever its sockets missed (by seq), so nothing is lost and
nothing is delivered twice. A publish that failed while the subscribers stayed connected is made good
the same way: the next publish is preceded by a ``resync`` control event for every hub.

Two clients: the subscriber's never retries on its own (redis-py would otherwise reconnect and
resubscribe silently, and nobody would know to resync); the publisher's retries once, at once, so a
pooled connection broken by a Redis restart is replaced without failing the publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from deskchat.realtime.broker import Event, Handler

log = structlog.get_logger()
CHANNEL = "deskchat:events"
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
SILENCE_PING = 5.0  # seconds without traffic before the subscriber pings Redis
SILENCE_LIMIT = 15.0  # seconds without any answer before the subscriber assumes the connection is dead
RESYNC = {"control": "resync"}


class RedisBroker:
    """Events cross processes through Redis pub/sub."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self.redis: Redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                           retry=Retry(NoBackoff(), 1))
        self._subscriber: Redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=None,
                                                 retry=Retry(NoBackoff(), 0))
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._on_reconnect: Callable[[], Awaitable[None]] | None = None
        self._lost_publish = False

    async def start(self, handler: Handler, on_reconnect: Callable[[], Awaitable[None]] | None = None) -> None:
        """Subscribe, then deliver what arrives to ``handler``; wait (a little) until subscribed."""
        self._on_reconnect = on_reconnect
        self._task = asyncio.create_task(self._run(handler), name="redis-broker")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def _run(self, handler: Handler) -> None:
        backoff = FIRST_BACKOFF
        while True:
            try:
                async with self._subscriber.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._subscribed.set()
                    log.info("broker_subscribed", channel=self._channel)
                    if self._on_reconnect is not None:  # events published meanwhile were not heard
                        await self._on_reconnect()
                    backoff = FIRST_BACKOFF
                    await self._listen(pubsub, handler)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._subscribed.clear()
                log.warning("broker_disconnected", error=str(exc) or type(exc).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            except Exception:  # a bug in the resync must not end delivery for good
                self._subscribed.clear()
                log.exception("broker_failed", retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    async def _listen(self, pubsub: PubSub, handler: Handler) -> None:
        heard = time.monotonic()
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=1.0)
            now = time.monotonic()
            if message is not None:
                heard, pinged = now, False
                if message.get("type") == "message":
                    await self._deliver(handler, message["data"])
                continue
            await self._flush_lost_publish()
            if now - heard > SILENCE_LIMIT:  # a half-open connection never says it is closed
                raise RedisConnectionError("no answer from Redis")
            if now - heard > SILENCE_PING and not pinged:
                await pubsub.ping()
                pinged = True

    @staticmethod
    async def _deliver(handler: Handler, data: Any) -> None:
        try:
            await handler(json.loads(data))
        except Exception:  # one bad event must not stop delivery
            log.exception("event_delivery_failed")

    async def _flush_lost_publish(self) -> None:
        """After a failed publish, tell every hub to re-read from the database what it may have missed."""
        if self._lost_publish:
            with contextlib.suppress(RedisError, OSError):
                await self.redis.publish(self._channel, json.dumps(RESYNC))
                self._lost_publish = False
                log.info("broker_resync_requested")

    async def publish(self, event: Event) -> None:
        """Publish to every process; if Redis is away, the hubs catch up from the database later."""
        await self._flush_lost_publish()
        try:
            await self.redis.publish(self._channel, json.dumps(event, separators=(",", ":")))
        except (RedisError, OSError) as exc:
            self._lost_publish = True
            log.warning("publish_failed", error=str(exc) or type(exc).__name__)

    async def ready(self) -> bool:
        """Redis answers and we are subscribed."""
        try:
            return bool(await self.redis.ping()) and self._subscribed.is_set()
        except (RedisError, OSError):
            return False

    async def stop(self) -> None:
        """Stop listening and close both connection pools."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._subscriber.aclose()
        await self.redis.aclose()
