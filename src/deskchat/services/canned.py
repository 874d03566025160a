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
from deskchat.storage.repositories import Repositories

SHORTCUT = re.compile(r"^[a-z0-9_-]{1,50}$")


def canned_view(item: CannedMessage) -> dict[str, Any]:
    """A canned message as API.md shows it."""
    view = asdict(item)
    view["scope"] = item.scope.value
    return view


async def _visible(repos: Repositories, tech: Technician, canned_id: int) -> CannedMessage:
    found = await repos.canned.load_canned(canned_id)
    if found is None or not found.visible_to(tech):
        raise NotFound(f"There is no canned message {canned_id}.")
    return found


async def list_canned(ctx: Context, principal: Principal, *, q: str | None, category: str | None,
                      limit: int) -> dict[str, Any]:
    """Canned messages I can use (global, my groups', mine), by category, searchable."""
    tech = principal.technician()
    common.check_limit(limit)
    async with reading(ctx) as repos:
        found = await repos.canned.list_visible(tech, q=q, category=category, limit=limit)
    return {"items": [canned_view(c) for c in found], "next_cursor": None}


async def list_canned_for(ctx: Context, tech: Technician) -> list[dict[str, Any]]:
    """Every canned message a technician can use (for the command line)."""
    async with reading(ctx) as repos:
        return [canned_view(c) for c in await repos.canned.list_visible(tech, q=None, category=None, limit=10_000)]


async def get_canned(ctx: Context, principal: Principal, canned_id: int) -> dict[str, Any]:
    """One canned message I can use."""
    async with reading(ctx) as repos:
        return canned_view(await _visible(repos, principal.technician(), canned_id))


async def render_canned(ctx: Context, principal: Principal, canned_id: int, chat_id: int) -> dict[str, str]:
    """The body with its placeholders filled for a chat."""
    tech = principal.technician()
    async with reading(ctx) as repos:
        item = await _visible(repos, tech, canned_id)
        chat = await common.load_readable_chat(repos, chat_id, tech)
        return {"body": rules.render(item.body, await placeholder_values(repos, chat, tech))}


async def _check(repos: Repositories, fields: dict[str, Any], except_id: int | None) -> None:
    scope = Scope(fields["scope"])
    rules.check_scope_fields(scope, fields.get("group_id"))
    if scope is Scope.GROUP and not await repos.people.existing_group_ids([fields["group_id"]]):
        raise ValidationFailed("There is no such group.", errors={"group_id": "no such group"})
    shortcut = fields.get("shortcut")
    if shortcut is not None:
        if not SHORTCUT.match(shortcut):
            raise ValidationFailed("Shortcuts use a-z, 0-9, _ and -.", errors={"shortcut": "a-z 0-9 _ -"})
        await repos.canned.lock_shortcut(shortcut)
        if await repos.canned.shortcut_taken(shortcut, scope, fields.get("group_id"), fields.get("owner_id"),
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
        await _check(uow.repos, fields, None)
        canned_id = await uow.canned.insert_canned(fields, uow.now)
        created = await uow.canned.load_canned(canned_id)
    assert created is not None
    return canned_view(created)


async def update_canned(ctx: Context, principal: Principal, canned_id: int,
                        changes: dict[str, Any]) -> dict[str, Any]:
    """Change a canned message I manage."""
    tech = principal.technician()
    async with unit_of_work(ctx) as uow:
        item = await _visible(uow.repos, tech, canned_id)
        rules.ensure_can_manage(tech, item.scope, item.owner_id)
        merged = {**canned_view(item), **changes}
        if "scope" in changes:
            merged["owner_id"] = tech.id if merged["scope"] == Scope.PERSONAL.value else None
            if merged["scope"] != Scope.GROUP.value and "group_id" not in changes:
                merged["group_id"] = None
            rules.ensure_can_manage(tech, Scope(merged["scope"]), merged["owner_id"])
        await _check(uow.repos, merged, canned_id)
        merged.pop("id")
        await uow.canned.update_canned(canned_id, merged)
        updated = await uow.canned.load_canned(canned_id)
    assert updated is not None
    return canned_view(updated)


async def delete_canned(ctx: Context, principal: Principal, canned_id: int) -> None:
    """Remove a canned message I manage."""
    tech = principal.technician()
    async with unit_of_work(ctx) as uow:
        item = await _visible(uow.repos, tech, canned_id)
        rules.ensure_can_manage(tech, item.scope, item.owner_id)
        await uow.canned.delete_canned(canned_id)
