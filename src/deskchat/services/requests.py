"""Incident requests: Convert Chat as Request, Add as Request, notes, the request pages' API."""

from __future__ import annotations

from typing import Any

from deskchat.domain import request as rules
from deskchat.domain.chat import Chat, ChatState, Message
from deskchat.domain.errors import (
    Forbidden,
    InvalidState,
    NoLinkedRequest,
    NotFound,
    RequestAlreadyLinked,
    ValidationFailed,
)
from deskchat.domain.people import SYSTEM, Author, Requester, Technician
from deskchat.domain.request import Request
from deskchat.realtime.events import NoteFrame, Recipients
from deskchat.services import common
from deskchat.services.auth import Principal
from deskchat.services.context import Context, UnitOfWork, reading, unit_of_work
from deskchat.services.views import note_view, page, request_view
from deskchat.storage.errors import Duplicate
from deskchat.storage.repositories import Repositories


async def placeholder_values(repos: Repositories, chat: Chat, tech: Technician) -> dict[str, str | None]:
    """The values canned-message placeholders take in this chat."""
    group = await repos.people.load_group(chat.group_id)
    return {
        "requester.name": chat.requester.name, "requester.email": chat.requester.email,
        "technician.name": tech.name, "group.name": group.name if group else None,
        "chat.id": str(chat.id), "request.id": str(chat.request_id) if chat.request_id else None,
    }


async def _timeline(repos: Repositories, chat_id: int) -> list[Message]:
    entries: list[Message] = []
    while batch := await repos.chats.list_messages(chat_id, entries[-1].seq if entries else 0, 1000):
        entries += batch
    return entries


async def convert_to_request(ctx: Context, principal: Principal, chat_id: int,
                             subject: str | None) -> dict[str, Any]:
    """Active chat: a request without the conversation; ended chat: with the whole transcript."""
    tech = principal.technician()
    try:
        return await _link_new_request(ctx, tech, chat_id, subject)
    except Duplicate:  # a concurrent convert stored its request first (requests.chat_id is unique)
        raise RequestAlreadyLinked("This chat already has a request.") from None


async def _link_new_request(ctx: Context, tech: Technician, chat_id: int, subject: str | None) -> dict[str, Any]:
    async with unit_of_work(ctx) as uow:
        chat = await common.load_chat(uow.repos, chat_id)
        chat.ensure_can_link_request(tech)
        title = rules.check_subject(subject) if subject is not None else rules.default_subject(chat)
        if chat.state is ChatState.ACTIVE:
            description = rules.converted_description(chat)
        else:
            description = rules.added_description(chat, await _timeline(uow.repos, chat.id))
        request_id = await uow.requests.insert_request(
            subject=title, description=description, source=rules.RequestSource.LIVE_CHAT.value,
            requester_id=chat.requester.id, group_id=chat.group_id, technician_id=chat.owner_id or tech.id,
            chat_id=chat.id, now=uow.now)
        if not await uow.chats.claim_request_link(chat.id, request_id, chat.state):
            if (await common.load_chat(uow.repos, chat.id)).request_id is not None:
                raise RequestAlreadyLinked("This chat already has a request.")
            raise InvalidState("The chat ended meanwhile; reload it.")
        chat.link_request(tech, request_id, title)
        await common.record_system(uow, chat)
        common.emit_chat(uow, chat)
        created = await uow.requests.load_request(request_id)
        assert created is not None
        uow.announce("request.created", request_view(created))
    return request_view(created)


async def add_transcript_note(uow: UnitOfWork, chat: Chat) -> None:
    """When a converted chat ends, its whole transcript goes to the request's notes."""
    assert chat.request_id is not None
    body = "Chat transcript:\n" + rules.format_transcript(await _timeline(uow.repos, chat.id))
    note = await uow.requests.insert_note(chat.request_id, SYSTEM, body, uow.now)
    uow.emit(NoteFrame(chat_id=chat.id, data=note_view(note)), Recipients(technicians=chat.participant_ids))
    uow.announce("note.created", note_view(note))


async def add_chat_note(ctx: Context, principal: Principal, chat_id: int, body: str) -> dict[str, Any]:
    """A note from the chat goes to its request; technicians in the chat see it, never the requester."""
    tech = principal.technician()
    rules.check_note(body)
    async with unit_of_work(ctx) as uow:
        chat = await common.load_chat(uow.repos, chat_id)
        chat.ensure_can_act(tech)
        if chat.request_id is None:
            raise NoLinkedRequest("Convert the chat to a request before adding notes.")
        note = note_view(await uow.requests.insert_note(chat.request_id, Author.of(tech), body, uow.now))
        uow.emit(NoteFrame(chat_id=chat.id, data=note), Recipients(technicians=chat.participant_ids))
        uow.announce("note.created", note)
    return note


