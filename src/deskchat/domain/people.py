"""Who acts: technicians (and admins) with accounts, requesters known by a visitor token."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from deskchat.domain.hours import BusinessHours, open_now


class Role(StrEnum):
    TECHNICIAN = "technician"
    ADMIN = "admin"


class Routing(StrEnum):
    BROADCAST = "broadcast"  # every online technician is alerted; one clicks Pick Up
    AUTO_ASSIGN = "auto_assign"  # the chat is given to the least busy online technician under capacity


class Status(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Requester:
    """An end user: anonymous (one per chat, known by its visitor token), or verified (one per email)."""

    id: int
    name: str
    email: str
    verified: bool = False


@dataclass(frozen=True)
class Group:
    """A support group."""

    id: int
    name: str
    description: str
    business_hours: BusinessHours | None = None  # None: always open
    routing: Routing = Routing.BROADCAST

    def open_now(self, now: datetime) -> bool:
        """True when the group takes new chats at ``now``."""
        return open_now(self.business_hours, now)


@dataclass(frozen=True)
class Technician:
    """A help-desk technician or admin."""

    id: int
    name: str
    email: str
    role: Role
    status: Status = Status.OFFLINE
    group_ids: frozenset[int] = field(default_factory=frozenset)
    active: bool = True  # a deactivated technician cannot sign in but keeps their name on history
    max_chats: int | None = None  # None: no limit on the active chats they take part in

    @property
    def is_admin(self) -> bool:
        """Admins may do everything a technician may, in every group."""
        return self.role is Role.ADMIN

    def in_group(self, group_id: int) -> bool:
        """True if the technician belongs to the group."""
        return group_id in self.group_ids


Actor = Technician | Requester


@dataclass(frozen=True)
class StoredToken:
    """A live (unrevoked) token: whose it is and when it was issued and last used."""

    id: int
    created_at: datetime
    last_used_at: datetime | None
    technician_id: int | None = None
    requester: Requester | None = None  # for a visitor token


@dataclass(frozen=True)
class Author:
    """Who wrote a message or note, as shown to readers."""

    kind: str  # "requester" | "technician" | "system"
    id: int | None
    name: str

    @staticmethod
    def of(actor: Actor) -> Author:
        """The author record of an actor."""
        kind = "technician" if isinstance(actor, Technician) else "requester"
        return Author(kind, actor.id, actor.name)


SYSTEM = Author("system", None, "System")
