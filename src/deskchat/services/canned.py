"""Canned messages: the organized repository, search, render for a chat."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from deskchat.domain import canned as rules
from deskchat.domain.canned import CannedMessage, Scope
from deskchat.domain.errors import Conflict, NotFound, ValidationFailed
from deskchat.domain.people import Technician
from deskchat.services import common
from deskchat.services.auth import Principal
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.requests import placeholder_values
from deskchat.storage import canned as store
from deskchat.storage import people
from deskchat.storage.tables import canned_messages as cm

SHORTCUT = re.compile(r"^[a-z0-9_-]{1,50}$")


def canned_view(item: CannedMessage) -> dict[str, Any]:
    """A canned message as API.md shows it."""
    view = asdict(item)
    view["scope"] = item.scope.value
    return view


async def _visible(conn: Any, tech: Technician, canned_id: int) -> CannedMessage:
    found = await store.load_canned(conn, canned_id)
    if found is None or not found.visible_to(tech):
        raise NotFound(f"There is no canned message {canned_id}.")
    return found


async def list_canned(ctx: Context, principal: Principal, *, q: str | None, category: str | None,
                      limit: int) -> dict[str, Any]:
    """Canned messages I can use (global, my groups', mine), by category, searchable."""
    tech = principal.technician()
    common.check_limit(limit)
    where = [store.visible_condition(tech)]
    if q:
        where.append(store.search_condition(q))
    if category:
        where.append(cm.c.category == category)
    async with reading(ctx) as conn:
        found = await store.list_canned(conn, where, limit)
    return {"items": [canned_view(c) for c in found], "next_cursor": None}


async def list_canned_for(ctx: Context, tech: Technician) -> list[dict[str, Any]]:
    """Every canned message a technician can use (for the command line)."""
    async with reading(ctx) as conn:
        return [canned_view(c) for c in await store.list_canned(conn, [store.visible_condition(tech)], 10_000)]


async def get_canned(ctx: Context, principal: Principal, canned_id: int) -> dict[str, Any]:
    """One canned message I can use."""
    async with reading(ctx) as conn:
        return canned_view(await _visible(conn, principal.technician(), canned_id))


async def render_canned(ctx: Context, principal: Principal, canned_id: int, chat_id: int) -> dict[str, str]:
    """The body with its placeholders filled for a chat."""
    tech = principal.technician()
    async with reading(ctx) as conn:
        item = await _visible(conn, tech, canned_id)
        chat = await common.load_readable_chat(conn, chat_id, tech)
        return {"body": rules.render(item.body, await placeholder_values(conn, chat, tech))}


async def _check(conn: Any, fields: dict[str, Any], except_id: int | None) -> None:
    scope = Scope(fields["scope"])
    rules.check_scope_fields(scope, fields.get("group_id"))
    if scope is Scope.GROUP and not await people.existing_group_ids(conn, [fields["group_id"]]):
        raise ValidationFailed("There is no such group.", errors={"group_id": "no such group"})
    shortcut = fields.get("shortcut")
    if shortcut is not None:
        if not SHORTCUT.match(shortcut):
            raise ValidationFailed("Shortcuts use a-z, 0-9, _ and -.", errors={"shortcut": "a-z 0-9 _ -"})
        await store.lock_shortcut(conn, shortcut)
        if await store.shortcut_taken(conn, shortcut, scope, fields.get("group_id"), fields.get("owner_id"),
                                      except_id):
            raise Conflict("This shortcut is already used.", errors={"shortcut": "already used"})


async def create_canned(ctx: Context, principal: Principal | None, fields: dict[str, Any],
                        owner: Technician | None = None) -> dict[str, Any]:
    """Admins add global and group ones; every technician their own personal ones."""
    tech = principal.technician() if principal is not None else owner
    assert tech is not None
    fields = {"category": "General", "shortcut": None, "group_id": None, **fields}
    fields["owner_id"] = tech.id if fields["scope"] == Scope.PERSONAL.value else None
    rules.ensure_can_manage(tech, Scope(fields["scope"]), fields["owner_id"])
    async with unit_of_work(ctx) as uow:
        await _check(uow.conn, fields, None)
        canned_id = await store.insert_canned(uow.conn, fields, uow.now)
        created = await store.load_canned(uow.conn, canned_id)
    assert created is not None
    return canned_view(created)


async def update_canned(ctx: Context, principal: Principal, canned_id: int,
                        changes: dict[str, Any]) -> dict[str, Any]:
    """Change a canned message I manage."""
    tech = principal.technician()
    async with unit_of_work(ctx) as uow:
        item = await _visible(uow.conn, tech, canned_id)
        rules.ensure_can_manage(tech, item.scope, item.owner_id)
        merged = {**canned_view(item), **changes}
        if "scope" in changes:
            merged["owner_id"] = tech.id if merged["scope"] == Scope.PERSONAL.value else None
            if merged["scope"] != Scope.GROUP.value and "group_id" not in changes:
                merged["group_id"] = None
            rules.ensure_can_manage(tech, Scope(merged["scope"]), merged["owner_id"])
        await _check(uow.conn, merged, canned_id)
        merged.pop("id")
        await store.update_canned(uow.conn, canned_id, merged)
        updated = await store.load_canned(uow.conn, canned_id)
    assert updated is not None
    return canned_view(updated)


async def delete_canned(ctx: Context, principal: Principal, canned_id: int) -> None:
    """Remove a canned message I manage."""
    tech = principal.technician()
    async with unit_of_work(ctx) as uow:
        item = await _visible(uow.conn, tech, canned_id)
        rules.ensure_can_manage(tech, item.scope, item.owner_id)
        await store.delete_canned(uow.conn, canned_id)
