"""The chat lifecycle: start, list and read, pick up, post, typing, end, rate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from deskchat import metrics
from deskchat.domain.chat import ChatState, Rating, check_body, subject_from
from deskchat.domain.errors import (
    AlreadyPickedUp,
    GroupClosed,
    InvalidState,
    RateLimited,
    ValidationFailed,
)
from deskchat.domain.people import Author, Requester, Routing, Status, Technician
from deskchat.realtime.events import AlertFrame, AuthorData, ChatFrame, Delivery, Recipients, TypingFrame, encode
from deskchat.services import assign, collaboration, common, messages, queue
from deskchat.services.auth import Principal, issue_visitor_token
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.requests import add_transcript_note
from deskchat.services.views import chat_view, message_view, page
from deskchat.storage.repositories import Repositories

MAX_ALERTS = 200


async def rate_limit(ctx: Context, key: str, limit: int, window: int, what: str) -> None:
    if not ctx.settings.rate_limit_enabled:
        return
    retry = await ctx.limiter.hit(key, limit, window)
    if retry is not None:
        raise RateLimited(f"Too many {what}; try again in {retry} s.", retry_after=retry)


async def limit_new(ctx: Context, key: str, what: str) -> None:
    """New chats and offline messages of one address: at most DESKCHAT_RATE_LIMIT_NEW_CHATS_PER_MINUTE each."""
    await rate_limit(ctx, key, ctx.settings.rate_limit_new_chats_per_minute, 60, what)


async def start_chat(ctx: Context, *, group_id: int, name: str | None, email: str | None, message: str,
                     client_msg_id: str | None, client_addr: str,
                     signed_in: tuple[Requester, str] | None = None) -> dict[str, Any]:
    """A requester opens a waiting chat; online technicians of the group are alerted.

    ``signed_in``: a verified requester and their visitor token (the chat is theirs, the token stays the
    same); anyone else gives a name and email and gets a new requester and token for this chat alone.
    """
    check_body(message)
    if signed_in is None and not (name and email):
        raise ValidationFailed("Give your name and email.", errors={
            k: "required" for k, v in (("name", name), ("email", email)) if not v})
    await limit_new(ctx, f"chats:{client_addr}", "new chats")
    async with unit_of_work(ctx) as uow:
        group = await uow.people.load_group(group_id)
        if group is None:
            raise ValidationFailed("There is no such group.", errors={"group_id": "no such group"})
        if not group.open_now(uow.now):
            raise GroupClosed(f"{group.name} is closed now. Leave a message and a technician will reply by email.")
        config = await uow.settings.load_settings()
        wait = config.missed_after_seconds
        due = uow.now + timedelta(seconds=wait) if wait is not None else None
        if signed_in is not None:
            requester, token = signed_in
        else:
            assert name and email
            requester = await uow.people.insert_requester(name, email, uow.now)
            token = await issue_visitor_token(ctx, uow.repos, requester, uow.now)
        chat_id = await uow.chats.insert_chat(group_id=group_id, subject=subject_from(message),
                                          requester_id=requester.id, now=uow.now, missed_due_at=due)
        seq = await uow.chats.take_seq(chat_id, open_only=True)
        assert seq == 1
        await uow.chats.insert_message(chat_id=chat_id, seq=seq, author=Author.of(requester),
                                   body=message, now=uow.now, client_msg_id=client_msg_id)
        chat = await common.load_chat(uow.repos, chat_id)
        view = await queue.view(uow.repos, chat, uow.now)
        uow.announce("chat.started", view)
        uow.emit(AlertFrame(data=view), Recipients(technicians=await common.online_group_members(ctx, uow, group_id)))
        common.emit_monitor(uow, group_id)
    if group.routing is Routing.AUTO_ASSIGN:
        assign.soon(ctx)
    return {"chat": view, "visitor_token": token}


async def list_chats(ctx: Context, principal: Principal, state: str | None, limit: int,
                     cursor: str | None) -> dict[str, Any]:
    """Technicians: waiting chats of their groups and chats they take part in; requesters: their own."""
    common.check_limit(limit)
    after = common.parse_cursor(cursor)
    async with reading(ctx) as repos:
        found = await repos.chats.list_visible(principal.actor, state, after, limit)
        return page(await queue.views(repos, found, ctx.clock()), limit)


async def get_chat(ctx: Context, principal: Principal, chat_id: int) -> dict[str, Any]:
    """One chat the caller may read."""
    async with reading(ctx) as repos:
        return await queue.view(repos, await common.load_readable_chat(repos, chat_id, principal.actor), ctx.clock())


async def pick_up(ctx: Context, principal: Principal, chat_id: int) -> dict[str, Any]:
    """Exactly one technician of the group wins a waiting chat; the rest get already_picked_up."""
    tech = principal.technician()
    async with unit_of_work(ctx) as uow:
        chat = await common.load_chat(uow.repos, chat_id)
        chat.pick_up(tech, uow.now)
        await collaboration.take_seat(uow, tech)
        if not await uow.chats.claim_pickup(chat.id, tech.id, uow.now):
            latest = await common.load_chat(uow.repos, chat_id)
            if latest.state is ChatState.ACTIVE:
                raise AlreadyPickedUp("Another technician picked up this chat first.")
            raise InvalidState(f"The chat is {latest.state.value}; it cannot be picked up.")
        await uow.chats.join(chat.id, tech.id, uow.now)
        await uow.people.mark_assigned(tech.id, uow.now)
        await common.record_system(uow, chat)
        common.emit_chat(uow, chat)
        await common.emit_alert_cleared(uow, chat, "picked_up")
        await queue.moved_up(uow, chat.group_id, chat)
        uow.announce("chat.picked_up", chat_view(chat))
    metrics.WAIT_SECONDS.observe((chat.picked_up_at - chat.created_at).total_seconds() if chat.picked_up_at else 0)
    return chat_view(chat)


async def post_message(ctx: Context, principal: Principal, chat_id: int, *, body: str | None,
                       canned_message_id: int | None, client_msg_id: str | None) -> tuple[dict[str, Any], bool]:
    """Add a message to the timeline; a repeated client_msg_id returns the first one (created False)."""
    if (body is None) == (canned_message_id is None):
        raise ValidationFailed("Send either a body or a canned_message_id.",
                               errors={"body": "give body or canned_message_id, not both"})
    if isinstance(principal.actor, Requester):
        await rate_limit(ctx, f"msgs:{principal.token_id}", ctx.settings.rate_limit_messages_per_10s, 10,
                     "messages")
    send = messages.Send(principal.actor, chat_id, body, canned_message_id, client_msg_id)
    outcome = await messages.writer(ctx).submit(send)
    if isinstance(outcome, messages.Refused):
        raise outcome.error
    return message_view(outcome.message), isinstance(outcome, messages.Posted)


async def list_messages(ctx: Context, principal: Principal, chat_id: int, after_seq: int,
                        limit: int) -> dict[str, Any]:
    """Timeline messages after a seq, in order, with the chat's last seq."""
    common.check_limit(limit, 500)
    if after_seq < 0:
        raise ValidationFailed("after_seq must be 0 or more.", errors={"after_seq": "must be >= 0"})
    async with reading(ctx) as repos:
        chat = await common.load_readable_chat(repos, chat_id, principal.actor)
        found = await repos.chats.list_messages(chat_id, after_seq, limit)
    return {"messages": [message_view(m) for m in found], "last_seq": chat.last_seq}


