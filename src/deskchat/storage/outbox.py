"""The outbox (every email and webhook delivery to make) and the webhook endpoints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.domain.outbox import DeliveryStatus, Webhook
from deskchat.storage.tables import outbox, webhooks


@dataclass(frozen=True)
class OutboxItem:
    """One delivery to make, as claimed."""

    id: int
    kind: str
    event: str
    event_id: str
    webhook_id: int | None
    payload: str
    attempts: int
    created_at: datetime
    claim: str


@dataclass(frozen=True)
class DeliveryRow:
    """A webhook delivery as its endpoint's list shows it."""

    event_id: str
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime


def _webhook(row: Any) -> Webhook:
    return Webhook(row.id, row.url, tuple(json.loads(row.events)), row.description, row.secret, row.created_at)


class OutboxRepository:
    """Deliveries: written with the change, claimed by one sender, recorded once."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert_items(self, items: list[dict[str, Any]], now: datetime) -> None:
        """Store deliveries due now (``kind``, ``event``, ``event_id``, ``webhook_id``, ``payload``)."""
        if items:
            await self._conn.execute(insert(outbox), [
                {**item, "status": DeliveryStatus.PENDING.value, "attempts": 0, "next_attempt_at": now,
                 "created_at": now} for item in items])

    async def claim_due(self, now: datetime, lease_until: datetime, claim: str, limit: int) -> list[OutboxItem]:
        """Take up to ``limit`` due deliveries for this sender until ``lease_until``.

        One guarded UPDATE: PostgreSQL locks the chosen rows and other senders skip them (SKIP LOCKED);
        SQLite has one writer. A sender that dies leaves them due again when the lease ends.
        """
        due = (select(outbox.c.id)
               .where(outbox.c.status == DeliveryStatus.PENDING.value, outbox.c.next_attempt_at <= now)
               .order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)
               .with_for_update(skip_locked=True))
        result = await self._conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(due.scalar_subquery()), outbox.c.status == DeliveryStatus.PENDING.value,
                   outbox.c.next_attempt_at <= now)
            .values(next_attempt_at=lease_until, claim=claim)
            .returning(outbox.c.id, outbox.c.kind, outbox.c.event, outbox.c.event_id, outbox.c.webhook_id,
                       outbox.c.payload, outbox.c.attempts, outbox.c.created_at))
        return sorted((OutboxItem(r.id, r.kind, r.event, r.event_id, r.webhook_id, r.payload, r.attempts,
                                  r.created_at, claim) for r in result), key=lambda i: i.id)

    async def record(self, item: OutboxItem, *, status: DeliveryStatus, next_attempt_at: datetime,
                     status_code: int | None, error: str | None, now: datetime) -> bool:
        """The outcome of one attempt, if the claim still holds (else another sender has it now)."""
        values: dict[str, Any] = {"status": status.value, "attempts": item.attempts + 1,
                                  "next_attempt_at": next_attempt_at, "claim": None,
                                  "last_status_code": status_code, "last_error": error[:500] if error else None}
        if status is DeliveryStatus.DELIVERED:
            values["delivered_at"] = now
        result = await self._conn.execute(update(outbox).where(outbox.c.id == item.id, outbox.c.claim == item.claim)
                                          .values(**values))
        return bool(result.rowcount)

    async def pending_stats(self) -> tuple[int, datetime | None]:
        """How many deliveries are pending, and when the oldest of them was written."""
        row = (await self._conn.execute(select(func.count(), func.min(outbox.c.created_at))
                                        .where(outbox.c.status == DeliveryStatus.PENDING.value))).one()
        oldest = row[1]
        if isinstance(oldest, str):  # SQLite returns min() of a datetime column as text
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return int(row[0]), oldest

    async def deliveries(self, webhook_id: int, after: int | None, limit: int) -> list[tuple[int, DeliveryRow]]:
        """A webhook's deliveries, newest first."""
        query = select(outbox).where(outbox.c.webhook_id == webhook_id)
        if after is not None:
            query = query.where(outbox.c.id < after)
        rows = await self._conn.execute(query.order_by(outbox.c.id.desc()).limit(limit))
        return [(r.id, DeliveryRow(r.event_id, r.event, r.status, r.attempts, r.last_status_code, r.last_error,
                                   r.created_at)) for r in rows]

    async def items_of_event(self, event_id: str) -> list[tuple[str, int]]:
        """(status, attempts) of the deliveries of one event id (tests and support)."""
        rows = await self._conn.execute(select(outbox.c.status, outbox.c.attempts).where(outbox.c.event_id == event_id))
        return [(str(s), int(a)) for s, a in rows.tuples()]


class WebhookRepository:
    """Webhook endpoints."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert_webhook(self, url: str, events: tuple[str, ...], description: str, secret: str,
                             now: datetime) -> int:
        """Store an endpoint."""
        result = await self._conn.execute(insert(webhooks).values(
            url=url, events=json.dumps(list(events)), description=description, secret=secret, created_at=now)
            .returning(webhooks.c.id))
        return int(result.scalar_one())

    async def load_webhook(self, webhook_id: int) -> Webhook | None:
        """One endpoint, or None."""
        row = (await self._conn.execute(select(webhooks).where(webhooks.c.id == webhook_id))).first()
        return _webhook(row) if row else None

    async def list_webhooks(self, after: int | None, limit: int) -> list[Webhook]:
        """Endpoints, newest first."""
        query = select(webhooks).order_by(webhooks.c.id.desc()).limit(limit)
        rows = await self._conn.execute(query.where(webhooks.c.id < after) if after is not None else query)
        return [_webhook(r) for r in rows]

    async def all_webhooks(self) -> list[Webhook]:
        """Every endpoint (few: a desk has a handful)."""
        return [_webhook(r) for r in await self._conn.execute(select(webhooks).order_by(webhooks.c.id))]

    async def update_webhook(self, webhook_id: int, values: dict[str, Any]) -> None:
        """Change an endpoint's url, events or description."""
        if "events" in values:
            values = {**values, "events": json.dumps(list(values["events"]))}
        if values:
            await self._conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))

    async def delete_webhook(self, webhook_id: int) -> None:
        """Remove an endpoint and its deliveries."""
        await self._conn.execute(delete(outbox).where(outbox.c.webhook_id == webhook_id))
        await self._conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
