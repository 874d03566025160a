"""Presence: a technician is online while their status is Online and a live socket of theirs exists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from deskchat.domain.errors import ValidationFailed
from deskchat.domain.people import Status, Technician
from deskchat.realtime.events import PresenceFrame, Recipients, TechnicianChanged
from deskchat.services import assign
from deskchat.services.auth import Principal
from deskchat.services.chats import waiting_alerts_for
from deskchat.services.context import Context, UnitOfWork, unit_of_work
from deskchat.services.views import technician_view


async def _emit_presence(ctx: Context, uow: UnitOfWork, tech: Technician) -> bool:
    online = bool(await uow.people.online_ids([tech.id], uow.now, ctx.settings.presence_ttl_seconds))
    uow.emit(PresenceFrame.of(tech, online=online), Recipients(all_technicians=True))
    uow.control(TechnicianChanged(technician=technician_view(tech, online=online)))
    return online


async def set_status(ctx: Context, principal: Principal, status: str) -> dict[str, Any]:
    """Online / Away / Offline; going online brings the alerts of chats already waiting."""
    tech = principal.technician()
    if status not in {s.value for s in Status}:
        raise ValidationFailed("Unknown status.", errors={"status": "online, away or offline"})
    async with unit_of_work(ctx) as uow:
        await uow.people.update_technician(tech.id, {"status": status})
        tech = await uow.people.load_technician(tech.id) or tech
        online = await _emit_presence(ctx, uow, tech)
        if online:
            for alert in await waiting_alerts_for(ctx, tech, uow.repos):
                uow.emit(alert, Recipients(technicians=[tech.id]))
        counts = await uow.people.active_chat_counts([tech.id])
    if online:
        assign.soon(ctx)  # someone who can take chats: auto-assign groups may give them one
    return technician_view(tech, online=online, active_chats=counts.get(tech.id, 0))


async def socket_count_changed(ctx: Context, tech_id: int, sockets: int) -> None:
    """This process now holds ``sockets`` live sockets of the technician."""
    async with unit_of_work(ctx) as uow:
        await uow.people.set_presence(ctx.process_id, tech_id, sockets, uow.now)
        tech = await uow.people.load_technician(tech_id)
        if tech is not None:
            await _emit_presence(ctx, uow, tech)
    if sockets:
        assign.soon(ctx)


def heartbeat_interval(ttl_seconds: float) -> float:
    """How often a process refreshes its presence rows: three beats fit in one TTL."""
    return ttl_seconds / 3


async def heartbeat(ctx: Context, tech_ids: Iterable[int]) -> None:
    """Keep this process's rows fresh (``tech_ids``: the technicians it holds); expire dead processes' rows.

    A process that dies stops counting once its rows are older than the TTL (queries check freshness);
    the first surviving process to beat after that deletes the rows and tells the consoles.
    """
    async with unit_of_work(ctx) as uow:
        back = await uow.people.heartbeat(ctx.process_id, uow.now, tech_ids)
        gone = await uow.people.expire_presence(uow.now, ctx.settings.presence_ttl_seconds)
        await _announce(ctx, uow, {*back, *gone})


async def _announce(ctx: Context, uow: UnitOfWork, tech_ids: set[int]) -> None:
    for tech_id in sorted(tech_ids):
        tech = await uow.people.load_technician(tech_id)
        if tech is not None:
            await _emit_presence(ctx, uow, tech)


async def forget_process(ctx: Context) -> None:
    """On a clean shutdown this process holds no sockets any more; the consoles are told."""
    async with unit_of_work(ctx) as uow:
        gone = await uow.people.clear_presence(process_id=ctx.process_id)
        await _announce(ctx, uow, set(gone))
