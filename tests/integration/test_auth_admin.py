"""Logins, the admin API (groups, technicians, settings), presence and alerts, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.support.client import Api, Desk, Socket, unique
from tests.support.server import ADMIN_EMAIL

pytestmark = pytest.mark.anyio
PASSWORD = "password-123"


def assert_problem(response: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == type_ and body["status"] == status and body["title"] and body["detail"]
    return body


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Poll a REST view until it holds (presence after a socket closes has a short grace period)."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.2)


# -- login, logout, me -----------------------------------------------------------------

async def test_technician_login_me_and_logout(desk: Desk) -> None:
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    client = desk.api()
    response = await client.request("POST", "/auth/login", json={"email": tech["email"].upper(), "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["technician"] == {**tech, "status": "offline", "online": False, "active_chats": 0}
    assert len(body["token"]) >= 32
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("deskchat_session="))
    csrf = next(c for c in cookies if c.startswith("csrf_token="))
    assert "httponly" in session.lower() and "samesite=lax" in session.lower()
    assert "httponly" not in csrf.lower()  # the console's script reads it to send X-CSRF-Token
    client.token = body["token"]
    me = await client.ok("GET", "/me")
    assert me["kind"] == "technician" and me["id"] == tech["id"] and me["group_ids"] == [group["id"]]
    await client.ok("POST", "/auth/logout", 204)
    assert_problem(await client.request("GET", "/me"), 401, "unauthorized")
    assert_problem(await client.request("POST", "/auth/logout"), 401, "unauthorized")


async def test_wrong_password_and_unknown_email_are_the_same_401(desk: Desk) -> None:
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    client = desk.api()
    wrong = assert_problem(await client.request("POST", "/auth/login", json={
        "email": tech["email"], "password": "not-the-password"}), 401, "unauthorized")
    unknown = assert_problem(await client.request("POST", "/auth/login", json={
        "email": f"{unique('nobody')}@example.com", "password": PASSWORD}), 401, "unauthorized")
    assert wrong["detail"] == unknown["detail"]  # nothing tells which emails have accounts
    assert "set-cookie" not in (await client.request("POST", "/auth/login", json={
        "email": tech["email"], "password": "x"})).headers


async def test_requester_me_and_logout(desk: Desk) -> None:
    group = await desk.group()
    chat, visitor = await desk.start_chat(group["id"], name="Robin Requester")
    me = await visitor.ok("GET", "/me")
    assert me == {"kind": "requester", "id": chat["requester"]["id"], "name": "Robin Requester",
                  "email": "erin@example.com", "verified": False}  # API.md: requester objects carry verified
    await visitor.ok("POST", "/auth/logout", 204)
    assert_problem(await visitor.request("GET", f"/chats/{chat['id']}"), 401, "unauthorized")


async def test_logging_in_on_a_second_device_shows_the_technician_as_they_are(desk: Desk) -> None:
    group = await desk.group()
    tech, api, sock = await desk.technician([group["id"]])
    chat, _ = await desk.start_chat(group["id"])
    await api.ok("POST", f"/chats/{chat['id']}/pickup")
    assert sock
    again = await desk.api().ok("POST", "/auth/login", json={"email": tech["email"], "password": PASSWORD})
    me = await api.ok("GET", "/me")
    assert (me["online"], me["active_chats"]) == (True, 1)
    assert again["technician"] == {k: v for k, v in me.items() if k != "kind"}


async def test_every_session_has_its_own_token(desk: Desk) -> None:
    group = await desk.group()
    tech, first, _ = await desk.technician([group["id"]], online=False)
    second = desk.api((await desk.api().ok("POST", "/auth/login", json={
        "email": tech["email"], "password": PASSWORD}))["token"])
    assert first.token != second.token
    await first.ok("POST", "/auth/logout", 204)
    assert (await second.ok("GET", "/me"))["id"] == tech["id"]


# -- groups ----------------------------------------------------------------------------

async def test_admin_creates_reads_renames_and_deletes_groups(desk: Desk) -> None:
    admin, name = desk.admin, unique("Network")
    group = await admin.ok("POST", "/groups", 201, json={"name": name, "description": "Switches and Wi-Fi"})
    assert group == {"id": group["id"], "name": name, "description": "Switches and Wi-Fi", "online_technicians": 0,
                     "business_hours": None, "routing": "broadcast"}
    assert await admin.ok("GET", f"/groups/{group['id']}") == group
    assert group in (await admin.ok("GET", "/groups?limit=200"))["items"]
    assert group["id"] in [g["id"] for g in (await desk.api().ok("GET", "/portal/groups"))["items"]]
    renamed = await admin.ok("PATCH", f"/groups/{group['id']}", json={"name": name + " team"})
    assert renamed == {**group, "name": name + " team"}
    assert_problem(await admin.request("POST", "/groups", json={"name": (name + " TEAM")}), 409, "conflict")
    tech, _, _ = await desk.technician([group["id"]], online=False)
    await admin.ok("DELETE", f"/groups/{group['id']}", 204)
    assert_problem(await admin.request("GET", f"/groups/{group['id']}"), 404, "not_found")
    assert_problem(await admin.request("DELETE", f"/groups/{group['id']}"), 404, "not_found")
    member = await admin.ok("GET", f"/technicians/{tech['id']}")
    assert member["group_ids"] == []  # members are simply removed from it


async def test_a_group_with_chats_cannot_be_deleted(desk: Desk) -> None:
    group = await desk.group()
    chat, visitor = await desk.start_chat(group["id"])
    await visitor.ok("POST", f"/chats/{chat['id']}/end")
    assert_problem(await desk.admin.request("DELETE", f"/groups/{group['id']}"), 409, "invalid_state")
    assert (await desk.admin.ok("GET", f"/groups/{group['id']}"))["id"] == group["id"]
    assert (await desk.admin.ok("GET", f"/chats/{chat['id']}"))["group_id"] == group["id"]


# -- technicians -----------------------------------------------------------------------

async def test_admin_manages_technicians_roles_and_groups(desk: Desk) -> None:
    admin = desk.admin
    first, second = await desk.group(), await desk.group()
    email = f"{unique('dana')}@example.com"
    dana = await admin.ok("POST", "/technicians", 201, json={
        "name": "Dana", "email": email, "password": PASSWORD, "group_ids": [first["id"]]})
    assert dana == {"id": dana["id"], "name": "Dana", "email": email, "role": "technician",
                    "group_ids": [first["id"]], "status": "offline", "online": False, "active_chats": 0,
                    "active": True, "max_chats": None}

    async def dana_logs_in() -> Api:
        return desk.api((await desk.api().ok("POST", "/auth/login", json={
            "email": email, "password": PASSWORD}))["token"])

    dana_api = await dana_logs_in()
    chat, _ = await desk.start_chat(second["id"])
    assert_problem(await dana_api.request("POST", f"/chats/{chat['id']}/pickup"), 403, "forbidden")
    moved = await admin.ok("PATCH", f"/technicians/{dana['id']}", json={"group_ids": [second["id"], first["id"]]})
    assert moved["group_ids"] == sorted([first["id"], second["id"]])
    # a group change ends Dana's sessions (API.md, Accounts): she signs in again, with the new groups
    assert_problem(await dana_api.request("GET", "/me"), 401, "unauthorized")
    dana_api = await dana_logs_in()
    assert (await dana_api.ok("POST", f"/chats/{chat['id']}/pickup"))["owner_id"] == dana["id"]
    assert_problem(await dana_api.request("POST", "/groups", json={"name": unique("g")}), 403, "forbidden")
    promoted = await admin.ok("PATCH", f"/technicians/{dana['id']}", json={"role": "admin", "name": "Dana Admin"})
    assert (promoted["role"], promoted["name"]) == ("admin", "Dana Admin")
    assert_problem(await dana_api.request("GET", "/me"), 401, "unauthorized")
    dana_api = await dana_logs_in()
    await dana_api.ok("POST", "/groups", 201, json={"name": unique("by-dana")})
    await admin.ok("PATCH", f"/technicians/{dana['id']}", json={"password": "new-password-456"})
    assert_problem(await desk.api().request("POST", "/auth/login", json={"email": email, "password": PASSWORD}),
                   401, "unauthorized")
    await desk.api().ok("POST", "/auth/login", json={"email": email, "password": "new-password-456"})
    listed = await admin.ok("GET", f"/technicians?group_id={second['id']}")
    assert [t["id"] for t in listed["items"]] == [dana["id"]]


async def test_duplicate_technician_emails_are_409(desk: Desk) -> None:
    admin = desk.admin
    email = f"{unique('sam')}@example.com"
    sam = await admin.ok("POST", "/technicians", 201, json={"name": "Sam", "email": email, "password": PASSWORD})
    other = await admin.ok("POST", "/technicians", 201, json={
        "name": "Other", "email": f"{unique('o')}@example.com", "password": PASSWORD})
    before = await admin.ok("GET", "/technicians?limit=200")
    for taken in (email, email.upper()):
        body = assert_problem(await admin.request("POST", "/technicians", json={
            "name": "Sam again", "email": taken, "password": PASSWORD}), 409, "conflict")
        assert "email" in body.get("errors", {"email": ""})
        assert_problem(await admin.request("PATCH", f"/technicians/{other['id']}", json={"email": taken}),
                       409, "conflict")
    assert_problem(await admin.request("PATCH", f"/technicians/{other['id']}", json={"email": ADMIN_EMAIL}),
                   409, "conflict")
    assert await admin.ok("GET", "/technicians?limit=200") == before
    kept = await admin.ok("PATCH", f"/technicians/{sam['id']}", json={"email": email})  # its own email is fine
    assert kept["email"] == email


async def test_the_same_email_or_group_name_created_at_once_is_one_201_and_409s(desk: Desk) -> None:
    email, name = f"{unique('twin')}@example.com", unique("Twins")
    technicians = await asyncio.gather(*(desk.admin.request("POST", "/technicians", json={
        "name": f"Twin {i}", "email": email, "password": PASSWORD}) for i in range(5)))
    groups = await asyncio.gather(*(desk.admin.request("POST", "/groups", json={"name": name}) for _ in range(5)))
    for responses in (technicians, groups):
        assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409], [r.text for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert_problem(response, 409, "conflict")
    listed = (await desk.admin.ok("GET", "/technicians?limit=200"))["items"]
    assert [t["email"] for t in listed].count(email) == 1


async def test_technicians_in_groups_that_do_not_exist_are_422(desk: Desk) -> None:
    before = await desk.admin.ok("GET", "/technicians?limit=200")
    assert_problem(await desk.admin.request("POST", "/technicians", json={
        "name": "Ghost", "email": f"{unique('g')}@example.com", "password": PASSWORD, "group_ids": [2**31 - 1]}),
        422, "validation_error")
    assert_problem(await desk.admin.request("POST", "/technicians", json={
        "name": "Short", "email": f"{unique('s')}@example.com", "password": "short"}), 422, "validation_error")
    assert_problem(await desk.admin.request("POST", "/technicians", json={
        "name": "Boss", "email": f"{unique('b')}@example.com", "password": PASSWORD, "role": "owner"}),
        422, "validation_error")
    assert await desk.admin.ok("GET", "/technicians?limit=200") == before


# -- settings --------------------------------------------------------------------------

async def test_settings_accept_10_to_86400_seconds(desk: Desk) -> None:
    admin = desk.admin
    original = await admin.ok("GET", "/settings")
    assert set(original) == {"missed_chat_conversion", "missed_chat_timeout_seconds", "request_forward_email"}
    try:
        for seconds in (10, 86_400, 120):
            changed = await admin.ok("PATCH", "/settings", json={"missed_chat_timeout_seconds": seconds})
            assert changed["missed_chat_timeout_seconds"] == seconds
            assert (await admin.ok("GET", "/settings"))["missed_chat_timeout_seconds"] == seconds
        for bad in ({"missed_chat_timeout_seconds": 9}, {"missed_chat_timeout_seconds": 86_401},
                    {"missed_chat_timeout_seconds": 0}, {"missed_chat_timeout_seconds": -10},
                    {"missed_chat_timeout_seconds": "120"}, {"missed_chat_timeout_seconds": 120.5},
                    {"missed_chat_timeout_seconds": 2**63}, {"missed_chat_conversion": "yes"},
                    {"missed_chat_conversion": 1}, {"missed_chat_timeout": 30}):
            body = assert_problem(await admin.request("PATCH", "/settings", json=bad), 422, "validation_error")
            assert body["errors"], bad
        assert (await admin.ok("GET", "/settings"))["missed_chat_timeout_seconds"] == 120
    finally:
        await admin.ok("PATCH", "/settings", json=original)
    assert await admin.ok("GET", "/settings") == original


# -- presence --------------------------------------------------------------------------

async def online_ids(api: Api, group_id: int) -> set[int]:
    listed = await api.ok("GET", f"/technicians?online=true&group_id={group_id}")
    return {t["id"] for t in listed["items"]}


async def test_online_means_status_online_and_a_live_socket(desk: Desk) -> None:
    group = await desk.group()
    gid = group["id"]
    on, on_api, on_sock = await desk.technician([gid])
    no_socket, no_socket_api, _ = await desk.technician([gid], online=False)
    await no_socket_api.ok("PUT", "/me/status", json={"status": "online"})
    away, away_api, _ = await desk.technician([gid], online=False)
    assert away_api.token
    away_sock = await desk.socket(away_api.token)
    await away_api.ok("PUT", "/me/status", json={"status": "away"})
    assert on_sock
    assert await online_ids(desk.admin, gid) == {on["id"]}
    everyone = {t["id"]: t for t in (await desk.admin.ok("GET", f"/technicians?group_id={gid}"))["items"]}
    assert everyone[on["id"]]["online"] and everyone[on["id"]]["status"] == "online"
    assert not everyone[no_socket["id"]]["online"] and everyone[no_socket["id"]]["status"] == "online"
    assert not everyone[away["id"]]["online"] and everyone[away["id"]]["status"] == "away"
    assert {t["id"] for t in (await desk.admin.ok("GET", f"/technicians?online=false&group_id={gid}"))["items"]} == {
        no_socket["id"], away["id"]}
    assert (await desk.admin.ok("GET", f"/groups/{gid}"))["online_technicians"] == 1
    assert (await on_api.ok("GET", "/me"))["online"] is True

    went_away = await on_api.ok("PUT", "/me/status", json={"status": "away"})
    assert went_away["online"] is False and went_away["status"] == "away"
    assert await online_ids(desk.admin, gid) == set()
    back = await away_api.ok("PUT", "/me/status", json={"status": "online"})
    assert back["online"] is True and await online_ids(desk.admin, gid) == {away["id"]}

    await away_sock.close()  # the only socket of that technician goes away

    async def gone() -> bool:
        return await online_ids(desk.admin, gid) == set()
    await eventually(gone)
    assert (await desk.admin.ok("GET", f"/groups/{gid}"))["online_technicians"] == 0
    assert (await away_api.ok("GET", "/me"))["status"] == "online"  # the status stays; online does not


async def test_presence_frames_reach_technicians_and_never_requesters(desk: Desk) -> None:
    group = await desk.group()
    _, _, watcher = await desk.technician([group["id"]])
    _, visitor = await desk.start_chat(group["id"])
    assert watcher and visitor.token
    requester_sock = await desk.socket(visitor.token)
    mover, mover_api, _ = await desk.technician([group["id"]], online=False)
    assert mover_api.token
    start = len(watcher.frames)
    mover_sock = await desk.socket(mover_api.token)
    await mover_api.ok("PUT", "/me/status", json={"status": "online"})
    frame = await watcher.wait_for(lambda f: f["type"] == "presence" and f["data"]["technician_id"] == mover["id"]
                                   and f["data"]["online"], start=start)
    assert frame["data"] == {"technician_id": mover["id"], "status": "online", "online": True}
    await mover_api.ok("PUT", "/me/status", json={"status": "away"})
    frame = await watcher.wait_for(lambda f: f["type"] == "presence" and f["data"]["technician_id"] == mover["id"]
                                   and f["data"]["status"] == "away", start=start)
    assert frame["data"]["online"] is False
    await mover_sock.send({"type": "ping"})
    await mover_sock.wait_for(lambda f: f["type"] == "pong")
    await requester_sock.send({"type": "ping"})
    await requester_sock.wait_for(lambda f: f["type"] == "pong")
    assert not [f for f in requester_sock.frames if f["type"] == "presence"]


# -- alerts ----------------------------------------------------------------------------

def alerts_for(sock: Socket, chat_id: int) -> list[dict[str, Any]]:
    return [f for f in sock.frames if f["type"] == "alert" and f["data"]["id"] == chat_id]


async def test_alerts_go_only_to_online_technicians_of_the_chats_group(desk: Desk) -> None:
    group, other = await desk.group(), await desk.group()
    _, _, on_duty = await desk.technician([group["id"]])
    _, _, elsewhere = await desk.technician([other["id"]])
    _, away_api, _ = await desk.technician([group["id"]], online=False)
    _, offline_api, _ = await desk.technician([group["id"]], online=False)
    assert on_duty and elsewhere and away_api.token and offline_api.token
    away = await desk.socket(away_api.token)
    await away_api.ok("PUT", "/me/status", json={"status": "away"})
    offline = await desk.socket(offline_api.token)  # connected, but status Offline
    chat, visitor = await desk.start_chat(group["id"], "Outlook keeps asking for my password")
    assert visitor.token
    requester = await desk.socket(visitor.token)
    alert = await on_duty.wait_for(lambda f: f["type"] == "alert" and f["data"]["id"] == chat["id"])
    assert alert["data"]["subject"] == "Outlook keeps asking for my password"
    assert alert["data"]["state"] == "waiting"
    for sock in (elsewhere, away, offline, requester):  # a round trip later, still nothing
        await sock.send({"type": "ping"})
        await sock.wait_for(lambda f: f["type"] == "pong")
    await asyncio.sleep(0.2)
    for sock in (elsewhere, away, offline, requester):
        assert alerts_for(sock, chat["id"]) == []

    start = len(away.frames)
    await away_api.ok("PUT", "/me/status", json={"status": "online"})  # back: the waiting chat is alerted
    await away.wait_for(lambda f: f["type"] == "alert" and f["data"]["id"] == chat["id"], start=start)
    late = await desk.socket(offline_api.token)
    await offline_api.ok("PUT", "/me/status", json={"status": "online"})
    await late.wait_for(lambda f: f["type"] == "alert" and f["data"]["id"] == chat["id"])

    await visitor.ok("POST", f"/chats/{chat['id']}/end")
    for sock in (on_duty, away):
        cleared = await sock.wait_for(lambda f: f["type"] == "alert_cleared" and f["chat_id"] == chat["id"])
        assert cleared["reason"] == "ended"
