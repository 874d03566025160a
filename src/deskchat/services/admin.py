"""Admin and directory: groups, technicians, settings."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from deskchat.domain.errors import Conflict, InvalidState, NotFound, ValidationFailed
from deskchat.domain.hours import BusinessHours
from deskchat.domain.people import Role, Status, Technician
from deskchat.domain.settings import TIMEOUT_RANGE
from deskchat.realtime.events import CloseTechnician, TechnicianChanged
from deskchat.services import assign, common
from deskchat.services.auth import Principal, hash_password
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.views import group_view, page, settings_view, technician_view
from deskchat.storage.errors import Duplicate
from deskchat.storage.repositories import Repositories


def _email_taken() -> Conflict:
    return Conflict("A technician with this email exists.", errors={"email": "already used"})


def _name_taken() -> Conflict:
    return Conflict("A group with this name exists.", errors={"name": "already used"})


@contextlib.contextmanager
def _unique(conflict: Callable[[], Conflict]) -> Iterator[None]:
    """The unique index refused a value a concurrent request took after our check: the same 409."""
    try:
        yield
    except Duplicate:
        raise conflict() from None


async def technician_views(ctx: Context, repos: Repositories, found: list[Technician]) -> list[dict[str, Any]]:
    """Technicians with their live online flag and active chat count."""
    ids = [t.id for t in found]
    online = await repos.people.online_ids(ids, ctx.clock(), ctx.settings.presence_ttl_seconds)
    counts = await repos.people.active_chat_counts(ids) if ids else {}
    return [technician_view(t, online=t.id in online, active_chats=counts.get(t.id, 0)) for t in found]


async def list_technicians(ctx: Context, principal: Principal, *, online: bool | None,
                           group_id: int | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """Technicians, newest first; ``online=true`` lists those who can be invited or transferred to."""
    principal.technician()
    common.check_limit(limit)
    after = common.parse_cursor(cursor)
    async with reading(ctx) as repos:
        found = await repos.people.list_technicians(online=online, group_id=group_id, after=after, limit=limit,
                                                    now=ctx.clock(), ttl=ctx.settings.presence_ttl_seconds)
        return page(await technician_views(ctx, repos, found), limit)


async def get_technician(ctx: Context, principal: Principal, tech_id: int) -> dict[str, Any]:
    """One technician."""
    principal.technician()
    async with reading(ctx) as repos:
        tech = await common.load_target(repos, tech_id)
        return (await technician_views(ctx, repos, [tech]))[0]


async def _check_groups(repos: Repositories, group_ids: list[int]) -> None:
    missing = set(group_ids) - await repos.people.existing_group_ids(group_ids)
    if missing:
        raise ValidationFailed("Some groups do not exist.", errors={"group_ids": f"no group {sorted(missing)}"})


async def create_technician(ctx: Context, principal: Principal | None, *, name: str, email: str,
                            password: str, role: str, group_ids: list[int],
                            max_chats: int | None = None) -> dict[str, Any]:
    """Admins add technicians (``principal`` None: the command line)."""
    if principal is not None:
        principal.admin()
    password_hash = await hash_password(ctx, password)
    async with unit_of_work(ctx) as uow:
        if await uow.people.email_taken(email):
            raise _email_taken()
        await _check_groups(uow.repos, group_ids)
        with _unique(_email_taken):
            tech_id = await uow.people.insert_technician(name=name, email=email, password_hash=password_hash,
                                                     role=Role(role), now=uow.now)
        await uow.people.set_groups(tech_id, group_ids)
        if max_chats is not None:
            await uow.people.update_technician(tech_id, {"max_chats": max_chats})
        tech = await common.load_target(uow.repos, tech_id)
    return technician_view(tech, online=False)


async def update_technician(ctx: Context, principal: Principal, tech_id: int,
                            changes: dict[str, Any]) -> dict[str, Any]:
    """Admins change a technician's name, email, password, role, groups, or deactivate them.

    A password, role or group change, and a deactivation, cut the technician off: their tokens are
    revoked (but the admin's own, when admins change themselves) and their sockets closed (1008).
    """
    admin = principal.admin()
    if changes.get("active") is False and tech_id == admin.id:
        raise ValidationFailed("You cannot deactivate your own account.", errors={"active": "your own account"})
    password_hash = await hash_password(ctx, changes["password"]) if changes.get("password") else None
    async with unit_of_work(ctx) as uow:
        before = await common.load_target(uow.repos, tech_id)
        values: dict[str, Any] = {k: changes[k] for k in ("name", "role", "active", "max_chats") if k in changes}
        if "email" in changes:
            if await uow.people.email_taken(changes["email"], except_id=tech_id):
                raise _email_taken()
            values["email"] = changes["email"].lower()
        if password_hash:
            values["password_hash"] = password_hash
        if changes.get("active") is False:
            values["status"] = Status.OFFLINE.value
        with _unique(_email_taken):
            await uow.people.update_technician(tech_id, values)
        if "group_ids" in changes:
            await _check_groups(uow.repos, changes["group_ids"])
            await uow.people.set_groups(tech_id, changes["group_ids"])
        tech = await common.load_target(uow.repos, tech_id)
        if _cuts_off(before, tech, password_changed=password_hash is not None):
            keep = principal.token_id if tech_id == admin.id else None
            await uow.people.revoke_technician_tokens(tech_id, uow.now, keep_token_id=keep)
            uow.control(CloseTechnician(technician_id=tech_id, except_token_id=keep))
        view = (await technician_views(ctx, uow.repos, [tech]))[0]
        uow.control(TechnicianChanged(technician=view))
    assign.soon(ctx)  # a raised limit or a new group may let a waiting chat be assigned
    return view


def _cuts_off(before: Technician, after: Technician, *, password_changed: bool) -> bool:
    """Changes after which the technician's sessions must end: they sign in again with their new rights."""
    return (password_changed or before.role is not after.role or before.group_ids != after.group_ids
            or (before.active and not after.active))


async def list_groups(ctx: Context, limit: int = 200, cursor: str | None = None, *,
                      portal: bool = False) -> dict[str, Any]:
    """Groups with how many technicians are online in each; for the portal (public) also whether each is
    open now and available (open, and someone online)."""
    common.check_limit(limit)
    after = common.parse_cursor(cursor)
    now = ctx.clock()
    async with reading(ctx) as repos:
        rows = await repos.people.list_groups(after, limit)
        counts = await repos.people.online_counts(now, ctx.settings.presence_ttl_seconds)
    return page([group_view(r, counts.get(r.id, 0), now if portal else None) for r in rows], limit)


async def get_group(ctx: Context, principal: Principal, group_id: int) -> dict[str, Any]:
    """One group."""
    principal.technician()
    async with reading(ctx) as repos:
        return await _group(ctx, repos, group_id)


async def _group(ctx: Context, repos: Repositories, group_id: int) -> dict[str, Any]:
    row = await repos.people.load_group(group_id)
    if row is None:
        raise NotFound(f"There is no group {group_id}.")
    counts = await repos.people.online_counts(ctx.clock(), ctx.settings.presence_ttl_seconds)
    return group_view(row, counts.get(group_id, 0))


async def create_group(ctx: Context, principal: Principal | None, name: str, description: str) -> dict[str, Any]:
    """Admins add a support group."""
    if principal is not None:
        principal.admin()
    async with unit_of_work(ctx) as uow:
        if await uow.people.group_name_taken(name):
            raise _name_taken()
        with _unique(_name_taken):
            group_id = await uow.people.insert_group(name, description, uow.now)
        return await _group(ctx, uow.repos, group_id)


async def update_group(ctx: Context, principal: Principal, group_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Admins rename or describe a group, or set its opening hours (null: always open)."""
    principal.admin()
    if "business_hours" in changes:
        hours = BusinessHours.parse(changes["business_hours"])
        changes = {**changes, "business_hours": hours.dumps() if hours else None}
    async with unit_of_work(ctx) as uow:
        await _group(ctx, uow.repos, group_id)
        if "name" in changes and await uow.people.group_name_taken(changes["name"], except_id=group_id):
            raise _name_taken()
        with _unique(_name_taken):
            await uow.people.update_group(group_id, changes)
        found = await _group(ctx, uow.repos, group_id)
    assign.soon(ctx)
    return found


async def delete_group(ctx: Context, principal: Principal, group_id: int) -> None:
    """Admins delete a group that has no chats."""
    principal.admin()
    async with unit_of_work(ctx) as uow:
        await _group(ctx, uow.repos, group_id)
        if await uow.people.group_has_chats(group_id):
            raise InvalidState("The group has chats; it cannot be deleted.")
        await uow.people.delete_group(group_id)


async def get_settings(ctx: Context, principal: Principal) -> dict[str, Any]:
    """The admin settings."""
    principal.admin()
    async with reading(ctx) as repos:
        return settings_view(await repos.settings.load_settings())


async def update_settings(ctx: Context, principal: Principal | None, changes: dict[str, Any]) -> dict[str, Any]:
    """Change settings; waiting chats get (or lose) their missed-chat due time at once."""
    if principal is not None:
        principal.admin()
    timeout = changes.get("missed_chat_timeout_seconds")
    if timeout is not None and not TIMEOUT_RANGE[0] <= timeout <= TIMEOUT_RANGE[1]:
        raise ValidationFailed("The timeout must be 10 to 86400 seconds.",
                               errors={"missed_chat_timeout_seconds": "10 to 86400"})
    if changes.get("request_forward_email") is not None:
        changes = {**changes, "request_forward_email": str(changes["request_forward_email"]).lower()}
    async with unit_of_work(ctx) as uow:
        await uow.settings.save_settings(changes)
        config = await uow.settings.load_settings()
        await uow.chats.reschedule_waiting(config.missed_after_seconds)
    return settings_view(config)
