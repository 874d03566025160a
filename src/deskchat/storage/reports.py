"""Reports, computed in SQL on both SQLite and PostgreSQL: counts, medians and 90th percentiles.

Percentiles use window functions that both databases have: within each key, rank the non-null values
(``ROW_NUMBER() OVER (ORDER BY x)``) and count them; the median is the mean of the ranks ``(n+1)/2`` and
``(n+2)/2`` (integer division: one middle value, or the two middle ones), the p90 the value at the nearest
rank ``ceil(0.9 n) = (9n + 9) / 10``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Subquery

from deskchat.storage.tables import chats, messages, requesters

MEASURES = ("wait_seconds", "first_response_seconds", "duration_seconds")


@dataclass(frozen=True)
class Window:
    """Chats created in ``[start, end)``, of one group (the group they were started in) or all."""

    start: datetime
    end: datetime
    group_id: int | None = None


class ReportRepository:
    """The figures of the Reports page and its CSV."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    def _seconds(self, later: Any, earlier: Any) -> ColumnElement[Any]:
        if self._conn.dialect.name == "postgresql":
            return func.extract("epoch", later - earlier)
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0

    def _day(self, moment: Any) -> ColumnElement[Any]:
        if self._conn.dialect.name == "postgresql":
            return func.to_char(func.timezone("UTC", moment), "YYYY-MM-DD")
        return func.strftime("%Y-%m-%d", moment)

    def _base(self, window: Window) -> Subquery:
        """One row per chat of the window, with its measures."""
        first_text = (select(func.min(messages.c.created_at))
                      .where(messages.c.chat_id == chats.c.id, messages.c.author_kind == "technician",
                             messages.c.kind == "text", messages.c.created_at >= chats.c.picked_up_at)
                      .scalar_subquery())
        picked = chats.c.picked_up_at
        conds = [chats.c.created_at >= window.start, chats.c.created_at < window.end]
        if window.group_id is not None:
            conds.append(func.coalesce(chats.c.first_group_id, chats.c.group_id) == window.group_id)
        return (select(
            chats.c.id, func.coalesce(chats.c.first_group_id, chats.c.group_id).label("group_id"),
            chats.c.owner_id, chats.c.state, chats.c.created_at, chats.c.picked_up_at, chats.c.ended_at,
            chats.c.request_id, chats.c.rating_score, requesters.c.email.label("requester_email"),
            self._day(chats.c.created_at).label("day"),
            case((picked.is_not(None), self._seconds(picked, chats.c.created_at))).label("wait_seconds"),
            self._seconds(first_text, picked).label("first_response_seconds"),
            case((and_(picked.is_not(None), chats.c.ended_at.is_not(None)),
                  self._seconds(chats.c.ended_at, picked))).label("duration_seconds"))
            .join(requesters, requesters.c.id == chats.c.requester_id)
            .where(*conds).subquery("base"))

    async def counts(self, window: Window, key: str | None) -> dict[Any, dict[str, Any]]:
        """chats, picked_up, missed and the rating's count and mean, per ``key`` (None: one row for all)."""
        base = self._base(window)
        group_key = base.c[key] if key else literal(0)
        query = (select(group_key.label("k"), func.count().label("chats"),
                        func.count(base.c.picked_up_at).label("picked_up"),
                        func.sum(case((base.c.state == "missed", 1), else_=0)).label("missed"),
                        func.count(base.c.rating_score).label("ratings"),
                        func.avg(cast(base.c.rating_score, Float)).label("rating_average"))
                 .group_by(group_key))
        if key:
            query = query.where(base.c[key].is_not(None))
        found: dict[Any, dict[str, Any]] = {}
        for row in await self._conn.execute(query):
            found[row.k] = {"chats": int(row.chats), "picked_up": int(row.picked_up), "missed": int(row.missed or 0),
                            "ratings": int(row.ratings),
                            "rating_average": float(row.rating_average) if row.rating_average is not None else None}
        return found

    async def percentiles(self, window: Window, measure: str, key: str | None) -> dict[Any, tuple[float, float]]:
        """(median, p90) of a measure per ``key`` (None: one row for all), over the chats that have it."""
        base = self._base(window)
        value = base.c[measure]
        group_key = base.c[key] if key else literal(0)
        ranked = (select(group_key.label("k"), value.label("x"),
                         func.row_number().over(partition_by=group_key, order_by=value).label("rn"),
                         func.count().over(partition_by=group_key).label("n"))
                  .where(value.is_not(None)).subquery("ranked"))
        middle = ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2])  # integer division
        query = (select(ranked.c.k, func.avg(case((middle, ranked.c.x))).label("median"),
                        func.min(case((ranked.c.rn == (9 * ranked.c.n + 9) // 10, ranked.c.x))).label("p90"))
                 .group_by(ranked.c.k))
        return {row.k: (float(row.median), float(row.p90)) for row in await self._conn.execute(query)
                if row.median is not None and row.p90 is not None}

    async def chat_rows(self, window: Window, after: int, limit: int) -> list[Any]:
        """Chats of the window with their measures, in id order, after ``after`` (the CSV, a page at a time)."""
        base = self._base(window)
        return list(await self._conn.execute(select(base).where(base.c.id > after).order_by(base.c.id).limit(limit)))

