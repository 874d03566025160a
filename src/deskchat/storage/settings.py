"""The admin settings row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.storage.tables import settings


async def load_settings(conn: AsyncConnection) -> dict[str, Any]:
    """The settings in the API's shape."""
    row = (await conn.execute(select(settings).where(settings.c.id == 1))).one()
    return {"missed_chat_conversion": bool(row.missed_chat_conversion),
            "missed_chat_timeout_seconds": int(row.missed_chat_timeout_seconds)}


async def save_settings(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Change settings fields (none given: nothing to do; an UPDATE without SET is not SQL)."""
    if not values:
        return
    await conn.execute(update(settings).where(settings.c.id == 1).values(**values))


async def installation_id(conn: AsyncConnection) -> str | None:
    """This installation's id, made once by the migrations."""
    return (await conn.execute(select(settings.c.installation_id).where(settings.c.id == 1))).scalar_one_or_none()


async def claim_installation_id(conn: AsyncConnection, candidate: str) -> None:
    """Store ``candidate`` as the installation id unless one is stored already."""
    await conn.execute(update(settings).where(settings.c.id == 1, settings.c.installation_id.is_(None))
                       .values(installation_id=candidate))
