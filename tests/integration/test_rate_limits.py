"""Rate limits on one server with small limits (SQLite): 429 rate_limited with Retry-After, over REST and WebSocket.

The limits are fixed windows aligned to the clock, so each burst starts with enough of its window left
to finish inside it. Clients are told apart by X-Forwarded-For (the server trusts it from 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.support.client import Api, Desk, Socket, open_desk, unique
from tests.support.server import Server, sqlite_server

pytestmark = pytest.mark.anyio
LIMIT = 3
ADDRESS_LIMIT = 8  # failed logins per client address, whatever the emails
SLOWDOWN = 0.2  # seconds added per failure of an address after its first few
PASSWORD = "password-123"


@pytest.fixture(scope="module")
def limited_server() -> Iterator[Server]:
    env = {"DESKCHAT_RATE_LIMIT_ENABLED": "true", "DESKCHAT_RATE_LIMIT_NEW_CHATS_PER_MINUTE": str(LIMIT),
           "DESKCHAT_RATE_LIMIT_MESSAGES_PER_10S": str(LIMIT),
           "DESKCHAT_RATE_LIMIT_FAILED_LOGINS_PER_15MIN": str(LIMIT),
           "DESKCHAT_RATE_LIMIT_FAILED_LOGINS_PER_ADDRESS_15MIN": str(ADDRESS_LIMIT),
           "DESKCHAT_LOGIN_SLOWDOWN_SECONDS": str(SLOWDOWN)}
    with sqlite_server(env) as srv:
        yield srv


@pytest.fixture
async def desk(limited_server: Server) -> AsyncIterator[Desk]:
    async with open_desk(limited_server) as built:
        yield built


def address() -> dict[str, str]:
    """A client address of its own, so each test has its own new-chat bucket."""
    n = uuid.uuid4().int
    return {"X-Forwarded-For": f"10.{n % 250}.{n // 250 % 250}.{n // 62500 % 250 + 1}"}


async def window_with_room(seconds: int, needed: float) -> int:
    """Wait, if need be, until at least ``needed`` seconds of the current fixed window are left; its index."""
    left = seconds - time.time() % seconds
    if left < needed:
        await asyncio.sleep(left + 0.05)
    return int(time.time() // seconds)


def still_in(window: int, seconds: int) -> None:
    assert int(time.time() // seconds) == window, "the burst took longer than its window allowed"


def assert_rate_limited(response: httpx.Response, window_seconds: int) -> int:
    """A 429 problem with Retry-After (whole seconds, at most the window) matching the body."""
    assert response.status_code == 429, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "rate_limited" and body["status"] == 429 and body["title"] and body["detail"]
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= window_seconds and body["retry_after"] == retry
    return retry


async def start(api: Api, group_id: int, headers: dict[str, str], text: str = "Help") -> httpx.Response:
    return await api.request("POST", "/chats", headers=headers, json={
        "group_id": group_id, "name": "Erin", "email": "erin@example.com", "message": text})


async def waiting_subjects(tech: Api) -> list[str]:
    return [c["subject"] for c in (await tech.ok("GET", "/chats?state=waiting&limit=200"))["items"]]


async def test_too_many_new_chats_from_one_address_are_429(desk: Desk) -> None:
    group = await desk.group()
    _, tech, _ = await desk.technician([group["id"]], online=False)
    anonymous, here, elsewhere = desk.api(), address(), address()
    window = await window_with_room(60, 10)
    for i in range(LIMIT):
        assert (await start(anonymous, group["id"], here, f"chat {i}")).status_code == 201
    assert_rate_limited(await start(anonymous, group["id"], here, "one too many"), 60)
    assert_rate_limited(await start(anonymous, group["id"], here, "and again"), 60)
    still_in(window, 60)
    assert sorted(await waiting_subjects(tech)) == [f"chat {i}" for i in range(LIMIT)]  # nothing else stored
    assert (await start(anonymous, group["id"], elsewhere, "another network")).status_code == 201


async def test_too_many_messages_from_one_visitor_are_429_technicians_are_not_limited(desk: Desk) -> None:
    group = await desk.group()
    _, tech, _ = await desk.technician([group["id"]], online=False)
    response = await start(desk.api(), group["id"], address())
    chat_id = response.json()["chat"]["id"]
    visitor = desk.api(response.json()["visitor_token"])
    other = desk.api((await start(desk.api(), group["id"], address())).json()["visitor_token"])
    await tech.ok("POST", f"/chats/{chat_id}/pickup")
    window = await window_with_room(10, 4)
    for i in range(LIMIT):
        await visitor.ok("POST", f"/chats/{chat_id}/messages", 201, json={"body": f"m{i}", "client_msg_id": f"m{i}"})
    refused = await visitor.request("POST", f"/chats/{chat_id}/messages", json={"body": "spam", "client_msg_id": "s"})
    assert_rate_limited(refused, 10)
    for i in range(LIMIT + 2):  # the technician answers as fast as they like
        await tech.ok("POST", f"/chats/{chat_id}/messages", 201, json={"body": f"t{i}", "client_msg_id": f"t{i}"})
    still_in(window, 10)
    bodies = [m["body"] for m in (await tech.ok("GET", f"/chats/{chat_id}/messages"))["messages"]]
    assert "spam" not in bodies and bodies.count("m0") == 1 and len(bodies) == 1 + 1 + LIMIT + LIMIT + 2
    other_chat = (await other.ok("GET", "/chats"))["items"][0]["id"]  # another visitor has their own budget
    await other.ok("POST", f"/chats/{other_chat}/messages", 201, json={"body": "hello", "client_msg_id": "o"})


async def picked_up_chat_with_visitor_socket(desk: Desk) -> tuple[int, Api, Socket]:
    """A chat a technician picked up, and its requester's socket, resumed: (chat id, technician, socket)."""
    group = await desk.group()
    _, tech, _ = await desk.technician([group["id"]], online=False)
    response = await start(desk.api(), group["id"], address())
    chat_id, token = response.json()["chat"]["id"], response.json()["visitor_token"]
    await tech.ok("POST", f"/chats/{chat_id}/pickup")
    sock = await desk.socket(token, resume={chat_id: 0})
    await sock.wait_for(lambda f: f["type"] == "chat")
    return chat_id, tech, sock


