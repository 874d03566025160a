"""Missed chats: a waiting chat past its due time becomes a "Missed chat" request, exactly once."""

from __future__ import annotations

import asyncio

import structlog

from deskchat.domain import request as rules
from deskchat.realtime.events import AlertClearedFrame, Recipients
from deskchat.services import common, queue
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.views import chat_view, request_view

log = structlog.get_logger()
BATCH = 500


async def expire_due(ctx: Context, chat_ids: list[int]) -> int:
    """Convert due chats in one transaction, each exactly once; returns how many this call converted."""
    async with unit_of_work(ctx) as uow:
        waiting = await uow.chats.load_chats_by_id(chat_ids)
        claimed = await uow.chats.claim_missed_many([c.id for c in waiting], uow.now)
        due = [c for c in waiting if c.id in claimed]
        if not due:
            return 0
        texts = await uow.chats.requester_texts_many([c.id for c in due])
        request_ids = await uow.requests.insert_requests([{
            "subject": rules.missed_subject(chat), "description": rules.missed_description(chat, texts[chat.id]),
            "source": rules.RequestSource.MISSED_CHAT.value, "requester_id": chat.requester.id,
            "group_id": chat.group_id, "technician_id": None, "chat_id": chat.id} for chat in due], uow.now)
        await uow.chats.link_requests({c.id: r for c, r in zip(due, request_ids, strict=True)})
        for chat, request_id in zip(due, request_ids, strict=True):
            chat.miss(uow.now, request_id)
        await common.record_system_many(uow, due)
        members = await uow.people.members_of_groups({c.group_id for c in due})
        created = {r.id: r for r in await uow.requests.load_requests(request_ids)}
        for chat in due:
            common.emit_chat(uow, chat)
            uow.announce("chat.missed", chat_view(chat))
            if chat.request_id in created:
                uow.announce("request.created", request_view(created[chat.request_id]))
            uow.emit(AlertClearedFrame(chat_id=chat.id, reason="missed"),
                     Recipients(technicians=members.get(chat.group_id, [])))
        for group_id in sorted({c.group_id for c in due}):
            await queue.moved_up(uow, group_id)
            common.emit_monitor(uow, group_id)
    log.info("chats_missed", count=len(due), chat_ids=[c.id for c in due][:20])
    return len(due)


async def sweep_due(ctx: Context) -> int:
    """Convert every chat that is due now, a batch per transaction; returns how many this process converted."""
    converted = 0
    while True:
        async with reading(ctx) as repos:
            due = await repos.chats.due_chat_ids(ctx.clock(), BATCH)
        if due:
            converted += await expire_due(ctx, due)
        if len(due) < BATCH:
            return converted


async def run_sweeper(ctx: Context) -> None:
    """Sweep forever: right when the next chat falls due, and at least every sweep interval."""
    interval = ctx.settings.sweep_interval_seconds
    while True:
        try:
            await sweep_due(ctx)
            async with reading(ctx) as repos:
                next_due = await repos.chats.next_due_at()
            wait = interval
            if next_due is not None:
                wait = min(interval, max(0.0, (next_due - ctx.clock()).total_seconds()))
            await asyncio.sleep(max(wait, 0.01))
        except asyncio.CancelledError:
            raise
        except Exception:  # the database may be away for a moment; try again
            log.exception("sweep_failed")
            await asyncio.sleep(interval)
