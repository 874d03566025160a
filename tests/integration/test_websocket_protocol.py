"""The WebSocket protocol of API.md: bad frames, authentication, origins, logout, typing, acks."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.support.client import Desk, Socket, open_desk
from tests.support.server import Server, sqlite_server

pytestmark = pytest.mark.anyio
ALLOWED = "https://intranet.example.com"


async def still_up(sock: Socket) -> None:
    """The connection survived: a ping still gets its pong."""
    start = len(sock.frames)
    await sock.send({"type": "ping"})
    await sock.wait_for(lambda f: f["type"] == "pong", start=start)
    assert not sock.closed


async def error_for(sock: Socket, frame: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """Send a frame that must be refused; return the problem of the error frame it gets."""
    start = len(sock.frames)
    await sock.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))
    error = await sock.wait_for(lambda f: f["type"] == "error", start=start)
    problem = error["error"]
    assert {"type", "title", "status", "detail"} <= set(problem), problem
    await still_up(sock)
    return dict(problem)


async def closed_with(ws: Any, timeout: float = 10.0) -> int | None:
    """Read until the server closes; the close code it sent."""
    async def drain() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in ws:
                pass
    await asyncio.wait_for(drain(), timeout)
    return ws.close_code  # type: ignore[no-any-return]


async def next_of(ws: Any, kind: str) -> dict[str, Any]:
    """The next frame of a type (a technician may get its own presence frame first)."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == kind:
            return frame


async def active_chat(desk: Desk) -> tuple[dict[str, Any], Any, Socket, Any, Socket]:
    """A picked-up chat: (chat, technician api, technician socket, visitor api, visitor socket)."""
    group = await desk.group()
    _, tech_api, tech_sock = await desk.technician([group["id"]])
    assert tech_sock
    chat, visitor = await desk.start_chat(group["id"])
    await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    assert visitor.token
    user_sock = await desk.socket(visitor.token, resume={chat["id"]: 0})
    await user_sock.wait_for(lambda f: f["type"] == "chat")
    return chat, tech_api, tech_sock, visitor, user_sock


# -- bad frames: an error frame, and the connection stays up -----------------------------

async def test_bad_frames_get_an_error_frame_and_the_connection_stays_up(desk: Desk) -> None:
    chat, _, _, visitor, sock = await active_chat(desk)
    for raw in ("hello", "{", "", "[1, 2]", "null", '{"type": 5}', "[" * 20_000 + "]" * 20_000):
        problem = await error_for(sock, raw)
        assert (problem["type"], problem["status"]) == ("validation_error", 422), raw[:20]
    problem = await error_for(sock, b'{"type": "ping"}')
    assert problem["type"] == "validation_error" and problem["errors"] == {"frame": "expected a text frame"}
    problem = await error_for(sock, {"type": "shout", "chat_id": chat["id"]})
    assert problem["type"] == "validation_error"
    problem = await error_for(sock, {"type": "ping", "extra": True})
    assert problem["type"] == "validation_error"
    listed = await visitor.ok("GET", f"/chats/{chat['id']}/messages")
    assert listed["last_seq"] == 2  # nothing of that was stored


async def test_bad_sends_get_an_error_naming_the_problem_and_store_nothing(desk: Desk) -> None:
    chat, _, _, visitor, sock = await active_chat(desk)
    chat_id = chat["id"]
    problem = await error_for(sock, {"type": "send", "chat_id": chat_id, "body": "no id"})
    assert problem["type"] == "validation_error" and "client_msg_id" in problem["errors"]
    for frame in [
        {"type": "send", "chat_id": chat_id, "body": "", "client_msg_id": "e1"},
        {"type": "send", "chat_id": chat_id, "body": "   ", "client_msg_id": "e2"},
        {"type": "send", "chat_id": chat_id, "body": "x" * 10_001, "client_msg_id": "e3"},
        {"type": "send", "chat_id": chat_id, "body": 5, "client_msg_id": "e4"},
        {"type": "send", "chat_id": str(chat_id), "body": "hi", "client_msg_id": "e5"},
        {"type": "send", "chat_id": chat_id, "client_msg_id": "e6"},
        {"type": "send", "chat_id": chat_id, "body": "nul\x00", "client_msg_id": "e7"},
        {"type": "send", "chat_id": 2**63, "body": "hi", "client_msg_id": "e8"},
        {"type": "send", "chat_id": 2**31, "body": "hi", "client_msg_id": "e9"},
        {"type": "typing", "chat_id": 2**63},
        {"type": "resume", "chats": {"abc": 0}},
        {"type": "resume", "chats": {str(2**63): 0}},
        {"type": "resume", "chats": {str(chat_id): 2**63}},
        {"type": "auth", "token": visitor.token},  # already authenticated
    ]:
        problem = await error_for(sock, frame)
        assert problem["type"] == "validation_error", (frame, problem)
    problem = await error_for(sock, {"type": "send", "chat_id": 2**31 - 1, "body": "hi", "client_msg_id": "nf"})
    assert problem["type"] == "not_found"
    problem = await error_for(sock, {"type": "send", "chat_id": chat_id, "canned_message_id": 1,
                                     "client_msg_id": "canned"})
    assert problem["type"] == "forbidden"  # canned messages are for technicians
    listed = await visitor.ok("GET", f"/chats/{chat_id}/messages")
    assert listed["last_seq"] == 2 and len(listed["messages"]) == 2


