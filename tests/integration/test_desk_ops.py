"""Running the desk (SQLite and PostgreSQL): capacity limits, auto-assign, whispers, the monitor, reports."""

from __future__ import annotations

import asyncio
import csv
import io
import math
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from deskchat.storage.tables import chats, groups, messages, requesters
from tests.integration.test_auth_admin import assert_problem
from tests.support.client import Api, Desk, Socket
from tests.support.server import Server

pytestmark = pytest.mark.anyio


async def limited(desk: Desk, group_id: int, max_chats: int | None) -> tuple[dict[str, Any], Api, Socket]:
    tech, api, sock = await desk.technician([group_id])
    assert sock is not None
    tech = await desk.admin.ok("PATCH", f"/technicians/{tech['id']}", json={"max_chats": max_chats})
    assert tech["max_chats"] == max_chats
    return tech, api, sock


async def test_a_technician_at_capacity_gets_409_on_pickup_invite_and_transfer(desk: Desk) -> None:
    group = await desk.group()
    tess, tess_api, _ = await limited(desk, group["id"], 1)
    _, owner_api, _ = await limited(desk, group["id"], None)
    first, _ = await desk.start_chat(group["id"], "One")
    second, _ = await desk.start_chat(group["id"], "Two")
    third, _ = await desk.start_chat(group["id"], "Three")
    await tess_api.ok("POST", f"/chats/{first['id']}/pickup")
    assert_problem(await tess_api.request("POST", f"/chats/{second['id']}/pickup"), 409, "at_capacity")
    assert (await tess_api.ok("GET", f"/chats/{second['id']}"))["state"] == "waiting"  # nothing changed
    await owner_api.ok("POST", f"/chats/{second['id']}/pickup")
    assert_problem(await owner_api.request("POST", f"/chats/{second['id']}/invite",
                                           json={"technician_id": tess["id"]}), 409, "at_capacity")
    assert_problem(await owner_api.request("POST", f"/chats/{second['id']}/transfer",
                                           json={"technician_id": tess["id"]}), 409, "at_capacity")
    assert (await owner_api.ok("GET", f"/chats/{second['id']}"))["participant_ids"] == [
        (await owner_api.ok("GET", "/me"))["id"]]
    await tess_api.ok("POST", f"/chats/{first['id']}/end")
    await tess_api.ok("POST", f"/chats/{third['id']}/pickup")  # a seat came free
    me = await tess_api.ok("GET", "/me")
    assert me["active_chats"] == 1 and me["max_chats"] == 1


async def test_invalid_limits_are_422(desk: Desk) -> None:
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    for bad in (0, 51, -1, "3", 2.5):
        assert_problem(await desk.admin.request("PATCH", f"/technicians/{tech['id']}", json={"max_chats": bad}),
                       422, "validation_error")
    assert_problem(await desk.admin.request("PATCH", f"/groups/{group['id']}", json={"routing": "random"}),
                   422, "validation_error")


async def wait_until(check: Any, timeout: float) -> float:
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < timeout, "condition never held"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_auto_assign_gives_two_chats_out_and_the_third_within_two_seconds_of_an_end(desk: Desk) -> None:
    group = await desk.group()
    await desk.admin.ok("PATCH", f"/groups/{group['id']}", json={"routing": "auto_assign"})
    a, a_api, a_sock = await limited(desk, group["id"], 1)
    b, b_api, _ = await limited(desk, group["id"], 1)
    started = [(await desk.start_chat(group["id"], f"Auto {i}"))[0] for i in range(3)]

    async def owners() -> list[int | None]:
        return [(await desk.admin.ok("GET", f"/chats/{c['id']}"))["owner_id"] for c in started]

    async def two_assigned() -> bool:
        return sorted(o for o in await owners() if o is not None) == sorted([a["id"], b["id"]])
    await wait_until(two_assigned, 5)
    first_two = await owners()
    assert first_two[:2] != [None, None] and first_two[2] is None  # longest-waiting first
    assert (await desk.admin.ok("GET", f"/chats/{started[2]['id']}"))["state"] == "waiting"
    timeline = (await a_api.ok("GET", f"/chats/{started[first_two.index(a['id'])]['id']}/messages"))["messages"]
    assert [m["event"] for m in timeline if m["kind"] == "system"] == ["assigned"]
    await a_sock.wait_for(lambda f: f["type"] == "chat" and f["data"]["owner_id"] == a["id"], 5)
    # one of them ends their chat: the third goes to them within 2 s
    mine = started[first_two.index(b["id"])]["id"]
    await b_api.ok("POST", f"/chats/{mine}/end")

    async def third_assigned() -> bool:
        return (await owners())[2] == b["id"]
    assert await wait_until(third_assigned, 2.0) < 2.0


