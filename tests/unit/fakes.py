"""Service tests' fakes: a help desk on the in-memory store, a broker that records, a caller.

Build state in a line (``fake.add_group``, ``fake.add_technician``, ``fake.add_waiting_chat``), call a
service on ``fake.ctx``, then look at what is stored (``fake.chat``, ``fake.messages``, ``fake.requests``)
and at what was published (``fake.broker.sent``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from deskchat.config import Settings
from deskchat.domain.chat import Chat, ChatState
from deskchat.domain.people import SYSTEM, Author, Requester, Role, Status, Technician
from deskchat.ratelimit import MemoryRateLimiter
from deskchat.realtime.broker import Event, Handler, Reconnected
from deskchat.services.auth import Principal
from deskchat.services.context import Context
from deskchat.services.views import message_view, request_view
from tests.unit.fake_store import FakeStore
from tests.unit.fake_tables import (
    ChatRow,
    MessageRow,
    ParticipantRow,
    Tables,
    TechnicianRow,
    chat_of,
    message_of,
    request_of,
    technician_of,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROCESS = "test-process"


class RecordingBroker:
    """A Broker that keeps what was published, in its JSON form (as MemoryBroker and Redis carry it)."""

    def __init__(self) -> None:
        self.published: list[Event] = []

    async def start(self, handler: Handler, on_reconnect: Reconnected | None = None) -> None:
        pass

    async def publish(self, event: Event | str) -> None:
        self.published.append(json.loads(event if isinstance(event, str) else json.dumps(event)))

    async def stop(self) -> None:
        pass

    def sent(self, frame_type: str) -> list[Event]:
        """The deliveries (``{"frame": ..., "to": ...}``) of frames of one type, in publish order."""
        return [e for e in self.published if e.get("frame", {}).get("type") == frame_type]


def principal(actor: Technician | Requester) -> Principal:
    """A caller signed in as ``actor``."""
    return Principal(actor, token_id=1000 + actor.id)


class FakeDesk:
    """A help desk on the fake store: build state in a line, then call services on ``ctx``."""

    def __init__(self) -> None:
        self.now = START
        self.store = FakeStore()
        self.broker = RecordingBroker()
        settings = Settings(_env_file=None, rate_limit_enabled=False)  # not the .env of wherever tests run
        self.ctx = Context(settings, self.store, self.broker, MemoryRateLimiter(), PROCESS, clock=lambda: self.now)

    @property
    def t(self) -> Tables:
        return self.store.tables

    async def close(self) -> None:
        """Stop the message writer a test may have started."""
        if self.ctx.writer is not None:
            await self.ctx.writer.stop()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def add_group(self, name: str) -> int:
        group_id = self.t.next_id("groups")
        self.t.groups[group_id] = name
        return group_id

    def add_technician(self, name: str, *group_ids: int, online: bool = True) -> Technician:
        """A technician of these groups; online means status online with a live socket in this process."""
        tech_id = self.t.next_id("technicians")
        status = Status.ONLINE if online else Status.OFFLINE
        self.t.technicians[tech_id] = TechnicianRow(tech_id, name, f"{name.lower()}@example.com",
                                                   Role.TECHNICIAN.value, status.value)
        self.t.members.update((g, tech_id) for g in group_ids)
        if online:
            self.t.presence[(PROCESS, tech_id)] = (1, self.now)
        return technician_of(self.t, tech_id)

    def add_waiting_chat(self, group_id: int, text: str = "My laptop will not boot", *,
                         missed_after: float = 300) -> Chat:
        """What start_chat stores: a requester, a waiting chat due to be missed, their first message."""
        requester = Requester(self.t.next_id("requesters"), "Erin", "erin@example.com")
        self.t.requesters[requester.id] = requester
        row = ChatRow(self.t.next_id("chats"), group_id, text, ChatState.WAITING.value, requester.id, self.now,
                      last_seq=1, missed_due_at=self.now + timedelta(seconds=missed_after))
        self.t.chats[row.id] = row
        self._message(row.id, 1, Author.of(requester), text)
        return self.chat(row.id)

    def add_active_chat(self, group_id: int, owner: Technician, text: str = "My laptop will not boot") -> Chat:
        """A chat ``owner`` picked up: they own it and take part; the timeline says so (seq 2)."""
        row = self.t.chats[self.add_waiting_chat(group_id, text).id]
        row.state, row.owner_id, row.picked_up_at, row.missed_due_at = ChatState.ACTIVE.value, owner.id, self.now, None
        row.last_seq = 2
        self.t.participants.append(ParticipantRow(row.id, owner.id, self.now))
        self._message(row.id, 2, SYSTEM, f"{owner.name} picked up the chat", event="picked_up")
        return self.chat(row.id)

    def mark_ended(self, chat_id: int) -> None:
        row = self.t.chats[chat_id]
        row.state, row.ended_at = ChatState.ENDED.value, self.now

    def _message(self, chat_id: int, seq: int, author: Author, body: str, event: str | None = None) -> None:
        self.t.messages.append(MessageRow(self.t.next_id("messages"), chat_id, seq, "system" if event else "text",
                                          event, author.kind, author.id, author.name, body, None, self.now))

    # -- what is stored now --------------------------------------------------------------------

    def chat(self, chat_id: int) -> Chat:
        return chat_of(self.t, self.t.chats[chat_id])

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        return [message_view(message_of(m)) for m in sorted(self.t.messages, key=lambda m: m.seq)
                if m.chat_id == chat_id]

    def system_events(self, chat_id: int) -> list[str]:
        """The events of the chat's system messages, in timeline order."""
        return [m["event"] for m in self.messages(chat_id) if m["kind"] == "system"]

    def requests(self) -> list[dict[str, Any]]:
        return [request_view(request_of(self.t, r)) for r in self.t.requests.values()]
