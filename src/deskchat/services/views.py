"""Objects in the shapes of API.md, for responses and for event frames alike."""

from __future__ import annotations

from typing import Any

from deskchat.domain.chat import Chat, Message
from deskchat.domain.people import Author, Group, Requester, Technician
from deskchat.domain.request import Note, Request
from deskchat.domain.settings import DeskSettings


def chat_view(chat: Chat) -> dict[str, Any]:
    """A chat as API.md shows it."""
    return {
        "id": chat.id, "group_id": chat.group_id, "subject": chat.subject, "state": chat.state.value,
        "requester": requester_view(chat.requester),
        "owner_id": chat.owner_id, "participant_ids": list(chat.participant_ids),
        "request_id": chat.request_id, "created_at": chat.created_at.isoformat(),
        "picked_up_at": chat.picked_up_at.isoformat() if chat.picked_up_at else None,
        "ended_at": chat.ended_at.isoformat() if chat.ended_at else None, "last_seq": chat.last_seq,
    }


def requester_view(requester: Requester) -> dict[str, Any]:
    """An end user as API.md shows them (``verified``: signed in, one per email)."""
    return {"id": requester.id, "name": requester.name, "email": requester.email, "verified": requester.verified}


def technician_view(tech: Technician, *, online: bool, active_chats: int = 0) -> dict[str, Any]:
    """A technician as API.md shows it."""
    return {
        "id": tech.id, "name": tech.name, "email": tech.email, "role": tech.role.value,
        "group_ids": sorted(tech.group_ids), "status": tech.status.value, "online": online,
        "active_chats": active_chats, "active": tech.active,
    }


def group_view(group: Group, online_technicians: int) -> dict[str, Any]:
    """A group as API.md shows it."""
    return {"id": group.id, "name": group.name, "description": group.description,
            "online_technicians": online_technicians}


def author_view(author: Author) -> dict[str, Any]:
    """Who wrote a message or note."""
    return {"kind": author.kind, "id": author.id, "name": author.name}


def message_view(message: Message) -> dict[str, Any]:
    """A timeline message as API.md shows it."""
    return {
        "id": message.id, "chat_id": message.chat_id, "seq": message.seq, "kind": message.kind,
        "event": message.event, "author": author_view(message.author), "body": message.body,
        "client_msg_id": message.client_msg_id, "created_at": message.created_at.isoformat(),
    }


def request_view(request: Request) -> dict[str, Any]:
    """An incident request as API.md shows it."""
    requester = request.requester
    return {
        "id": request.id, "subject": request.subject, "description": request.description,
        "status": request.status.value, "source": request.source.value,
        "requester": requester_view(requester),
        "group_id": request.group_id, "technician_id": request.technician_id, "chat_id": request.chat_id,
        "created_at": request.created_at.isoformat(), "updated_at": request.updated_at.isoformat(),
    }


def note_view(note: Note) -> dict[str, Any]:
    """A note as API.md shows it."""
    return {"id": note.id, "request_id": note.request_id, "author": author_view(note.author), "body": note.body,
            "created_at": note.created_at.isoformat()}


def settings_view(settings: DeskSettings) -> dict[str, Any]:
    """The admin settings as API.md shows them."""
    return {"missed_chat_conversion": settings.missed_chat_conversion,
            "missed_chat_timeout_seconds": settings.missed_chat_timeout_seconds}


def page(items: list[dict[str, Any]], limit: int, key: str = "id") -> dict[str, Any]:
    """A list page; ``next_cursor`` is the key of the last item when the page is full."""
    cursor = str(items[-1][key]) if len(items) == limit and items else None
    return {"items": items, "next_cursor": cursor}
