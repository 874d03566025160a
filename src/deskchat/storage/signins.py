"""Sign-ins in progress (OpenID Connect ``state``, ``nonce``, PKCE verifier): single-use rows with an end."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.storage.tables import sign_in_states


class SignInRepository:
    """Short-lived sign-in data, taken at most once."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def put(self, key: str, value: str, expires_at: datetime) -> None:
        """Keep ``value`` under ``key`` until ``expires_at`` (a key is used once: states are random)."""
        await self._conn.execute(insert(sign_in_states).values(key=key, value=value, expires_at=expires_at))

    async def take(self, key: str, now: datetime) -> str | None:
        """The value under ``key``, removed in the same statement: of two callers with one key, one gets it."""
        query = (delete(sign_in_states)
                 .where(sign_in_states.c.key == key, sign_in_states.c.expires_at > now)
                 .returning(sign_in_states.c.value))
        return (await self._conn.execute(query)).scalar_one_or_none()

    async def drop(self, key: str) -> None:
        """Forget ``key``."""
        await self._conn.execute(delete(sign_in_states).where(sign_in_states.c.key == key))

    async def purge_expired(self, now: datetime) -> int:
        """Remove the sign-ins that were never finished; how many."""
        result = await self._conn.execute(delete(sign_in_states).where(sign_in_states.c.expires_at <= now))
        return int(result.rowcount or 0)