async def _visible_request(repos: Repositories, tech: Technician, request_id: int) -> Request:
    found = await repos.requests.load_request(request_id)
    if found is None:
        raise NotFound(f"There is no request {request_id}.")
    if not found.visible_to(tech):
        raise Forbidden("This request belongs to a group you are not in.")
    return found


async def list_requests(ctx: Context, principal: Principal, *, source: str | None, status: str | None,
                        limit: int, cursor: str | None) -> dict[str, Any]:
    """Requests of my groups and assigned to me (admins: all), newest first, filtered; a verified requester's own."""
    common.check_limit(limit)
    check_filter(source, rules.RequestSource, "source")
    check_filter(status, rules.RequestStatus, "status")
    after = common.parse_cursor(cursor)
    if (requester := _verified(principal)) is not None:
        async with reading(ctx) as repos:
            own = await repos.requests.list_of_requester(requester.id, after, limit)
        return page([request_view(r) for r in own if _matches(r, source, status)], limit)
    tech = principal.technician()
    async with reading(ctx) as repos:
        found = await repos.requests.list_visible(tech, source=source, status=status, after=after, limit=limit)
    return page([request_view(r) for r in found], limit)


async def get_request(ctx: Context, principal: Principal, request_id: int) -> dict[str, Any]:
    """One request the technician may see, or a verified requester's own (read only)."""
    if (requester := _verified(principal)) is not None:
        async with reading(ctx) as repos:
            found = await repos.requests.load_request(request_id)
        if found is None or found.requester.id != requester.id:
            raise NotFound(f"There is no request {request_id}.")
        return request_view(found)
    async with reading(ctx) as repos:
        return request_view(await _visible_request(repos, principal.technician(), request_id))


def _verified(principal: Principal) -> Requester | None:
    """The caller as a verified requester (who reads their own requests), or None."""
    actor = principal.actor
    return actor if isinstance(actor, Requester) and actor.verified else None


def _matches(request: Request, source: str | None, status: str | None) -> bool:
    return (source is None or request.source.value == source) and (status is None or request.status.value == status)


async def update_request(ctx: Context, principal: Principal, request_id: int,
                         changes: dict[str, Any]) -> dict[str, Any]:
    """Change a request's status, subject or technician."""
    tech = principal.technician()
    async with unit_of_work(ctx) as uow:
        await _visible_request(uow.repos, tech, request_id)
        values: dict[str, Any] = {}
        if "subject" in changes:
            values["subject"] = rules.check_subject(changes["subject"])
        if "status" in changes:
            check_filter(changes["status"], rules.RequestStatus, "status")
            values["status"] = rules.RequestStatus(changes["status"]).value
        if "technician_id" in changes:
            assignee = changes["technician_id"]
            if assignee is not None and await uow.people.load_technician(assignee) is None:
                raise ValidationFailed("There is no such technician.", errors={"technician_id": "no such technician"})
            values["technician_id"] = assignee
        if values:
            await uow.requests.update_request(request_id, {**values, "updated_at": uow.now})
        updated = await uow.requests.load_request(request_id)
        assert updated is not None
        uow.announce("request.updated", request_view(updated))
    return request_view(updated)


async def list_notes(ctx: Context, principal: Principal, request_id: int, limit: int,
                     cursor: str | None) -> dict[str, Any]:
    """A request's notes, newest first."""
    common.check_limit(limit)
    after = common.parse_cursor(cursor)
    async with reading(ctx) as repos:
        await _visible_request(repos, principal.technician(), request_id)
        found = await repos.requests.list_notes(request_id, after, limit)
    return page([note_view(n) for n in found], limit)


async def add_request_note(ctx: Context, principal: Principal, request_id: int, body: str) -> dict[str, Any]:
    """Add a note on the request page; technicians in its chat see it live."""
    tech = principal.technician()
    rules.check_note(body)
    async with unit_of_work(ctx) as uow:
        found = await _visible_request(uow.repos, tech, request_id)
        note = note_view(await uow.requests.insert_note(request_id, Author.of(tech), body, uow.now))
        uow.announce("note.created", note)
        if found.chat_id is not None:
            chat = await common.load_chat(uow.repos, found.chat_id)
            uow.emit(NoteFrame(chat_id=chat.id, data=note), Recipients(technicians=chat.participant_ids))
    return note


def check_filter(value: str | None, allowed: type[Any], field: str) -> None:
    """Filters take the enum values of API.md."""
    if value and value not in {m.value for m in allowed}:
        raise ValidationFailed(f"Unknown {field}.", errors={field: f"one of {sorted(m.value for m in allowed)}"})
