"""What every service needs (database, broker, settings, clock) and the unit of work."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from deskchat.config import Settings
from deskchat.domain.outbox import Announcement, Mail
from deskchat.ratelimit import RateLimiter
from deskchat.realtime.broker import Broker
from deskchat.realtime.events import AnyControl, AnyFrame, Delivery, Envelope, Recipients, encode_text
from deskchat.services import outbox
from deskchat.services.gate import PasswordGate
from deskchat.storage.attachments import AttachmentRepository
from deskchat.storage.canned import CannedRepository
from deskchat.storage.chats import ChatRepository
from deskchat.storage.db import Database
from deskchat.storage.errors import duplicates
from deskchat.storage.people import PeopleRepository
from deskchat.storage.repositories import Repositories
from deskchat.storage.requests import RequestRepository
from deskchat.storage.settings import SettingsRepository
from deskchat.storage.signins import SignInRepository

if TYPE_CHECKING:
    from deskchat.services.assign import Assigner
    from deskchat.services.messages import MessageWriter


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class Store(Protocol):
    """Where the repositories come from: one write transaction at a time, or a read-only snapshot."""

    def write(self) -> contextlib.AbstractAsyncContextManager[Repositories]:
        """The repositories of one write transaction (committed when the block ends without error)."""

    def read(self) -> contextlib.AbstractAsyncContextManager[Repositories]:
        """The repositories of one read-only snapshot."""


class SqlStore:
    """Repositories on the database (SQLAlchemy): what a running server uses."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Repositories]:
        """The repositories of one write transaction, taking the writer's turn (SQLite has one writer)."""
        with duplicates():  # a unique index that refused a write (or the commit) is storage's Duplicate
            async with self.db.write() as conn:
                yield Repositories.on(conn)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Repositories]:
        """The repositories of one read-only snapshot."""
        async with self.db.read() as conn:
            yield Repositories.on(conn)


@dataclass
class Context:
    """Built once at start and passed to every service call."""

    settings: Settings
    store: Store
    broker: Broker
    limiter: RateLimiter
    process_id: str
    clock: Callable[[], datetime] = utcnow
    writer: MessageWriter | None = None  # this process's group-commit message writer (built at start)
    outbox_wake: asyncio.Event | None = None  # wakes this process's outbox sender after a commit wrote to it
    assigner: Assigner | None = None  # this process's auto-assign runs (built at start)
    password_gate: PasswordGate = field(init=False)  # this process's turns for argon2

    def __post_init__(self) -> None:
        self.password_gate = PasswordGate(self.settings.password_checks_at_once,
                                          self.settings.password_checks_waiting)


@dataclass
class UnitOfWork:
    """One transaction: its repositories, its time, and the events published only after it commits."""

    repos: Repositories
    now: datetime
    events: list[Envelope] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    mails: list[Mail] = field(default_factory=list)

    def announce(self, event: str, data: dict[str, Any]) -> None:
        """Tell the webhooks (and the emails that follow from it) of ``event``, in this transaction's outbox."""
        self.announcements.append(Announcement(event, data))

    def mail(self, mail: Mail) -> None:
        """Send an email, from this transaction's outbox."""
        self.mails.append(mail)

    def emit(self, frame: AnyFrame, to: Recipients) -> None:
        """Send ``frame`` after commit to exactly these recipients."""
        self.events.append(Delivery(frame=frame, to=to))

    def control(self, control: AnyControl) -> None:
        """A housekeeping event for every process's hub, after commit."""
        self.events.append(control)


    @property
    def chats(self) -> ChatRepository:
        """Chats, participants and timelines."""
        return self.repos.chats

    @property
    def people(self) -> PeopleRepository:
        """Technicians, groups, requesters, tokens and presence."""
        return self.repos.people

    @property
    def requests(self) -> RequestRepository:
        """Incident requests and notes."""
        return self.repos.requests

    @property
    def canned(self) -> CannedRepository:
        """Canned messages."""
        return self.repos.canned

    @property
    def settings(self) -> SettingsRepository:
        """The admin settings."""
        return self.repos.settings

    @property
    def attachments(self) -> AttachmentRepository:
        """Files posted in chats."""
        return self.repos.attachments

    @property
    def sign_ins(self) -> SignInRepository:
        """Single sign-ons in progress."""
        return self.repos.sign_ins


@contextlib.asynccontextmanager
async def unit_of_work(ctx: Context) -> AsyncIterator[UnitOfWork]:
    """Run a block in one write transaction, then publish its events."""
    async with ctx.store.write() as repos:
        uow = UnitOfWork(repos, ctx.clock())
        yield uow
        wrote = await outbox.write(ctx, uow)  # in the same transaction: committed with the change, or not at all
    for event in uow.events:
        await ctx.broker.publish(encode_text(event))
    if wrote and ctx.outbox_wake is not None:
        ctx.outbox_wake.set()


@contextlib.asynccontextmanager
async def reading(ctx: Context) -> AsyncIterator[Repositories]:
    """The repositories of a read-only snapshot."""
    async with ctx.store.read() as repos:
        yield repos
