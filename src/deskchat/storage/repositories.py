"""The repositories of one transaction, as the unit of work carries them (``uow.chats``, ``uow.people``, ...)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.storage.attachments import AttachmentRepository
from deskchat.storage.canned import CannedRepository
from deskchat.storage.chats import ChatRepository
from deskchat.storage.outbox import OutboxRepository, WebhookRepository
from deskchat.storage.people import PeopleRepository
from deskchat.storage.reports import ReportRepository
from deskchat.storage.requests import RequestRepository
from deskchat.storage.search import SearchRepository
from deskchat.storage.settings import SettingsRepository
from deskchat.storage.signins import SignInRepository


@dataclass
class Repositories:
    """Every repository, all on one connection (one transaction)."""

    chats: ChatRepository
    people: PeopleRepository
    requests: RequestRepository
    canned: CannedRepository
    settings: SettingsRepository
    sign_ins: SignInRepository
    attachments: AttachmentRepository
    outbox: OutboxRepository
    webhooks: WebhookRepository
    reports: ReportRepository
    search: SearchRepository

    @staticmethod
    def on(conn: AsyncConnection) -> Repositories:
        """The repositories of the transaction that ``conn`` is in."""
        return Repositories(ChatRepository(conn), PeopleRepository(conn), RequestRepository(conn),
                            CannedRepository(conn), SettingsRepository(conn), SignInRepository(conn),
                            AttachmentRepository(conn), OutboxRepository(conn), WebhookRepository(conn),
                            ReportRepository(conn), SearchRepository(conn))
