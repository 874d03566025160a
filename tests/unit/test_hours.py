"""Opening hours: local wall-clock ranges in an IANA zone, right across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deskchat.domain.chat import Chat, ChatState
from deskchat.domain.errors import InvalidState, ValidationFailed
from deskchat.domain.hours import BusinessHours, open_now
from deskchat.domain.people import Requester

BERLIN_NINE_TO_FIVE = {"timezone": "Europe/Berlin", "days": {d: [["09:00", "17:00"]]
                                                             for d in ("mon", "tue", "wed", "thu", "fri")}}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_nine_to_five_in_berlin_follows_the_local_clock_across_the_spring_change() -> None:
    hours = BusinessHours.parse(BERLIN_NINE_TO_FIVE)
    assert hours is not None
    # Monday 23 March 2026, CET (UTC+1): 08:30 UTC is 09:30 local, 07:30 UTC is 08:30 local
    assert hours.is_open(at("2026-03-23T08:30:00")) and not hours.is_open(at("2026-03-23T07:30:00"))
    # Monday 30 March 2026, CEST (UTC+2) since the 29th: 07:30 UTC is already 09:30 local
    assert hours.is_open(at("2026-03-30T07:30:00")) and not hours.is_open(at("2026-03-30T06:30:00"))
    # closing time moves too: 15:30 UTC is 17:30 CEST (closed), 16:30 CET was 17:30 (closed), 15:30 CET open
    assert not hours.is_open(at("2026-03-30T15:30:00"))
    assert hours.is_open(at("2026-03-23T15:30:00"))


def test_the_autumn_change_and_days_off() -> None:
    hours = BusinessHours.parse(BERLIN_NINE_TO_FIVE)
    assert hours is not None
    # Monday 26 October 2026, CET again since the 25th: 08:00 UTC is 09:00 local
    assert hours.is_open(at("2026-10-26T08:00:00")) and not hours.is_open(at("2026-10-26T07:59:00"))
    # Saturday and Sunday are left out: closed all day
    assert not any(hours.is_open(at(f"2026-10-24T{h:02d}:00:00")) for h in range(24))


def test_several_ranges_a_day_and_a_range_to_midnight() -> None:
    days = {"tue": [["13:00", "24:00"], ["08:00", "12:00"]], "wed": [["00:00", "02:00"]]}
    hours = BusinessHours.parse({"timezone": "America/New_York", "days": days})
    assert hours is not None
    assert hours.days["tue"] == ((480, 720), (780, 1440))  # kept in order
    # Tuesday 3 Nov 2026, EST (UTC-5): 12:30 local is closed (the lunch gap), 23:59 open, Wed 01:00 open
    assert not hours.is_open(at("2026-11-03T17:30:00"))
    assert hours.is_open(at("2026-11-04T04:59:00")) and hours.is_open(at("2026-11-04T06:00:00"))
    assert not hours.is_open(at("2026-11-04T07:00:00"))
    assert hours.view()["days"]["tue"] == [["08:00", "12:00"], ["13:00", "24:00"]]
    assert BusinessHours.loads(hours.dumps()) == hours


def test_no_hours_is_always_open() -> None:
    assert BusinessHours.parse(None) is None and open_now(None, at("2026-12-25T03:00:00"))
    assert not open_now(BusinessHours.parse({"timezone": "UTC", "days": {}}), at("2026-12-25T03:00:00"))


@pytest.mark.parametrize("value,field", [
    ({"timezone": "Not/AZone"}, "business_hours.timezone"),
    ({"timezone": "../../etc/passwd"}, "business_hours.timezone"),
    ({"timezone": "UTC", "days": {"mon": [["17:00", "09:00"]]}}, "business_hours.days.mon.0"),
    ({"timezone": "UTC", "days": {"mon": [["24:00", "24:00"]]}}, "business_hours.days.mon.0"),
    ({"timezone": "UTC", "days": {"mon": [["9:00", "10:00"]]}}, "business_hours.days.mon.0"),
    ({"timezone": "UTC", "days": {"mon": [["09:00", "24:01"]]}}, "business_hours.days.mon.0"),
    ({"timezone": "UTC", "days": {"mon": [["09:00", "12:00"], ["11:59", "13:00"]]}}, "business_hours.days.mon"),
    ({"timezone": "UTC", "days": {"holiday": []}}, "business_hours.days"),
    ({"days": {}}, "business_hours"),
])
def test_bad_hours_name_the_field(value: object, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        BusinessHours.parse(value)
    assert refused.value.errors is not None and field in refused.value.errors


def test_a_missed_chat_cannot_be_rated_nor_a_waiting_one() -> None:
    requester = Requester(5, "Erin", "erin@example.com")
    for state in (ChatState.MISSED, ChatState.WAITING, ChatState.ACTIVE):
        chat = Chat(1, 1, "VPN", state, requester, at("2026-12-01T10:00:00"))
        with pytest.raises(InvalidState):
            chat.check_rating(requester, 5, None)
    ended = Chat(1, 1, "VPN", ChatState.ENDED, requester, at("2026-12-01T10:00:00"))
    ended.check_rating(requester, 5, "thanks")
