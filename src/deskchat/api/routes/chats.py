"""Chats: start, list, read, pick up, messages, invite, leave, transfer, end, request, notes."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response

from deskchat.api.deps import Caller, Ctx, verified_caller
from deskchat.api.schemas import (
    ChatOut,
    Limit,
    MessageIn,
    MessageOut,
    MessagesOut,
    NoteIn,
    NoteOut,
    Page,
    PathId,
    RatingCreatedOut,
    RatingIn,
    RequestIn,
    RequestOut,
    Seq,
    StartChatIn,
    StartChatOut,
    TechnicianRef,
    TransferIn,
)
from deskchat.services import chats, collaboration, requests, transcripts

router = APIRouter(prefix="/api/v1/chats", tags=["chats"])
State = Literal["waiting", "active", "ended", "missed"]


@router.post("", status_code=201, response_model=StartChatOut)
async def start_chat(body: StartChatIn, request: Request, ctx: Ctx) -> dict[str, Any]:
    """An end user starts a chat: anonymous (name and email; a new visitor token), or as the verified
    requester of the bearer token (no name or email; the same token)."""
    client = request.client.host if request.client else "unknown"
    return await chats.start_chat(ctx, group_id=body.group_id, name=body.name,
                                  email=str(body.email) if body.email else None, message=body.message,
                                  client_msg_id=body.client_msg_id, client_addr=client,
                                  signed_in=await verified_caller(request, ctx))


@router.get("", response_model=Page[ChatOut])
async def list_chats(caller: Caller, ctx: Ctx, state: State | None = None, limit: Limit = 50,
                     cursor: str | None = None) -> dict[str, Any]:
    """Waiting chats of my groups (longest waiting first with state=waiting) and chats I am in."""
    return await chats.list_chats(ctx, caller, state, limit, cursor)


@router.get("/{chat_id}", response_model=ChatOut)
async def get_chat(chat_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """One chat."""
    return await chats.get_chat(ctx, caller, chat_id)


@router.post("/{chat_id}/pickup", response_model=ChatOut)
async def pick_up(chat_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Pick Up: exactly one technician wins."""
    return await chats.pick_up(ctx, caller, chat_id)


@router.get("/{chat_id}/messages", response_model=MessagesOut)
async def list_messages(chat_id: PathId, caller: Caller, ctx: Ctx, after_seq: Seq = 0,
                        limit: Limit = 100) -> dict[str, Any]:
    """Timeline messages after a seq, in order."""
    return await chats.list_messages(ctx, caller, chat_id, after_seq, limit)


@router.post("/{chat_id}/messages", status_code=201, response_model=MessageOut)
async def post_message(chat_id: PathId, body: MessageIn, caller: Caller, ctx: Ctx,
                       response: Response) -> dict[str, Any]:
    """Send a message (or a canned message); a repeated client_msg_id returns the first (200)."""
    message, created = await chats.post_message(ctx, caller, chat_id, body=body.body,
                                                canned_message_id=body.canned_message_id,
                                                client_msg_id=body.client_msg_id)
    if not created:
        response.status_code = 200
    return message


@router.post("/{chat_id}/invite", response_model=ChatOut)
async def invite(chat_id: PathId, body: TechnicianRef, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Invite Other Agents: an online technician joins."""
    return await collaboration.invite(ctx, caller, chat_id, body.technician_id)


@router.post("/{chat_id}/leave", response_model=ChatOut)
async def leave(chat_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """A participant other than the owner leaves."""
    return await collaboration.leave(ctx, caller, chat_id)


@router.post("/{chat_id}/transfer", response_model=ChatOut)
async def transfer(chat_id: PathId, body: TransferIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Transfer this Chat to an online technician of the same or another group."""
    return await collaboration.transfer(ctx, caller, chat_id, body.technician_id, body.group_id)


@router.post("/{chat_id}/end", response_model=ChatOut)
async def end(chat_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """End Session / End Chat."""
    return await chats.end_chat(ctx, caller, chat_id)


@router.post("/{chat_id}/request", status_code=201, response_model=RequestOut)
async def make_request(chat_id: PathId, caller: Caller, ctx: Ctx, body: RequestIn | None = None) -> dict[str, Any]:
    """Convert Chat as Request (active) or Add as Request (ended)."""
    return await requests.convert_to_request(ctx, caller, chat_id, body.subject if body else None)


@router.post("/{chat_id}/notes", status_code=201, response_model=NoteOut)
async def add_note(chat_id: PathId, body: NoteIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """A note on the chat's request; technicians in the chat see it, never the requester."""
    return await requests.add_chat_note(ctx, caller, chat_id, body.body)


@router.post("/{chat_id}/rating", status_code=201, response_model=RatingCreatedOut)
async def rate(chat_id: PathId, body: RatingIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """The requester rates an ended chat (1 to 5, an optional comment), once."""
    return await chats.rate(ctx, caller, chat_id, body.score, body.comment)


@router.post("/{chat_id}/transcript-email", status_code=202)
async def email_transcript(chat_id: PathId, caller: Caller, ctx: Ctx) -> Response:
    """Email Transcript: the whole conversation to the requester's email (sent from the outbox)."""
    await transcripts.email_transcript(ctx, caller, chat_id)
    return Response(status_code=202)
