"""Search and suggestions (SQLite FTS5 and PostgreSQL full-text): results only the caller may read, whatever
the query; active chats searchable within seconds; the right canned message suggested first."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from tests.integration.test_auth_admin import assert_problem
from tests.support.client import Api, Desk

pytestmark = pytest.mark.anyio
CRAFTED = ['"', "'", "%", "_", "*", "\\", "OR", "AND NOT", "NEAR(a b)", "-x", "^", "title:x", "' OR '1'='1",
           '" OR 1=1 --', "a* OR b*", "(((", "!@#$%^&*()", "\x00", "ünïcödé", "x" * 400, "%{word}%", "{word}*",
           '"{word}" OR "*"', "{word} OR anything", "NOT {word}", "{word}:*", "{word} | a", "!{word}"]


def word() -> str:
    """A word no other document holds."""
    return "zq" + uuid.uuid4().hex[:10]


async def found(api: Api, q: str, kind: str | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.ok("GET", "/search", params={"q": q}))["items"]
    return [i for i in items if kind is None or i["kind"] == kind]


async def eventually_found(api: Api, q: str, timeout: float = 10.0, count: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while len(items := await found(api, q)) < count:
        assert time.monotonic() < deadline, f"{q!r} never found"
        await asyncio.sleep(0.2)
    return items


async def test_a_request_is_found_by_its_groups_technicians_and_nobody_else_whatever_the_query(desk: Desk) -> None:
    secret_group, other_group = await desk.group(), await desk.group()
    _, insider, _ = await desk.technician([secret_group["id"]], online=False)
    _, outsider, _ = await desk.technician([other_group["id"]], online=False)
    secret = word()
    left = await desk.api().ok("POST", "/portal/offline-messages", 201, json={
        "group_id": secret_group["id"], "name": "Una", "email": "una@example.com",
        "message": f"Badge reader {secret} refuses my card\nSince the move to building C."})
    hits = await eventually_found(insider, secret)
    assert [(h["kind"], h["id"]) for h in hits] == [("request", left["request_id"])]
    hit = hits[0]
    assert hit["title"].startswith("Badge reader") and secret in hit["snippet"]
    start, end = hit["highlights"][0]
    assert hit["snippet"][start:end].lower() == secret
    assert await found(desk.admin, secret) == hits
    assert await found(outsider, secret) == []
    for template in CRAFTED:
        q = template.replace("{word}", secret)
        response = await outsider.request("GET", "/search", params={"q": q})
        assert response.status_code in (200, 422), (q, response.text)
        if response.status_code == 200:
            assert all(i["id"] != left["request_id"] or i["kind"] != "request" for i in response.json()["items"]), q
        inside = await insider.request("GET", "/search", params={"q": q})
        assert inside.status_code in (200, 422), (q, inside.text)
    # a note on the request is searchable too
    note_word = word()
    await insider.ok("POST", f"/requests/{left['request_id']}/notes", 201, json={"body": f"Replaced {note_word}"})
    assert [h["id"] for h in await eventually_found(insider, note_word)] == [left["request_id"]]
    assert await found(outsider, note_word) == []


async def test_every_word_must_match_case_does_not_and_bad_queries_are_422(desk: Desk) -> None:
    group = await desk.group()
    _, tech, _ = await desk.technician([group["id"]], online=False)
    first, second = word(), word()
    await desk.api().ok("POST", "/portal/offline-messages", 201, json={
        "group_id": group["id"], "name": "Al", "email": "al@example.com", "message": f"{first} and {second}"})
    await desk.api().ok("POST", "/portal/offline-messages", 201, json={
        "group_id": group["id"], "name": "Bo", "email": "bo@example.com", "message": f"only {first}"})
    await eventually_found(tech, first, count=2)
    assert len(await found(tech, second)) == 1
    assert len(await found(tech, f"{first.upper()} {second}")) == 1
    assert await found(tech, f"{first} {word()}") == []
    for bad in ({}, {"q": ""}, {"q": "   "}, {"q": first, "limit": 0}):
        assert_problem(await tech.request("GET", "/search", params=bad), 422, "validation_error")
    assert (await tech.request("GET", "/search", params={"q": first, "limit": 500})).status_code == 200
    assert_problem(await desk.api().request("GET", "/search", params={"q": first}), 401, "unauthorized")


async def test_an_active_chat_is_searchable_within_seconds_by_those_who_may_read_it(desk: Desk) -> None:
    group, other_group = await desk.group(), await desk.group()
    _, tech, _ = await desk.technician([group["id"]])
    _, outsider, _ = await desk.technician([other_group["id"]], online=False)
    chat, visitor = await desk.start_chat(group["id"], "My screen flickers")
    await tech.ok("POST", f"/chats/{chat['id']}/pickup")
    secret = word()
    await visitor.ok("POST", f"/chats/{chat['id']}/messages", 201, json={"body": f"The code is {secret}",
                                                                          "client_msg_id": "s1"})
    started = time.monotonic()
    hits = await eventually_found(tech, secret, timeout=5)
    assert time.monotonic() - started < 5
    assert [(h["kind"], h["id"]) for h in hits] == [("chat", chat["id"])]
    assert hits[0]["title"] == "My screen flickers"
    assert await found(outsider, secret) == []
    assert_problem(await visitor.request("GET", "/search", params={"q": secret}), 403, "forbidden")


CANNED = [
    ("VPN certificate renewal", "Hi {requester_name}, your VPN certificate has expired. Open the Company Portal and "
                                "choose Renew certificate, then reconnect the VPN."),
    ("Printer paper jam", "Open tray 2, remove the jammed paper and close the tray; the printer resumes by itself."),
    ("Outlook keeps asking for the password", "Outlook prompts for the password when the cached credentials are "
                                              "stale: remove them in Credential Manager and sign in again."),
    ("Wi-Fi drops in meeting rooms", "Forget the Corp-WiFi network and join Corp-WiFi-5G; the access points in the "
                                     "meeting rooms are being replaced."),
    ("Laptop battery drains fast", "Check Battery usage in Settings and lower the screen brightness; a battery "
                                   "older than three years may need a replacement."),
]
QUESTIONS = [
    ("My VPN says the certificate expired, I can't connect", "VPN certificate renewal"),
    ("The printer on floor 3 has a paper jam again", "Printer paper jam"),
    ("outlook asks for my password every five minutes", "Outlook keeps asking for the password"),
    ("wifi keeps dropping in the big meeting room", "Wi-Fi drops in meeting rooms"),
    ("my battery drains very fast since yesterday", "Laptop battery drains fast"),
]


async def test_suggestions_rank_the_matching_canned_message_first(desk: Desk) -> None:
    group = await desk.group()
    tech_view, tech, _ = await desk.technician([group["id"]])
    _, outsider, _ = await desk.technician([group["id"]])
    for title, body in CANNED:
        await desk.admin.ok("POST", "/canned-messages", 201, json={
            "title": f"{title}", "body": body, "category": "Suggestions test", "scope": "group",
            "group_id": group["id"]})
    # an earlier, resolved request of the group about the same thing
    past = await desk.api().ok("POST", "/portal/offline-messages", 201, json={
        "group_id": group["id"], "name": "Pia", "email": "pia@example.com",
        "message": "VPN certificate expired on my laptop"})
    await tech.ok("PATCH", f"/requests/{past['request_id']}", json={"status": "resolved"})
    await eventually_found(tech, "certificate expired")
    for question, expected in QUESTIONS:
        chat, _ = await desk.start_chat(group["id"], question)
        await tech.ok("POST", f"/chats/{chat['id']}/pickup")
        got = await tech.ok("GET", f"/chats/{chat['id']}/suggestions")
        assert got["canned"], question
        assert got["canned"][0]["title"] == expected, (question, got["canned"])
        assert [c["score"] for c in got["canned"]] == sorted((c["score"] for c in got["canned"]), reverse=True)
        if expected == "VPN certificate renewal":
            assert past["request_id"] in [r["id"] for r in got["requests"]]
            assert all(r["status"] in ("resolved", "closed") for r in got["requests"])
        # only people in the chat (and admins) get suggestions
        assert_problem(await outsider.request("GET", f"/chats/{chat['id']}/suggestions"), 403, "forbidden")
        assert (await desk.admin.ok("GET", f"/chats/{chat['id']}/suggestions"))["canned"]
        await tech.ok("POST", f"/chats/{chat['id']}/end")
    assert tech_view["id"]
