"""Missed chats: a chat nobody picks up in time becomes a "Missed chat" request, exactly once,
also when the server is killed during the wait and with two server processes on one database.

Waiting 10 s per scenario adds up, so the module runs every scenario at once in one fixture
(create all chats first, then wait once) and each test checks what its scenario recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.client import Api, Desk, Socket, unique
from tests.support.server import Server, postgres_database, sqlite_url

pytestmark = pytest.mark.anyio
TIMEOUT = 10  # the smallest missed_chat_timeout_seconds the settings accept
SLACK = 5.0  # "within the timeout plus a few seconds": sweeps run every 0.5 s, the rest is for a busy machine
MANY = 20
ON = {"missed_chat_conversion": True, "missed_chat_timeout_seconds": TIMEOUT}


@dataclass
class Waiter:
    """A chat a requester started, and what we saw of it."""

    chat: dict[str, Any]
    visitor: Api
    texts: list[str]
    started: float
    sock: Socket | None = None
    seen_missed_after: float | None = None  # seconds from start until the requester's socket saw it missed
    final: dict[str, Any] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.chat["id"])

    async def collect(self) -> None:
        """The chat and its timeline as the requester sees them now."""
        self.final = await self.visitor.ok("GET", f"/chats/{self.id}")
        self.timeline = (await self.visitor.ok("GET", f"/chats/{self.id}/messages", params={"limit": 500}))["messages"]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [m for m in self.timeline if m["event"] == event]

    def server_seconds_to_end(self) -> float:
        """How long the chat waited, by the server's own clock."""
        ended, created = self.final["ended_at"], self.final["created_at"]
        return (datetime.fromisoformat(ended) - datetime.fromisoformat(created)).total_seconds()


async def _waiter(desk: Desk, group_id: int, question: str, *, more: int = 0, socket: bool = False) -> Waiter:
    """A requester starts a chat, writes ``more`` messages while waiting, optionally follows it live."""
    started = time.monotonic()
    chat, visitor = await desk.start_chat(group_id, question, name="Wanda Waiting")
    texts = [question]
    for i in range(more):
        body = unique(f"also-{i}") + " and it beeps twice"
        await visitor.ok("POST", f"/chats/{chat['id']}/messages", 201,
                         json={"body": body, "client_msg_id": unique("w")})
        texts.append(body)
    sock = await desk.socket(str(visitor.token), resume={chat["id"]: 0}) if socket else None
    return Waiter(chat, visitor, texts, started, sock)


