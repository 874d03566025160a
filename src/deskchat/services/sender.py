"""The outbox's sender, one per process: claims due deliveries, sends them, records each outcome.

Claims are a guarded UPDATE (PostgreSQL: ``FOR UPDATE SKIP LOCKED``) that moves the rows' next attempt past a
lease and marks them with this claim; each outcome is recorded under that claim. A sender killed mid-way
leaves its rows due again when the lease ends: one resend at most, with the same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

from deskchat import metrics
from deskchat.domain.outbox import DeliveryStatus, OutboxKind, gives_up, retry_delay
from deskchat.services import mails, webhooks
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.mails import Outcome
from deskchat.storage.outbox import OutboxItem

log = structlog.get_logger()
BATCH = 20
STATS_EVERY = 5.0
Deliver = Callable[[Context, OutboxItem], Awaitable[Outcome]]




async def _deliver(ctx: Context, item: OutboxItem) -> Outcome:
    try:
        if item.kind == OutboxKind.EMAIL.value:
            return await mails.deliver(ctx, item.payload)
        return await webhooks.deliver(ctx, item)
    except Exception as exc:  # a bug or an unexpected answer: retried like any failure, and logged
        log.exception("outbox_delivery_error", outbox_id=item.id)
        return Outcome(False, None, f"{type(exc).__name__}: {exc}")


async def send_due(ctx: Context, deliver: Deliver = _deliver) -> int:
    """Claim what is due and send it; returns how many were attempted."""
    claim = secrets.token_hex(8)
    async with unit_of_work(ctx) as uow:
        lease = timedelta(seconds=ctx.settings.outbox_lease_seconds)  # longer than a send may take
        items = await uow.repos.outbox.claim_due(uow.now, uow.now + lease, claim, BATCH)
    if items:
        await asyncio.gather(*(_attempt(ctx, item, deliver) for item in items))
    return len(items)


async def _attempt(ctx: Context, item: OutboxItem, deliver: Deliver) -> None:
    outcome = await deliver(ctx, item)
    now = ctx.clock()
    if outcome.delivered:
        status, next_at = DeliveryStatus.DELIVERED, now
    elif gives_up(item.created_at, now):
        status, next_at = DeliveryStatus.FAILED, now
    else:
        status = DeliveryStatus.PENDING
        next_at = now + timedelta(seconds=retry_delay(item.attempts + 1, ctx.settings.outbox_retry_seconds))
    async with unit_of_work(ctx) as uow:
        kept = await uow.repos.outbox.record(item, status=status, next_attempt_at=next_at,
                                             status_code=outcome.status_code, error=outcome.error, now=uow.now)
    outcome_label = status.value if status is not DeliveryStatus.PENDING else "retry"
    metrics.OUTBOX_DELIVERIES.labels(kind=item.kind, outcome=outcome_label).inc()
    log.info("outbox_attempt", outbox_id=item.id, kind=item.kind, event=item.event, outcome=outcome_label,
             attempts=item.attempts + 1, status_code=outcome.status_code, error=outcome.error, recorded=kept)


async def refresh_stats(ctx: Context) -> None:
    """Outbox depth and the age of the oldest pending delivery, for /metrics."""
    async with reading(ctx) as repos:
        depth, oldest = await repos.outbox.pending_stats()
    metrics.OUTBOX_DEPTH.set(depth)
    metrics.OUTBOX_OLDEST_SECONDS.set(max(0.0, (ctx.clock() - oldest).total_seconds()) if oldest else 0.0)


async def run_sender(ctx: Context) -> None:
    """Send forever: at once after a local commit wrote to the outbox, else every poll interval."""
    wake = ctx.outbox_wake or asyncio.Event()
    loop = asyncio.get_running_loop()
    next_stats = 0.0
    while True:
        try:
            wake.clear()
            sent = await send_due(ctx)
            if loop.time() >= next_stats:
                await refresh_stats(ctx)
                next_stats = loop.time() + STATS_EVERY
            if sent:
                continue  # maybe more are due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), ctx.settings.outbox_poll_seconds)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database hiccup: keep going
            log.exception("outbox_sender_failed")
            await asyncio.sleep(ctx.settings.outbox_poll_seconds)
