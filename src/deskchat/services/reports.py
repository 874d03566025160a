"""Reports for managers: how many chats, how many missed, how long people waited (computed in SQL)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from deskchat.domain.errors import ValidationFailed
from deskchat.services.auth import Principal
from deskchat.services.context import Context, reading
from deskchat.storage.reports import MEASURES, Window

CSV_COLUMNS = ("id", "group_id", "requester_email", "state", "created_at", "picked_up_at", "ended_at",
               "wait_seconds", "first_response_seconds", "duration_seconds", "owner_id", "rating", "request_id")
DEFAULT_DAYS = 7
PAGE = 1000


def parse_moment(value: str | None, field: str) -> datetime | None:
    """An ISO 8601 date (its midnight, UTC) or date-time (UTC unless it names an offset), or 422."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{field} is not an ISO 8601 date or date-time.",
                               errors={field: "a date such as 2026-12-01 or a date-time"}) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def window_of(now: datetime, start: str | None, end: str | None, group_id: int | None) -> Window:
    """``[from, to)``; by default the last seven days including today (UTC)."""
    to = parse_moment(end, "to") or datetime.combine(now.astimezone(UTC).date() + timedelta(days=1),
                                                     datetime.min.time(), UTC)
    since = parse_moment(start, "from") or to - timedelta(days=DEFAULT_DAYS)
    if since >= to:
        raise ValidationFailed("from must be before to.", errors={"from": "before to"})
    return Window(since, to, group_id)


def _figures(counts: dict[str, Any] | None, spread: dict[str, tuple[float, float] | None]) -> dict[str, Any]:
    counts = counts or {"chats": 0, "picked_up": 0, "missed": 0, "ratings": 0, "rating_average": None}
    chats = counts["chats"]
    figures: dict[str, Any] = {"chats": chats, "picked_up": counts["picked_up"], "missed": counts["missed"],
                               "missed_rate": counts["missed"] / chats if chats else None}
    for measure in MEASURES:
        found = spread.get(measure)
        figures[measure] = {"median": found[0], "p90": found[1]} if found else {"median": None, "p90": None}
    figures["rating"] = {"count": counts["ratings"], "average": counts["rating_average"]}
    return figures


async def summary(ctx: Context, principal: Principal, start: str | None, end: str | None,
                  group_id: int | None) -> dict[str, Any]:
    """The summary of API.md: overall, by group, by technician (owner), by day."""
    principal.admin()
    window = window_of(ctx.clock(), start, end, group_id)
    async with reading(ctx) as repos:
        report = repos.reports
        parts: dict[str | None, tuple[dict[Any, Any], dict[str, dict[Any, tuple[float, float]]]]] = {}
        for key in (None, "group_id", "owner_id"):
            parts[key] = (await report.counts(window, key),
                          {m: await report.percentiles(window, m, key) for m in MEASURES})
        by_day_counts = await report.counts(window, "day")
    overall_counts, overall_spread = parts[None]
    result = _figures(overall_counts.get(0), {m: v.get(0) for m, v in overall_spread.items()})
    result["from"], result["to"] = window.start.isoformat(), window.end.isoformat()
    for key, name, label in (("group_id", "by_group", "group_id"), ("owner_id", "by_technician", "technician_id")):
        counts, spread = parts[key]
        result[name] = [{label: k, **_figures(counts[k], {m: v.get(k) for m, v in spread.items()})}
                        for k in sorted(counts)]
    result["by_day"] = [{"date": str(day), "chats": c["chats"], "missed": c["missed"], "picked_up": c["picked_up"]}
                        for day, c in sorted(by_day_counts.items())]
    return result


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, float):
        return round(value, 3)
    return value


async def chats_csv(ctx: Context, principal: Principal, start: str | None, end: str | None,
                    group_id: int | None) -> AsyncIterator[str]:
    """One row per chat of the window (checked before the first byte goes out)."""
    principal.admin()
    window = window_of(ctx.clock(), start, end, group_id)

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        after = 0
        while True:
            async with reading(ctx) as repos:  # a short read per page
                page = await repos.reports.chat_rows(window, after, PAGE)
            for row in page:
                writer.writerow([_cell(v) for v in (
                    row.id, row.group_id, row.requester_email, row.state, row.created_at, row.picked_up_at,
                    row.ended_at, row.wait_seconds, row.first_response_seconds, row.duration_seconds, row.owner_id,
                    row.rating_score, row.request_id)])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            if len(page) < PAGE:
                return
            after = page[-1].id
    return rows()
