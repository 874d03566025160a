"""Search over requests and chats, and suggestions for an active chat."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from deskchat.api.deps import Caller, Ctx
from deskchat.api.schemas import PathId
from deskchat.services import search

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get("/search")
async def search_all(caller: Caller, ctx: Ctx, q: Annotated[str | None, Query(max_length=500)] = None,
                     limit: Annotated[int | None, Query(ge=1, le=10_000)] = None) -> dict[str, Any]:
    """Requests (subject, description, notes) and chats (their text) holding every word of ``q`` that the caller
    may read, best first; ``snippet`` with ``highlights`` as [start, end) character ranges."""
    return await search.search(ctx, caller, q, limit)


@router.get("/chats/{chat_id}/suggestions")
async def suggestions(chat_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Canned messages and earlier resolved requests that resemble what the requester wrote, best first."""
    return await search.suggestions(ctx, caller, chat_id)
