"""The end user's side (SQLite and PostgreSQL): queue position and wait, opening hours and offline messages,
attachments both ways, ratings."""

from __future__ import annotations

import asyncio
import struct
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.integration.test_auth_admin import assert_problem
from tests.support.client import Api, Desk, Socket

pytestmark = pytest.mark.anyio
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_ATTACHMENT = 10 * 1024 * 1024


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG (red pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def upload(api: Api, chat_id: int, name: str, data: bytes, content_type: str = "application/octet-stream",
                 client_msg_id: str | None = None) -> httpx.Response:
    form = {"client_msg_id": client_msg_id} if client_msg_id else None
    return await api.request("POST", f"/chats/{chat_id}/attachments", files={"file": (name, data, content_type)},
                             data=form)


async def chat_frame(sock: Socket, chat_id: int, start: int, timeout: float = 2.0) -> dict[str, Any]:
    frame = await sock.wait_for(lambda f: f["type"] == "chat" and f["data"]["id"] == chat_id, timeout, start)
    return frame["data"]


# -- queue --------------------------------------------------------------------------------


async def test_three_waiting_chats_are_1_2_3_and_move_up_on_the_requesters_sockets_when_one_is_picked_up(
        desk: Desk) -> None:
    group = await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]])
    started = [await desk.start_chat(group["id"], f"Problem {i}", name=f"Req {i}") for i in range(3)]
    chats = [c for c, _ in started]
    assert [c["queue_position"] for c in chats] == [1, 2, 3]
    assert all(c["estimated_wait_seconds"] is None for c in chats)  # the group has no pickups yet
    sockets = [await desk.socket(api.token or "") for _, api in started]
    marks = [len(s.frames) for s in sockets]
    await tech_api.ok("POST", f"/chats/{chats[0]['id']}/pickup")
    t0 = time.monotonic()
    second = await chat_frame(sockets[1], chats[1]["id"], marks[1])
    third = await chat_frame(sockets[2], chats[2]["id"], marks[2])
    assert time.monotonic() - t0 < 2.0
    assert (second["queue_position"], third["queue_position"]) == (1, 2)
    # a pickup happened: now there is an estimate, and REST agrees with the frames
    again = await started[2][1].ok("GET", f"/chats/{chats[2]['id']}")
    assert again["queue_position"] == 2 and isinstance(again["estimated_wait_seconds"], int)
    picked = await started[0][1].ok("GET", f"/chats/{chats[0]['id']}")
    assert picked["state"] == "active" and picked["queue_position"] is None
    assert picked["estimated_wait_seconds"] is None
    # the requester of the second chat ends it: the third moves to 1
    mark = len(sockets[2].frames)
    await started[1][1].ok("POST", f"/chats/{chats[1]['id']}/end")
    assert (await chat_frame(sockets[2], chats[2]["id"], mark))["queue_position"] == 1
    # nobody else's socket hears of it
    assert not [f for f in sockets[0].frames[marks[0]:] if f["type"] == "chat" and f["data"]["id"] != chats[0]["id"]]


# -- opening hours and offline messages -----------------------------------------------------


def closed_now() -> dict[str, Any]:
    """Opening hours that exclude this moment: only the day after tomorrow, in UTC."""
    later = DAYS[(datetime.now(UTC).weekday() + 2) % 7]
    return {"timezone": "UTC", "days": {later: [["09:00", "17:00"]]}}


