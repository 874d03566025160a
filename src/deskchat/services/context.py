"""What every service needs (database, broker, settings, clock) and the unit of work."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.config import Settings
from deskchat.ratelimit import RateLimiter
from deskchat.realtime.broker import Broker, Event
from deskchat.storage.db import Database


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


@dataclass
class Context:
    """Built once at start and passed to every service call."""

    settings: Settings
    db: Database
    broker: Broker
    limiter: RateLimiter
    process_id: str
    clock: Callable[[], datetime] = utcnow
    workers: dict[str, Any] = field(default_factory=dict)  # per-process background writers


@dataclass
class UnitOfWork:
    """One transaction; the events it collects are published only after it commits."""

    conn: AsyncConnection
    now: datetime
    events: list[Event] = field(default_factory=list)

    def emit(self, frame: dict[str, Any], *, technicians: Iterable[int] = (),
             requesters: Iterable[int] = (), all_technicians: bool = False) -> None:
        """Send ``frame`` after commit to exactly these recipients."""
        to: dict[str, Any] = {"technicians": sorted(set(technicians)), "requesters": sorted(set(requesters))}
        if all_technicians:
            to["all_technicians"] = True
        self.events.append({"frame": frame, "to": to})

    def control(self, control: str, **data: Any) -> None:
        """A housekeeping event for every process's hub."""
        self.events.append({"control": control, **data})


@contextlib.asynccontextmanager
async def unit_of_work(ctx: Context) -> AsyncIterator[UnitOfWork]:
    """Run a block in one write transaction, then publish its events."""
    async with ctx.db.write_turn():
        async with ctx.db.transaction() as conn:
            uow = UnitOfWork(conn, ctx.clock())
            yield uow
        for event in uow.events:
            await ctx.broker.publish(event)


@contextlib.asynccontextmanager
async def reading(ctx: Context) -> AsyncIterator[AsyncConnection]:
    """A read-only snapshot."""
    async with ctx.db.read() as conn:
        yield conn
