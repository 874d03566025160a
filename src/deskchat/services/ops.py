"""Readiness checks."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from deskchat import metrics
from deskchat.domain.errors import Unauthorized
from deskchat.services.context import Context, Store, reading


async def readiness(ctx: Context, broker_ready: Callable[[], Awaitable[bool]]) -> dict[str, str]:
    """Each dependency and whether it answers."""
    checks = {}
    try:
        async with reading(ctx) as repos:
            await repos.settings.ping()
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports; it must not fail itself
        checks["database"] = f"error: {type(exc).__name__}"
    checks["broker"] = "ok" if await broker_ready() else "error: not connected"
    return checks


def to_json(data: Any) -> str:
    """Compact JSON."""
    return json.dumps(data, separators=(",", ":"))


async def installation_id(store: Store) -> str:
    """The id this installation made once (its Redis channels and keys are named after it)."""
    async with store.read() as repos:
        found = await repos.settings.installation_id()
    if found is None:  # a database the migration could not stamp: the first process to ask makes one
        async with store.write() as repos:
            await repos.settings.claim_installation_id(secrets.token_hex(8))
        async with store.read() as repos:
            found = await repos.settings.installation_id()
    assert found is not None
    return found


def check_metrics_token(ctx: Context, sent: str | None) -> None:
    """With DESKCHAT_METRICS_TOKEN set, /metrics answers only to that bearer token (else 401)."""
    expected = ctx.settings.metrics_token
    if expected and not hmac.compare_digest((sent or "").encode(), expected.encode()):
        raise Unauthorized("Send the metrics token as a bearer token.")


async def refresh_desk_metrics(ctx: Context) -> None:
    """Business metrics for /metrics: waiting chats per group (all processes; read from the database)."""
    async with reading(ctx) as repos:
        queues = await repos.chats.queue_stats()
        groups = await repos.people.list_groups(None, 10_000)
    for group in groups:
        metrics.WAITING_CHATS.labels(group=str(group.id)).set(queues.get(group.id, (0, None, 0))[0])
