"""Fixed-window rate limits: in memory for one process, in Redis when processes share limits."""

from __future__ import annotations

import math
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError


class RateLimiter(Protocol):
    """Counts hits per key and window; says how long to wait once the limit is reached."""

    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one hit; None if allowed, else seconds until the window resets."""

    async def peek(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Like ``hit`` but counts nothing: is the limit already reached?"""


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


class RedisRateLimiter:
    """Counters shared by every process through Redis (INCR with expiry).

    While Redis is away, each process counts on its own (in memory) rather than refuse every request.
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._fallback = MemoryRateLimiter()

    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one hit; None if allowed, else seconds until the window resets."""
        now = time.time()
        window = int(now // window_seconds)
        name = f"deskchat:rl:{key}:{window}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window_seconds + 1)
                count, _ = await pipe.execute()
        except (RedisError, OSError):
            return await self._fallback.hit(key, limit, window_seconds)
        if int(count) > limit:
            return _retry_after(window, window_seconds, now)
        return None

    async def peek(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Like ``hit`` but counts nothing: is the limit already reached?"""
        now = time.time()
        window = int(now // window_seconds)
        try:
            count = await self._redis.get(f"deskchat:rl:{key}:{window}")
        except (RedisError, OSError):
            return await self._fallback.peek(key, limit, window_seconds)
        if count is not None and int(count) >= limit:
            return _retry_after(window, window_seconds, now)
        return None