async def typing(ctx: Context, principal: Principal, chat_id: int) -> None:
    """Tell the others in the chat that someone is typing (nothing is stored); limited like messages."""
    actor = principal.actor
    await rate_limit(ctx, f"typing:{principal.token_id}", ctx.settings.rate_limit_messages_per_10s, 10,
                 "typing notices")
    async with reading(ctx) as repos:
        chat = await common.load_readable_chat(repos, chat_id, actor)
    chat.ensure_can_post(actor)
    frame = TypingFrame(chat_id=chat.id, author=AuthorData.of(Author.of(actor)))
    await ctx.broker.publish(encode(Delivery(frame=frame, to=common.audience(chat).without(actor))))


async def end_chat(ctx: Context, principal: Principal, chat_id: int) -> dict[str, Any]:
    """End a chat; a converted chat's transcript is added to its request as a note."""
    async with unit_of_work(ctx) as uow:
        chat = await common.load_chat(uow.repos, chat_id)
        was_waiting = chat.state is ChatState.WAITING
        chat.end(principal.actor, uow.now)
        if await uow.chats.claim_end(chat.id, uow.now) is None:
            raise InvalidState("The chat has already ended.")
        if not was_waiting:  # its technicians (as stored now, after the guarded end) have a seat free again
            await uow.people.release_seats(await uow.chats.current_participant_ids(chat.id))
        chat.request_id = await uow.chats.linked_request_id(chat.id)  # a convert may have just committed
        await common.record_system(uow, chat)
        common.emit_chat(uow, chat)
        if was_waiting:
            await common.emit_alert_cleared(uow, chat, "ended")
            await queue.moved_up(uow, chat.group_id, chat)
        if chat.request_id is not None:
            await add_transcript_note(uow, chat)
        uow.announce("chat.ended", chat_view(chat))
    assign.soon(ctx)  # a seat came free
    return chat_view(chat)


async def rate(ctx: Context, principal: Principal, chat_id: int, score: int, comment: str | None) -> dict[str, Any]:
    """The requester rates an ended chat, once; its technicians see the rating on the chat."""
    comment = comment.strip() or None if comment is not None else None
    async with unit_of_work(ctx) as uow:
        chat = await common.load_chat(uow.repos, chat_id)
        chat.check_rating(principal.actor, score, comment)
        if not await uow.chats.claim_rating(chat.id, score, comment, uow.now):
            raise InvalidState("This chat has been rated already.")
        chat.rating = Rating(score, comment, uow.now)
        audience = Recipients(technicians=sorted({*chat.participant_ids, *chat.former_participant_ids}),
                              requesters=[chat.requester.id])
        uow.emit(ChatFrame(data=chat_view(chat)), audience)
        uow.announce("rating.created", chat_view(chat))
    return {"score": score, "comment": comment, "created_at": chat.rating.created_at.isoformat()}


async def waiting_alerts_for(ctx: Context, technician: Technician,
                             repos: Repositories | None = None) -> list[AlertFrame]:
    """The alerts an online technician should have now: one per chat waiting in their groups, longest first.

    For a socket that connects, a technician going Online (``repos``: inside that unit of work) and the
    sockets of a process whose broker was away (alerts published meanwhile were lost).
    """
    if technician.status is not Status.ONLINE:
        return []
    if repos is None:
        async with reading(ctx) as snapshot:
            return await waiting_alerts_for(ctx, technician, snapshot)
    found = await repos.chats.list_visible(technician, ChatState.WAITING.value, None, MAX_ALERTS)
    return [AlertFrame(data=chat_view(c)) for c in found if technician.in_group(c.group_id)]


async def fetch_after(ctx: Context, chat_id: int, after_seq: int, limit: int) -> list[dict[str, Any]]:
    """Timeline messages after a seq, for the hub to fill gaps and resume (no access check)."""
    async with reading(ctx) as repos:
        return [message_view(m) for m in await repos.chats.list_messages(chat_id, after_seq, limit)]
