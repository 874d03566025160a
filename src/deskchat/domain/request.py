"""Incident requests (tickets) and their notes, and the texts made from a chat."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from deskchat.domain.chat import SUBJECT_MAX, Chat, Message, Rating
from deskchat.domain.errors import ValidationFailed
from deskchat.domain.people import Author, Requester, Technician

NOTE_MAX = 10_000


class RequestStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"


class RequestSource(StrEnum):
    LIVE_CHAT = "live_chat"
    MISSED_CHAT = "missed_chat"
    OFFLINE_MESSAGE = "offline_message"


@dataclass(frozen=True)
class Request:
    """An incident request (ticket)."""

    id: int
    subject: str
    description: str
    status: RequestStatus
    source: RequestSource
    requester: Requester
    group_id: int | None
    technician_id: int | None
    chat_id: int | None
    created_at: datetime
    updated_at: datetime
    chat_rating: Rating | None = None  # how the requester rated the chat it came from

    def visible_to(self, tech: Technician) -> bool:
        """Technicians see the requests of their groups and those assigned to them; admins all."""
        return (tech.is_admin or self.technician_id == tech.id
                or (self.group_id is not None and tech.in_group(self.group_id)))


@dataclass(frozen=True)
class Note:
    """A note on a request."""

    id: int
    request_id: int
    author: Author
    body: str
    created_at: datetime


def check_note(body: str) -> str:
    """A note holds 1 to 10,000 characters and is not blank."""
    if not body.strip():
        raise ValidationFailed("The note is empty.", errors={"body": "must not be empty"})
    if len(body) > NOTE_MAX:
        raise ValidationFailed("The note is too long.", errors={"body": f"at most {NOTE_MAX} characters"})
    return body


def check_subject(subject: str) -> str:
    """A request subject holds 1 to 200 characters."""
    if not subject.strip():
        raise ValidationFailed("The subject is empty.", errors={"subject": "must not be empty"})
    if len(subject) > SUBJECT_MAX:
        raise ValidationFailed("The subject is too long.", errors={"subject": f"at most {SUBJECT_MAX}"})
    return subject.strip()


CONTINUATION = "    "


def quoted(text: str) -> str:
    """Text for one entry of a transcript, its lines kept, whatever line break they used.

    Only a real entry starts with ``[`` at the left margin: a later line of the text that would start
    with ``[`` is indented, so nobody can write a line that passes for another author's
    (``"ok\n[2026-12-01 10:00:00 UTC] Sam (technician): ..."`` stays inside its own entry).
    """
    first, *rest = text.splitlines() or [""]
    return "\n".join([first, *(CONTINUATION + line if line.lstrip().startswith("[") else line for line in rest)])


def one_line(text: str) -> str:
    """A name or email on one line (line breaks become spaces)."""
    return " ".join(text.splitlines())


def format_transcript(entries: Iterable[Message]) -> str:
    """The whole conversation as text: time, author and words, system events in words."""
    lines = []
    for entry in entries:
        stamp = entry.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        if entry.kind == "system":
            lines.append(f"[{stamp}] * {quoted(entry.body)}")
        elif entry.attachment is not None:
            lines.append(f"[{stamp}] {one_line(entry.author.name)} ({entry.author.kind}): "
                         f"[attachment] {one_line(entry.attachment.filename)} ({entry.attachment.size} bytes)")
        else:
            lines.append(f"[{stamp}] {one_line(entry.author.name)} ({entry.author.kind}): {quoted(entry.body)}")
    return "\n".join(lines)


def requester_line(chat: Chat) -> str:
    """Who asked, as a line of a description."""
    return f"Requester: {one_line(chat.requester.name)} <{one_line(chat.requester.email)}>"


def converted_description(chat: Chat) -> str:
    """Description of a request converted mid-chat: names the chat and requester, no chat text."""
    return "\n".join([
        f"Created from live chat #{chat.id} while the conversation was in progress.",
        requester_line(chat),
        "The conversation is not copied here; it is added as a note when the chat ends.",
    ])


def added_description(chat: Chat, entries: Iterable[Message]) -> str:
    """Description of a request added after the chat ended: the whole transcript."""
    return "\n".join([
        f"Transcript of live chat #{chat.id}.", requester_line(chat), "", format_transcript(entries),
    ])


def missed_subject(chat: Chat) -> str:
    """Subject of a missed-chat request."""
    return f"Missed chat: {chat.subject}"[:SUBJECT_MAX]


def missed_description(chat: Chat, requester_texts: Iterable[str]) -> str:
    """Description of a missed-chat request: what the requester wrote while waiting."""
    return "\n".join([
        f"Nobody picked up live chat #{chat.id} in time.", requester_line(chat), "",
        "The requester wrote:", *(quoted(text) for text in requester_texts),
    ])


def offline_subject(message: str) -> str:
    """An offline message's request subject: its first non-empty line, cut to 200 characters."""
    for line in message.splitlines():
        if line.strip():
            return line.strip()[:SUBJECT_MAX]
    raise ValidationFailed("The message is empty.", errors={"message": "must not be empty"})


def default_subject(chat: Chat) -> str:
    """The subject of a request made of a chat, unless the technician gives one."""
    return chat.subject
