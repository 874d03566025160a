"""Groups, technicians, settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from deskchat.api.deps import Caller, Ctx
from deskchat.api.schemas import (
    GroupIn,
    GroupOut,
    GroupPatch,
    Limit,
    Page,
    PathId,
    QueryId,
    SettingsOut,
    SettingsPatch,
    TechnicianIn,
    TechnicianOut,
    TechnicianPatch,
    changes,
)
from deskchat.services import admin

router = APIRouter(prefix="/api/v1", tags=["directory and admin"])


@router.get("/groups", response_model=Page[GroupOut])
async def list_groups(caller: Caller, ctx: Ctx, limit: Limit = 50, cursor: str | None = None) -> dict[str, Any]:
    """Groups, newest first."""
    caller.technician()
    return await admin.list_groups(ctx, limit, cursor)


@router.post("/groups", status_code=201, response_model=GroupOut)
async def create_group(body: GroupIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Admin: add a group."""
    return await admin.create_group(ctx, caller, body.name, body.description)


@router.get("/groups/{group_id}", response_model=GroupOut)
async def get_group(group_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """One group."""
    return await admin.get_group(ctx, caller, group_id)


@router.patch("/groups/{group_id}", response_model=GroupOut)
async def update_group(group_id: PathId, body: GroupPatch, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Admin: rename or describe a group, or set its opening hours (``business_hours``, null: always open)."""
    return await admin.update_group(ctx, caller, group_id, changes(body, GroupPatch.nullable))


@router.delete("/groups/{group_id}", status_code=204)
async def delete_group(group_id: PathId, caller: Caller, ctx: Ctx) -> Response:
    """Admin: delete a group without chats."""
    await admin.delete_group(ctx, caller, group_id)
    return Response(status_code=204)


@router.get("/technicians", response_model=Page[TechnicianOut])
async def list_technicians(caller: Caller, ctx: Ctx, online: bool | None = None, group_id: QueryId | None = None,
                           limit: Limit = 50, cursor: str | None = None) -> dict[str, Any]:
    """Technicians; ``online=true`` lists those eligible for invite and transfer."""
    return await admin.list_technicians(ctx, caller, online=online, group_id=group_id, limit=limit, cursor=cursor)


@router.post("/technicians", status_code=201, response_model=TechnicianOut)
async def create_technician(body: TechnicianIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Admin: add a technician."""
    return await admin.create_technician(ctx, caller, name=body.name, email=str(body.email),
                                         password=body.password, role=body.role, group_ids=body.group_ids,
                                         max_chats=body.max_chats)


@router.get("/technicians/{tech_id}", response_model=TechnicianOut)
async def get_technician(tech_id: PathId, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """One technician."""
    return await admin.get_technician(ctx, caller, tech_id)


@router.patch("/technicians/{tech_id}", response_model=TechnicianOut)
async def update_technician(tech_id: PathId, body: TechnicianPatch, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Admin: change a technician's name, email, password, role, groups, max_chats (null: no limit) or active."""
    found = changes(body, TechnicianPatch.nullable)
    if "email" in found:
        found["email"] = str(found["email"])
    return await admin.update_technician(ctx, caller, tech_id, found)


@router.get("/settings", response_model=SettingsOut)
async def get_settings(caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Admin: the settings."""
    return await admin.get_settings(ctx, caller)


@router.patch("/settings", response_model=SettingsOut)
async def update_settings(body: SettingsPatch, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Admin: missed-chat conversion and its timeout."""
    return await admin.update_settings(ctx, caller, changes(body, SettingsPatch.nullable))