async def test_a_rate_limited_websocket_send_gets_an_error_frame_with_retry_after(desk: Desk) -> None:
    chat_id, tech, sock = await picked_up_chat_with_visitor_socket(desk)
    window = await window_with_room(10, 4)
    for i in range(LIMIT):
        await sock.send({"type": "send", "chat_id": chat_id, "body": f"w{i}", "client_msg_id": f"w{i}"})
        await sock.wait_for(lambda f, i=i: f["type"] == "ack" and f["client_msg_id"] == f"w{i}")
    await sock.send({"type": "send", "chat_id": chat_id, "body": "flood", "client_msg_id": "flood"})
    error: dict[str, Any] = await sock.wait_for(lambda f: f["type"] == "error")
    still_in(window, 10)
    assert error["client_msg_id"] == "flood"
    assert error["error"]["type"] == "rate_limited" and error["error"]["status"] == 429
    assert 1 <= error["error"]["retry_after"] <= 10
    start_at = len(sock.frames)
    await sock.send({"type": "ping"})
    await sock.wait_for(lambda f: f["type"] == "pong", start=start_at)  # still connected
    bodies = [m["body"] for m in (await tech.ok("GET", f"/chats/{chat_id}/messages"))["messages"]]
    assert "flood" not in bodies and [b for b in bodies if b.startswith("w")] == ["w0", "w1", "w2"]


