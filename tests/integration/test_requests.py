"""Incident requests made of chats, and the request pages' API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from tests.support.client import Api, Desk, Socket, unique

pytestmark = pytest.mark.anyio


async def _active_chat(desk: Desk, group_id: int, tech_api: Api, first: str,
                       name: str = "Erin End-User") -> tuple[dict[str, Any], Api, Socket]:
    """A chat picked up by ``tech_api``, with the requester's socket following it."""
    chat, visitor = await desk.start_chat(group_id, first, name=name)
    assert visitor.token
    user_sock = await desk.socket(visitor.token, resume={chat["id"]: 0})
    await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    return chat, visitor, user_sock


async def _post(api: Api, chat_id: int, body: str) -> dict[str, Any]:
    message: dict[str, Any] = await api.ok("POST", f"/chats/{chat_id}/messages", 201,
                                           json={"body": body, "client_msg_id": unique("c")})
    return message


def _is_event(chat_id: int, event: str) -> Any:
    return lambda f: f["type"] == "message" and f["chat_id"] == chat_id and f["data"]["event"] == event


async def test_convert_while_active_links_a_request_without_the_conversation(desk: Desk) -> None:
    group = await desk.group()
    _, owner_api, owner_sock = await desk.technician([group["id"]])
    helper, _, helper_sock = await desk.technician([group["id"]])
    assert owner_sock and helper_sock
    first = unique("zebra") + " my VPN drops every hour"
    chat, visitor, user_sock = await _active_chat(desk, group["id"], owner_api, first, name="Quentin Quokka")
    await owner_api.ok("POST", f"/chats/{chat['id']}/invite", json={"technician_id": helper["id"]})
    texts = [first,
             (await _post(visitor, chat["id"], unique("narwhal") + " it started on Monday"))["body"],
             (await _post(owner_api, chat["id"], unique("axolotl") + " please restart the client"))["body"]]

    created = await owner_api.request("POST", f"/chats/{chat['id']}/request")
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["source"] == "live_chat" and request["status"] == "open"
    assert request["chat_id"] == chat["id"] and request["group_id"] == group["id"]
    assert request["subject"] == chat["subject"]
    description = request["description"]
    for text in texts:
        assert text not in description
        assert text.split()[0] not in description  # not even the distinctive word
    assert f"#{chat['id']}" in description
    assert "Quentin Quokka" in description and "erin@example.com" in description

    assert (await owner_api.ok("GET", f"/chats/{chat['id']}"))["request_id"] == request["id"]
    for sock in (user_sock, owner_sock, helper_sock):
        linked = await sock.wait_for(_is_event(chat["id"], "request_linked"))
        assert f"#{request['id']}" in linked["data"]["body"]
        assert request["subject"] in linked["data"]["body"]
    await user_sock.wait_for(lambda f: f["type"] == "chat" and f["data"]["request_id"] == request["id"])
    timeline = (await visitor.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
    assert [m["event"] for m in timeline].count("request_linked") == 1

    again = await owner_api.request("POST", f"/chats/{chat['id']}/request", json={"subject": "Second"})
    assert again.status_code == 409 and again.json()["type"] == "request_already_linked"
    still = await owner_api.ok("GET", f"/chats/{chat['id']}")
    assert still["request_id"] == request["id"] and still["state"] == "active"


async def test_concurrent_converts_link_exactly_one_request(desk: Desk) -> None:
    group = await desk.group()
    _, owner_api, _ = await desk.technician([group["id"]], online=False)
    chat, _, _ = await _active_chat(desk, group["id"], owner_api, "Shared drive is read-only")
    responses = await asyncio.gather(*(owner_api.request("POST", f"/chats/{chat['id']}/request")
                                       for _ in range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses]
    assert all(r.json()["type"] == "request_already_linked" for r in responses if r.status_code == 409)
    listed = await desk.admin.ok("GET", "/requests", params={"limit": 200})
    assert [r["chat_id"] for r in listed["items"]].count(chat["id"]) == 1
    timeline = (await owner_api.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
    assert [m["event"] for m in timeline].count("request_linked") == 1


async def test_add_as_request_after_the_end_holds_the_whole_transcript(desk: Desk) -> None:
    group = await desk.group()
    tech, tech_api, _ = await desk.technician([group["id"]], online=False)
    _, bystander_api, _ = await desk.technician([group["id"]], online=False)
    first = unique("platypus") + " Outlook asks for my password"
    chat, visitor, _ = await _active_chat(desk, group["id"], tech_api, first, name="Rita Requester")
    texts = [first,
             (await _post(tech_api, chat["id"], unique("ibis") + " which version of Outlook?"))["body"],
             (await _post(visitor, chat["id"], unique("okapi") + " the 2021 one\nwith two lines"))["body"]]
    await tech_api.ok("POST", f"/chats/{chat['id']}/end")

    refused = await visitor.request("POST", f"/chats/{chat['id']}/request")
    assert refused.status_code == 403
    outsider = await bystander_api.request("POST", f"/chats/{chat['id']}/request")
    assert outsider.status_code == 403 and outsider.json()["type"] == "forbidden"

    request = await tech_api.ok("POST", f"/chats/{chat['id']}/request", 201, json={"subject": "Outlook login loop"})
    assert request["subject"] == "Outlook login loop" and request["source"] == "live_chat"
    assert request["technician_id"] == tech["id"]
    description = request["description"]
    for text in texts:
        assert text in description
    assert "Rita Requester" in description and tech["name"] in description
    assert "picked up the chat" in description and "ended the chat" in description
    timeline = (await tech_api.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
    for message in timeline:
        if message["event"] == "request_linked":
            continue
        stamp = datetime.fromisoformat(message["created_at"]).strftime("%Y-%m-%d %H:%M:%S")
        assert stamp in description
    assert timeline[-1]["event"] == "request_linked" and f"#{request['id']}" in timeline[-1]["body"]
    ended = await tech_api.ok("GET", f"/chats/{chat['id']}")
    assert ended["request_id"] == request["id"] and ended["state"] == "ended"
    again = await tech_api.request("POST", f"/chats/{chat['id']}/request")
    assert again.status_code == 409 and again.json()["type"] == "request_already_linked"


async def test_waiting_chat_cannot_be_made_a_request(desk: Desk) -> None:
    group = await desk.group()
    chat, _ = await desk.start_chat(group["id"], "Nobody here yet")
    response = await desk.admin.request("POST", f"/chats/{chat['id']}/request")
    assert response.status_code == 409 and response.json()["type"] == "invalid_state"
    assert (await desk.admin.ok("GET", f"/chats/{chat['id']}"))["request_id"] is None


async def test_converted_chat_that_ends_gets_its_transcript_as_a_note(desk: Desk) -> None:
    group = await desk.group()
    _, tech_api, tech_sock = await desk.technician([group["id"]])
    assert tech_sock
    first = unique("kiwi") + " printer offline"
    chat, visitor, _ = await _active_chat(desk, group["id"], tech_api, first)
    before = (await _post(visitor, chat["id"], unique("emu") + " it is the one by the door"))["body"]
    request = await tech_api.ok("POST", f"/chats/{chat['id']}/request", 201)
    after = [(await _post(tech_api, chat["id"], unique("dingo") + " power-cycle it please"))["body"],
             (await _post(visitor, chat["id"], unique("wombat") + " done, it works now"))["body"]]
    await visitor.ok("POST", f"/chats/{chat['id']}/end")

    notes = (await tech_api.ok("GET", f"/requests/{request['id']}/notes"))["items"]
    assert len(notes) == 1
    transcript = notes[0]["body"]
    for text in [first, before, *after]:
        assert text in transcript
    assert "ended the chat" in transcript
    frame = await tech_sock.wait_for(lambda f: f["type"] == "note" and f["chat_id"] == chat["id"])
    assert frame["data"]["id"] == notes[0]["id"]
    assert first not in (await tech_api.ok("GET", f"/requests/{request['id']}"))["description"]


async def _two_requests(desk: Desk) -> tuple[dict[str, Any], Api, dict[str, Any], dict[str, Any]]:
    """A group with a technician and two live-chat requests (made mid-chat) of that group."""
    group = await desk.group()
    tech, tech_api, _ = await desk.technician([group["id"]], online=False)
    made = []
    for subject in ("Monitor flickers", "Keyboard missing keys"):
        chat, _, _ = await _active_chat(desk, group["id"], tech_api, subject)
        made.append(await tech_api.ok("POST", f"/chats/{chat['id']}/request", 201))
    return tech, tech_api, made[0], made[1]


async def test_request_list_filters_and_detail(desk: Desk) -> None:
    _, tech_api, first, second = await _two_requests(desk)
    await tech_api.ok("PATCH", f"/requests/{second['id']}", json={"status": "resolved"})

    def ids(page: dict[str, Any]) -> list[int]:
        return [r["id"] for r in page["items"]]

    everything = await tech_api.ok("GET", "/requests")
    assert ids(everything)[:2] == [second["id"], first["id"]]  # newest first
    live = await tech_api.ok("GET", "/requests", params={"source": "live_chat"})
    assert {first["id"], second["id"]} <= set(ids(live))
    assert all(r["source"] == "live_chat" for r in live["items"])
    missed = await tech_api.ok("GET", "/requests", params={"source": "missed_chat"})
    assert not {first["id"], second["id"]} & set(ids(missed))
    assert all(r["source"] == "missed_chat" for r in missed["items"])
    resolved = await tech_api.ok("GET", "/requests", params={"status": "resolved"})
    assert second["id"] in ids(resolved) and first["id"] not in ids(resolved)
    assert all(r["status"] == "resolved" for r in resolved["items"])
    opened = await tech_api.ok("GET", "/requests", params={"status": "open", "source": "live_chat"})
    assert first["id"] in ids(opened) and second["id"] not in ids(opened)
    for params in ({"source": "email"}, {"status": "pending"}, {"limit": 0}, {"cursor": "abc"}):
        bad = await tech_api.request("GET", "/requests", params=params)
        assert bad.status_code == 422 and bad.json()["type"] == "validation_error", params

    one_page = await tech_api.ok("GET", "/requests", params={"limit": 1})
    assert ids(one_page) == [second["id"]] and one_page["next_cursor"]
    next_page = await tech_api.ok("GET", "/requests", params={"limit": 1, "cursor": one_page["next_cursor"]})
    assert ids(next_page) == [first["id"]]

    detail = await tech_api.ok("GET", f"/requests/{first['id']}")
    assert detail == {**first, "updated_at": detail["updated_at"]}
    assert detail["requester"]["email"] == "erin@example.com"
    missing = await tech_api.request("GET", "/requests/99999999")
    assert missing.status_code == 404 and missing.json()["type"] == "not_found"


async def test_patch_request_status_subject_and_technician(desk: Desk) -> None:
    tech, tech_api, request, _ = await _two_requests(desk)
    colleague, _, _ = await desk.technician([], online=False)
    path = f"/requests/{request['id']}"

    changed = await tech_api.ok("PATCH", path, json={"status": "closed", "subject": "  Monitor replaced  "})
    assert changed["status"] == "closed" and changed["subject"] == "Monitor replaced"
    assigned = await tech_api.ok("PATCH", path, json={"technician_id": colleague["id"]})
    assert assigned["technician_id"] == colleague["id"]
    unassigned = await tech_api.ok("PATCH", path, json={"technician_id": None})
    assert unassigned["technician_id"] is None
    assert (await tech_api.ok("PATCH", path, json={"technician_id": tech["id"]}))["technician_id"] == tech["id"]

    stored = await tech_api.ok("GET", path)
    for bad in ({"status": "done"}, {"status": 3}, {"subject": ""}, {"subject": "   "}, {"subject": "x" * 201},
                {"technician_id": 0}, {"technician_id": "7"}, {"technician_id": 99999999},
                {"source": "missed_chat"}, {"description": "rewritten"}):
        response = await tech_api.request("PATCH", path, json=bad)
        assert response.status_code == 422, (bad, response.status_code, response.text)
        assert response.json()["type"] == "validation_error"
        assert await tech_api.ok("GET", path) == stored, bad


async def test_requests_are_visible_to_their_group_assignee_and_admins(desk: Desk) -> None:
    _, tech_api, request, _ = await _two_requests(desk)
    other_group = await desk.group()
    outsider, outsider_api, _ = await desk.technician([other_group["id"]], online=False)
    path = f"/requests/{request['id']}"

    for method, url, body in (("GET", path, None), ("PATCH", path, {"status": "resolved"}),
                              ("GET", path + "/notes", None), ("POST", path + "/notes", {"body": "peek"})):
        response = await outsider_api.request(method, url, json=body)
        assert response.status_code == 403 and response.json()["type"] == "forbidden", (method, url)
    listed = await outsider_api.ok("GET", "/requests", params={"limit": 200})
    assert request["id"] not in [r["id"] for r in listed["items"]]
    assert (await tech_api.ok("GET", path))["status"] == "open"
    assert (await tech_api.ok("GET", path + "/notes"))["items"] == []

    admin_list = await desk.admin.ok("GET", "/requests", params={"limit": 200})
    assert request["id"] in [r["id"] for r in admin_list["items"]]
    assert (await desk.admin.ok("GET", path))["id"] == request["id"]

    await tech_api.ok("PATCH", path, json={"technician_id": outsider["id"]})
    assert (await outsider_api.ok("GET", path))["technician_id"] == outsider["id"]
    listed = await outsider_api.ok("GET", "/requests", params={"limit": 200})
    assert request["id"] in [r["id"] for r in listed["items"]]

    chat, visitor = await desk.start_chat(other_group["id"], "A requester is no technician")
    for url in ("/requests", path, path + "/notes"):
        assert (await visitor.request("GET", url)).status_code == 403
    anonymous = await desk.api().request("GET", "/requests")
    assert anonymous.status_code == 401 and anonymous.json()["type"] == "unauthorized"
    await visitor.ok("POST", f"/chats/{chat['id']}/end")


async def test_notes_on_the_request_page(desk: Desk) -> None:
    group = await desk.group()
    tech, tech_api, tech_sock = await desk.technician([group["id"]])
    assert tech_sock
    chat, _, user_sock = await _active_chat(desk, group["id"], tech_api, "Laptop fan is loud")
    request = await tech_api.ok("POST", f"/chats/{chat['id']}/request", 201)
    path = f"/requests/{request['id']}/notes"

    first = await tech_api.ok("POST", path, 201, json={"body": "Ordered a new fan"})
    assert first["request_id"] == request["id"] and first["body"] == "Ordered a new fan"
    assert first["author"] == {"kind": "technician", "id": tech["id"], "name": tech["name"]}
    second = await desk.admin.ok("POST", path, 201, json={"body": "Approved the purchase"})
    listed = await tech_api.ok("GET", path)
    assert [n["id"] for n in listed["items"]] == [second["id"], first["id"]]
    frame = await tech_sock.wait_for(lambda f: f["type"] == "note" and f["data"]["id"] == second["id"])
    assert frame["chat_id"] == chat["id"]

    for bad in ({"body": ""}, {"body": "x" * 10_001}, {"text": "wrong field"}, {}):
        response = await tech_api.request("POST", path, json=bad)
        assert response.status_code == 422 and response.json()["type"] == "validation_error", bad
    assert len((await tech_api.ok("GET", path))["items"]) == 2
    missing = await tech_api.request("POST", "/requests/99999999/notes", json={"body": "lost"})
    assert missing.status_code == 404

    await user_sock.send({"type": "ping"})
    await user_sock.wait_for(lambda f: f["type"] == "pong")
    assert not [f for f in user_sock.frames if f["type"] == "note"]


async def test_convert_racing_the_end_of_the_chat_loses_no_conversation(desk: Desk) -> None:
    group = await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]], online=False)
    for _ in range(12):
        said = unique("race") + " the conversation must end up in the request"
        chat, visitor, _ = await _active_chat(desk, group["id"], tech_api, said)
        converted, ended = await asyncio.gather(tech_api.request("POST", f"/chats/{chat['id']}/request"),
                                                visitor.request("POST", f"/chats/{chat['id']}/end"))
        assert ended.status_code == 200, ended.text
        assert converted.status_code in (201, 409), converted.text
        final = await tech_api.ok("GET", f"/chats/{chat['id']}")
        assert final["state"] == "ended"
        if converted.status_code == 409:  # the end won and the convert was told to look again
            assert converted.json()["type"] == "invalid_state" and final["request_id"] is None
            continue
        request = converted.json()
        notes = (await tech_api.ok("GET", f"/requests/{request['id']}/notes"))["items"]
        kept = request["description"] + "".join(n["body"] for n in notes)
        assert said in kept, (request["description"], notes)
