"""Canned messages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from deskchat.api.deps import Caller, Ctx
from deskchat.api.schemas import (
    CannedIn,
    CannedOut,
    CannedPatch,
    Limit,
    Page,
    PathId,
    QueryId,
    RenderOut,
    SearchText,
    changes,
)
from deskchat.services import canned

router = APIRouter(prefix="/api/v1/canned-messages", tags=["canned messages"])


@router.get("", response_model=Page[CannedOut])
async def list_canned(caller: Caller, ctx: Ctx, q: SearchText | None = None, category: SearchText | None = None,
                      limit: Limit = 200) -> dict[str, Any]:
    """Those I can use, by category and title; ``q`` searches title, body and shortcut."""
    return await canned.list_canned(ctx, caller, q=q, category=category, limit=limit)


@router.post("", status_code=201, response_model=CannedOut)
async def create_canned(body: CannedIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Global and group scope: admins; personal: any technician."""
    return await canned.create_canned(ctx, caller, body.model_dump())


@router.get("/{canned_id}", response_model=CannedOut)
async def get_canned(canned_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """One canned message."""
    return await canned.get_canned(ctx, caller, canned_id)


@router.get("/{canned_id}/render", response_model=RenderOut)
async def render_canned(canned_id: PathId, chat_id: QueryId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """The body with placeholders filled for a chat."""
    return await canned.render_canned(ctx, caller, canned_id, chat_id)


@router.patch("/{canned_id}", response_model=CannedOut)
async def update_canned(canned_id: PathId, body: CannedPatch, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Change a canned message I manage."""
    return await canned.update_canned(ctx, caller, canned_id, changes(body, frozenset({"shortcut", "group_id"})))


@router.delete("/{canned_id}", status_code=204)
async def delete_canned(canned_id: PathId, caller: Caller, ctx: Ctx) -> Response:
    """Remove a canned message I manage."""
    await canned.delete_canned(ctx, caller, canned_id)
    return Response(status_code=204)
