"""Readiness checks."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from deskchat.services.context import Context, reading


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
