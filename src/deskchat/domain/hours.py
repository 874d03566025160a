"""Opening hours of a support group: ranges of local time per weekday in an IANA time zone.

Times are compared on the local wall clock of the zone (``zoneinfo``), so ``09:00-17:00`` stays nine to
five across daylight-saving changes. A range is ``[start, end)``; ``24:00`` ends a day; a range over
midnight is written as two ranges on two days; a day left out is closed.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from deskchat.domain.errors import ValidationFailed

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_RANGES = 12  # a day
_TIME = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")
Range = tuple[int, int]  # minutes after local midnight, [start, end)


def _minutes(text: object, field: str) -> int:
    match = _TIME.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValidationFailed("Opening hours are not valid.", errors={field: "a time HH:MM, 00:00 to 24:00"})
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 24 * 60:
        raise ValidationFailed("Opening hours are not valid.", errors={field: "a time HH:MM, 00:00 to 24:00"})
    return minutes


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class BusinessHours:
    """When a group is open: its zone, and each weekday's ranges in local time."""

    timezone: str
    days: dict[str, tuple[Range, ...]]

    @staticmethod
    def parse(value: Any) -> BusinessHours | None:
        """The API's ``business_hours`` (null: always open), or 422 naming what is wrong."""
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) - {"timezone", "days"} or "timezone" not in value:
            raise ValidationFailed("Opening hours are not valid.",
                                   errors={"business_hours": "an object with timezone and days"})
        zone = value["timezone"]
        try:
            if not isinstance(zone, str) or not zone or len(zone) > 64:
                raise ValueError(zone)
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValidationFailed("Opening hours are not valid.", errors={
                "business_hours.timezone": "an IANA time zone such as Europe/Berlin"}) from None
        raw_days = value.get("days", {})
        if not isinstance(raw_days, dict) or set(raw_days) - set(DAYS):
            raise ValidationFailed("Opening hours are not valid.",
                                   errors={"business_hours.days": "keys mon, tue, wed, thu, fri, sat, sun"})
        days: dict[str, tuple[Range, ...]] = {}
        for day in DAYS:
            ranges = raw_days.get(day, [])
            field = f"business_hours.days.{day}"
            if not isinstance(ranges, list) or len(ranges) > MAX_RANGES:
                raise ValidationFailed("Opening hours are not valid.",
                                       errors={field: f"a list of up to {MAX_RANGES} [start, end] pairs"})
            parsed: list[Range] = []
            for i, pair in enumerate(ranges):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ValidationFailed("Opening hours are not valid.", errors={field: "pairs [start, end]"})
                start, end = _minutes(pair[0], f"{field}.{i}"), _minutes(pair[1], f"{field}.{i}")
                if start >= end or start == 24 * 60:
                    raise ValidationFailed("Opening hours are not valid.",
                                           errors={f"{field}.{i}": "the end must come after the start"})
                parsed.append((start, end))
            parsed.sort()
            for (_, end), (start, _) in itertools.pairwise(parsed):
                if start < end:
                    raise ValidationFailed("Opening hours are not valid.", errors={field: "ranges overlap"})
            if parsed:
                days[day] = tuple(parsed)
        return BusinessHours(zone, days)

    def is_open(self, now: datetime) -> bool:
        """True when ``now`` (any aware datetime) falls in a range of its local weekday."""
        local = now.astimezone(ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.days.get(DAYS[local.weekday()], ()))

    def view(self) -> dict[str, Any]:
        """As the API shows it."""
        return {"timezone": self.timezone,
                "days": {day: [[_clock(s), _clock(e)] for s, e in ranges] for day, ranges in self.days.items()}}

    def dumps(self) -> str:
        """As stored."""
        return json.dumps(self.view(), separators=(",", ":"))

    @staticmethod
    def loads(text: str | None) -> BusinessHours | None:
        """What ``dumps`` stored (None: always open)."""
        return BusinessHours.parse(json.loads(text)) if text else None


def open_now(hours: BusinessHours | None, now: datetime) -> bool:
    """A group without opening hours is always open."""
    return hours is None or hours.is_open(now)
