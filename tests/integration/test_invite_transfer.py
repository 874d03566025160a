"""Invite Other Agents, leave, Transfer this Chat: who may do it, to whom, and what everyone sees."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.client import Api, Desk, Socket, unique

pytestmark = pytest.mark.anyio


async def _active_chat(desk: Desk, group_id: int, owner_api: Api,
                       first: str = "Wi-Fi drops in room 204") -> tuple[dict[str, Any], Api, Socket]:
    chat, visitor = await desk.start_chat(group_id, first)
    assert visitor.token
    user_sock = await desk.socket(visitor.token, resume={chat["id"]: 0})
    await owner_api.ok("POST", f"/chats/{chat['id']}/pickup")
    return chat, visitor, user_sock


async def _post(api: Api, chat_id: int, body: str) -> dict[str, Any]:
    message: dict[str, Any] = await api.ok("POST", f"/chats/{chat_id}/messages", 201,
                                           json={"body": body, "client_msg_id": unique("c")})
    return message


def _event(chat_id: int, event: str) -> Any:
    return lambda f: f["type"] == "message" and f["chat_id"] == chat_id and f["data"]["event"] == event


async def _unreached(sock: Socket, body: str) -> None:
    """Barrier (a pong queued after the event was handled): no frame of this socket carried ``body``."""
    start = len(sock.frames)
    await sock.send({"type": "ping"})
    await sock.wait_for(lambda f: f["type"] == "pong", start=start)
    assert not [f for f in sock.frames if f["type"] == "message" and f["data"]["body"] == body]


async def _away(desk: Desk, group_id: int) -> dict[str, Any]:
    tech, api, sock = await desk.technician([group_id])
    assert sock
    await api.ok("PUT", "/me/status", json={"status": "away"})
    return tech


async def _online_without_socket(desk: Desk, group_id: int) -> dict[str, Any]:
    tech, api, _ = await desk.technician([group_id], online=False)
    await api.ok("PUT", "/me/status", json={"status": "online"})
    return tech


async def test_invite_only_online_technicians_and_nothing_changes_otherwise(desk: Desk) -> None:
    group = await desk.group()
    _, owner_api, _ = await desk.technician([group["id"]])
    chat, _, _ = await _active_chat(desk, group["id"], owner_api)
    offline, _, _ = await desk.technician([group["id"]], online=False)
    away = await _away(desk, group["id"])
    no_socket = await _online_without_socket(desk, group["id"])
    before = await owner_api.ok("GET", f"/chats/{chat['id']}")

    for target in (offline, away, no_socket):
        response = await owner_api.request("POST", f"/chats/{chat['id']}/invite", json={"technician_id": target["id"]})
        assert response.status_code == 409 and response.json()["type"] == "technician_offline", target
    after = await owner_api.ok("GET", f"/chats/{chat['id']}")
    assert after == before
    assert (await owner_api.ok("GET", f"/chats/{chat['id']}/messages"))["last_seq"] == before["last_seq"]
    missing = await owner_api.request("POST", f"/chats/{chat['id']}/invite", json={"technician_id": 99999999})
    assert missing.status_code == 404
    assert await owner_api.ok("GET", f"/chats/{chat['id']}") == before


async def test_invited_technician_gets_history_and_live_messages(desk: Desk) -> None:
    group, other_group = await desk.group(), await desk.group()
    owner, owner_api, owner_sock = await desk.technician([group["id"]])
    guest, guest_api, guest_sock = await desk.technician([other_group["id"]])  # any group may help
    assert owner_sock and guest_sock
    chat, visitor, user_sock = await _active_chat(desk, group["id"], owner_api, unique("history") + " first words")
    early = [(await _post(visitor, chat["id"], unique("early") + " it says no internet"))["body"],
             (await _post(owner_api, chat["id"], unique("early") + " which network?"))["body"]]
    assert (await guest_api.request("GET", f"/chats/{chat['id']}/messages")).status_code == 403
    start = len(guest_sock.frames)
    await guest_sock.send({"type": "resume", "chats": {str(chat["id"]): 0}})
    refused = await guest_sock.wait_for(lambda f: f["type"] == "error", start=start)
    assert refused["error"]["type"] == "forbidden" and not guest_sock.messages(chat["id"])

    invited = await owner_api.ok("POST", f"/chats/{chat['id']}/invite", json={"technician_id": guest["id"]})
    assert invited["participant_ids"] == [owner["id"], guest["id"]] and invited["owner_id"] == owner["id"]
    for sock in (user_sock, owner_sock, guest_sock):
        note = await sock.wait_for(_event(chat["id"], "invited"))
        assert guest["name"] in note["data"]["body"]
    history = (await guest_api.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
    assert [m["seq"] for m in history] == list(range(1, len(history) + 1))
    assert set(early) <= {m["body"] for m in history} and history[0]["body"].endswith("first words")

    live = unique("live") + " it works on the guest network"
    await _post(visitor, chat["id"], live)
    await guest_sock.wait_for(lambda f: f["type"] == "message" and f["data"]["body"] == live)
    reply = await _post(guest_api, chat["id"], unique("reply") + " try forgetting the network")
    await user_sock.wait_for(lambda f: f["type"] == "message" and f["data"]["id"] == reply["id"])

    again = await owner_api.request("POST", f"/chats/{chat['id']}/invite", json={"technician_id": guest["id"]})
    assert again.status_code == 409 and again.json()["type"] == "invalid_state"


async def test_only_participants_or_admins_invite(desk: Desk) -> None:
    group = await desk.group()
    _, owner_api, _ = await desk.technician([group["id"]])
    colleague, colleague_api, _ = await desk.technician([group["id"]])
    helper, helper_api, _ = await desk.technician([group["id"]])
    chat, visitor, _ = await _active_chat(desk, group["id"], owner_api)
    before = await owner_api.ok("GET", f"/chats/{chat['id']}")
    for api in (colleague_api, visitor):
        response = await api.request("POST", f"/chats/{chat['id']}/invite", json={"technician_id": helper["id"]})
        assert response.status_code == 403 and response.json()["type"] == "forbidden"
    assert await owner_api.ok("GET", f"/chats/{chat['id']}") == before
    by_admin = await desk.admin.ok("POST", f"/chats/{chat['id']}/invite", json={"technician_id": helper["id"]})
    assert helper["id"] in by_admin["participant_ids"]
    by_helper = await helper_api.ok("POST", f"/chats/{chat['id']}/invite", json={"technician_id": colleague["id"]})
    assert colleague["id"] in by_helper["participant_ids"]


async def test_a_participant_leaves_and_can_no_longer_write_over_rest_or_websocket(desk: Desk) -> None:
    group = await desk.group()
    owner, owner_api, owner_sock = await desk.technician([group["id"]])
    helper, helper_api, helper_sock = await desk.technician([group["id"]])
    assert owner_sock and helper_sock
    chat, visitor, user_sock = await _active_chat(desk, group["id"], owner_api)
    await owner_api.ok("POST", f"/chats/{chat['id']}/invite", json={"technician_id": helper["id"]})

    owner_leaves = await owner_api.request("POST", f"/chats/{chat['id']}/leave")
    assert owner_leaves.status_code == 409 and owner_leaves.json()["type"] == "invalid_state"
    left = await helper_api.ok("POST", f"/chats/{chat['id']}/leave")
    assert left["participant_ids"] == [owner["id"]] and left["owner_id"] == owner["id"]
    for sock in (user_sock, owner_sock, helper_sock):
        frame = await sock.wait_for(_event(chat["id"], "left"))
        assert helper["name"] in frame["data"]["body"]
    again = await helper_api.request("POST", f"/chats/{chat['id']}/leave")
    assert again.status_code == 403

    refused = await helper_api.request("POST", f"/chats/{chat['id']}/messages",
                                       json={"body": "still here?", "client_msg_id": "h1"})
    assert refused.status_code == 403 and refused.json()["type"] == "forbidden"
    await helper_sock.send({"type": "send", "chat_id": chat["id"], "body": "still here?", "client_msg_id": "h2"})
    error = await helper_sock.wait_for(lambda f: f["type"] == "error" and f.get("client_msg_id") == "h2")
    assert error["error"]["type"] == "forbidden"
    start = len(helper_sock.frames)
    await helper_sock.send({"type": "typing", "chat_id": chat["id"]})
    error = await helper_sock.wait_for(lambda f: f["type"] == "error", start=start)
    assert error["error"]["type"] == "forbidden"
    for action, body in (("invite", {"technician_id": owner["id"]}), ("notes", {"body": "n"}),
                         ("transfer", {"technician_id": owner["id"]})):
        response = await helper_api.request("POST", f"/chats/{chat['id']}/{action}", json=body)
        assert response.status_code == 403, action

    after = unique("after") + " is anyone there?"
    await _post(visitor, chat["id"], after)
    await owner_sock.wait_for(lambda f: f["type"] == "message" and f["data"]["body"] == after)
    await _unreached(helper_sock, after)
    history = (await helper_api.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]  # took part: may read
    assert after in [m["body"] for m in history]
    assert "still here?" not in [m["body"] for m in history]


async def test_transfer_within_the_group(desk: Desk) -> None:
    group = await desk.group()
    owner, owner_api, owner_sock = await desk.technician([group["id"]])
    target, target_api, target_sock = await desk.technician([group["id"]])
    assert owner_sock and target_sock
    chat, visitor, user_sock = await _active_chat(desk, group["id"], owner_api)

    moved = await owner_api.ok("POST", f"/chats/{chat['id']}/transfer", json={"technician_id": target["id"]})
    assert moved["owner_id"] == target["id"] and moved["participant_ids"] == [target["id"]]
    assert moved["group_id"] == group["id"] and moved["state"] == "active"
    said = await user_sock.wait_for(_event(chat["id"], "transferred"))
    assert target["name"] in said["data"]["body"]
    await target_sock.wait_for(_event(chat["id"], "transferred"))
    await owner_sock.wait_for(_event(chat["id"], "transferred"))
    await owner_sock.wait_for(lambda f: f["type"] == "chat" and f["data"]["owner_id"] == target["id"])

    refused = await owner_api.request("POST", f"/chats/{chat['id']}/messages",
                                      json={"body": "me again", "client_msg_id": "o1"})
    assert refused.status_code == 403
    await owner_sock.send({"type": "send", "chat_id": chat["id"], "body": "me again", "client_msg_id": "o2"})
    error = await owner_sock.wait_for(lambda f: f["type"] == "error" and f.get("client_msg_id") == "o2")
    assert error["error"]["type"] == "forbidden"
    back = await owner_api.request("POST", f"/chats/{chat['id']}/transfer", json={"technician_id": owner["id"]})
    assert back.status_code == 403
    await _post(target_api, chat["id"], "I have taken over")
    await user_sock.wait_for(lambda f: f["type"] == "message" and f["data"]["body"] == "I have taken over")
    timeline = (await visitor.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
    assert [m["event"] for m in timeline].count("transferred") == 1
    assert [f["data"]["event"] for f in user_sock.messages(chat["id"])].count("transferred") == 1


async def test_transfer_to_another_group_follows_the_group_rules(desk: Desk) -> None:
    here, there, third = await desk.group(), await desk.group(), await desk.group()
    _, owner_api, _ = await desk.technician([here["id"]])
    only_there, only_there_api, _ = await desk.technician([there["id"]])
    two_groups, two_groups_api, _ = await desk.technician([third["id"], there["id"]])
    everywhere, _, _ = await desk.technician([there["id"], here["id"]])

    chat, _, _ = await _active_chat(desk, here["id"], owner_api)
    moved = await owner_api.ok("POST", f"/chats/{chat['id']}/transfer", json={"technician_id": only_there["id"]})
    assert moved["group_id"] == there["id"] and moved["owner_id"] == only_there["id"]
    moved = await only_there_api.ok("POST", f"/chats/{chat['id']}/transfer", json={"technician_id": two_groups["id"]})
    assert moved["group_id"] == there["id"]  # the target is in the chat's group: it stays
    moved = await two_groups_api.ok("POST", f"/chats/{chat['id']}/transfer",
                                    json={"technician_id": everywhere["id"], "group_id": here["id"]})
    assert moved["group_id"] == here["id"]

    first_group = await _active_chat(desk, here["id"], owner_api)
    moved = await owner_api.ok("POST", f"/chats/{first_group[0]['id']}/transfer",
                               json={"technician_id": two_groups["id"]})
    assert moved["group_id"] == min(there["id"], third["id"])  # not in the chat's group: their first group

    chat, _, _ = await _active_chat(desk, here["id"], owner_api)
    before = await owner_api.ok("GET", f"/chats/{chat['id']}")
    for group_id in (here["id"], 99999999):
        response = await owner_api.request("POST", f"/chats/{chat['id']}/transfer",
                                           json={"technician_id": only_there["id"], "group_id": group_id})
        assert response.status_code == 422 and response.json()["type"] == "validation_error", group_id
    assert await owner_api.ok("GET", f"/chats/{chat['id']}") == before
    explicit = await owner_api.ok("POST", f"/chats/{chat['id']}/transfer",
                                  json={"technician_id": two_groups["id"], "group_id": third["id"]})
    assert explicit["group_id"] == third["id"]


async def test_only_the_owner_or_an_admin_transfers_and_only_to_online_technicians(desk: Desk) -> None:
    group = await desk.group()
    owner, owner_api, _ = await desk.technician([group["id"]])
    helper, helper_api, _ = await desk.technician([group["id"]])
    target, _, _ = await desk.technician([group["id"]])
    offline, _, _ = await desk.technician([group["id"]], online=False)
    away = await _away(desk, group["id"])
    no_socket = await _online_without_socket(desk, group["id"])
    chat, visitor, _ = await _active_chat(desk, group["id"], owner_api)
    await owner_api.ok("POST", f"/chats/{chat['id']}/invite", json={"technician_id": helper["id"]})
    before = await owner_api.ok("GET", f"/chats/{chat['id']}")

    for api in (helper_api, visitor):
        response = await api.request("POST", f"/chats/{chat['id']}/transfer", json={"technician_id": target["id"]})
        assert response.status_code == 403 and response.json()["type"] == "forbidden"
    for tech in (offline, away, no_socket):
        response = await owner_api.request("POST", f"/chats/{chat['id']}/transfer", json={"technician_id": tech["id"]})
        assert response.status_code == 409 and response.json()["type"] == "technician_offline", tech
    assert await owner_api.ok("GET", f"/chats/{chat['id']}") == before
    timeline = (await owner_api.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
    assert "transferred" not in [m["event"] for m in timeline]

    by_admin = await desk.admin.ok("POST", f"/chats/{chat['id']}/transfer", json={"technician_id": helper["id"]})
    assert by_admin["owner_id"] == helper["id"] and by_admin["participant_ids"] == [helper["id"]]
    assert owner["id"] not in by_admin["participant_ids"]
    said = (await visitor.ok("GET", f"/chats/{chat['id']}/messages"))["messages"][-1]
    assert said["event"] == "transferred" and helper["name"] in said["body"]
    ended = await visitor.ok("POST", f"/chats/{chat['id']}/end")
    late = await helper_api.request("POST", f"/chats/{chat['id']}/transfer", json={"technician_id": target["id"]})
    assert late.status_code == 409 and late.json()["type"] == "invalid_state"
    assert (await helper_api.ok("GET", f"/chats/{chat['id']}")) == ended


async def test_concurrent_invites_of_one_technician_add_them_once(desk: Desk) -> None:
    group = await desk.group()
    _, owner_api, _ = await desk.technician([group["id"]])
    helper, helper_api, _ = await desk.technician([group["id"]])
    guest, guest_api, _ = await desk.technician([group["id"]])

    async def invite_twice(chat_id: int) -> None:
        responses = await asyncio.gather(
            owner_api.request("POST", f"/chats/{chat_id}/invite", json={"technician_id": guest["id"]}),
            helper_api.request("POST", f"/chats/{chat_id}/invite", json={"technician_id": guest["id"]}))
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["type"] == "invalid_state"
        final = await owner_api.ok("GET", f"/chats/{chat_id}")
        assert final["participant_ids"].count(guest["id"]) == 1

    for _ in range(4):
        chat, _, _ = await _active_chat(desk, group["id"], owner_api)
        await owner_api.ok("POST", f"/chats/{chat['id']}/invite", json={"technician_id": helper["id"]})
        await invite_twice(chat["id"])
        await guest_api.ok("POST", f"/chats/{chat['id']}/leave")
        await invite_twice(chat["id"])  # invited again after leaving
        timeline = (await owner_api.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
        assert [m["event"] for m in timeline].count("invited") == 3


async def test_leaving_twice_at_once_leaves_once(desk: Desk) -> None:
    group = await desk.group()
    _, owner_api, _ = await desk.technician([group["id"]])
    helper, helper_api, _ = await desk.technician([group["id"]])
    for _ in range(4):
        chat, _, _ = await _active_chat(desk, group["id"], owner_api)
        await owner_api.ok("POST", f"/chats/{chat['id']}/invite", json={"technician_id": helper["id"]})
        responses = await asyncio.gather(*(helper_api.request("POST", f"/chats/{chat['id']}/leave") for _ in range(2)))
        assert sorted(r.status_code for r in responses) == [200, 403], [r.text for r in responses]
        timeline = (await owner_api.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
        assert [m["event"] for m in timeline].count("left") == 1
