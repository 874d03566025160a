"""Running the desk: whispers between technicians, and the live monitor of queues and people."""

from __future__ import annotations

from typing import Any

from deskchat.domain.chat import Whisper, check_body
from deskchat.domain.people import Author
from deskchat.realtime.events import Recipients, WhisperFrame
from deskchat.services import common
from deskchat.services.auth import Principal
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.views import author_view

MAX_WHISPERS = 500


def whisper_view(whisper: Whisper) -> dict[str, Any]:
    """A whisper as the API shows it."""
    return {"id": whisper.id, "chat_id": whisper.chat_id, "author": author_view(whisper.author),
            "body": whisper.body, "created_at": whisper.created_at.isoformat()}


async def whisper(ctx: Context, principal: Principal, chat_id: int, body: str) -> dict[str, Any]:
    """A technicians-only message: to the chat's technicians and to admins, never to its requester."""
    tech = principal.technician()
    check_body(body)
    async with unit_of_work(ctx) as uow:
        chat = await common.load_chat(uow.repos, chat_id)
        chat.ensure_can_whisper(tech)
        stored = await uow.chats.insert_whisper(chat.id, Author.of(tech), body, uow.now)
        view = whisper_view(stored)
        uow.emit(WhisperFrame(chat_id=chat.id, data=view),
                 Recipients(technicians=[*chat.participant_ids, tech.id], admins=True))
    return view


async def list_whispers(ctx: Context, principal: Principal, chat_id: int) -> dict[str, Any]:
    """A chat's whispers, oldest first: technicians who may read the chat (never requesters)."""
    tech = principal.technician()
    async with reading(ctx) as repos:
        await common.load_readable_chat(repos, chat_id, tech)
        found = await repos.chats.list_whispers(chat_id, MAX_WHISPERS)
    return {"items": [whisper_view(w) for w in found]}


async def monitor(ctx: Context, principal: Principal) -> dict[str, Any]:
    """Admins: every group's queue and load, and every active technician's status and load, now."""
    principal.admin()
    now = ctx.clock()
    async with reading(ctx) as repos:
        groups = await repos.people.list_groups(None, 10_000)
        online = await repos.people.online_counts(now, ctx.settings.presence_ttl_seconds)
        queues = await repos.chats.queue_stats()
        techs = [t for t in await repos.people.load_technicians(None, 10_000) if t.active]
        online_ids = await repos.people.online_ids([t.id for t in techs], now, ctx.settings.presence_ttl_seconds)
        loads = await repos.people.active_chat_counts([t.id for t in techs])
    group_rows = []
    for group in sorted(groups, key=lambda g: g.name.lower()):
        waiting, oldest, active = queues.get(group.id, (0, None, 0))
        group_rows.append({
            "id": group.id, "name": group.name, "waiting": waiting,
            "longest_wait_seconds": max(0, round((now - oldest).total_seconds())) if oldest else None,
            "online_technicians": online.get(group.id, 0), "active_chats": active})
    tech_rows = [{"id": t.id, "name": t.name, "status": t.status.value, "online": t.id in online_ids,
                  "active_chats": loads.get(t.id, 0), "max_chats": t.max_chats}
                 for t in sorted(techs, key=lambda t: t.name.lower())]
    return {"groups": group_rows, "technicians": tech_rows}
