"""Readiness checks."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from deskchat.services.context import Context, reading
from deskchat.storage import settings as settings_store
from deskchat.storage.db import Database


async def readiness(ctx: Context, broker_ready: Callable[[], Awaitable[bool]]) -> dict[str, str]:
    """Each dependency and whether it answers."""
    checks = {}
    try:
        async with reading(ctx) as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports; it must not fail itself
        checks["database"] = f"error: {type(exc).__name__}"
    checks["broker"] = "ok" if await broker_ready() else "error: not connected"
    return checks


def to_json(data: Any) -> str:
    """Compact JSON."""
    return json.dumps(data, separators=(",", ":"))


async def installation_id(db: Database) -> str:
    """The id this installation made once (its Redis channels and keys are named after it)."""
    async with db.read() as conn:
        found = await settings_store.installation_id(conn)
    if found is None:  # a database the migration could not stamp: the first process to ask makes one
        async with db.write() as conn:
            await settings_store.claim_installation_id(conn, secrets.token_hex(8))
        async with db.read() as conn:
            found = await settings_store.installation_id(conn)
    assert found is not None
    return found
