"""Objects in the shapes of API.md, for responses and for event frames alike."""

from __future__ import annotations

from typing import Any

from deskchat.domain.chat import Chat
from deskchat.domain.people import Technician


def chat_view(chat: Chat) -> dict[str, Any]:
    """A chat as API.md shows it."""
    return {
        "id": chat.id, "group_id": chat.group_id, "subject": chat.subject, "state": chat.state.value,
        "requester": {"id": chat.requester.id, "name": chat.requester.name, "email": chat.requester.email},
        "owner_id": chat.owner_id, "participant_ids": list(chat.participant_ids),
        "request_id": chat.request_id, "created_at": chat.created_at.isoformat(),
        "picked_up_at": chat.picked_up_at.isoformat() if chat.picked_up_at else None,
        "ended_at": chat.ended_at.isoformat() if chat.ended_at else None, "last_seq": chat.last_seq,
    }


def technician_view(tech: Technician, *, online: bool, active_chats: int = 0) -> dict[str, Any]:
    """A technician as API.md shows it."""
    return {
        "id": tech.id, "name": tech.name, "email": tech.email, "role": tech.role.value,
        "group_ids": sorted(tech.group_ids), "status": tech.status.value, "online": online,
        "active_chats": active_chats, "active": tech.active,
    }


def group_view(row: Any, online_technicians: int) -> dict[str, Any]:
    """A group as API.md shows it."""
    return {"id": row.id, "name": row.name, "description": row.description,
            "online_technicians": online_technicians}


def page(items: list[dict[str, Any]], limit: int, key: str = "id") -> dict[str, Any]:
    """A list page; ``next_cursor`` is the key of the last item when the page is full."""
    cursor = str(items[-1][key]) if len(items) == limit and items else None
    return {"items": items, "next_cursor": cursor}
