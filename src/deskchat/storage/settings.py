"""The admin settings row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.domain.settings import DeskSettings
from deskchat.storage.tables import settings


class SettingsRepository:
    """The admin settings row and the installation id."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def load_settings(self) -> DeskSettings:
        """The desk's settings."""
        row = (await self._conn.execute(select(settings).where(settings.c.id == 1))).one()
        return DeskSettings(bool(row.missed_chat_conversion), int(row.missed_chat_timeout_seconds),
                            row.request_forward_email)

    async def save_settings(self, values: dict[str, Any]) -> None:
        """Change settings fields (none given: nothing to do; an UPDATE without SET is not SQL)."""
        if not values:
            return
        await self._conn.execute(update(settings).where(settings.c.id == 1).values(**values))

    async def ping(self) -> None:
        """Ask the database something trivial (readiness)."""
        await self._conn.execute(text("SELECT 1"))

    async def installation_id(self) -> str | None:
        """This installation's id, made once by the migrations."""
        query = select(settings.c.installation_id).where(settings.c.id == 1)
        return (await self._conn.execute(query)).scalar_one_or_none()

    async def claim_installation_id(self, candidate: str) -> None:
        """Store ``candidate`` as the installation id unless one is stored already."""
        await self._conn.execute(update(settings).where(settings.c.id == 1, settings.c.installation_id.is_(None))
                           .values(installation_id=candidate))