def _chat_frame(chat_id: int, state: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f["type"] == "chat" and f["data"]["id"] == chat_id and f["data"]["state"] == state


async def _see_missed(waiter: Waiter) -> None:
    """Wait for the requester's socket to show the chat missed; record when."""
    assert waiter.sock is not None
    with contextlib.suppress(TimeoutError):
        await waiter.sock.wait_for(_chat_frame(waiter.id, "missed"), timeout=TIMEOUT + SLACK + 5)
        waiter.seen_missed_after = time.monotonic() - waiter.started


async def _requests_of(api: Api, chat_ids: set[int]) -> list[dict[str, Any]]:
    """Every request (all pages) that came from these chats."""
    found, cursor = [], None
    while True:
        page = await api.ok("GET", "/requests", params={"limit": 200, **({"cursor": cursor} if cursor else {})})
        found += [r for r in page["items"] if r["chat_id"] in chat_ids]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def _serve(stack: contextlib.AsyncExitStack, *servers: Server) -> Desk:
    """Start server processes side by side, stopped when the module ends; a desk on the first."""
    stack.push_async_callback(_stop, servers)
    await asyncio.gather(*(asyncio.to_thread(s.start) for s in servers))
    return await _desk(stack, servers[0])


async def _stop(servers: tuple[Server, ...]) -> None:
    await asyncio.gather(*(asyncio.to_thread(s.stop) for s in servers))


async def _desk(stack: contextlib.AsyncExitStack, server: Server) -> Desk:
    desk = await Desk(server.url, server.ws_url).start()
    stack.push_async_callback(desk.close)
    return desk


# -- the scenarios --------------------------------------------------------------------------


async def _setting_off(stack: contextlib.AsyncExitStack, server: Server) -> dict[str, Any]:
    """On the shared server: conversion off with a 10 s timeout; a waiting chat outlives it."""
    desk = await _desk(stack, server)
    before = await desk.admin.ok("GET", "/settings")
    try:
        await desk.admin.ok("PATCH", "/settings", json={**ON, "missed_chat_conversion": False})
        group = await desk.group()
        _, tech_api, tech_sock = await desk.technician([group["id"]])
        waiter = await _waiter(desk, group["id"], "Off: the scanner is jammed", more=1, socket=True)
        await asyncio.sleep(TIMEOUT + 3)  # nothing is supposed to happen: there is no frame to wait for
        await waiter.collect()
        queue = await tech_api.ok("GET", "/chats", params={"state": "waiting"})
        return {"waiter": waiter, "waited": time.monotonic() - waiter.started, "tech_api": tech_api,
                "tech_sock": tech_sock, "queue": [c["id"] for c in queue["items"]],
                "requests": await _requests_of(desk.admin, {waiter.id})}
    finally:
        await desk.admin.ok("PATCH", "/settings", json=before)


async def _turned_off_again(stack: contextlib.AsyncExitStack, srv: Server) -> dict[str, Any]:
    """A fresh server: a chat starts while conversion is on, then an admin turns it off; another starts."""
    desk = await _serve(stack, srv)
    group = await desk.group()
    await desk.admin.ok("PATCH", "/settings", json=ON)
    scheduled = await _waiter(desk, group["id"], "Scheduled, then the setting went off")
    settings = await desk.admin.ok("PATCH", "/settings", json={"missed_chat_conversion": False})
    later = await _waiter(desk, group["id"], "Started while off")
    await asyncio.sleep(max(0.0, later.started + TIMEOUT + 3 - time.monotonic()))  # nothing may happen
    for waiter in (scheduled, later):
        await waiter.collect()
    return {"settings": settings, "waiters": [scheduled, later], "waited": time.monotonic() - scheduled.started,
            "requests": await _requests_of(desk.admin, {scheduled.id, later.id})}


async def _conversion_on(stack: contextlib.AsyncExitStack, srv: Server) -> dict[str, Any]:
    """A fresh server: one chat waits before the setting goes on; then missed, picked-up and ended chats."""
    desk = await _serve(stack, srv)
    group = await desk.group()
    _, tech_api, tech_sock = await desk.technician([group["id"]])
    existing = await _waiter(desk, group["id"], "Existing: VPN will not connect", socket=True)
    settings = await desk.admin.ok("PATCH", "/settings", json=ON)
    missed = await _waiter(desk, group["id"], "Outlook keeps crashing\nsince the update", more=2, socket=True)
    picked = await _waiter(desk, group["id"], "Picked: monitor is blank", socket=True)
    ended = await _waiter(desk, group["id"], "Ended: never mind", socket=True)
    await tech_api.ok("POST", f"/chats/{picked.id}/pickup")
    await ended.visitor.ok("POST", f"/chats/{ended.id}/end")
    await asyncio.gather(_see_missed(existing), _see_missed(missed))
    # the picked-up and ended chats fell due with the missed one; give the sweeper a few more rounds
    await asyncio.sleep(max(0.0, ended.started + TIMEOUT + 1.5 - time.monotonic()))
    for waiter in (existing, missed, picked, ended):
        await waiter.collect()
    chat_ids = {w.id for w in (existing, missed, picked, ended)}
    return {"settings": settings, "existing": existing, "missed": missed, "picked": picked, "ended": ended,
            "tech_api": tech_api, "tech_sock": tech_sock, "admin": desk.admin,
            "requests": await _requests_of(desk.admin, chat_ids)}


async def _killed_during_the_wait(stack: contextlib.AsyncExitStack, url: str) -> dict[str, Any]:
    """A chat waits; the server is SIGKILLed; a new process on the same database converts it."""
    first = Server(url)
    async with contextlib.AsyncExitStack() as first_life:
        desk = await _serve(first_life, first)
        group = await desk.group()
        await desk.admin.ok("PATCH", "/settings", json=ON)
        waiter = await _waiter(desk, group["id"], "Restart: laptop will not boot", more=1)
        await asyncio.to_thread(first.kill)
        killed_after = time.monotonic() - waiter.started
    desk = await _serve(stack, Server(url, data_dir=first.data_dir))
    waiter.visitor = desk.api(waiter.visitor.token)
    waiter.sock = await desk.socket(str(waiter.visitor.token), resume={waiter.id: 0})
    await _see_missed(waiter)
    await waiter.collect()
    return {"waiter": waiter, "killed_after": killed_after, "requests": await _requests_of(desk.admin, {waiter.id})}


async def _two_processes(stack: contextlib.AsyncExitStack, url: str) -> dict[str, Any]:
    """Two processes sweep one database; many chats fall due together.

    PostgreSQL is how deskchat scales out: both processes start at once. SQLite is for one process,
    but two overlap during a rolling restart: there the second starts once the first is up.
    """
    one, two = Server(url), Server(url)
    if url.startswith("sqlite"):
        desks = [await _serve(stack, one), await _serve(stack, two)]
    else:
        desks = [await _serve(stack, one, two), await _desk(stack, two)]
    group = await desks[0].group()
    await desks[0].admin.ok("PATCH", "/settings", json=ON)
    waiters = await asyncio.gather(*(_waiter(desks[i % 2], group["id"], f"Burst {i}: disk full")
                                     for i in range(MANY)))
    deadline = max(w.started for w in waiters) + TIMEOUT + SLACK + 5
    ids = {w.id for w in waiters}
    while time.monotonic() < deadline:  # no one socket sees both processes' events: ask the database
        if {r["chat_id"] for r in await _requests_of(desks[0].admin, ids)} == ids:
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(1.5)  # three more sweeps of each process: a second conversion would show by now
    for waiter in waiters:
        await waiter.collect()
    return {"waiters": waiters, "requests": await _requests_of(desks[0].admin, ids)}


@pytest.fixture(scope="module")
async def run(server: Server) -> AsyncIterator[dict[str, Any]]:
    """Every scenario at once on this backend; each test then checks its own."""
    sqlite = server.env["DESKCHAT_DATABASE_URL"].startswith("sqlite")
    with contextlib.ExitStack() as databases:
        def database() -> str:
            if sqlite:
                return sqlite_url(Path(tempfile.mkdtemp(prefix="deskchat-missed-")))
            return databases.enter_context(postgres_database())

        async with contextlib.AsyncExitStack() as stack:
            scenarios: dict[str, Awaitable[dict[str, Any]]] = {
                "off": _setting_off(stack, server), "off_again": _turned_off_again(stack, Server(database())),
                "on": _conversion_on(stack, Server(database())),
                "restart": _killed_during_the_wait(stack, database()),
                "two": _two_processes(stack, database()),
            }
            results = await asyncio.gather(*scenarios.values(), return_exceptions=True)
            yield dict(zip(scenarios, results, strict=True))


def _result(run: dict[str, Any], name: str) -> dict[str, Any]:
    found = run[name]
    if isinstance(found, BaseException):
        raise found
    assert isinstance(found, dict)
    return found


def _check_missed_request(waiter: Waiter, requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Exactly one missed_chat request made of the chat, as API.md describes it."""
    mine = [r for r in requests if r["chat_id"] == waiter.id]
    assert len(mine) == 1, mine
    request = mine[0]
    assert request["source"] == "missed_chat" and request["status"] == "open"
    assert request["subject"] == f"Missed chat: {waiter.chat['subject']}"
    for text in waiter.texts:
        assert text in request["description"]
    assert request["requester"]["name"] == "Wanda Waiting" and request["group_id"] == waiter.chat["group_id"]
    assert waiter.final["state"] == "missed" and waiter.final["request_id"] == request["id"]
    missed = waiter.events("missed")
    assert len(missed) == 1 and f"#{request['id']}" in missed[0]["body"]
    assert missed[0]["seq"] == waiter.final["last_seq"] == len(waiter.timeline)
    return request


# -- the tests ------------------------------------------------------------------------------


async def test_with_the_setting_off_a_waiting_chat_stays_queued(run: dict[str, Any]) -> None:
    off = _result(run, "off")
    waiter: Waiter = off["waiter"]
    assert off["waited"] > TIMEOUT + 2
    assert waiter.final["state"] == "waiting" and waiter.final["request_id"] is None
    assert waiter.id in off["queue"] and off["requests"] == []
    assert not waiter.events("missed")
    assert waiter.sock is not None
    assert not [f for f in waiter.sock.frames if f["type"] == "chat" and f["data"]["state"] != "waiting"]
    picked = await off["tech_api"].ok("POST", f"/chats/{waiter.id}/pickup")  # still in the queue
    assert picked["state"] == "active"


async def test_turning_the_setting_off_unschedules_waiting_chats(run: dict[str, Any]) -> None:
    off = _result(run, "off_again")
    assert off["settings"] == {**ON, "missed_chat_conversion": False, "request_forward_email": None}
    assert off["waited"] > TIMEOUT + 3
    for waiter in off["waiters"]:
        assert waiter.final["state"] == "waiting" and waiter.final["request_id"] is None
        assert not waiter.events("missed")
    assert off["requests"] == []


async def test_settings_are_for_admins_and_checked(desk: Desk) -> None:
    before = await desk.admin.ok("GET", "/settings")
    group = await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]], online=False)
    chat, visitor = await desk.start_chat(group["id"], "May I change the settings?")
    for api in (tech_api, visitor):
        assert (await api.request("GET", "/settings")).status_code == 403
        assert (await api.request("PATCH", "/settings", json=ON)).status_code == 403
    for bad in ({"missed_chat_timeout_seconds": 9}, {"missed_chat_timeout_seconds": 86_401},
                {"missed_chat_timeout_seconds": "10"}, {"missed_chat_conversion": "yes"}, {"sweep": 1}):
        response = await desk.admin.request("PATCH", "/settings", json=bad)
        assert response.status_code == 422 and response.json()["type"] == "validation_error", bad
    assert await desk.admin.ok("GET", "/settings") == before
    await visitor.ok("POST", f"/chats/{chat['id']}/end")


async def test_a_chat_nobody_picks_up_is_missed_with_one_request(run: dict[str, Any]) -> None:
    on = _result(run, "on")
    assert on["settings"] == {**ON, "request_forward_email": None}
    waiter: Waiter = on["missed"]
    assert waiter.seen_missed_after is not None, "the requester never saw the chat missed"
    assert waiter.seen_missed_after <= TIMEOUT + SLACK
    assert TIMEOUT <= waiter.server_seconds_to_end() <= TIMEOUT + SLACK
    request = _check_missed_request(waiter, on["requests"])
    assert "\n".join(waiter.texts) in request["description"]  # what the requester wrote, in order

    assert waiter.sock is not None
    said = await waiter.sock.wait_for(lambda f: f["type"] == "message" and f["data"]["event"] == "missed")
    assert f"#{request['id']}" in said["data"]["body"]
    frame = await waiter.sock.wait_for(_chat_frame(waiter.id, "missed"))
    assert frame["data"]["request_id"] == request["id"]
    mine = await waiter.visitor.ok("GET", "/chats")
    assert [c["request_id"] for c in mine["items"] if c["id"] == waiter.id] == [request["id"]]

    tech_sock: Socket = on["tech_sock"]
    await tech_sock.wait_for(lambda f: f["type"] == "alert" and f["data"]["id"] == waiter.id)
    cleared = await tech_sock.wait_for(lambda f: f["type"] == "alert_cleared" and f["chat_id"] == waiter.id)
    assert cleared["reason"] == "missed"
    seen = await on["tech_api"].ok("GET", f"/requests/{request['id']}")
    assert seen == request

    late = await waiter.visitor.request("POST", f"/chats/{waiter.id}/messages",
                                        json={"body": "hello?", "client_msg_id": unique("late")})
    assert late.status_code == 409 and late.json()["type"] == "invalid_state"
    pickup = await on["tech_api"].request("POST", f"/chats/{waiter.id}/pickup")
    assert pickup.status_code == 409 and pickup.json()["type"] == "invalid_state"
    second = await on["admin"].request("POST", f"/chats/{waiter.id}/request")
    assert second.status_code == 409 and second.json()["type"] == "request_already_linked"


async def test_a_chat_picked_up_or_ended_in_time_is_not_converted(run: dict[str, Any]) -> None:
    on = _result(run, "on")
    picked, ended = on["picked"], on["ended"]
    assert picked.final["state"] == "active" and picked.final["request_id"] is None
    assert ended.final["state"] == "ended" and ended.final["request_id"] is None
    assert not [r for r in on["requests"] if r["chat_id"] in (picked.id, ended.id)]
    assert not picked.events("missed") and not ended.events("missed")
    reasons = {f["chat_id"]: f["reason"] for f in on["tech_sock"].frames if f["type"] == "alert_cleared"}
    assert reasons[picked.id] == "picked_up" and reasons[ended.id] == "ended"
    await on["tech_api"].ok("POST", f"/chats/{picked.id}/messages", 201,
                            json={"body": "Still here, let us continue", "client_msg_id": unique("p")})


async def test_turning_the_setting_on_schedules_chats_already_waiting(run: dict[str, Any]) -> None:
    on = _result(run, "on")
    waiter: Waiter = on["existing"]
    assert waiter.seen_missed_after is not None, "the chat that waited before the setting went on was not missed"
    assert waiter.seen_missed_after <= TIMEOUT + SLACK
    assert TIMEOUT <= waiter.server_seconds_to_end() <= TIMEOUT + SLACK  # counted from when it started waiting
    _check_missed_request(waiter, on["requests"])
    cleared = [f for f in on["tech_sock"].frames if f["type"] == "alert_cleared" and f["chat_id"] == waiter.id]
    assert [f["reason"] for f in cleared] == ["missed"]


async def test_a_server_killed_during_the_wait_loses_nothing(run: dict[str, Any]) -> None:
    restart = _result(run, "restart")
    waiter: Waiter = restart["waiter"]
    assert restart["killed_after"] < TIMEOUT - 1, "the server must die while the chat waits"
    assert waiter.seen_missed_after is not None, "the chat was not missed after the restart"
    assert waiter.seen_missed_after <= TIMEOUT + SLACK
    assert TIMEOUT <= waiter.server_seconds_to_end() <= TIMEOUT + SLACK
    _check_missed_request(waiter, restart["requests"])


async def test_two_processes_convert_each_due_chat_exactly_once(run: dict[str, Any]) -> None:
    two = _result(run, "two")
    waiters: list[Waiter] = two["waiters"]
    assert len(waiters) == MANY
    counts = {w.id: 0 for w in waiters}
    for request in two["requests"]:
        counts[request["chat_id"]] += 1
    assert set(counts.values()) == {1}, counts
    for waiter in waiters:
        _check_missed_request(waiter, two["requests"])
        assert TIMEOUT <= waiter.server_seconds_to_end() <= TIMEOUT + SLACK
