"""The Chat aggregate: a state machine waiting -> active -> ended, or waiting -> missed.

Methods check who may do what and record the system messages that tell participants what
happened. The store applies each change with a guarded UPDATE, so the rules here decide
*whether* an action is allowed and the database decides *who won* a race.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from deskchat.domain.errors import (
    AlreadyPickedUp,
    Forbidden,
    InvalidState,
    RequestAlreadyLinked,
    TechnicianOffline,
    ValidationFailed,
)
from deskchat.domain.people import Actor, Author, Requester, Technician

SUBJECT_MAX = 200
BODY_MAX = 10_000
COMMENT_MAX = 2_000


class ChatState(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    ENDED = "ended"
    MISSED = "missed"

    @property
    def is_open(self) -> bool:
        """Waiting and active chats still take messages."""
        return self in (ChatState.WAITING, ChatState.ACTIVE)


class SystemEvent(StrEnum):
    PICKED_UP = "picked_up"
    INVITED = "invited"
    LEFT = "left"
    TRANSFERRED = "transferred"
    ENDED = "ended"
    REQUEST_LINKED = "request_linked"
    MISSED = "missed"
    ASSIGNED = "assigned"


@dataclass(frozen=True)
class SystemMessage:
    """A timeline entry that records what happened, in words."""

    event: SystemEvent
    body: str


def subject_from(message: str) -> str:
    """The chat subject: the first non-empty line of the first message, cut to 200 characters."""
    for line in message.splitlines():
        if line.strip():
            return line.strip()[:SUBJECT_MAX]
    return message.strip()[:SUBJECT_MAX]


def check_body(body: str) -> str:
    """A message body must hold 1 to 10,000 characters and not be blank."""
    if not body.strip():
        raise ValidationFailed("The message is empty.", errors={"body": "must not be empty"})
    if len(body) > BODY_MAX:
        raise ValidationFailed("The message is too long.", errors={"body": f"at most {BODY_MAX} characters"})
    return body


@dataclass(frozen=True)
class Attachment:
    """A file posted in a chat: its name as uploaded, the type its bytes show, its size."""

    id: int
    chat_id: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Rating:
    """How the requester rated a chat after its end."""

    score: int
    comment: str | None
    created_at: datetime


@dataclass(frozen=True)
class Whisper:
    """A technicians-only message in a chat: not in the timeline, never seen by the requester."""

    id: int
    chat_id: int
    author: Author
    body: str
    created_at: datetime


@dataclass(frozen=True)
class Message:
    """One entry of a chat's timeline, as stored: text, a file, or a system message recording an event."""

    id: int
    chat_id: int
    seq: int
    author: Author
    body: str
    created_at: datetime
    event: str | None = None  # a SystemEvent value for system messages
    client_msg_id: str | None = None
    attachment: Attachment | None = None

    @property
    def kind(self) -> str:
        """"system" for a system message, "attachment" for a file, else "text"."""
        if self.event:
            return "system"
        return "attachment" if self.attachment else "text"


