"""Running the desk: whispers, the live monitor, reports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from deskchat.api.deps import Caller, Ctx
from deskchat.api.schemas import PathId, WhisperIn
from deskchat.domain.values import Id
from deskchat.services import desk, reports

router = APIRouter(prefix="/api/v1", tags=["desk operations"])
Moment = Annotated[str | None, Query(max_length=40, description="ISO 8601 date or date-time (UTC unless offset)")]


@router.post("/chats/{chat_id}/whispers", status_code=201)
async def whisper(chat_id: PathId, body: WhisperIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Whisper: technicians-only, to the chat's technicians and admins; never the requester, never in the timeline."""
    return await desk.whisper(ctx, caller, chat_id, body.body)


@router.get("/chats/{chat_id}/whispers")
async def list_whispers(chat_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """A chat's whispers, oldest first (technicians who may read the chat)."""
    return await desk.list_whispers(ctx, caller, chat_id)


@router.get("/monitor")
async def monitor(caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Admin: every group's queue and every active technician's load, now."""
    return await desk.monitor(ctx, caller)


@router.get("/reports/summary")
async def report_summary(caller: Caller, ctx: Ctx, start: Annotated[Moment, Query(alias="from")] = None,
                         to: Moment = None, group_id: Id | None = None) -> dict[str, Any]:
    """Admin: chats created in [from, to): counts, missed rate, medians and p90 of waits, by group, technician, day."""
    return await reports.summary(ctx, caller, start, to, group_id)


@router.get("/reports/chats.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "A header row and one row per chat"}})
async def report_csv(caller: Caller, ctx: Ctx, start: Annotated[Moment, Query(alias="from")] = None,
                     to: Moment = None, group_id: Id | None = None) -> StreamingResponse:
    """Admin: Download CSV, one row per chat of the same filters."""
    rows = await reports.chats_csv(ctx, caller, start, to, group_id)
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="deskchat-chats.csv"'})
