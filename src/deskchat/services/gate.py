"""Bounded turns for argon2: each password check or hash takes 64 MiB, so a login flood must queue, briefly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from deskchat.domain.errors import Overloaded


class PasswordGate:
    """At most a few argon2 checks at once (each takes 64 MiB), and a short queue; beyond it, 503."""

    def __init__(self, at_once: int, waiting: int) -> None:
        self._turns = asyncio.Semaphore(at_once)
        self._waiting_limit, self._waiting = waiting, 0

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for a turn to hash, or refuse at once when too many wait."""
        if self._turns.locked() and self._waiting >= self._waiting_limit:
            raise Overloaded("Too many sign-ins at once; try again in a moment.", retry_after=1)
        self._waiting += 1
        try:
            await self._turns.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._turns.release()