@dataclass
class Chat:
    """One conversation between a requester and the technicians who take part in it."""

    id: int
    group_id: int
    subject: str
    state: ChatState
    requester: Requester
    created_at: datetime
    owner_id: int | None = None
    participant_ids: list[int] = field(default_factory=list)
    former_participant_ids: set[int] = field(default_factory=set)
    request_id: int | None = None
    picked_up_at: datetime | None = None
    ended_at: datetime | None = None
    last_seq: int = 0
    rating: Rating | None = None
    recorded: list[SystemMessage] = field(default_factory=list)

    # -- who may do what -------------------------------------------------------------

    def is_participant(self, actor: Actor) -> bool:
        """True for a technician in the chat now."""
        return isinstance(actor, Technician) and actor.id in self.participant_ids

    def is_own_requester(self, actor: Actor) -> bool:
        """True for the requester whose chat this is."""
        return isinstance(actor, Requester) and actor.id == self.requester.id

    def can_read(self, actor: Actor) -> bool:
        """Requesters read their own chats; technicians their groups' and any they took part in."""
        if isinstance(actor, Requester):
            return self.is_own_requester(actor)
        return (actor.is_admin or actor.in_group(self.group_id) or actor.id in self.participant_ids
                or actor.id in self.former_participant_ids)

    def ensure_readable(self, actor: Actor) -> None:
        """Raise Forbidden unless the actor may read this chat."""
        if not self.can_read(actor):
            raise Forbidden("You do not have access to this chat.")

    def ensure_can_act(self, actor: Actor) -> None:
        """Invite, notes, convert: a participant now, or an admin."""
        self.ensure_readable(actor)
        if not (self.is_participant(actor) or (isinstance(actor, Technician) and actor.is_admin)):
            raise Forbidden("Only technicians taking part in this chat may do that.")

    def ensure_can_post(self, actor: Actor) -> None:
        """Requesters post while the chat is open; technicians once they take part in it."""
        self.ensure_readable(actor)
        if isinstance(actor, Technician) and not self.is_participant(actor):
            raise Forbidden("Pick up the chat or be invited before writing in it.")
        if not self.state.is_open:
            raise InvalidState(f"The chat is {self.state.value}; it takes no more messages.")
        if isinstance(actor, Technician) and self.state is not ChatState.ACTIVE:
            raise InvalidState("The chat is not active.")

    def ensure_can_whisper(self, actor: Actor) -> None:
        """Technicians taking part in the chat, and admins, whisper to each other."""
        self.ensure_readable(actor)
        if not isinstance(actor, Technician) or not (actor.is_admin or self.is_participant(actor)):
            raise Forbidden("Only technicians taking part in this chat, and admins, may whisper in it.")
        if not self.state.is_open:
            raise InvalidState(f"The chat is {self.state.value}; whispers are for chats that go on.")

    def check_rating(self, actor: Actor, score: int, comment: str | None) -> None:
        """The chat's requester rates it once, after it ended (a missed chat has nothing to rate)."""
        self.ensure_readable(actor)
        if not self.is_own_requester(actor):
            raise Forbidden("Only the requester of the chat may rate it.")
        if not 1 <= score <= 5:
            raise ValidationFailed("The score is from 1 to 5.", errors={"score": "1 to 5"})
        if comment is not None and len(comment) > COMMENT_MAX:
            raise ValidationFailed("The comment is too long.", errors={"comment": f"at most {COMMENT_MAX} characters"})
        if self.state is not ChatState.ENDED:
            raise InvalidState(f"The chat is {self.state.value}; a chat is rated once it has ended.")
        if self.rating is not None:
            raise InvalidState("This chat has been rated already.")

    def post(self, actor: Actor, body: str) -> int:
        """Check a new message and return the seq it takes on this snapshot."""
        self.ensure_can_post(actor)
        check_body(body)
        self.last_seq += 1
        return self.last_seq

    # -- transitions -----------------------------------------------------------------

    def pick_up(self, tech: Technician, now: datetime) -> None:
        """The technician becomes the owner; only a waiting chat can be picked up."""
        if not (tech.is_admin or tech.in_group(self.group_id)):
            raise Forbidden("Only technicians of the chat's group may pick it up.")
        if self.state is ChatState.ACTIVE:
            raise AlreadyPickedUp("Another technician picked up this chat first.")
        if self.state is not ChatState.WAITING:
            raise InvalidState(f"The chat is {self.state.value}; it cannot be picked up.")
        self.state, self.owner_id, self.picked_up_at = ChatState.ACTIVE, tech.id, now
        self.participant_ids = [tech.id]
        self._record(SystemEvent.PICKED_UP, f"{tech.name} picked up the chat")

    def assign(self, tech: Technician, now: datetime) -> None:
        """Auto-assign gives a waiting chat to a technician of its group: a pickup in their name."""
        if not tech.in_group(self.group_id):
            raise Forbidden("Chats are assigned to technicians of their group.")
        if self.state is not ChatState.WAITING:
            raise InvalidState(f"The chat is {self.state.value}; it cannot be assigned.")
        self.state, self.owner_id, self.picked_up_at = ChatState.ACTIVE, tech.id, now
        self.participant_ids = [tech.id]
        self._record(SystemEvent.ASSIGNED, f"The chat was assigned to {tech.name}")

    def invite(self, actor: Technician, target: Technician, target_online: bool) -> None:
        """Add an online technician as a participant."""
        self.ensure_can_act(actor)
        self._ensure_active()
        if target.id in self.participant_ids:
            raise InvalidState(f"{target.name} is already in this chat.")
        if not target_online:
            raise TechnicianOffline(f"{target.name} is not online.")
        self._join(target.id)
        self._record(SystemEvent.INVITED, f"{actor.name} invited {target.name} to the chat")

    def leave(self, actor: Technician) -> None:
        """A participant other than the owner leaves."""
        self.ensure_readable(actor)
        if not self.is_participant(actor):
            raise Forbidden("You are not taking part in this chat.")
        self._ensure_active()
        if actor.id == self.owner_id:
            raise InvalidState("The owner cannot leave; transfer the chat or end it.")
        self._drop(actor.id)
        self._record(SystemEvent.LEFT, f"{actor.name} left the chat")

    def transfer(self, actor: Technician, target: Technician, target_online: bool,
                 group_id: int | None) -> None:
        """The owner (or an admin) hands the chat to an online technician; the old owner leaves."""
        self.ensure_readable(actor)
        if not (actor.id == self.owner_id or actor.is_admin):
            raise Forbidden("Only the chat's owner or an admin may transfer it.")
        self._ensure_active()
        if target.id == self.owner_id:
            raise InvalidState(f"{target.name} already owns this chat.")
        if not target_online:
            raise TechnicianOffline(f"{target.name} is not online.")
        self.group_id = self._transfer_group(target, group_id)
        previous = self.owner_id
        if previous is not None:
            self._drop(previous)
        self.owner_id = target.id
        if target.id not in self.participant_ids:
            self._join(target.id)
        self._record(SystemEvent.TRANSFERRED, f"{actor.name} transferred the chat to {target.name}")

    def _transfer_group(self, target: Technician, group_id: int | None) -> int:
        if group_id is not None:
            if not target.in_group(group_id):
                raise ValidationFailed("The technician is not in that group.",
                                       errors={"group_id": "must be one of the technician's groups"})
            return group_id
        if target.in_group(self.group_id):
            return self.group_id
        if not target.group_ids:
            raise ValidationFailed("The technician belongs to no group.",
                                   errors={"technician_id": "technician has no group"})
        return min(target.group_ids)

    def end(self, actor: Actor, now: datetime) -> None:
        """End the chat: a participant, the requester or an admin; a requester may end a waiting one."""
        self.ensure_readable(actor)
        is_admin = isinstance(actor, Technician) and actor.is_admin
        if not (self.is_participant(actor) or self.is_own_requester(actor) or is_admin):
            raise Forbidden("Only people in this chat may end it.")
        if not self.state.is_open:
            raise InvalidState(f"The chat is already {self.state.value}.")
        self.state, self.ended_at = ChatState.ENDED, now
        self._record(SystemEvent.ENDED, f"{actor.name} ended the chat")

    def miss(self, now: datetime, request_id: int) -> None:
        """Nobody picked the chat up in time: it becomes missed, linked to a new request."""
        if self.state is not ChatState.WAITING:
            raise InvalidState(f"The chat is {self.state.value}; only waiting chats can be missed.")
        self.state, self.ended_at, self.request_id = ChatState.MISSED, now, request_id
        self._record(SystemEvent.MISSED, (
            f"No technician was available in time. Request #{request_id} was created for you; "
            "a technician will follow up by email."))

    def ensure_can_link_request(self, actor: Technician) -> None:
        """Convert while active or add after the end: participants and admins, once per chat."""
        is_admin = actor.is_admin
        was_in = actor.id in self.participant_ids or actor.id in self.former_participant_ids
        self.ensure_readable(actor)
        if not (self.is_participant(actor) or is_admin or (self.state is ChatState.ENDED and was_in)):
            raise Forbidden("Only technicians taking part in this chat may make a request of it.")
        if self.request_id is not None:
            raise RequestAlreadyLinked(f"This chat already has request #{self.request_id}.")
        if self.state not in (ChatState.ACTIVE, ChatState.ENDED):
            raise InvalidState(f"A {self.state.value} chat cannot be made a request.")

    def link_request(self, actor: Technician, request_id: int, subject: str) -> None:
        """Record the request made of this chat."""
        self.ensure_can_link_request(actor)
        self.request_id = request_id
        self._record(SystemEvent.REQUEST_LINKED, f"Request #{request_id} created: {subject}")

    # -- helpers ---------------------------------------------------------------------

    def _ensure_active(self) -> None:
        if self.state is not ChatState.ACTIVE:
            raise InvalidState(f"The chat is {self.state.value}, not active.")

    def _join(self, tech_id: int) -> None:
        self.participant_ids.append(tech_id)

    def _drop(self, tech_id: int) -> None:
        self.participant_ids.remove(tech_id)
        self.former_participant_ids.add(tech_id)

    def _record(self, event: SystemEvent, body: str) -> None:
        self.last_seq += 1
        self.recorded.append(SystemMessage(event, body))
