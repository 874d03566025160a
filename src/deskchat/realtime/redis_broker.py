"""Redis pub/sub broker: every process publishes to one channel and hands what it hears to its hub.

The channel is named after the installation (``<DESKCHAT_REDIS_PREFIX>:<installation id>:events``), so
two installations sharing one Redis (staging and production, two departments) never hear each other.

Redis is a wake-up, not the truth. Publishing never makes a request wait for Redis: events go to an
outbox that one task sends, in order, in pipelined batches. While Redis is away (or hung), that task
drops what it cannot send (the writes are committed already) and backs off, and the subscriber
reconnects with backoff; once subscribed again it calls ``on_reconnect`` and the hub re-reads from
the database whatever its sockets missed (by seq), so nothing is lost and nothing is delivered twice.
Events dropped while the subscribers stayed connected are made good the same way: the next batch
that gets through starts with a ``resync`` control event for every hub.

Two clients: the subscriber's never retries on its own (redis-py would otherwise reconnect and
resubscribe silently, and nobody would know to resync); the publisher's retries once, at once, so a
pooled connection broken by a Redis restart is replaced without losing the batch.
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
from deskchat.realtime.events import Resync, encode

log = structlog.get_logger()
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
SILENCE_PING = 5.0  # seconds without traffic before the subscriber pings Redis
SILENCE_LIMIT = 15.0  # seconds without any answer before the subscriber assumes the connection is dead
RESYNC = json.dumps(encode(Resync()), separators=(",", ":"))
OUTBOX_LIMIT = 50_000  # events waiting to be published; beyond that they are dropped (and resynced)
BATCH = 500


class RedisBroker:
    """Events cross processes through Redis pub/sub."""

    def __init__(self, url: str, channel: str) -> None:
        self.redis: Redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                           retry=Retry(NoBackoff(), 1))
        self._subscriber: Redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=None,
                                                 retry=Retry(NoBackoff(), 0))
        self._channel = channel
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self._on_reconnect: Callable[[], Awaitable[None]] | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue(OUTBOX_LIMIT)
        self._lost_publish = False
        self.dropped = 0  # events that never reached Redis (the hubs caught up from the database)

    async def start(self, handler: Handler, on_reconnect: Callable[[], Awaitable[None]] | None = None) -> None:
        """Subscribe, then deliver what arrives to ``handler``; wait (a little) until subscribed."""
        self._on_reconnect = on_reconnect
        self._tasks = [asyncio.create_task(self._run(handler), name="redis-broker"),
                       asyncio.create_task(self._send(), name="redis-publisher")]
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

    async def publish(self, event: Event | str) -> None:
        """Queue an event (or its JSON text) for every process (in order); never waits for Redis."""
        try:
            self._outbox.put_nowait(event if isinstance(event, str) else json.dumps(event, separators=(",", ":")))
        except asyncio.QueueFull:  # Redis cannot keep up or is hung: the hubs will catch up instead
            self._drop(1)

    def _drop(self, count: int) -> None:
        self.dropped += count
        self._lost_publish = True

    async def _send(self) -> None:
        """Publish the outbox in batches; while Redis fails, drop what waits and back off."""
        backoff, paused_until = FIRST_BACKOFF, 0.0
        while True:
            batch = []
            with contextlib.suppress(TimeoutError):  # wake up now and then to send a pending resync
                batch.append(await asyncio.wait_for(self._outbox.get(), 1.0))
            while batch and len(batch) < BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            try:
                if time.monotonic() < paused_until:
                    if batch:
                        self._drop(len(batch))
                elif batch or self._lost_publish:
                    await self._publish_batch(batch)
                    backoff = FIRST_BACKOFF
            except Exception as exc:  # Redis away or hung (or a bug): the hubs catch up from the database
                self._drop(len(batch))
                paused_until = time.monotonic() + backoff
                log.warning("publish_failed", error=str(exc) or type(exc).__name__, events=len(batch),
                            retry_in=backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            finally:
                for _ in batch:
                    self._outbox.task_done()

    async def _publish_batch(self, batch: list[str]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            resync = self._lost_publish
            if resync:  # some events never went out: every hub re-reads what its sockets missed
                pipe.publish(self._channel, RESYNC)
            for text in batch:
                pipe.publish(self._channel, text)
            await pipe.execute()
        if resync:
            self._lost_publish = False
            log.info("broker_resync_requested", dropped=self.dropped)

    async def ready(self) -> bool:
        """Redis answers and we are subscribed."""
        try:  # a hung Redis must not hang the readiness probe
            return bool(await asyncio.wait_for(self.redis.ping(), 2.0)) and self._subscribed.is_set()
        except (RedisError, OSError, TimeoutError):
            return False

    async def stop(self) -> None:
        """Send what is queued (a moment at most), stop publishing and listening; close both pools."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), 2.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._subscriber.aclose()
        await self.redis.aclose()