async def test_a_whisper_reaches_technicians_and_admins_never_the_requester_nor_the_transcript(desk: Desk) -> None:
    group = await desk.group()
    _, owner_api, owner_sock = await desk.technician([group["id"]])
    admin_sock = await desk.socket(desk.admin.token or "")
    chat, visitor = await desk.start_chat(group["id"], "Printer again")
    visitor_sock = await desk.socket(visitor.token or "")
    await owner_api.ok("POST", f"/chats/{chat['id']}/pickup")
    assert owner_sock is not None
    whisper = await owner_api.ok("POST", f"/chats/{chat['id']}/whispers", 201,
                                 json={"body": "This user broke it last week too"})
    assert whisper["body"] == "This user broke it last week too" and whisper["author"]["kind"] == "technician"
    for sock in (owner_sock, admin_sock):
        frame = await sock.wait_for(lambda f: f["type"] == "whisper", 5)
        assert frame["chat_id"] == chat["id"] and frame["data"] == whisper
    assert (await desk.admin.ok("POST", f"/chats/{chat['id']}/whispers", 201, json={"body": "Be patient"}))
    listed = (await owner_api.ok("GET", f"/chats/{chat['id']}/whispers"))["items"]
    assert [w["body"] for w in listed] == ["This user broke it last week too", "Be patient"]
    assert_problem(await visitor.request("GET", f"/chats/{chat['id']}/whispers"), 403, "forbidden")
    assert_problem(await visitor.request("POST", f"/chats/{chat['id']}/whispers", json={"body": "x"}), 403,
                   "forbidden")
    await owner_api.ok("POST", f"/chats/{chat['id']}/messages", 201, json={"body": "On my way", "client_msg_id": "m1"})
    await visitor_sock.wait_for(lambda f: f["type"] == "message" and f["data"]["body"] == "On my way", 5)
    assert not [f for f in visitor_sock.frames if f["type"] == "whisper" or "broke it" in str(f)]
    timeline = (await owner_api.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
    assert [m["seq"] for m in timeline] == list(range(1, len(timeline) + 1))
    assert not [m for m in timeline if "broke it" in m["body"]]
    await owner_api.ok("POST", f"/chats/{chat['id']}/end")
    assert_problem(await owner_api.request("POST", f"/chats/{chat['id']}/whispers", json={"body": "late"}), 409,
                   "invalid_state")
    request = await owner_api.ok("POST", f"/chats/{chat['id']}/request", 201, json={})
    assert "broke it" not in request["description"] and "Be patient" not in request["description"]


async def test_the_monitor_shows_queues_and_people_and_admins_hear_of_changes(desk: Desk) -> None:
    group = await desk.group()
    tech, tech_api, _ = await limited(desk, group["id"], 3)
    admin_sock = await desk.socket(desk.admin.token or "")
    mark = len(admin_sock.frames)
    chat, _ = await desk.start_chat(group["id"], "Queue me")
    await admin_sock.wait_for(lambda f: f["type"] == "monitor" and f["data"]["group_id"] == group["id"], 5, mark)
    seen = await desk.admin.ok("GET", "/monitor")
    row = next(g for g in seen["groups"] if g["id"] == group["id"])
    assert row["waiting"] == 1 and row["online_technicians"] == 1 and row["active_chats"] == 0
    assert isinstance(row["longest_wait_seconds"], int)
    person = next(t for t in seen["technicians"] if t["id"] == tech["id"])
    assert person == {"id": tech["id"], "name": tech["name"], "status": "online", "online": True,
                      "active_chats": 0, "max_chats": 3}
    await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    row = next(g for g in (await desk.admin.ok("GET", "/monitor"))["groups"] if g["id"] == group["id"])
    assert (row["waiting"], row["active_chats"], row["longest_wait_seconds"]) == (0, 1, None)
    assert_problem(await tech_api.request("GET", "/monitor"), 403, "forbidden")


# -- reports -------------------------------------------------------------------------------------


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


async def test_reports_over_a_seeded_data_set(desk: Desk, server: Server) -> None:
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    day0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    waits = [12, 30, 45, 60, 95, 130, 400]  # picked-up chats
    firsts = [5, 8, 20, 3, 9, 15, 60]
    durations = [300, 600, 120, 900, 60, 1500, 240]
    rows: list[dict[str, Any]] = []
    engine = create_async_engine(server.env["DESKCHAT_DATABASE_URL"])
    try:
        async with engine.begin() as conn:
            requester_id = (await conn.execute(insert(requesters).values(
                name="Seed", email="seed@example.com", created_at=day0).returning(requesters.c.id))).scalar_one()
            for i, (wait, duration) in enumerate(zip(waits, durations, strict=True)):
                created = day0 + timedelta(days=i % 3, minutes=i)
                picked = created + timedelta(seconds=wait)
                rows.append({"group_id": group["id"], "first_group_id": group["id"], "subject": f"seed {i}",
                             "state": "ended", "requester_id": requester_id, "owner_id": tech["id"], "last_seq": 2,
                             "created_at": created, "picked_up_at": picked,
                             "ended_at": picked + timedelta(seconds=duration), "rating_score": (i % 5) + 1})
            for i in range(3):  # missed ones
                created = day0 + timedelta(days=i, hours=3)
                rows.append({"group_id": group["id"], "first_group_id": group["id"], "subject": f"missed {i}",
                             "state": "missed", "requester_id": requester_id, "last_seq": 1, "created_at": created,
                             "ended_at": created + timedelta(minutes=2)})
            ids = []
            for row in rows:
                ids.append((await conn.execute(insert(chats).values(**row).returning(chats.c.id))).scalar_one())
            for chat_id, row, first in zip(ids, rows, firsts, strict=False):
                await conn.execute(insert(messages).values(
                    chat_id=chat_id, seq=1, kind="text", author_kind="requester", author_id=requester_id,
                    author_name="Seed", body="help", created_at=row["created_at"]))
                await conn.execute(insert(messages).values(
                    chat_id=chat_id, seq=2, kind="text", author_kind="technician", author_id=tech["id"],
                    author_name=tech["name"], body="hello", created_at=row["picked_up_at"] + timedelta(seconds=first)))
            await conn.execute(groups.update().where(groups.c.id == group["id"]).values(description="seeded"))
    finally:
        await engine.dispose()
    params = {"from": "2025-03-03", "to": "2025-03-10", "group_id": group["id"]}
    got = await desk.admin.ok("GET", "/reports/summary", params=params)
    assert (got["chats"], got["picked_up"], got["missed"]) == (10, 7, 3)
    assert got["missed_rate"] == pytest.approx(0.3)
    for name, values in (("wait_seconds", waits), ("first_response_seconds", firsts),
                         ("duration_seconds", durations)):
        assert got[name]["median"] == pytest.approx(statistics.median(values), abs=0.01), name
        assert got[name]["p90"] == pytest.approx(nearest_rank(values, 0.9), abs=0.01), name
    ratings = [(i % 5) + 1 for i in range(7)]
    assert got["rating"] == {"count": 7, "average": pytest.approx(sum(ratings) / 7)}
    assert got["by_group"][0]["group_id"] == group["id"] and got["by_group"][0]["chats"] == 10
    assert [(t["technician_id"], t["chats"]) for t in got["by_technician"]] == [(tech["id"], 7)]
    assert got["by_technician"][0]["wait_seconds"]["median"] == pytest.approx(statistics.median(waits), abs=0.01)
    assert [(d["date"], d["chats"], d["missed"]) for d in got["by_day"]] == [
        ("2025-03-03", 4, 1), ("2025-03-04", 3, 1), ("2025-03-05", 3, 1)]
    # an even count: the median is the mean of the two middle values
    even = await desk.admin.ok("GET", "/reports/summary", params={**params, "to": "2025-03-05"})
    even_waits = [w for i, w in enumerate(waits) if i % 3 != 2]
    assert even["wait_seconds"]["median"] == pytest.approx(statistics.median(even_waits), abs=0.01)
    # the CSV: a header and one row per chat
    response = await desk.admin.request("GET", "/reports/chats.csv", params=params)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert len(table) == 10 and sorted(int(r["id"]) for r in table) == sorted(ids)
    assert list(table[0]) == ["id", "group_id", "requester_email", "state", "created_at", "picked_up_at", "ended_at",
                              "wait_seconds", "first_response_seconds", "duration_seconds", "owner_id", "rating",
                              "request_id"]
    first_row = next(r for r in table if int(r["id"]) == ids[0])
    assert float(first_row["wait_seconds"]) == pytest.approx(12) and first_row["requester_email"] == "seed@example.com"
    # nothing in an empty window, and bad dates are 422
    empty = await desk.admin.ok("GET", "/reports/summary", params={"from": "2024-01-01", "to": "2024-01-02"})
    assert empty["chats"] == 0 and empty["missed_rate"] is None and empty["wait_seconds"] == {"median": None,
                                                                                               "p90": None}
    for bad in ({"from": "yesterday"}, {"to": "2025-13-01"}, {"from": "2025-03-05", "to": "2025-03-04"}):
        assert_problem(await desk.admin.request("GET", "/reports/summary", params=bad), 422, "validation_error")
    _, tech_api, _ = await desk.technician([group["id"]], online=False)
    assert_problem(await tech_api.request("GET", "/reports/summary"), 403, "forbidden")
    assert_problem(await tech_api.request("GET", "/reports/chats.csv"), 403, "forbidden")


async def test_business_metrics(server: Server, desk: Desk) -> None:
    group = await desk.group()
    await desk.start_chat(group["id"])
    await asyncio.sleep(0.1)
    async with httpx.AsyncClient() as client:
        text = (await client.get(server.url + "/metrics")).text
    assert "deskchat_waiting_chats" in text and "deskchat_chat_wait_seconds_bucket" in text
