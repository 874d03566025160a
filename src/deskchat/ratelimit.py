"""Fixed-window rate limits: in memory for one process, in Redis when processes share limits."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

T = TypeVar("T")
REDIS_TIMEOUT = 0.5  # a shared counter answers in a millisecond; longer means Redis is in trouble
LOCAL_AFTER_FAILURE = 5.0  # then count in this process for this long before trying Redis again


class RateLimiter(Protocol):
    """Counts hits per key and window; says how long to wait once the limit is reached."""

    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one hit; None if allowed, else seconds until the window resets."""

    async def peek(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Like ``hit`` but counts nothing: is the limit already reached?"""

    async def count(self, key: str, window_seconds: int) -> int:
        """Hits counted in the current window."""


def _retry_after(window: int, window_seconds: int, now: float) -> int:
    return max(1, math.ceil((window + 1) * window_seconds - now))


class MemoryRateLimiter:
    """Per-process counters (one server process, the default)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one hit; None if allowed, else seconds until the window resets."""
        now = time.time()
        window = int(now // window_seconds)
        slot = (key, window)
        count = self._counts.get(slot, 0) + 1
        self._counts[slot] = count
        if len(self._counts) > 100_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window - 1}
        if count > limit:
            return _retry_after(window, window_seconds, now)
        return None

    async def peek(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Like ``hit`` but counts nothing: is the limit already reached?"""
        now = time.time()
        window = int(now // window_seconds)
        if self._counts.get((key, window), 0) >= limit:
            return _retry_after(window, window_seconds, now)
        return None

    async def count(self, key: str, window_seconds: int) -> int:
        """Hits counted in the current window."""
        return self._counts.get((key, int(time.time() // window_seconds)), 0)


class RedisRateLimiter:
    """Counters shared by every process through Redis (INCR with expiry).

    While Redis is away or slow, each process counts on its own (in memory) rather than refuse or
    delay requests, and tries Redis again a few seconds later.
    """

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix  # the installation's namespace: two installations on one Redis count apart
        self._fallback = MemoryRateLimiter()
        self._local_until = 0.0

    async def _ask(self, command: Coroutine[Any, Any, T]) -> tuple[bool, T | None]:
        """Run a Redis command if Redis answered lately and answers quickly now: (answered, result)."""
        if time.monotonic() < self._local_until:
            command.close()
            return False, None
        try:
            return True, await asyncio.wait_for(command, REDIS_TIMEOUT)
        except (RedisError, OSError, TimeoutError):
            self._local_until = time.monotonic() + LOCAL_AFTER_FAILURE
            return False, None

    async def _incr(self, name: str, window_seconds: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds + 1)
            count, _ = await pipe.execute()
        return int(count)

    async def _get(self, name: str) -> int | None:
        value = await self._redis.get(name)
        return None if value is None else int(value)

    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one hit; None if allowed, else seconds until the window resets."""
        now = time.time()
        window = int(now // window_seconds)
        answered, count = await self._ask(self._incr(f"{self._prefix}:rl:{key}:{window}", window_seconds))
        if not answered:
            return await self._fallback.hit(key, limit, window_seconds)
        if count is not None and count > limit:
            return _retry_after(window, window_seconds, now)
        return None

    async def peek(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Like ``hit`` but counts nothing: is the limit already reached?"""
        now = time.time()
        window = int(now // window_seconds)
        answered, count = await self._ask(self._get(f"{self._prefix}:rl:{key}:{window}"))
        if not answered:
            return await self._fallback.peek(key, limit, window_seconds)
        if count is not None and count >= limit:
            return _retry_after(window, window_seconds, now)
        return None

    async def count(self, key: str, window_seconds: int) -> int:
        """Hits counted in the current window."""
        window = int(time.time() // window_seconds)
        answered, count = await self._ask(self._get(f"{self._prefix}:rl:{key}:{window}"))
        if not answered:
            return await self._fallback.count(key, window_seconds)
        return count or 0