async def test_a_closed_group_refuses_chats_and_its_offline_form_makes_a_request_its_technicians_see(
        desk: Desk) -> None:
    group = await desk.group()
    tech, tech_api, tech_sock = await desk.technician([group["id"]])
    assert tech_sock is not None
    hours = closed_now()
    updated = await desk.admin.ok("PATCH", f"/groups/{group['id']}", json={"business_hours": hours})
    assert updated["business_hours"] == hours
    portal = {g["id"]: g for g in (await desk.api().ok("GET", "/portal/groups"))["items"]}
    assert portal[group["id"]]["open_now"] is False and portal[group["id"]]["available"] is False
    refused = await desk.api().request("POST", "/chats", json={
        "group_id": group["id"], "name": "Olga", "email": "olga@example.com", "message": "Hello?"})
    assert_problem(refused, 409, "group_closed")
    mark = len(tech_sock.frames)
    left = await desk.api().ok("POST", "/portal/offline-messages", 201, json={
        "group_id": group["id"], "name": "Olga", "email": "olga@example.com",
        "message": "\n  My badge does not open the door\nIt beeps red since Monday."})
    request_id = left["request_id"]
    frame = await tech_sock.wait_for(lambda f: f["type"] == "offline_message", 5, mark)
    assert frame["data"]["id"] == request_id and frame["data"]["source"] == "offline_message"
    seen = await tech_api.ok("GET", f"/requests/{request_id}")
    assert seen["subject"] == "My badge does not open the door"
    assert seen["description"].endswith("It beeps red since Monday.")
    assert seen["group_id"] == group["id"] and seen["requester"]["email"] == "olga@example.com"
    listed = await tech_api.ok("GET", "/requests?source=offline_message")
    assert request_id in [r["id"] for r in listed["items"]]
    # open again (always open), with someone online: available, and chats start
    await desk.admin.ok("PATCH", f"/groups/{group['id']}", json={"business_hours": None})
    portal = {g["id"]: g for g in (await desk.api().ok("GET", "/portal/groups"))["items"]}
    assert portal[group["id"]]["open_now"] is True and portal[group["id"]]["available"] is True
    await desk.start_chat(group["id"])
    assert tech["id"]


async def test_an_open_group_takes_offline_messages_too_and_bad_ones_change_nothing(desk: Desk) -> None:
    group = await desk.group()
    assert (await desk.api().ok("POST", "/portal/offline-messages", 201, json={
        "group_id": group["id"], "name": "Pat", "email": "pat@example.com", "message": "FYI"}))["request_id"]
    before = (await desk.admin.ok("GET", "/requests?source=offline_message&limit=200"))["items"]
    for body, field in (({"group_id": group["id"], "name": "Pat", "email": "not-an-email", "message": "x"}, "email"),
                        ({"group_id": group["id"], "name": "Pat", "email": "p@example.com", "message": "   "},
                         "message"),
                        ({"group_id": 2**31 - 1, "name": "Pat", "email": "p@example.com", "message": "x"},
                         "group_id")):
        response = await desk.api().request("POST", "/portal/offline-messages", json=body)
        assert field in assert_problem(response, 422, "validation_error")["errors"]
    assert (await desk.admin.ok("GET", "/requests?source=offline_message&limit=200"))["items"] == before


