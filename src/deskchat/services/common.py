"""Helpers shared by the chat services: loading with access checks, timeline writes, audiences."""

from __future__ import annotations

from collections.abc import Iterable

from deskchat.domain.chat import Chat
from deskchat.domain.errors import InvalidState, NotFound, ValidationFailed
from deskchat.domain.people import SYSTEM, Actor, Technician
from deskchat.realtime.events import AlertClearedFrame, ChatFrame, ClearReason, MessageFrame, MonitorFrame, Recipients
from deskchat.services.context import Context, UnitOfWork
from deskchat.services.views import chat_view, message_view
from deskchat.storage.repositories import Repositories

MAX_LIMIT = 200


def check_limit(limit: int, maximum: int = MAX_LIMIT) -> int:
    """List sizes are 1 to 200."""
    if not 1 <= limit <= maximum:
        raise ValidationFailed(f"limit must be 1 to {maximum}.", errors={"limit": f"1 to {maximum}"})
    return limit


def parse_cursor(cursor: str | None) -> int | None:
    """Cursors are opaque to clients; ours are the last id of the previous page."""
    if cursor is None or cursor == "":
        return None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 10 and int(cursor) <= 2**31 - 1):
        raise ValidationFailed("The cursor is not valid.", errors={"cursor": "not a cursor of this list"})
    return int(cursor)


async def load_chat(repos: Repositories, chat_id: int) -> Chat:
    """The chat, or 404."""
    chat = await repos.chats.load_chat(chat_id)
    if chat is None:
        raise NotFound(f"There is no chat {chat_id}.")
    return chat


async def load_readable_chat(repos: Repositories, chat_id: int, actor: Actor) -> Chat:
    """The chat if the actor may read it; 404 if missing, 403 if not theirs."""
    chat = await load_chat(repos, chat_id)
    chat.ensure_readable(actor)
    return chat


async def load_target(repos: Repositories, technician_id: int) -> Technician:
    """The technician an action names, or 404."""
    tech = await repos.people.load_technician(technician_id)
    if tech is None:
        raise NotFound(f"There is no technician {technician_id}.")
    return tech


def audience(chat: Chat, extra: Iterable[int] = ()) -> Recipients:
    """Who sees a chat's timeline: its technicians now (plus ``extra``) and its requester."""
    return Recipients(technicians=[*chat.participant_ids, *extra], requesters=[chat.requester.id])


async def record_system(uow: UnitOfWork, chat: Chat, *, open_only: bool = False,
                        extra: Iterable[int] = ()) -> None:
    """Store the system messages the domain recorded, each with the chat's next seq."""
    extra = list(extra)
    for note in chat.recorded:
        seq = await uow.chats.take_seq(chat.id, open_only=open_only)
        if seq is None:
            raise InvalidState("The chat changed meanwhile; reload it.")
        msg = await uow.chats.insert_message(chat_id=chat.id, seq=seq, author=SYSTEM, body=note.body,
                                         now=uow.now, event=note.event.value)
        chat.last_seq = seq
        uow.emit(MessageFrame.of(message_view(msg)), audience(chat, extra))
    chat.recorded.clear()


async def record_system_many(uow: UnitOfWork, recorded_in: list[Chat]) -> None:
    """Store one recorded system message in each of many chats, in two statements."""
    seqs = await uow.chats.take_next_seqs([c.id for c in recorded_in])
    items = []
    for chat in recorded_in:
        (note,) = chat.recorded
        chat.last_seq = seqs[chat.id]
        items.append({"chat_id": chat.id, "seq": chat.last_seq, "author": SYSTEM, "body": note.body,
                      "client_msg_id": None, "event": note.event.value})
        chat.recorded.clear()
    stored = await uow.chats.insert_messages(items, uow.now)
    for chat, msg in zip(recorded_in, stored, strict=True):
        uow.emit(MessageFrame.of(message_view(msg)), audience(chat))


def emit_chat(uow: UnitOfWork, chat: Chat, extra: Iterable[int] = ()) -> None:
    """Tell everyone in the chat its new state."""
    uow.emit(ChatFrame(data=chat_view(chat)), audience(chat, extra))


async def emit_alert_cleared(uow: UnitOfWork, chat: Chat, reason: ClearReason) -> None:
    """The waiting chat is no longer waiting: clear the alert of its group's technicians."""
    members = await uow.people.member_ids(chat.group_id)
    uow.emit(AlertClearedFrame(chat_id=chat.id, reason=reason), Recipients(technicians=members))
    emit_monitor(uow, chat.group_id)


def emit_monitor(uow: UnitOfWork, group_id: int) -> None:
    """Admins' Monitor pages: this group's numbers changed (they fetch GET /monitor again)."""
    uow.emit(MonitorFrame(data={"group_id": group_id}), Recipients(admins=True))


async def online_group_members(ctx: Context, uow: UnitOfWork, group_id: int) -> list[int]:
    """Online technicians of a group, now."""
    return await uow.people.online_in_group(group_id, uow.now, ctx.settings.presence_ttl_seconds)
