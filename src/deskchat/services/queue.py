"""Where waiting chats stand: queue positions, estimated waits, and telling requesters when they move up.

The estimate: the median time from start to pickup of the group's last ``SAMPLE`` pickups of the past
``WINDOW``, times the chat's position, less the time it has waited already (never below 0); no recent
pickups, no estimate (null).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta

from deskchat.domain.chat import Chat, ChatState
from deskchat.realtime.events import ChatFrame, Recipients
from deskchat.services.context import UnitOfWork
from deskchat.services.views import QueuePlace, chat_view
from deskchat.storage.repositories import Repositories

SAMPLE = 20
WINDOW = timedelta(days=7)
MAX_PUSHED = 500  # waiting chats of one group told of a move in one transaction


async def places(repos: Repositories, chats: Iterable[Chat], now: datetime) -> dict[int, QueuePlace]:
    """The queue place of each waiting chat among ``chats``."""
    waiting = [c for c in chats if c.state is ChatState.WAITING]
    if not waiting:
        return {}
    order = await repos.chats.waiting_ids(sorted({c.group_id for c in waiting}))
    pace: dict[int, float | None] = {}
    for group_id in {c.group_id for c in waiting}:
        waits = await repos.chats.recent_pickup_waits(group_id, now - WINDOW, SAMPLE)
        pace[group_id] = statistics.median(waits) if waits else None
    found: dict[int, QueuePlace] = {}
    for chat in waiting:
        ids = order.get(chat.group_id, [])
        position = ids.index(chat.id) + 1 if chat.id in ids else len(ids) + 1
        found[chat.id] = QueuePlace(position, _estimate(pace[chat.group_id], position, chat, now))
    return found


def _estimate(pace: float | None, position: int, chat: Chat, now: datetime) -> int | None:
    if pace is None:
        return None
    waited = (now - chat.created_at).total_seconds()
    return max(0, round(pace * position - waited))


async def views(repos: Repositories, chats: list[Chat], now: datetime) -> list[dict[str, object]]:
    """Chats as the API shows them, waiting ones with their queue place."""
    found = await places(repos, chats, now)
    return [chat_view(c, found.get(c.id)) for c in chats]


async def view(repos: Repositories, chat: Chat, now: datetime) -> dict[str, object]:
    """One chat as the API shows it, with its queue place while waiting."""
    return (await views(repos, [chat], now))[0]


async def moved_up(uow: UnitOfWork, group_id: int, behind: Chat | None = None) -> None:
    """A waiting chat of the group left the queue: tell the requesters behind it their new place."""
    waiting = await uow.chats.waiting_in_group(group_id, MAX_PUSHED)
    if behind is not None:
        waiting = [c for c in waiting if (c.created_at, c.id) > (behind.created_at, behind.id)]
    if not waiting:
        return
    found = await places(uow.repos, waiting, uow.now)
    for chat in waiting:
        uow.emit(ChatFrame(data=chat_view(chat, found.get(chat.id))), Recipients(requesters=[chat.requester.id]))
