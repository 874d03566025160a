"""Admin and directory: groups, technicians, settings."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import and_, true
from sqlalchemy.exc import IntegrityError

from deskchat.domain.errors import Conflict, InvalidState, NotFound, ValidationFailed
from deskchat.domain.people import Role, Status, Technician
from deskchat.services import common
from deskchat.services.auth import Principal, hash_password_gated
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.views import group_view, page, technician_view
from deskchat.storage import chats, people
from deskchat.storage import settings as settings_store
from deskchat.storage.tables import groups, technicians

TIMEOUT_RANGE = (10, 86_400)


def _email_taken() -> Conflict:
    return Conflict("A technician with this email exists.", errors={"email": "already used"})


def _name_taken() -> Conflict:
    return Conflict("A group with this name exists.", errors={"name": "already used"})


@contextlib.contextmanager
def _unique(conflict: Callable[[], Conflict]) -> Iterator[None]:
    """The unique index refused a value a concurrent request took after our check: the same 409."""
    try:
        yield
    except IntegrityError:
        raise conflict() from None


async def technician_views(ctx: Context, conn: Any, found: list[Technician]) -> list[dict[str, Any]]:
    """Technicians with their live online flag and active chat count."""
    ids = [t.id for t in found]
    online = await people.online_ids(conn, ids, ctx.clock(), ctx.settings.presence_ttl_seconds)
    counts = await people.active_chat_counts(conn, ids) if ids else {}
    return [technician_view(t, online=t.id in online, active_chats=counts.get(t.id, 0)) for t in found]


async def list_technicians(ctx: Context, principal: Principal, *, online: bool | None,
                           group_id: int | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """Technicians, newest first; ``online=true`` lists those who can be invited or transferred to."""
    principal.technician()
    common.check_limit(limit)
    where = []
    if online is not None:
        cond = people.online_condition(ctx.clock(), ctx.settings.presence_ttl_seconds)
        where.append(cond if online else ~cond)
    if group_id is not None:
        where.append(people.member_of_condition(group_id))
    after = common.parse_cursor(cursor)
    if after is not None:
        where.append(technicians.c.id < after)
    async with reading(ctx) as conn:
        found = await people.load_technicians(conn, and_(true(), *where), limit)
        return page(await technician_views(ctx, conn, found), limit)


async def get_technician(ctx: Context, principal: Principal, tech_id: int) -> dict[str, Any]:
    """One technician."""
    principal.technician()
    async with reading(ctx) as conn:
        tech = await common.load_target(conn, tech_id)
        return (await technician_views(ctx, conn, [tech]))[0]


async def _check_groups(conn: Any, group_ids: list[int]) -> None:
    missing = set(group_ids) - await people.existing_group_ids(conn, group_ids)
    if missing:
        raise ValidationFailed("Some groups do not exist.", errors={"group_ids": f"no group {sorted(missing)}"})


async def create_technician(ctx: Context, principal: Principal | None, *, name: str, email: str,
                            password: str, role: str, group_ids: list[int]) -> dict[str, Any]:
    """Admins add technicians (``principal`` None: the command line)."""
    if principal is not None:
        principal.admin()
    password_hash = await hash_password_gated(ctx, password)
    async with unit_of_work(ctx) as uow:
        if await people.email_taken(uow.conn, email):
            raise _email_taken()
        await _check_groups(uow.conn, group_ids)
        with _unique(_email_taken):
            tech_id = await people.insert_technician(uow.conn, name=name, email=email, password_hash=password_hash,
                                                     role=Role(role), now=uow.now)
        await people.set_groups(uow.conn, tech_id, group_ids)
        tech = await common.load_target(uow.conn, tech_id)
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
    password_hash = await hash_password_gated(ctx, changes["password"]) if changes.get("password") else None
    async with unit_of_work(ctx) as uow:
        before = await common.load_target(uow.conn, tech_id)
        values: dict[str, Any] = {k: changes[k] for k in ("name", "role", "active") if k in changes}
        if "email" in changes:
            if await people.email_taken(uow.conn, changes["email"], except_id=tech_id):
                raise _email_taken()
            values["email"] = changes["email"].lower()
        if password_hash:
            values["password_hash"] = password_hash
        if changes.get("active") is False:
            values["status"] = Status.OFFLINE.value
        with _unique(_email_taken):
            await people.update_technician(uow.conn, tech_id, values)
        if "group_ids" in changes:
            await _check_groups(uow.conn, changes["group_ids"])
            await people.set_groups(uow.conn, tech_id, changes["group_ids"])
        tech = await common.load_target(uow.conn, tech_id)
        if _cuts_off(before, tech, password_changed=password_hash is not None):
            keep = principal.token_id if tech_id == admin.id else None
            await people.revoke_technician_tokens(uow.conn, tech_id, uow.now, keep_token_id=keep)
            uow.control("close_technician", technician_id=tech_id, except_token_id=keep)
        view = (await technician_views(ctx, uow.conn, [tech]))[0]
        uow.control("technician_changed", technician=view)
    return view


def _cuts_off(before: Technician, after: Technician, *, password_changed: bool) -> bool:
    """Changes after which the technician's sessions must end: they sign in again with their new rights."""
    return (password_changed or before.role is not after.role or before.group_ids != after.group_ids
            or (before.active and not after.active))