async def test_a_send_to_an_ended_chat_is_invalid_state_with_the_client_msg_id(desk: Desk) -> None:
    chat, tech_api, tech_sock, visitor, sock = await active_chat(desk)
    await visitor.ok("POST", f"/chats/{chat['id']}/end")
    await sock.wait_for(lambda f: f["type"] == "chat" and f["data"]["state"] == "ended")
    start = len(sock.frames)
    await sock.send({"type": "send", "chat_id": chat["id"], "body": "one more thing", "client_msg_id": "late"})
    error = await sock.wait_for(lambda f: f["type"] == "error", start=start)
    assert error["client_msg_id"] == "late" and error["error"]["type"] == "invalid_state"
    assert error["error"]["status"] == 409
    await still_up(sock)
    start = len(tech_sock.frames)
    await tech_sock.send({"type": "send", "chat_id": chat["id"], "body": "bye", "client_msg_id": "t-late"})
    error = await tech_sock.wait_for(lambda f: f["type"] == "error", start=start)
    assert error["client_msg_id"] == "t-late" and error["error"]["type"] == "invalid_state"
    await still_up(tech_sock)
    assert (await tech_api.ok("GET", f"/chats/{chat['id']}/messages"))["last_seq"] == 3  # + ended


async def test_sends_to_someone_elses_chat_are_forbidden(desk: Desk) -> None:
    chat, _, _, _, _ = await active_chat(desk)
    other_group = await desk.group()
    _, other_visitor = await desk.start_chat(other_group["id"], "mine")
    _, _, outsider_sock = await desk.technician([other_group["id"]])
    assert other_visitor.token and outsider_sock
    intruder = await desk.socket(other_visitor.token)
    for sock in (intruder, outsider_sock):
        problem = await error_for(sock, {"type": "send", "chat_id": chat["id"], "body": "hi", "client_msg_id": "x"})
        assert problem["type"] == "forbidden"
        problem = await error_for(sock, {"type": "resume", "chats": {str(chat["id"]): 0}})
        assert problem["type"] == "forbidden"
        problem = await error_for(sock, {"type": "typing", "chat_id": chat["id"]})
        assert problem["type"] == "forbidden"
    await asyncio.sleep(0.2)
    assert not [f for f in intruder.frames if f["type"] == "message"]


# -- authentication --------------------------------------------------------------------

async def test_a_bad_or_missing_token_gets_an_error_frame_and_close_1008(desk: Desk) -> None:
    firsts: list[Any] = [{"type": "auth", "token": "not-a-token"}, {"type": "auth", "token": "x" * 500},
                         {"type": "auth", "token": ""}, {"type": "auth"}, {"type": "ping"}, "not json",
                         b"binary", {"type": "auth", "token": "t", "admin": True}]
    for first in firsts:
        async with websockets.connect(desk.ws_url) as ws:
            await ws.send(first if isinstance(first, str | bytes) else json.dumps(first))
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert frame["type"] == "error" and frame["error"]["status"] in (401, 422), first
            assert await closed_with(ws) == 1008, first


