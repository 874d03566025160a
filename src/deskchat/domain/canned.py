"""Canned messages: scopes, who may see and manage them, and placeholder rendering."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from deskchat.domain.errors import Forbidden, ValidationFailed
from deskchat.domain.people import Technician

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")
KNOWN_PLACEHOLDERS = frozenset({
    "requester.name", "requester.email", "technician.name", "group.name", "chat.id", "request.id",
})


class Scope(StrEnum):
    GLOBAL = "global"
    GROUP = "group"
    PERSONAL = "personal"


@dataclass(frozen=True)
class CannedMessage:
    """A pre-written answer in the repository."""

    id: int
    title: str
    body: str
    shortcut: str | None
    category: str
    scope: Scope
    group_id: int | None
    owner_id: int | None

    def visible_to(self, tech: Technician) -> bool:
        """Global ones to all, group ones to the group's members, personal ones to their owner."""
        if self.scope is Scope.GLOBAL:
            return True
        if self.scope is Scope.GROUP:
            return tech.is_admin or (self.group_id is not None and tech.in_group(self.group_id))
        return self.owner_id == tech.id


def ensure_can_manage(tech: Technician, scope: Scope, owner_id: int | None) -> None:
    """Global and group scope: admins; personal: its owner."""
    if scope is Scope.PERSONAL:
        if owner_id != tech.id:
            raise Forbidden("Only its owner may change a personal canned message.")
    elif not tech.is_admin:
        raise Forbidden("Only admins manage global and group canned messages.")


def check_scope_fields(scope: Scope, group_id: int | None) -> None:
    """A group-scoped message names its group; others name none."""
    if scope is Scope.GROUP and group_id is None:
        raise ValidationFailed("A group canned message needs a group.", errors={"group_id": "required"})
    if scope is not Scope.GROUP and group_id is not None:
        raise ValidationFailed("Only group canned messages name a group.",
                               errors={"group_id": "only for scope group"})


def render(body: str, values: Mapping[str, str | None]) -> str:
    """Fill the placeholders; an unknown one stays visible, a missing value becomes empty."""
    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in KNOWN_PLACEHOLDERS:
            return match.group(0)
        return values.get(key) or ""
    return PLACEHOLDER.sub(fill, body)
