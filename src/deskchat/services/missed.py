"""Missed chats: a waiting chat past its due time becomes a "Missed chat" request, exactly once."""

from __future__ import annotations

import asyncio

import structlog

from deskchat.domain import request as rules
from deskchat.services import common
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.storage import chats
from deskchat.storage import requests as store

log = structlog.get_logger()
BATCH = 200


async def expire_waiting(ctx: Context, chat_id: int) -> bool:
    """Convert one due chat; False if another process (or a pickup) got there first."""
    async with unit_of_work(ctx) as uow:
        chat = await chats.load_chat(uow.conn, chat_id)
        if chat is None or not await chats.claim_missed(uow.conn, chat_id, uow.now):
            return False
        texts = await chats.requester_texts(uow.conn, chat.id)
        request_id = await store.insert_request(
            uow.conn, subject=rules.missed_subject(chat), description=rules.missed_description(chat, texts),
            source=rules.RequestSource.MISSED_CHAT.value, requester_id=chat.requester.id,
            group_id=chat.group_id, technician_id=None, chat_id=chat.id, now=uow.now)
        await chats.claim_request_link(uow.conn, chat.id, request_id)
        chat.miss(uow.now, request_id)
        await common.record_system(uow, chat)
        common.emit_chat(uow, chat)
        await common.emit_alert_cleared(uow, chat, "missed")
    log.info("chat_missed", chat_id=chat_id, request_id=request_id)
    return True


async def sweep_due(ctx: Context) -> int:
    """Convert every chat that is due now; returns how many this process converted."""
    converted = 0
    while True:
        async with reading(ctx) as conn:
            due = await chats.due_chat_ids(conn, ctx.clock(), BATCH)
        for chat_id in due:
            converted += await expire_waiting(ctx, chat_id)
        if len(due) < BATCH:
            return converted


async def run_sweeper(ctx: Context) -> None:
    """Sweep forever: right when the next chat falls due, and at least every sweep interval."""
    interval = ctx.settings.sweep_interval_seconds
    while True:
        try:
            await sweep_due(ctx)
            async with reading(ctx) as conn:
                next_due = await chats.next_due_at(conn)
            wait = interval
            if next_due is not None:
                wait = min(interval, max(0.0, (next_due - ctx.clock()).total_seconds()))
            await asyncio.sleep(max(wait, 0.01))
        except asyncio.CancelledError:
            raise
        except Exception:  # the database may be away for a moment; try again
            log.exception("sweep_failed")
            await asyncio.sleep(interval)