async def test_a_revoked_token_is_refused(desk: Desk) -> None:
    group = await desk.group()
    _, api, _ = await desk.technician([group["id"]], online=False)
    token = api.token
    await api.ok("POST", "/auth/logout", 204)
    async with websockets.connect(desk.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert frame["error"]["type"] == "unauthorized"
        assert await closed_with(ws) == 1008


async def _cookie_login(desk: Desk, email: str, password: str) -> str:
    api = desk.api()
    response = await api.request("POST", "/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200
    return str(response.cookies["deskchat_session"])


async def test_cookie_auth_from_a_foreign_origin_is_refused_at_the_handshake(desk: Desk) -> None:
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    cookie = await _cookie_login(desk, tech["email"], "password-123")
    for origin in ("https://evil.example", "http://127.0.0.1", "null", ALLOWED):
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(desk.ws_url, additional_headers={
                "Cookie": f"deskchat_session={cookie}", "Origin": origin})
        assert refused.value.response.status_code == 403, origin


async def test_cookie_auth_from_the_servers_own_origin_says_hello(desk: Desk) -> None:
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    cookie = await _cookie_login(desk, tech["email"], "password-123")
    own = desk.base_url  # http://127.0.0.1:<port>
    async with websockets.connect(desk.ws_url, additional_headers={
            "Cookie": f"deskchat_session={cookie}", "Origin": own}) as ws:
        hello = await next_of(ws, "hello")  # no auth frame needed
        assert hello["data"]["id"] == tech["id"]
        await ws.send(json.dumps({"type": "ping"}))
        await next_of(ws, "pong")


@pytest.fixture(scope="module")
def origins_server() -> Iterator[Server]:
    """A server that lets one other site open cookie-authenticated sockets (SQLite is enough)."""
    with sqlite_server({"DESKCHAT_ALLOWED_ORIGINS": ALLOWED}) as srv:
        yield srv


@pytest.fixture
async def origins_desk(origins_server: Server) -> AsyncIterator[Desk]:
    async with open_desk(origins_server) as built:
        yield built


async def test_cookie_auth_from_an_allowed_origin_works_and_others_are_refused(origins_desk: Desk) -> None:
    desk = origins_desk
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    cookie = await _cookie_login(desk, tech["email"], "password-123")
    headers = {"Cookie": f"deskchat_session={cookie}"}
    for origin in (ALLOWED, ALLOWED + "/"):
        async with websockets.connect(desk.ws_url, additional_headers={**headers, "Origin": origin}) as ws:
            hello = await next_of(ws, "hello")
            assert hello["data"]["id"] == tech["id"]
    for origin in ("https://evil.example", "http://intranet.example.com", "https://intranet.example.com.evil.io"):
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(desk.ws_url, additional_headers={**headers, "Origin": origin})
        assert refused.value.response.status_code == 403, origin


# -- logout ----------------------------------------------------------------------------

async def test_logout_closes_the_sockets_of_that_token_only(desk: Desk) -> None:
    group = await desk.group()
    tech, api, laptop = await desk.technician([group["id"]])
    assert laptop and api.token
    phone = await desk.socket(api.token)
    login = await desk.api().ok("POST", "/auth/login", json={"email": tech["email"], "password": "password-123"})
    other_session = await desk.socket(login["token"])
    await api.ok("POST", "/auth/logout", 204)
    for sock in (laptop, phone):
        error = await sock.wait_for(lambda f: f["type"] == "error")
        assert error["error"]["type"] == "unauthorized"
        assert await sock.wait_closed() == 1008  # not "reconnect and resume": the token is gone
    await still_up(other_session)


# -- typing, ack and message -----------------------------------------------------------

async def test_typing_reaches_the_other_side_only(desk: Desk) -> None:
    chat, _, tech_sock, _, user_sock = await active_chat(desk)
    group_id = chat["group_id"]
    _, _, bystander = await desk.technician([group_id])  # same group, not in the chat
    assert bystander
    user_start, tech_start = len(user_sock.frames), len(tech_sock.frames)
    await tech_sock.send({"type": "typing", "chat_id": chat["id"]})
    typing = await user_sock.wait_for(lambda f: f["type"] == "typing", start=user_start)
    assert typing["chat_id"] == chat["id"] and typing["author"]["kind"] == "technician"
    await user_sock.send({"type": "typing", "chat_id": chat["id"]})
    typing = await tech_sock.wait_for(lambda f: f["type"] == "typing", start=tech_start)
    assert typing["author"]["kind"] == "requester" and typing["author"]["name"] == "Erin End-User"
    await still_up(tech_sock)
    await still_up(user_sock)
    await still_up(bystander)
    assert [f["author"]["kind"] for f in tech_sock.frames[tech_start:] if f["type"] == "typing"] == ["requester"]
    assert [f["author"]["kind"] for f in user_sock.frames[user_start:] if f["type"] == "typing"] == ["technician"]
    assert not [f for f in bystander.frames if f["type"] == "typing"]


async def test_the_sender_gets_an_ack_and_the_message_others_get_the_message(desk: Desk) -> None:
    chat, _, tech_sock, visitor, user_sock = await active_chat(desk)
    await user_sock.send({"type": "send", "chat_id": chat["id"], "body": "It is still slow", "client_msg_id": "u-1"})
    ack = await user_sock.wait_for(lambda f: f["type"] == "ack")
    assert ack["client_msg_id"] == "u-1" and ack["message"]["body"] == "It is still slow"
    seq = ack["message"]["seq"]
    own = await user_sock.wait_for(lambda f: f["type"] == "message" and f["seq"] == seq)
    other = await tech_sock.wait_for(lambda f: f["type"] == "message" and f["seq"] == seq)
    assert own["data"] == other["data"] == ack["message"]
    assert own["data"]["author"]["kind"] == "requester" and own["data"]["client_msg_id"] == "u-1"
    await user_sock.send({"type": "send", "chat_id": chat["id"], "body": "again?", "client_msg_id": "u-1"})
    after_ack = user_sock.frames.index(ack) + 1
    repeat = await user_sock.wait_for(lambda f: f["type"] == "ack", start=after_ack)
    assert repeat["message"] == ack["message"]  # the first message, nothing new stored
    await still_up(user_sock)
    assert [f["seq"] for f in user_sock.messages(chat["id"])] == [1, 2, 3]
    assert (await visitor.ok("GET", f"/chats/{chat['id']}/messages"))["last_seq"] == 3
