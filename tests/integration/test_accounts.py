"""Rights follow the account: group, role and password changes, deactivation, token expiry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_auth_admin import assert_problem
from tests.support.client import Api, Desk, Socket, open_desk, unique
from tests.support.server import Server, sqlite_server

pytestmark = pytest.mark.anyio
PASSWORD = "password-123"


async def login(desk: Desk, email: str, password: str = PASSWORD) -> Api:
    return desk.api((await desk.api().ok("POST", "/auth/login", json={"email": email, "password": password}))["token"])


async def assert_cut_off(sock: Socket, timeout: float = 5.0) -> None:
    """The socket is told its token no longer works and is closed with 1008 (do not reconnect with it)."""
    code = await sock.wait_closed(timeout)
    assert code == 1008, code
    assert any(f["type"] == "error" and f["error"]["type"] == "unauthorized" for f in sock.frames), sock.frames[-3:]


def chat_frames(sock: Socket, chat_id: int, start: int) -> list[dict[str, Any]]:
    return [f for f in sock.frames[start:] if f.get("chat_id") == chat_id or f.get("data", {}).get("id") == chat_id]


async def test_a_technician_removed_from_a_group_reads_nothing_more_of_it_over_an_open_socket(desk: Desk) -> None:
    group, other = await desk.group(), await desk.group()
    tech, api, sock = await desk.technician([group["id"]])
    assert sock is not None
    chat, _ = await desk.start_chat(group["id"], message="VPN token lost")
    await sock.wait_for(lambda f: f["type"] == "alert" and f["data"]["id"] == chat["id"])
    await desk.admin.ok("PATCH", f"/technicians/{tech['id']}", json={"group_ids": [other["id"]]})
    start = len(sock.frames)
    with pytest.raises(Exception):  # noqa: B017 - the socket may be closed before or while we send
        await sock.send({"type": "resume", "chats": {str(chat["id"]): 0}})
        await sock.wait_for(lambda f: f["type"] == "chat", start=start, timeout=3)
    await assert_cut_off(sock)
    assert chat_frames(sock, chat["id"], start) == []  # not one line of the chat after the change
    assert_problem(await api.request("GET", f"/chats/{chat['id']}/messages"), 401, "unauthorized")
    again = await login(desk, tech["email"])
    assert_problem(await again.request("GET", f"/chats/{chat['id']}/messages"), 403, "forbidden")


async def test_a_demoted_admin_loses_admin_reads_at_once(desk: Desk) -> None:
    group = await desk.group()
    boss, boss_api, boss_sock = await desk.technician([], role="admin")
    assert boss_sock is not None
    chat, _ = await desk.start_chat(group["id"])
    await boss_api.ok("GET", f"/chats/{chat['id']}")  # admins read every chat
    await desk.admin.ok("PATCH", f"/technicians/{boss['id']}", json={"role": "technician"})
    await assert_cut_off(boss_sock)
    assert_problem(await boss_api.request("GET", f"/chats/{chat['id']}"), 401, "unauthorized")
    demoted = await login(desk, boss["email"])
    assert_problem(await demoted.request("GET", f"/chats/{chat['id']}"), 403, "forbidden")
    assert_problem(await demoted.request("GET", "/settings"), 403, "forbidden")


async def test_a_password_change_ends_every_old_session_but_the_admins_own(desk: Desk) -> None:
    group = await desk.group()
    tech, api, sock = await desk.technician([group["id"]])
    assert sock is not None
    second = await login(desk, tech["email"])
    await desk.admin.ok("PATCH", f"/technicians/{tech['id']}", json={"password": "new-password-456"})
    await assert_cut_off(sock)
    for old in (api, second):
        assert_problem(await old.request("GET", "/me"), 401, "unauthorized")
    await login(desk, tech["email"], "new-password-456")
    # an admin who changes their own password keeps the session they did it with, and only that one
    admin_email = (await desk.admin.ok("GET", "/me"))["email"]
    other_session = await login(desk, admin_email, "admin-pass-123")
    await desk.admin.ok("PATCH", f"/technicians/{(await desk.admin.ok('GET', '/me'))['id']}",
                        json={"password": "admin-pass-123"})
    await desk.admin.ok("GET", "/me")
    assert_problem(await other_session.request("GET", "/me"), 401, "unauthorized")


async def test_a_deactivated_technician_is_cut_off_refused_at_login_and_keeps_their_history(desk: Desk) -> None:
    group = await desk.group()
    tech, api, sock = await desk.technician([group["id"]], name=unique("leaver"))
    assert sock is not None
    chat, visitor = await desk.start_chat(group["id"])
    await api.ok("POST", f"/chats/{chat['id']}/pickup")
    await api.ok("POST", f"/chats/{chat['id']}/messages", 201,
                 json={"body": "Rebooting the router now", "client_msg_id": unique("m")})
    changed = await desk.admin.ok("PATCH", f"/technicians/{tech['id']}", json={"active": False})
    assert changed["active"] is False and changed["online"] is False
    await assert_cut_off(sock)
    assert_problem(await api.request("GET", "/me"), 401, "unauthorized")
    wrong = await desk.api().request("POST", "/auth/login", json={"email": tech["email"], "password": "nope-nope-1"})
    right = await desk.api().request("POST", "/auth/login", json={"email": tech["email"], "password": PASSWORD})
    assert_problem(right, 401, "unauthorized")
    assert right.json() == wrong.json()  # the same answer as a wrong password: nothing to learn
    lines = (await visitor.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
    assert any(m["author"]["name"] == tech["name"] and m["body"] == "Rebooting the router now" for m in lines)
    listed = await desk.admin.ok("GET", f"/technicians/{tech['id']}")
    assert listed["active"] is False and listed["name"] == tech["name"]
    another, _ = await desk.start_chat(group["id"])
    await desk.admin.ok("POST", f"/chats/{another['id']}/pickup")
    assert_problem(await desk.admin.request("POST", f"/chats/{another['id']}/invite",
                                            json={"technician_id": tech["id"]}), 409, "technician_offline")
    await desk.admin.ok("PATCH", f"/technicians/{tech['id']}", json={"active": True})
    await login(desk, tech["email"])


async def test_an_admin_cannot_deactivate_themselves(desk: Desk) -> None:
    me = await desk.admin.ok("GET", "/me")
    assert_problem(await desk.admin.request("PATCH", f"/technicians/{me['id']}", json={"active": False}),
                   422, "validation_error")
    assert (await desk.admin.ok("GET", "/me"))["active"] is True


# -- expiry, on a server with very short lifetimes -----------------------------------------

TTL_SECONDS, IDLE_SECONDS, VISITOR_SECONDS = 8.0, 3.0, 2.0


@pytest.fixture(scope="module")
def short_lived() -> Iterator[Server]:
    env = {"DESKCHAT_TOKEN_TTL_HOURS": str(TTL_SECONDS / 3600), "DESKCHAT_TOKEN_IDLE_MINUTES": str(IDLE_SECONDS / 60),
           "DESKCHAT_VISITOR_TOKEN_DAYS": str(VISITOR_SECONDS / 86400)}
    with sqlite_server(env) as srv:
        yield srv


async def test_tokens_expire_when_idle_and_at_the_end_of_their_lifetime(short_lived: Server) -> None:
    async with open_desk(short_lived) as desk:
        group = await desk.group()
        tech, _, _ = await desk.technician([group["id"]], online=False)
        idle = await login(desk, tech["email"])
        await asyncio.sleep(IDLE_SECONDS + 1)
        assert_problem(await idle.request("GET", "/me"), 401, "unauthorized")
        busy = await login(desk, tech["email"])
        sock = await desk.socket(busy.token or "")
        for _ in range(int(TTL_SECONDS)):  # used every second: never idle, yet it ends with its lifetime
            if (await busy.request("GET", "/me")).status_code != 200:
                break
            await asyncio.sleep(1)
        assert_problem(await busy.request("GET", "/me"), 401, "unauthorized")
        await assert_cut_off(sock, timeout=TTL_SECONDS)


async def test_a_visitor_token_stops_working_some_time_after_its_chat_ended(short_lived: Server) -> None:
    async with open_desk(short_lived) as desk:
        group = await desk.group()
        chat, visitor = await desk.start_chat(group["id"])
        await asyncio.sleep(VISITOR_SECONDS + 0.5)
        await visitor.ok("GET", f"/chats/{chat['id']}")  # a chat that goes on keeps its token working
        await visitor.ok("POST", f"/chats/{chat['id']}/end")
        await visitor.ok("GET", f"/chats/{chat['id']}/messages")  # just ended: the transcript is still there
        await asyncio.sleep(VISITOR_SECONDS + 0.5)
        assert_problem(await visitor.request("GET", f"/chats/{chat['id']}/messages"), 401, "unauthorized")
