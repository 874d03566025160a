"""Auto-assign: in groups with ``routing: auto_assign`` a waiting chat is given to the online technician of the
group with the fewest active chats under their limit (ties: the longest since their last pickup or
assignment), longest-waiting chat first.

Every decision is made by guarded statements in one transaction: the capacity guard (``take_seat``) and the
pickup guard (``claim_pickup``); losing either rolls the attempt back and the next candidate (or chat) is
tried. So with several processes assigning at once a chat never gets two owners and nobody goes over their
limit. Assignment runs after anything that may let a waiting chat be taken (a chat starts, ends or is left,
someone comes online, a limit is raised) and every sweep interval as a backstop.
"""

from __future__ import annotations

import asyncio

import structlog

from deskchat import metrics
from deskchat.domain.chat import Chat
from deskchat.domain.people import Technician
from deskchat.services import common, queue
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.views import chat_view

log = structlog.get_logger()
MAX_PER_ROUND = 200  # assignments per group per round (the next round continues)


class _Lost(Exception):
    """Another process took the chat first: roll this attempt back, try again."""


async def assign_waiting(ctx: Context, group_ids: list[int] | None = None) -> int:
    """Give out what can be given now; returns how many chats this call assigned."""
    async with reading(ctx) as repos:
        groups = await repos.people.auto_assign_groups_waiting()
    assigned = 0
    for group_id in groups:
        if group_ids is not None and group_id not in group_ids:
            continue
        for _ in range(MAX_PER_ROUND):
            try:
                outcome = await _assign_one(ctx, group_id)
            except _Lost:
                continue
            if outcome is None:
                break
            assigned += 1
    return assigned


async def _assign_one(ctx: Context, group_id: int) -> tuple[Chat, Technician] | None:
    """Assign the group's longest-waiting chat, or None when nothing waits or nobody can take it."""
    async with unit_of_work(ctx) as uow:
        waiting = await uow.chats.waiting_in_group(group_id, 1)
        if not waiting:
            return None
        chat = waiting[0]
        for tech in await uow.people.assignable(group_id, uow.now, ctx.settings.presence_ttl_seconds):
            if await uow.people.take_seat(tech.id):  # a concurrent assignment may have filled it: next one
                break
        else:
            return None
        if not await uow.chats.claim_pickup(chat.id, tech.id, uow.now):
            raise _Lost()  # picked up, assigned, ended or missed meanwhile: the seat goes back with the rollback
        chat.assign(tech, uow.now)
        await uow.chats.join(chat.id, tech.id, uow.now)
        await uow.people.mark_assigned(tech.id, uow.now)
        await common.record_system(uow, chat)
        common.emit_chat(uow, chat)
        await common.emit_alert_cleared(uow, chat, "picked_up")
        await queue.moved_up(uow, group_id, chat)
        uow.announce("chat.picked_up", chat_view(chat))
    metrics.WAIT_SECONDS.observe((uow.now - chat.created_at).total_seconds())
    log.info("chat_assigned", chat_id=chat.id, technician_id=tech.id)
    return chat, tech


class Assigner:
    """This process's auto-assign runs: at most one at a time, and one more if asked while running."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._again = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def soon_async(self) -> None:
        """``soon`` for a periodic task."""
        self.soon()

    def soon(self) -> None:
        """Run an assignment round now (or right after the running one)."""
        self._again.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="auto-assign")

    async def _run(self) -> None:
        while self._again.is_set():
            self._again.clear()
            try:
                await assign_waiting(self._ctx)
            except Exception:  # a database hiccup: the sweep tries again
                log.exception("auto_assign_failed")


def soon(ctx: Context) -> None:
    """Ask this process's assigner for a round (no-op where none runs, e.g. in unit tests)."""
    if ctx.assigner is not None:
        ctx.assigner.soon()