async def test_after_too_many_failed_logins_even_the_right_password_is_refused(desk: Desk) -> None:
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    colleague, _, _ = await desk.technician([group["id"]], online=False)
    client = desk.api()
    window = await window_with_room(15 * 60, 20)
    for _ in range(LIMIT):
        wrong = await client.request("POST", "/auth/login", json={"email": tech["email"], "password": "guess-123"})
        assert wrong.status_code == 401 and wrong.json()["type"] == "unauthorized"
    right = await client.request("POST", "/auth/login", json={"email": tech["email"], "password": PASSWORD})
    assert_rate_limited(right, 15 * 60)
    shouted = await client.request("POST", "/auth/login", json={"email": tech["email"].upper(), "password": PASSWORD})
    assert_rate_limited(shouted, 15 * 60)  # the same account, however it is spelled
    assert "set-cookie" not in right.headers
    still_in(window, 15 * 60)
    for _ in range(LIMIT + 1):  # successful logins are not failures; other accounts are not affected
        await client.ok("POST", "/auth/login", json={"email": colleague["email"], "password": PASSWORD})


async def test_failed_logins_sent_all_at_once_are_limited_too(desk: Desk) -> None:
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    client = desk.api()
    window = await window_with_room(15 * 60, 20)
    attempts = await asyncio.gather(*(client.request("POST", "/auth/login", json={
        "email": tech["email"], "password": f"guess-{i}"}) for i in range(4 * LIMIT)))
    still_in(window, 15 * 60)
    statuses = sorted(r.status_code for r in attempts)
    assert statuses == [401] * LIMIT + [429] * (3 * LIMIT), statuses  # no more guesses checked than the limit
    assert_rate_limited(await client.request("POST", "/auth/login", json={"email": tech["email"],
                                                                          "password": PASSWORD}), 15 * 60)


async def failed_login(client: Api, email: str, headers: dict[str, str]) -> httpx.Response:
    return await client.request("POST", "/auth/login", headers=headers, json={"email": email, "password": "guess-1"})


async def test_a_guesser_never_locks_the_real_user_out(desk: Desk) -> None:
    group = await desk.group()
    victim, _, _ = await desk.technician([group["id"]], online=False)
    client, guesser, other_guesser, victims_pc = desk.api(), address(), address(), address()
    window = await window_with_room(15 * 60, 30)
    for _ in range(LIMIT):
        assert (await failed_login(client, victim["email"], guesser)).status_code == 401
    assert (await failed_login(client, victim["email"], other_guesser)).status_code == 401
    right = {"email": victim["email"], "password": PASSWORD}
    assert_rate_limited(await client.request("POST", "/auth/login", headers=guesser, json=right), 15 * 60)
    # another address that guessed this account too is refused now that the account is under attack
    assert_rate_limited(await failed_login(client, victim["email"], other_guesser), 15 * 60)
    # the real user, from an address that has not failed, signs in
    await client.ok("POST", "/auth/login", headers=victims_pc, json=right)
    still_in(window, 15 * 60)


async def test_one_address_spraying_many_emails_is_slowed_down_then_refused(desk: Desk) -> None:
    client, sprayer = desk.api(), address()
    window = await window_with_room(15 * 60, 60)
    took = []
    for i in range(ADDRESS_LIMIT):
        started = time.monotonic()
        response = await failed_login(client, f"{unique(f'nobody{i}')}@example.com", sprayer)
        took.append(time.monotonic() - started)
        assert response.status_code == 401, response.text
    # after the first few failures each attempt waits longer (lower bounds only: a busy machine is slower)
    assert took[-1] >= SLOWDOWN * (ADDRESS_LIMIT - 1 - 3) * 0.9, took
    refused = await failed_login(client, f"{unique('fresh')}@example.com", sprayer)
    assert_rate_limited(refused, 15 * 60)
    still_in(window, 15 * 60)


async def test_typing_notices_are_rate_limited_like_messages(desk: Desk) -> None:
    chat_id, _, sock = await picked_up_chat_with_visitor_socket(desk)
    window = await window_with_room(10, 4)
    for _ in range(LIMIT + 1):
        await sock.send({"type": "typing", "chat_id": chat_id})
    error = await sock.wait_for(lambda f: f["type"] == "error")
    assert error["error"]["type"] == "rate_limited" and 1 <= error["error"]["retry_after"] <= 10
    still_in(window, 10)
    start_at = len(sock.frames)
    await sock.send({"type": "ping"})
    await sock.wait_for(lambda f: f["type"] == "pong", start=start_at)  # still connected
