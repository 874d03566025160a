"""Known requesters: a session from the portal's signed identity, and a requester's history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from deskchat.api.deps import Caller, Ctx
from deskchat.api.schemas import PathId, RequesterHistoryOut, RequesterSessionIn, RequesterSessionOut
from deskchat.services import requesters

router = APIRouter(prefix="/api/v1", tags=["requesters"])


@router.post("/requester-sessions", status_code=201, response_model=RequesterSessionOut)
async def start_session(body: RequesterSessionIn, ctx: Ctx) -> dict[str, Any]:
    """The company portal's signed identity (HS256 JWT: email, name, exp) becomes a verified requester's token."""
    return await requesters.start_session(ctx, body.identity_token)


@router.get("/requesters/{requester_id}", response_model=RequesterHistoryOut)
async def get_requester(requester_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Technicians: a requester with the chats and requests they may read, newest first."""
    return await requesters.get_requester(ctx, caller, requester_id)
