"""The in-memory tables of the fake store: rows as storage's tables hold them, and the one function
that turns each kind of stored thing into what the repositories return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deskchat.domain.chat import Chat, ChatState, Message
from deskchat.domain.people import Author, Requester, Role, Status, Technician
from deskchat.domain.request import Request, RequestSource, RequestStatus

OPEN = (ChatState.WAITING.value, ChatState.ACTIVE.value)

# -- rows, as the tables hold them ----------------------------------------------------------------


@dataclass
class ChatRow:
    id: int
    group_id: int
    subject: str
    state: str
    requester_id: int
    created_at: datetime
    owner_id: int | None = None
    request_id: int | None = None
    last_seq: int = 0
    missed_due_at: datetime | None = None
    picked_up_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass
class ParticipantRow:
    chat_id: int
    technician_id: int
    joined_at: datetime
    left_at: datetime | None = None


@dataclass
class MessageRow:
    id: int
    chat_id: int
    seq: int
    kind: str
    event: str | None
    author_kind: str
    author_id: int | None
    author_name: str
    body: str
    client_msg_id: str | None
    created_at: datetime


@dataclass
class RequestRow:
    id: int
    subject: str
    description: str
    status: str
    source: str
    requester_id: int
    group_id: int | None
    technician_id: int | None
    chat_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass
class TechnicianRow:
    id: int
    name: str
    email: str
    role: str
    status: str
    active: bool = True
    max_chats: int | None = None
    open_chats: int = 0
    last_assigned_at: datetime | None = None


@dataclass
class Tables:
    groups: dict[int, str] = field(default_factory=dict)
    members: set[tuple[int, int]] = field(default_factory=set)  # (group_id, technician_id)
    technicians: dict[int, TechnicianRow] = field(default_factory=dict)
    presence: dict[tuple[str, int], tuple[int, datetime]] = field(default_factory=dict)  # -> (sockets, seen_at)
    requesters: dict[int, Requester] = field(default_factory=dict)
    chats: dict[int, ChatRow] = field(default_factory=dict)
    participants: list[ParticipantRow] = field(default_factory=list)
    messages: list[MessageRow] = field(default_factory=list)
    requests: dict[int, RequestRow] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)  # deliveries written (kind, event, payload, ...)
    last_ids: dict[str, int] = field(default_factory=dict)

    def next_id(self, table: str) -> int:
        self.last_ids[table] = self.last_ids.get(table, 0) + 1
        return self.last_ids[table]


# -- the one place each stored thing becomes what services get ---------------------------------


def message_of(row: MessageRow) -> Message:
    """A stored message as the repositories return it."""
    return Message(id=row.id, chat_id=row.chat_id, seq=row.seq, author=Author(row.author_kind, row.author_id,
                   row.author_name), body=row.body, created_at=row.created_at, event=row.event,
                   client_msg_id=row.client_msg_id)


def request_of(t: Tables, row: RequestRow) -> Request:
    """A stored request as the repositories return it."""
    return Request(id=row.id, subject=row.subject, description=row.description, status=RequestStatus(row.status),
                   source=RequestSource(row.source), requester=t.requesters[row.requester_id], group_id=row.group_id,
                   technician_id=row.technician_id, chat_id=row.chat_id, created_at=row.created_at,
                   updated_at=row.updated_at)


def chat_of(t: Tables, row: ChatRow) -> Chat:
    """The Chat aggregate, as ``storage.chats._chat_from`` builds it."""
    parts = sorted((p for p in t.participants if p.chat_id == row.id), key=lambda p: (p.joined_at, p.technician_id))
    return Chat(id=row.id, group_id=row.group_id, subject=row.subject, state=ChatState(row.state),
                requester=t.requesters[row.requester_id], created_at=row.created_at, owner_id=row.owner_id,
                request_id=row.request_id, picked_up_at=row.picked_up_at, ended_at=row.ended_at,
                last_seq=row.last_seq, participant_ids=[p.technician_id for p in parts if p.left_at is None],
                former_participant_ids={p.technician_id for p in parts if p.left_at is not None})


def technician_of(t: Tables, tech_id: int) -> Technician:
    """A technician with their groups, as ``storage.people._tech`` builds it."""
    row = t.technicians[tech_id]
    groups = frozenset(g for g, m in t.members if m == tech_id)
    return Technician(row.id, row.name, row.email, Role(row.role), Status(row.status), groups, row.active,
                      row.max_chats)