async def list_groups(ctx: Context, limit: int = 200, cursor: str | None = None) -> dict[str, Any]:
    """Groups with how many technicians are online in each (public for the portal)."""
    common.check_limit(limit)
    after = common.parse_cursor(cursor)
    async with reading(ctx) as conn:
        rows = await people.load_groups(conn, groups.c.id < after if after is not None else None, limit)
        counts = await people.online_counts(conn, ctx.clock(), ctx.settings.presence_ttl_seconds)
    return page([group_view(r, counts.get(r.id, 0)) for r in rows], limit)


async def get_group(ctx: Context, principal: Principal, group_id: int) -> dict[str, Any]:
    """One group."""
    principal.technician()
    async with reading(ctx) as conn:
        return await _group(ctx, conn, group_id)


async def _group(ctx: Context, conn: Any, group_id: int) -> dict[str, Any]:
    rows = await people.load_groups(conn, groups.c.id == group_id)
    if not rows:
        raise NotFound(f"There is no group {group_id}.")
    counts = await people.online_counts(conn, ctx.clock(), ctx.settings.presence_ttl_seconds)
    return group_view(rows[0], counts.get(group_id, 0))


async def create_group(ctx: Context, principal: Principal | None, name: str, description: str) -> dict[str, Any]:
    """Admins add a support group."""
    if principal is not None:
        principal.admin()
    async with unit_of_work(ctx) as uow:
        if await people.group_name_taken(uow.conn, name):
            raise _name_taken()
        with _unique(_name_taken):
            group_id = await people.insert_group(uow.conn, name, description, uow.now)
        return await _group(ctx, uow.conn, group_id)


async def update_group(ctx: Context, principal: Principal, group_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Admins rename or describe a group."""
    principal.admin()
    async with unit_of_work(ctx) as uow:
        await _group(ctx, uow.conn, group_id)
        if "name" in changes and await people.group_name_taken(uow.conn, changes["name"], except_id=group_id):
            raise _name_taken()
        with _unique(_name_taken):
            await people.update_group(uow.conn, group_id, changes)
        return await _group(ctx, uow.conn, group_id)


async def delete_group(ctx: Context, principal: Principal, group_id: int) -> None:
    """Admins delete a group that has no chats."""
    principal.admin()
    async with unit_of_work(ctx) as uow:
        await _group(ctx, uow.conn, group_id)
        if await people.group_has_chats(uow.conn, group_id):
            raise InvalidState("The group has chats; it cannot be deleted.")
        await people.delete_group(uow.conn, group_id)


async def get_settings(ctx: Context, principal: Principal) -> dict[str, Any]:
    """The admin settings."""
    principal.admin()
    async with reading(ctx) as conn:
        return await settings_store.load_settings(conn)


async def update_settings(ctx: Context, principal: Principal | None, changes: dict[str, Any]) -> dict[str, Any]:
    """Change settings; waiting chats get (or lose) their missed-chat due time at once."""
    if principal is not None:
        principal.admin()
    timeout = changes.get("missed_chat_timeout_seconds")
    if timeout is not None and not TIMEOUT_RANGE[0] <= timeout <= TIMEOUT_RANGE[1]:
        raise ValidationFailed("The timeout must be 10 to 86400 seconds.",
                               errors={"missed_chat_timeout_seconds": "10 to 86400"})
    async with unit_of_work(ctx) as uow:
        await settings_store.save_settings(uow.conn, changes)
        config = await settings_store.load_settings(uow.conn)
        timeout_now = config["missed_chat_timeout_seconds"] if config["missed_chat_conversion"] else None
        await chats.reschedule_waiting(uow.conn, timeout_now)
    return config
