"""Incident requests and their notes."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from deskchat.api.deps import Caller, Ctx
from deskchat.api.schemas import Limit, NoteIn, NoteOut, Page, PathId, RequestOut, RequestPatch, changes
from deskchat.services import requests

router = APIRouter(prefix="/api/v1/requests", tags=["requests"])


Source = Literal["live_chat", "missed_chat", "offline_message"]


@router.get("", response_model=Page[RequestOut])
async def list_requests(caller: Caller, ctx: Ctx, source: Source | None = None,
                        status: Literal["open", "resolved", "closed"] | None = None, limit: Limit = 50,
                        cursor: str | None = None) -> dict[str, Any]:
    """Requests of my groups and assigned to me, newest first."""
    return await requests.list_requests(ctx, caller, source=source, status=status, limit=limit, cursor=cursor)


@router.get("/{request_id}", response_model=RequestOut)
async def get_request(request_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """One request."""
    return await requests.get_request(ctx, caller, request_id)


@router.patch("/{request_id}", response_model=RequestOut)
async def update_request(request_id: PathId, body: RequestPatch, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Change status, subject or technician."""
    return await requests.update_request(ctx, caller, request_id, changes(body, frozenset({"technician_id"})))


@router.get("/{request_id}/notes", response_model=Page[NoteOut])
async def list_notes(request_id: PathId, caller: Caller, ctx: Ctx, limit: Limit = 50,
                     cursor: str | None = None) -> dict[str, Any]:
    """The request's notes, newest first."""
    return await requests.list_notes(ctx, caller, request_id, limit, cursor)


@router.post("/{request_id}/notes", status_code=201, response_model=NoteOut)
async def add_note(request_id: PathId, body: NoteIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Add a note."""
    return await requests.add_request_note(ctx, caller, request_id, body.body)
