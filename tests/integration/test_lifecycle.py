"""The chat lifecycle over REST and WebSocket, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets

from tests.support.client import Desk

pytestmark = pytest.mark.anyio


async def test_online_technicians_of_the_group_are_alerted_and_alert_clears_on_pickup(desk: Desk) -> None:
    group, other = await desk.group(), await desk.group()
    _, api_a, sock_a = await desk.technician([group["id"]])
    _, _, sock_b = await desk.technician([group["id"]])
    _, _, sock_other = await desk.technician([other["id"]])
    _, _, sock_away = await desk.technician([group["id"]])
    assert sock_a and sock_b and sock_other and sock_away
    await sock_away.send({"type": "ping"})
    chat, _ = await desk.start_chat(group["id"], "Printer jam on floor 3")
    alert = await sock_b.wait_for(lambda f: f["type"] == "alert" and f["data"]["id"] == chat["id"])
    assert alert["data"]["subject"] == "Printer jam on floor 3"
    picked = await api_a.ok("POST", f"/chats/{chat['id']}/pickup")
    assert picked["state"] == "active"
    cleared = await sock_b.wait_for(lambda f: f["type"] == "alert_cleared" and f["chat_id"] == chat["id"])
    assert cleared["reason"] == "picked_up"
    await asyncio.sleep(0.3)
    assert not [f for f in sock_other.frames if f["type"] == "alert" and f["data"]["id"] == chat["id"]]


async def test_messages_flow_both_ways_in_seq_order(desk: Desk) -> None:
    group = await desk.group()
    _, tech_api, tech_sock = await desk.technician([group["id"]])
    chat, visitor = await desk.start_chat(group["id"])
    assert visitor.token and tech_sock
    user_sock = await desk.socket(visitor.token, resume={chat["id"]: 0})
    await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    await tech_sock.send({"type": "send", "chat_id": chat["id"], "body": "Hello, I can help",
                          "client_msg_id": "t1"})
    ack = await tech_sock.wait_for(lambda f: f["type"] == "ack")
    assert ack["message"]["body"] == "Hello, I can help"
    await user_sock.send({"type": "send", "chat_id": chat["id"], "body": "Thanks!", "client_msg_id": "u1"})
    await user_sock.wait_for(lambda f: f["type"] == "message" and f["data"]["body"] == "Thanks!")
    await tech_sock.wait_for(lambda f: f["type"] == "message" and f["data"]["body"] == "Thanks!")
    seqs = [f["seq"] for f in user_sock.messages(chat["id"])]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 4  # question, picked_up, hello, thanks
    listed = await visitor.ok("GET", f"/chats/{chat['id']}/messages")
    assert [m["seq"] for m in listed["messages"]] == [1, 2, 3, 4]
    assert listed["messages"][1]["event"] == "picked_up"


async def test_fifty_chats_ten_technicians_pick_up_at_once_exactly_one_wins(desk: Desk) -> None:
    group = await desk.group()
    techs = [await desk.technician([group["id"]], online=False) for _ in range(10)]
    chats = [(await desk.start_chat(group["id"], f"chat {i}"))[0] for i in range(50)]

    async def pick(api: object, chat_id: int) -> int:
        return (await api.request("POST", f"/chats/{chat_id}/pickup")).status_code  # type: ignore[attr-defined]

    for chat in chats:
        statuses = await asyncio.gather(*(pick(api, chat["id"]) for _, api, _ in techs))
        assert sorted(statuses) == [200] + [409] * 9, statuses
    one = await desk.admin.ok("GET", f"/chats/{chats[0]['id']}")
    assert len(one["participant_ids"]) == 1


async def test_concurrent_pickups_across_all_chats_at_once(desk: Desk) -> None:
    group = await desk.group()
    techs = [await desk.technician([group["id"]], online=False) for _ in range(10)]
    chats = [(await desk.start_chat(group["id"], f"burst {i}"))[0] for i in range(50)]
    calls = [api.request("POST", f"/chats/{c['id']}/pickup") for c in chats for _, api, _ in techs]
    responses = await asyncio.gather(*calls)
    by_chat: dict[int, list[int]] = {}
    for response, (chat, _) in zip(responses, [(c, t) for c in chats for t in techs], strict=True):
        by_chat.setdefault(chat["id"], []).append(response.status_code)
        if response.status_code == 409:
            assert response.json()["type"] == "already_picked_up"
    assert all(sorted(s) == [200] + [409] * 9 for s in by_chat.values())


async def test_repeated_client_msg_id_returns_the_first_message(desk: Desk) -> None:
    group = await desk.group()
    chat, visitor = await desk.start_chat(group["id"])
    first = await visitor.request("POST", f"/chats/{chat['id']}/messages", json={"body": "one", "client_msg_id": "x"})
    again = await visitor.request("POST", f"/chats/{chat['id']}/messages", json={"body": "two", "client_msg_id": "x"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    listed = await visitor.ok("GET", f"/chats/{chat['id']}/messages")
    assert [m["body"] for m in listed["messages"]] == ["My laptop will not start", "one"]


async def test_resume_delivers_every_missed_message_once_in_order(desk: Desk) -> None:
    group = await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]])
    chat, visitor = await desk.start_chat(group["id"])
    assert visitor.token
    user_sock = await desk.socket(visitor.token, resume={chat["id"]: 0})
    await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    await user_sock.wait_for(lambda f: f["type"] == "message" and f["seq"] == 2)
    await user_sock.close()
    for i in range(20):
        await tech_api.ok("POST", f"/chats/{chat['id']}/messages", 201,
                          json={"body": f"m{i}", "client_msg_id": f"c{i}"})
    back = await desk.socket(visitor.token, resume={chat["id"]: 2})
    await back.wait_for(lambda f: f["type"] == "chat")
    await tech_api.ok("POST", f"/chats/{chat['id']}/messages", 201, json={"body": "live", "client_msg_id": "live"})
    await back.wait_for(lambda f: f["type"] == "message" and f["data"]["body"] == "live")
    seqs = [f["seq"] for f in back.messages(chat["id"])]
    assert seqs == list(range(3, 24))
    assert [f["data"]["body"] for f in back.messages(chat["id"])][:20] == [f"m{i}" for i in range(20)]


async def test_a_resume_that_comes_late_still_gets_the_chat_in_seq_order(desk: Desk) -> None:
    """Messages sent between hello and a slow client's resume wait for it: no frame out of order."""
    group = await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]])
    chat, visitor = await desk.start_chat(group["id"])
    assert visitor.token
    await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    for i in range(3):
        await tech_api.ok("POST", f"/chats/{chat['id']}/messages", 201,
                          json={"body": f"before {i}", "client_msg_id": f"b{i}"})
    async with websockets.connect(desk.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": visitor.token}))
        assert json.loads(await ws.recv())["type"] == "hello"
        for i in range(3):  # the client is slow: these are sent before its resume arrives
            await tech_api.ok("POST", f"/chats/{chat['id']}/messages", 201,
                              json={"body": f"meanwhile {i}", "client_msg_id": f"m{i}"})
        await asyncio.sleep(0.6)  # past the old 0.5 s window, well inside the 2 s one
        await ws.send(json.dumps({"type": "resume", "chats": {str(chat["id"]): 2}}))
        seqs: list[int] = []
        while len(seqs) < 6:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame["type"] == "message":
                seqs.append(frame["seq"])
    assert seqs == list(range(3, 9))  # "before" 3-5, then "meanwhile" 6-8: in order, each once


async def test_end_clears_alert_and_stops_messages(desk: Desk) -> None:
    group = await desk.group()
    _, _, tech_sock = await desk.technician([group["id"]])
    chat, visitor = await desk.start_chat(group["id"])
    assert tech_sock
    ended = await visitor.ok("POST", f"/chats/{chat['id']}/end")
    assert ended["state"] == "ended"
    cleared = await tech_sock.wait_for(lambda f: f["type"] == "alert_cleared" and f["chat_id"] == chat["id"])
    assert cleared["reason"] == "ended"
    late = await visitor.request("POST", f"/chats/{chat['id']}/messages",
                                 json={"body": "hello?", "client_msg_id": str(uuid.uuid4())})
    assert late.status_code == 409 and late.json()["type"] == "invalid_state"