@pytest.mark.parametrize("hours,field", [
    ({"timezone": "Mars/Olympus", "days": {}}, "business_hours.timezone"),
    ({"timezone": "UTC", "days": {"mon": [["09:00", "08:00"]]}}, "business_hours.days.mon.0"),
    ({"timezone": "UTC", "days": {"mon": [["09:00", "25:00"]]}}, "business_hours.days.mon.0"),
    ({"timezone": "UTC", "days": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "business_hours.days.mon"),
    ({"timezone": "UTC", "days": {"funday": [["09:00", "12:00"]]}}, "business_hours.days.funday"),
])
async def test_bad_opening_hours_are_422_and_change_nothing(desk: Desk, hours: dict[str, Any], field: str) -> None:
    group = await desk.group()
    response = await desk.admin.request("PATCH", f"/groups/{group['id']}", json={"business_hours": hours})
    body = assert_problem(response, 422, "validation_error")
    assert any(key.startswith(field.rsplit(".", 1)[0]) for key in body["errors"]), body
    assert (await desk.admin.ok("GET", f"/groups/{group['id']}"))["business_hours"] is None


# -- attachments -----------------------------------------------------------------------------


async def test_a_png_from_the_requester_reaches_the_technician_and_downloads_byte_identical(desk: Desk) -> None:
    group = await desk.group()
    _, tech_api, tech_sock = await desk.technician([group["id"]])
    assert tech_sock is not None
    chat, visitor = await desk.start_chat(group["id"])
    await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    image = png()
    mark = len(tech_sock.frames)
    response = await upload(visitor, chat["id"], "../../etc/screen shot.png", image, "text/html", "att-1")
    assert response.status_code == 201, response.text
    message = response.json()
    assert message["kind"] == "attachment" and message["seq"] == chat["last_seq"] + 2  # after "picked up"
    attachment = message["attachment"]
    assert attachment == {"id": attachment["id"], "filename": "screen shot.png", "content_type": "image/png",
                          "size": len(image)}
    frame = await tech_sock.wait_for(lambda f: f["type"] == "message" and f["data"]["kind"] == "attachment", 5, mark)
    assert frame["data"]["attachment"] == attachment
    got = await tech_api.request("GET", f"/attachments/{attachment['id']}")
    assert got.status_code == 200 and got.content == image
    assert got.headers["content-type"] == "image/png" and got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("inline")
    # the same client_msg_id again: the first message, nothing stored twice
    again = await upload(visitor, chat["id"], "screen shot.png", image, client_msg_id="att-1")
    assert again.status_code == 200 and again.json()["id"] == message["id"]
    timeline = (await visitor.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
    assert [m["kind"] for m in timeline].count("attachment") == 1
    # the technician sends one back
    back = await upload(tech_api, chat["id"], "fix.txt", b"Run: ipconfig /flushdns\n", "text/plain")
    assert back.status_code == 201
    assert (await visitor.request("GET", f"/attachments/{back.json()['attachment']['id']}")).content == (
        b"Run: ipconfig /flushdns\n")


@pytest.mark.parametrize("name,data,claimed", [
    ("page.html", b"<!doctype html><script>alert(document.cookie)</script>", "text/html"),
    ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "image/svg+xml"),
    ("fake.png", b"<html><body>not a png</body></html>", "image/png"),
])
async def test_html_and_svg_are_downloads_whatever_they_claim(desk: Desk, name: str, data: bytes,
                                                              claimed: str) -> None:
    group = await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]])
    chat, visitor = await desk.start_chat(group["id"])
    message = (await upload(visitor, chat["id"], name, data, claimed)).json()
    assert message["attachment"]["content_type"] == "application/octet-stream"
    got = await tech_api.request("GET", f"/attachments/{message['attachment']['id']}")
    assert got.content == data
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;")


async def test_only_readers_of_the_chat_get_its_attachments(desk: Desk) -> None:
    group, other_group = await desk.group(), await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]])
    _, outsider, _ = await desk.technician([other_group["id"]])
    chat, visitor = await desk.start_chat(group["id"])
    _, stranger = await desk.start_chat(group["id"], "Another person's chat")
    attachment = (await upload(visitor, chat["id"], "a.png", png())).json()["attachment"]
    assert (await tech_api.request("GET", f"/attachments/{attachment['id']}")).status_code == 200
    assert_problem(await stranger.request("GET", f"/attachments/{attachment['id']}"), 403, "forbidden")
    assert_problem(await outsider.request("GET", f"/attachments/{attachment['id']}"), 403, "forbidden")
    assert_problem(await desk.api().request("GET", f"/attachments/{attachment['id']}"), 401, "unauthorized")
    assert_problem(await tech_api.request("GET", "/attachments/2147483647"), 404, "not_found")
    # nor may an outsider post into it
    assert_problem(await upload(outsider, chat["id"], "x.png", png()), 403, "forbidden")


