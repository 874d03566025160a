"""Notes from the chat: they go to the linked request and reach technicians, never the requester."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.client import Api, Desk, Socket, unique

pytestmark = pytest.mark.anyio


async def _chat_with_helper(desk: Desk) -> tuple[dict[str, Any], dict[str, Any], Api, Socket, Api, Socket, Api,
                                                  Socket]:
    """An active chat with an owner and an invited helper (both online) and the requester's socket."""
    group = await desk.group()
    _, owner_api, owner_sock = await desk.technician([group["id"]])
    helper, helper_api, helper_sock = await desk.technician([group["id"]])
    assert owner_sock and helper_sock
    chat, visitor = await desk.start_chat(group["id"], "Teams crashes when I share my screen")
    assert visitor.token
    user_sock = await desk.socket(visitor.token, resume={chat["id"]: 0})
    await owner_api.ok("POST", f"/chats/{chat['id']}/pickup")
    await owner_api.ok("POST", f"/chats/{chat['id']}/invite", json={"technician_id": helper["id"]})
    return group, chat, owner_api, owner_sock, helper_api, helper_sock, visitor, user_sock


async def _no_note_reached(user_sock: Socket) -> None:
    """Barrier: a pong queued after the note was delivered elsewhere; the requester saw no note."""
    await user_sock.send({"type": "ping"})
    await user_sock.wait_for(lambda f: f["type"] == "pong", start=len(user_sock.frames))
    assert not [f for f in user_sock.frames if f["type"] == "note"]


async def test_note_without_a_request_is_refused(desk: Desk) -> None:
    _, chat, owner_api, _, _, _, _, _ = await _chat_with_helper(desk)
    before = await owner_api.ok("GET", f"/chats/{chat['id']}")
    response = await owner_api.request("POST", f"/chats/{chat['id']}/notes", json={"body": "Too early"})
    assert response.status_code == 409 and response.json()["type"] == "no_linked_request"
    assert await owner_api.ok("GET", f"/chats/{chat['id']}") == before


async def test_note_goes_to_the_request_and_reaches_technicians_only(desk: Desk) -> None:
    _, chat, owner_api, owner_sock, helper_api, helper_sock, visitor, user_sock = await _chat_with_helper(desk)
    request = await owner_api.ok("POST", f"/chats/{chat['id']}/request", 201)
    body = unique("secret") + " user is on an unsupported GPU driver"

    note = await helper_api.ok("POST", f"/chats/{chat['id']}/notes", 201, json={"body": body})
    assert note["request_id"] == request["id"] and note["body"] == body
    notes = (await owner_api.ok("GET", f"/requests/{request['id']}/notes"))["items"]
    assert [n["id"] for n in notes] == [note["id"]]
    for sock in (owner_sock, helper_sock):
        frame = await sock.wait_for(lambda f: f["type"] == "note" and f["data"]["id"] == note["id"])
        assert frame["chat_id"] == chat["id"] and frame["data"]["body"] == body
    await _no_note_reached(user_sock)

    timeline = (await visitor.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
    assert all(body not in m["body"] for m in timeline)
    assert (await visitor.request("GET", f"/requests/{request['id']}/notes")).status_code == 403

    await owner_api.ok("POST", f"/chats/{chat['id']}/end")  # the transcript note goes to technicians too
    await owner_sock.wait_for(lambda f: f["type"] == "note" and f["data"]["body"].startswith("Chat transcript"))
    await _no_note_reached(user_sock)


async def test_only_technicians_in_the_chat_or_admins_add_notes(desk: Desk) -> None:
    group, chat, owner_api, _, helper_api, _, visitor, _ = await _chat_with_helper(desk)
    request = await owner_api.ok("POST", f"/chats/{chat['id']}/request", 201)
    _, colleague_api, _ = await desk.technician([group["id"]], online=False)
    _, stranger_api, _ = await desk.technician([(await desk.group())["id"]], online=False)
    await helper_api.ok("POST", f"/chats/{chat['id']}/leave")
    path = f"/chats/{chat['id']}/notes"

    for api in (colleague_api, stranger_api, helper_api, visitor):
        response = await api.request("POST", path, json={"body": "Let me add something"})
        assert response.status_code == 403 and response.json()["type"] == "forbidden"
    assert (await desk.api().request("POST", path, json={"body": "anonymous"})).status_code == 401
    assert (await owner_api.ok("GET", f"/requests/{request['id']}/notes"))["items"] == []

    by_admin = await desk.admin.ok("POST", path, 201, json={"body": "Admin note"})
    assert by_admin["author"]["kind"] == "technician"
    for bad in ({"body": ""}, {"body": "   "}, {"body": "x" * 10_001}, {"body": 5}, {"note": "wrong field"}):
        response = await owner_api.request("POST", path, json=bad)
        assert response.status_code == 422 and response.json()["type"] == "validation_error", bad
    missing = await owner_api.request("POST", "/chats/99999999/notes", json={"body": "nowhere"})
    assert missing.status_code == 404
    assert [n["body"] for n in (await owner_api.ok("GET", f"/requests/{request['id']}/notes"))["items"]] == [
        "Admin note"]
