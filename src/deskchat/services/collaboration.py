"""Working together on a chat: Invite Other Agents, leave, Transfer this Chat."""

from __future__ import annotations

from typing import Any

from deskchat.domain.errors import AtCapacity, Forbidden, InvalidState
from deskchat.domain.people import Technician
from deskchat.services import assign, common
from deskchat.services.auth import Principal
from deskchat.services.context import Context, UnitOfWork, unit_of_work
from deskchat.services.views import chat_view
from deskchat.storage.repositories import Repositories


async def _is_online(ctx: Context, repos: Repositories, tech_id: int, now: Any) -> bool:
    return tech_id in await repos.people.online_ids([tech_id], now, ctx.settings.presence_ttl_seconds)


async def take_seat(uow: UnitOfWork, tech: Technician) -> None:
    """The capacity guard: one more active chat for the technician, or 409 at_capacity."""
    if not await uow.people.take_seat(tech.id):
        raise AtCapacity(f"{tech.name} already has as many chats as they can take ({tech.max_chats}).")


async def invite(ctx: Context, principal: Principal, chat_id: int, technician_id: int) -> dict[str, Any]:
    """An online technician joins the chat as a participant and gets its history and live messages."""
    actor = principal.technician()
    async with unit_of_work(ctx) as uow:
        chat = await common.load_chat(uow.repos, chat_id)
        target = await common.load_target(uow.repos, technician_id)
        chat.invite(actor, target, await _is_online(ctx, uow.repos, target.id, uow.now))
        await take_seat(uow, target)
        if not await uow.chats.join(chat.id, target.id, uow.now):
            raise InvalidState(f"{target.name} is already in this chat.")
        await common.record_system(uow, chat, open_only=True)
        common.emit_chat(uow, chat)
    return chat_view(chat)


async def leave(ctx: Context, principal: Principal, chat_id: int) -> dict[str, Any]:
    """A participant other than the owner leaves the chat."""
    actor = principal.technician()
    async with unit_of_work(ctx) as uow:
        chat = await common.load_chat(uow.repos, chat_id)
        chat.leave(actor)
        if not await uow.chats.leave(chat.id, actor.id, uow.now):
            raise Forbidden("You are not taking part in this chat.")  # a concurrent leave won
        await uow.people.release_seats([actor.id])
        await common.record_system(uow, chat, open_only=True, extra=[actor.id])
        common.emit_chat(uow, chat, extra=[actor.id])
    assign.soon(ctx)  # a seat came free
    return chat_view(chat)


async def transfer(ctx: Context, principal: Principal, chat_id: int, technician_id: int,
                   group_id: int | None) -> dict[str, Any]:
    """The owner hands the chat to an online technician of the same or another group."""
    actor = principal.technician()
    async with unit_of_work(ctx) as uow:
        chat = await common.load_chat(uow.repos, chat_id)
        target = await common.load_target(uow.repos, technician_id)
        previous = chat.owner_id
        already_in = target.id in chat.participant_ids  # an invited technician holds a seat already
        chat.transfer(actor, target, await _is_online(ctx, uow.repos, target.id, uow.now), group_id)
        if not await uow.chats.claim_transfer(chat.id, old_owner=previous, new_owner=target.id,
                                          group_id=chat.group_id):
            raise InvalidState("The chat changed meanwhile; reload it.")
        if previous is not None and await uow.chats.leave(chat.id, previous, uow.now):
            await uow.people.release_seats([previous])
        if not already_in:
            await take_seat(uow, target)
        await uow.chats.join(chat.id, target.id, uow.now)
        left = [previous] if previous is not None else []
        await common.record_system(uow, chat, open_only=True, extra=left)
        common.emit_chat(uow, chat, extra=left)
        uow.announce("chat.transferred", chat_view(chat))
    assign.soon(ctx)
    return chat_view(chat)