async def test_too_large_or_empty_files_are_refused_and_store_nothing(desk: Desk) -> None:
    group = await desk.group()
    chat, visitor = await desk.start_chat(group["id"])
    before = (await visitor.ok("GET", f"/chats/{chat['id']}"))["last_seq"]
    big = await upload(visitor, chat["id"], "big.bin", b"\0" * (MAX_ATTACHMENT + 1))
    assert_problem(big, 413, "payload_too_large")
    assert_problem(await upload(visitor, chat["id"], "empty.txt", b""), 422, "validation_error")
    no_file = await visitor.request("POST", f"/chats/{chat['id']}/attachments", data={"client_msg_id": "x"})
    assert_problem(no_file, 422, "validation_error")
    assert (await visitor.ok("GET", f"/chats/{chat['id']}"))["last_seq"] == before
    exactly = await upload(visitor, chat["id"], "limit.bin", b"\1" * MAX_ATTACHMENT)
    assert exactly.status_code == 201 and exactly.json()["attachment"]["size"] == MAX_ATTACHMENT


async def test_the_transcript_of_add_as_request_lists_attachments_by_filename(desk: Desk) -> None:
    group = await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]])
    chat, visitor = await desk.start_chat(group["id"])
    await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    await upload(visitor, chat["id"], "error-dialog.png", png())
    await tech_api.ok("POST", f"/chats/{chat['id']}/end")
    request = await tech_api.ok("POST", f"/chats/{chat['id']}/request", 201, json={})
    assert "[attachment] error-dialog.png" in request["description"]


# -- ratings --------------------------------------------------------------------------------


async def test_the_requester_rates_an_ended_chat_once_and_technicians_see_it(desk: Desk) -> None:
    group = await desk.group()
    _, tech_api, tech_sock = await desk.technician([group["id"]])
    assert tech_sock is not None
    chat, visitor = await desk.start_chat(group["id"])
    assert_problem(await visitor.request("POST", f"/chats/{chat['id']}/rating", json={"score": 5}), 409,
                   "invalid_state")  # not ended yet
    await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    await visitor.ok("POST", f"/chats/{chat['id']}/end")
    assert_problem(await tech_api.request("POST", f"/chats/{chat['id']}/rating", json={"score": 1}), 403,
                   "forbidden")
    for bad in ({"score": 0}, {"score": 6}, {"score": 4, "comment": "x" * 2001}, {"score": "5"}):
        assert_problem(await visitor.request("POST", f"/chats/{chat['id']}/rating", json=bad), 422,
                       "validation_error")
    mark = len(tech_sock.frames)
    rating = await visitor.ok("POST", f"/chats/{chat['id']}/rating", 201, json={"score": 4, "comment": "Quick!"})
    assert rating["score"] == 4 and rating["comment"] == "Quick!" and rating["created_at"]
    frame = await tech_sock.wait_for(lambda f: f["type"] == "chat" and f["data"]["rating"] is not None, 5, mark)
    assert frame["data"]["rating"] == {"score": 4, "comment": "Quick!"}
    assert (await tech_api.ok("GET", f"/chats/{chat['id']}"))["rating"] == {"score": 4, "comment": "Quick!"}
    assert_problem(await visitor.request("POST", f"/chats/{chat['id']}/rating", json={"score": 1}), 409,
                   "invalid_state")
    request = await tech_api.ok("POST", f"/chats/{chat['id']}/request", 201, json={})
    assert request["chat_rating"] == {"score": 4, "comment": "Quick!"}


async def test_two_ratings_at_once_store_one(desk: Desk) -> None:
    group = await desk.group()
    chat, visitor = await desk.start_chat(group["id"])
    await visitor.ok("POST", f"/chats/{chat['id']}/end")
    answers = await asyncio.gather(*(visitor.request("POST", f"/chats/{chat['id']}/rating", json={"score": s})
                                     for s in (1, 2, 3, 4, 5)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409]
    stored = (await visitor.ok("GET", f"/chats/{chat['id']}"))["rating"]
    winner = next(a for a in answers if a.status_code == 201).json()
    assert stored == {"score": winner["score"], "comment": None}
