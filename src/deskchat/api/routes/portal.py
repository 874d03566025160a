"""The public portal: groups an end user can choose, and messages left while nobody can chat."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from deskchat.api.deps import Ctx, verified_caller
from deskchat.api.schemas import OfflineMessageIn, OfflineMessageOut, Page, PortalGroupOut
from deskchat.services import admin, offline, outbox

router = APIRouter(prefix="/api/v1/portal", tags=["portal"])


@router.get("/groups", response_model=Page[PortalGroupOut])
async def portal_groups(ctx: Ctx) -> dict[str, Any]:
    """Groups an end user can choose: how many technicians are online, open now, available."""
    return await admin.list_groups(ctx, portal=True)


@router.get("/config")
async def portal_config(ctx: Ctx) -> dict[str, Any]:
    """What the end-user pages may offer here: email (the transcript), the largest attachment."""
    return {"email": outbox.email_enabled(ctx), "max_attachment_bytes": ctx.settings.max_attachment_bytes}


@router.post("/offline-messages", status_code=201, response_model=OfflineMessageOut)
async def leave_message(body: OfflineMessageIn, request: Request, ctx: Ctx) -> dict[str, Any]:
    """Leave a Message: a request (source ``offline_message``) for the group, whether or not it is open."""
    client = request.client.host if request.client else "unknown"
    signed_in = await verified_caller(request, ctx)
    return await offline.leave_message(ctx, group_id=body.group_id, name=body.name, email=str(body.email),
                                       message=body.message, client_addr=client,
                                       signed_in=signed_in[0] if signed_in else None)
