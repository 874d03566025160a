"""An in-memory Store for service tests (cosmicpython's FakeUnitOfWork): no database.

Each fake repository method mirrors the SQL one of the same name in ``deskchat.storage``: the same
guards (a claim changes nothing and returns False, or leaves a chat out, when the row is not in the
state the UPDATE's WHERE requires), the same unique indexes (raising storage's ``Duplicate``, as
``SqlStore`` turns an IntegrityError into one) and the same returned shapes. A write transaction
takes the single writer's turn (SQLite's rule) and is rolled back when its block raises. Only the
methods the tested services call are here; calling any other fails saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, cast

from deskchat.domain.chat import Chat, ChatState
from deskchat.domain.people import Author, Status, Technician
from deskchat.storage.attachments import AttachmentRepository
from deskchat.storage.canned import CannedRepository
from deskchat.storage.chats import ChatRepository
from deskchat.storage.errors import Duplicate
from deskchat.storage.outbox import OutboxRepository, WebhookRepository
from deskchat.storage.people import PeopleRepository
from deskchat.storage.reports import ReportRepository
from deskchat.storage.repositories import Repositories
from deskchat.storage.requests import RequestRepository
from deskchat.storage.search import SearchRepository
from deskchat.storage.settings import SettingsRepository
from deskchat.storage.signins import SignInRepository
from tests.unit.fake_tables import (
    OPEN,
    ChatRow,
    MessageRow,
    ParticipantRow,
    RequestRow,
    Tables,
    chat_of,
    message_of,
    request_of,
    technician_of,
)


class _Fake:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    @property
    def t(self) -> Tables:
        return self._store.tables

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"{type(self).__name__}.{name} is not faked: add it to tests/unit/fakes.py, "
                             "mirroring the SQL repository method")


class FakeChats(_Fake):
    """Mirrors ``storage.chats.ChatRepository``."""

    def _insert_rows(self, values: list[dict[str, Any]]) -> list[MessageRow]:
        """INSERT INTO messages, with both unique indexes: (chat_id, seq) and (chat_id, client_msg_id)."""
        seqs = {(m.chat_id, m.seq) for m in self.t.messages}
        msg_ids = {(m.chat_id, m.client_msg_id) for m in self.t.messages if m.client_msg_id is not None}
        for v in values:
            if (v["chat_id"], v["seq"]) in seqs or (v["client_msg_id"] is not None
                                                    and (v["chat_id"], v["client_msg_id"]) in msg_ids):
                raise Duplicate(f"messages: chat {v['chat_id']} seq {v['seq']} / {v['client_msg_id']!r}")
            seqs.add((v["chat_id"], v["seq"]))
            if v["client_msg_id"] is not None:
                msg_ids.add((v["chat_id"], v["client_msg_id"]))
        rows = [MessageRow(id=self.t.next_id("messages"), **v) for v in values]
        self.t.messages.extend(rows)
        return rows

    @staticmethod
    def _values(chat_id: int, seq: int, author: Author, body: str, event: str | None,
                client_msg_id: str | None, now: datetime) -> dict[str, Any]:
        return {"chat_id": chat_id, "seq": seq, "kind": "system" if event else "text", "event": event,
                "author_kind": author.kind, "author_id": author.id, "author_name": author.name, "body": body,
                "client_msg_id": client_msg_id, "created_at": now}

    async def load_chat(self, chat_id: int) -> Chat | None:
        row = self.t.chats.get(chat_id)
        return chat_of(self.t, row) if row is not None else None

    async def load_chats_by_id(self, chat_ids: list[int]) -> list[Chat]:
        found = sorted(set(chat_ids) & self.t.chats.keys())[:len(chat_ids)]
        return [chat_of(self.t, self.t.chats[i]) for i in found]

    async def current_participant_ids(self, chat_id: int) -> list[int]:
        return sorted(p.technician_id for p in self.t.participants if p.chat_id == chat_id and p.left_at is None)

    def _waiting(self, group_id: int) -> list[ChatRow]:
        rows = [r for r in self.t.chats.values() if r.group_id == group_id and r.state == ChatState.WAITING.value]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    async def waiting_ids(self, group_ids: list[int]) -> dict[int, list[int]]:
        return {g: [r.id for r in self._waiting(g)] for g in group_ids}

    async def waiting_in_group(self, group_id: int, limit: int) -> list[Chat]:
        return [chat_of(self.t, r) for r in self._waiting(group_id)[:limit]]

    async def recent_pickup_waits(self, group_id: int, since: datetime, limit: int) -> list[float]:
        picked = [r for r in self.t.chats.values()
                  if r.group_id == group_id and r.picked_up_at is not None and r.picked_up_at >= since]
        picked.sort(key=lambda r: r.picked_up_at or since, reverse=True)
        return [max(0.0, ((r.picked_up_at or since) - r.created_at).total_seconds()) for r in picked[:limit]]

    async def claim_pickup(self, chat_id: int, tech_id: int, now: datetime) -> bool:
        row = self.t.chats.get(chat_id)
        if row is None or row.state != ChatState.WAITING.value:
            return False
        row.state, row.owner_id, row.picked_up_at, row.missed_due_at = ChatState.ACTIVE.value, tech_id, now, None
        return True

    async def join(self, chat_id: int, tech_id: int, now: datetime) -> bool:
        for p in self.t.participants:
            if (p.chat_id, p.technician_id) == (chat_id, tech_id):
                if p.left_at is None:
                    return False  # already a participant (ON CONFLICT DO NOTHING)
                p.left_at, p.joined_at = None, now
                return True
        self.t.participants.append(ParticipantRow(chat_id, tech_id, now))
        return True

    async def leave(self, chat_id: int, tech_id: int, now: datetime) -> bool:
        for p in self.t.participants:
            if (p.chat_id, p.technician_id) == (chat_id, tech_id) and p.left_at is None:
                p.left_at = now
                return True
        return False

    async def claim_transfer(self, chat_id: int, *, old_owner: int | None, new_owner: int, group_id: int) -> bool:
        row = self.t.chats.get(chat_id)
        if row is None or row.state != ChatState.ACTIVE.value or row.owner_id != old_owner:
            return False
        row.owner_id, row.group_id = new_owner, group_id
        return True

    async def claim_missed_many(self, chat_ids: list[int], now: datetime) -> set[int]:
        won = set()
        for chat_id in chat_ids:
            row = self.t.chats.get(chat_id)
            if (row is not None and row.state == ChatState.WAITING.value and row.missed_due_at is not None
                    and row.missed_due_at <= now):
                row.state, row.ended_at, row.missed_due_at = ChatState.MISSED.value, now, None
                won.add(chat_id)
        return won

    async def link_requests(self, request_of: dict[int, int]) -> None:
        for chat_id, request_id in request_of.items():
            row = self.t.chats.get(chat_id)
            if row is not None and row.request_id is None:
                row.request_id = request_id

    async def claim_request_link(self, chat_id: int, request_id: int, state: ChatState) -> bool:
        row = self.t.chats.get(chat_id)
        if row is None or row.request_id is not None or row.state != state.value:
            return False
        row.request_id = request_id
        return True

    async def take_seq(self, chat_id: int, *, open_only: bool) -> int | None:
        row = self.t.chats.get(chat_id)
        if row is None or (open_only and row.state not in OPEN):
            return None
        row.last_seq += 1
        return row.last_seq

    async def take_seqs(self, counts: dict[int, int]) -> dict[int, int]:
        taken = {}
        for chat_id, n in sorted(counts.items()):
            row = self.t.chats.get(chat_id)
            if row is not None and row.state in OPEN:
                row.last_seq += n
                taken[chat_id] = row.last_seq
        return taken

    async def take_next_seqs(self, chat_ids: list[int]) -> dict[int, int]:
        taken = {}
        for chat_id in chat_ids:  # no open-state guard, as in SQL: the chats were just claimed
            if (row := self.t.chats.get(chat_id)) is not None:
                row.last_seq += 1
                taken[chat_id] = row.last_seq
        return taken

    async def insert_message(self, *, chat_id: int, seq: int, author: Author, body: str, now: datetime,
                             event: str | None = None, client_msg_id: str | None = None) -> dict[str, Any]:
        (row,) = self._insert_rows([self._values(chat_id, seq, author, body, event, client_msg_id, now)])
        return message_of(row)

    async def insert_messages(self, items: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
        values = [self._values(i["chat_id"], i["seq"], i["author"], i["body"], i.get("event"), i["client_msg_id"],
                               now) for i in items]
        return [message_of(row) for row in self._insert_rows(values)]

    async def find_by_client_msg_ids(self, keys: list[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any]]:
        wanted = set(keys)
        return {(m.chat_id, m.client_msg_id): message_of(m) for m in self.t.messages
                if m.client_msg_id is not None and (m.chat_id, m.client_msg_id) in wanted}

    async def list_messages(self, chat_id: int, after_seq: int, limit: int) -> list[dict[str, Any]]:
        rows = sorted((m for m in self.t.messages if m.chat_id == chat_id and m.seq > after_seq), key=lambda m: m.seq)
        return [message_of(m) for m in rows[:limit]]

    async def requester_texts_many(self, chat_ids: list[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {c: [] for c in chat_ids}
        for m in sorted(self.t.messages, key=lambda m: (m.chat_id, m.seq)):
            if m.chat_id in found and m.author_kind == "requester":
                found[m.chat_id].append(m.body)
        return found


class FakePeople(_Fake):
    """Mirrors ``storage.people.PeopleRepository``."""

    async def load_technician(self, tech_id: int) -> Technician | None:
        return technician_of(self.t, tech_id) if tech_id in self.t.technicians else None

    async def take_seat(self, tech_id: int) -> bool:
        row = self.t.technicians[tech_id]
        if row.max_chats is not None and row.open_chats >= row.max_chats:
            return False
        row.open_chats += 1
        return True

    async def release_seats(self, tech_ids: list[int]) -> None:
        for tech_id in sorted(set(tech_ids)):
            row = self.t.technicians[tech_id]
            row.open_chats = max(0, row.open_chats - 1)

    async def mark_assigned(self, tech_id: int, now: datetime) -> None:
        self.t.technicians[tech_id].last_assigned_at = now

    async def online_ids(self, tech_ids: list[int], now: datetime, ttl: float) -> set[int]:
        """``online_condition``: status online, and a fresh presence row with sockets."""
        fresh = now - timedelta(seconds=ttl)
        live = {tech for (_, tech), (sockets, seen) in self.t.presence.items() if sockets > 0 and seen > fresh}
        return {i for i in tech_ids if i in live and self.t.technicians[i].status == Status.ONLINE.value}

    async def member_ids(self, group_id: int) -> list[int]:
        return sorted(m for g, m in self.t.members if g == group_id)

    async def members_of_groups(self, group_ids: set[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        for g, m in sorted(self.t.members):
            if g in group_ids:
                found.setdefault(g, []).append(m)
        return found


class FakeRequests(_Fake):
    """Mirrors ``storage.requests.RequestRepository``."""

    def _insert(self, item: dict[str, Any], now: datetime) -> int:
        if item["chat_id"] is not None and any(r.chat_id == item["chat_id"] for r in self.t.requests.values()):
            raise Duplicate(f"requests: chat {item['chat_id']} already has a request")  # requests.chat_id unique
        row = RequestRow(id=self.t.next_id("requests"), status="open", created_at=now, updated_at=now, **item)
        self.t.requests[row.id] = row
        return row.id

    async def insert_request(self, *, subject: str, description: str, source: str, requester_id: int,
                             group_id: int | None, technician_id: int | None, chat_id: int | None,
                             now: datetime) -> int:
        return self._insert({"subject": subject, "description": description, "source": source,
                             "requester_id": requester_id, "group_id": group_id, "technician_id": technician_id,
                             "chat_id": chat_id}, now)

    async def insert_requests(self, items: list[dict[str, Any]], now: datetime) -> list[int]:
        return [self._insert(item, now) for item in items]

    async def load_request(self, request_id: int) -> dict[str, Any] | None:
        row = self.t.requests.get(request_id)
        return request_of(self.t, row) if row is not None else None

    async def load_requests(self, request_ids: list[int]) -> list[Any]:
        return [request_of(self.t, self.t.requests[i]) for i in sorted(request_ids) if i in self.t.requests]


class FakeOutbox(_Fake):
    """Mirrors ``storage.outbox.OutboxRepository``: what was written (the sender is not part of these tests)."""

    async def insert_items(self, items: list[dict[str, Any]], now: datetime) -> None:
        self.t.outbox.extend(items)


class FakeWebhooks(_Fake):
    """Mirrors ``storage.outbox.WebhookRepository``: no endpoints."""

    async def all_webhooks(self) -> list[Any]:
        return []


class _NotFaked(_Fake):
    pass


class FakeStore:
    """A ``Store`` on in-memory tables: one writer at a time, rolled back when the block raises."""

    def __init__(self) -> None:
        self.tables = Tables()
        self._writer = asyncio.Lock()

    def repositories(self) -> Repositories:
        return Repositories(cast(ChatRepository, FakeChats(self)), cast(PeopleRepository, FakePeople(self)),
                            cast(RequestRepository, FakeRequests(self)), cast(CannedRepository, _NotFaked(self)),
                            cast(SettingsRepository, _NotFaked(self)), cast(SignInRepository, _NotFaked(self)),
                            cast(AttachmentRepository, _NotFaked(self)), cast(OutboxRepository, FakeOutbox(self)),
                            cast(WebhookRepository, FakeWebhooks(self)), cast(ReportRepository, _NotFaked(self)),
                            cast(SearchRepository, _NotFaked(self)))

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Repositories]:
        async with self._writer:
            saved = copy.deepcopy(self.tables)
            try:
                yield self.repositories()
            except BaseException:
                self.tables = saved
                raise

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Repositories]:
        yield self.repositories()
