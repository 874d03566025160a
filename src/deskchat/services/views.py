"""Objects in the shapes of API.md, for responses and for event frames alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deskchat.domain.chat import Attachment, Chat, ChatState, Message, Rating
from deskchat.domain.people import Author, Group, Requester, Technician
from deskchat.domain.request import Note, Request
from deskchat.domain.settings import DeskSettings


@dataclass(frozen=True)
class QueuePlace:
    """Where a waiting chat stands: 1 is next; the estimate is None until the group has recent pickups."""

    position: int
    estimated_wait_seconds: int | None


def rating_view(rating: Rating | None) -> dict[str, Any] | None:
    """How the requester rated the chat."""
    return {"score": rating.score, "comment": rating.comment} if rating else None


def chat_view(chat: Chat, place: QueuePlace | None = None) -> dict[str, Any]:
    """A chat as API.md shows it (``place``: its queue position while waiting, when known)."""
    waiting = place if chat.state is ChatState.WAITING else None
    return {
        "id": chat.id, "group_id": chat.group_id, "subject": chat.subject, "state": chat.state.value,
        "requester": requester_view(chat.requester),
        "owner_id": chat.owner_id, "participant_ids": list(chat.participant_ids),
        "request_id": chat.request_id, "created_at": chat.created_at.isoformat(),
        "picked_up_at": chat.picked_up_at.isoformat() if chat.picked_up_at else None,
        "ended_at": chat.ended_at.isoformat() if chat.ended_at else None, "last_seq": chat.last_seq,
        "queue_position": waiting.position if waiting else None,
        "estimated_wait_seconds": waiting.estimated_wait_seconds if waiting else None,
        "rating": rating_view(chat.rating),
    }


def requester_view(requester: Requester) -> dict[str, Any]:
    """An end user as API.md shows them (``verified``: signed in, one per email)."""
    return {"id": requester.id, "name": requester.name, "email": requester.email, "verified": requester.verified}


def technician_view(tech: Technician, *, online: bool, active_chats: int = 0) -> dict[str, Any]:
    """A technician as API.md shows it."""
    return {
        "id": tech.id, "name": tech.name, "email": tech.email, "role": tech.role.value,
        "group_ids": sorted(tech.group_ids), "status": tech.status.value, "online": online,
        "active_chats": active_chats, "active": tech.active, "max_chats": tech.max_chats,
    }


def group_view(group: Group, online_technicians: int, now: datetime | None = None) -> dict[str, Any]:
    """A group as API.md shows it; with ``now``, as the portal shows it (open now, available)."""
    view: dict[str, Any] = {
        "id": group.id, "name": group.name, "description": group.description,
        "online_technicians": online_technicians,
        "business_hours": group.business_hours.view() if group.business_hours else None,
        "routing": group.routing.value}
    if now is not None:
        view["open_now"] = group.open_now(now)
        view["available"] = view["open_now"] and online_technicians > 0
    return view


def author_view(author: Author) -> dict[str, Any]:
    """Who wrote a message or note."""
    return {"kind": author.kind, "id": author.id, "name": author.name}


def message_view(message: Message) -> dict[str, Any]:
    """A timeline message as API.md shows it."""
    return {
        "id": message.id, "chat_id": message.chat_id, "seq": message.seq, "kind": message.kind,
        "event": message.event, "author": author_view(message.author), "body": message.body,
        "client_msg_id": message.client_msg_id, "created_at": message.created_at.isoformat(),
        "attachment": attachment_view(message.attachment) if message.attachment else None,
    }


def attachment_view(attachment: Attachment) -> dict[str, Any]:
    """A file of the timeline (download it at ``/api/v1/attachments/{id}``)."""
    return {"id": attachment.id, "filename": attachment.filename, "content_type": attachment.content_type,
            "size": attachment.size}


def request_view(request: Request) -> dict[str, Any]:
    """An incident request as API.md shows it."""
    requester = request.requester
    return {
        "id": request.id, "subject": request.subject, "description": request.description,
        "status": request.status.value, "source": request.source.value,
        "requester": requester_view(requester),
        "group_id": request.group_id, "technician_id": request.technician_id, "chat_id": request.chat_id,
        "created_at": request.created_at.isoformat(), "updated_at": request.updated_at.isoformat(),
        "chat_rating": rating_view(request.chat_rating),
    }


def note_view(note: Note) -> dict[str, Any]:
    """A note as API.md shows it."""
    return {"id": note.id, "request_id": note.request_id, "author": author_view(note.author), "body": note.body,
            "created_at": note.created_at.isoformat()}


def settings_view(settings: DeskSettings) -> dict[str, Any]:
    """The admin settings as API.md shows them."""
    return {"missed_chat_conversion": settings.missed_chat_conversion,
            "missed_chat_timeout_seconds": settings.missed_chat_timeout_seconds,
            "request_forward_email": settings.request_forward_email}


def page(items: list[dict[str, Any]], limit: int, key: str = "id") -> dict[str, Any]:
    """A list page; ``next_cursor`` is the key of the last item when the page is full."""
    cursor = str(items[-1][key]) if len(items) == limit and items else None
    return {"items": items, "next_cursor": cursor}
