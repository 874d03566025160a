"""Canned messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.domain.canned import CannedMessage, Scope
from deskchat.domain.people import Technician
from deskchat.storage.tables import canned_messages as cm

SHORTCUT_LOCK = 0x63616E6E  # "cann": the advisory-lock namespace of shortcuts


def _canned(row: Any) -> CannedMessage:
    return CannedMessage(row.id, row.title, row.body, row.shortcut, row.category, Scope(row.scope),
                         row.group_id, row.owner_id)


def visible_condition(tech: Technician) -> Any:
    """SQL: global ones, my groups' ones (admins: every group's), my personal ones."""
    group_cond = (cm.c.scope == Scope.GROUP.value) if tech.is_admin else and_(
        cm.c.scope == Scope.GROUP.value, cm.c.group_id.in_(sorted(tech.group_ids)))
    return or_(cm.c.scope == Scope.GLOBAL.value, group_cond,
               and_(cm.c.scope == Scope.PERSONAL.value, cm.c.owner_id == tech.id))


def search_condition(q: str) -> Any:
    """SQL: title, body or shortcut contains the text (case-insensitive)."""
    pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(*(col.ilike(pattern, escape="\\") for col in (cm.c.title, cm.c.body, cm.c.shortcut)))


class CannedRepository:
    """The canned-message repository."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def list_canned(self, where: list[Any], limit: int) -> list[CannedMessage]:
        """Canned messages matching every condition, by category and title."""
        rows = await self._conn.execute(select(cm).where(*where).order_by(cm.c.category, cm.c.title, cm.c.id)
                                  .limit(limit))
        return [_canned(r) for r in rows]

    async def list_visible(self, tech: Technician, *, q: str | None, category: str | None,
                           limit: int) -> list[CannedMessage]:
        """Canned messages a technician can use (global, their groups', their own), searched and filtered."""
        where = [visible_condition(tech)]
        if q:
            where.append(search_condition(q))
        if category:
            where.append(cm.c.category == category)
        return await self.list_canned(where, limit)

    async def load_canned(self, canned_id: int) -> CannedMessage | None:
        """One canned message, or None."""
        row = (await self._conn.execute(select(cm).where(cm.c.id == canned_id))).first()
        return _canned(row) if row else None

    async def insert_canned(self, values: dict[str, Any], now: datetime) -> int:
        """Store a canned message."""
        result = await self._conn.execute(insert(cm).values(**values, created_at=now).returning(cm.c.id))
        return int(result.scalar_one())

    async def update_canned(self, canned_id: int, values: dict[str, Any]) -> None:
        """Change a canned message."""
        await self._conn.execute(update(cm).where(cm.c.id == canned_id).values(**values))

    async def delete_canned(self, canned_id: int) -> None:
        """Remove a canned message."""
        await self._conn.execute(delete(cm).where(cm.c.id == canned_id))

    async def lock_shortcut(self, shortcut: str) -> None:
        """Concurrent saves of one shortcut take turns until commit (on SQLite, writers already do)."""
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(select(func.pg_advisory_xact_lock(SHORTCUT_LOCK, func.hashtext(shortcut))))

    async def shortcut_taken(self, shortcut: str, scope: Scope, group_id: int | None,
                             owner_id: int | None, except_id: int | None) -> bool:
        """True if the same shortcut is already used in the same scope (same group / owner)."""
        cond = [cm.c.shortcut == shortcut, cm.c.scope == scope.value]
        if scope is Scope.GROUP:
            cond.append(cm.c.group_id == group_id)
        if scope is Scope.PERSONAL:
            cond.append(cm.c.owner_id == owner_id)
        if except_id is not None:
            cond.append(cm.c.id != except_id)
        return (await self._conn.execute(select(cm.c.id).where(*cond).limit(1))).first() is not None
