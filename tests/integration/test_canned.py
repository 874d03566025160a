"""Canned messages: scopes, search, shortcuts, who manages them, placeholders, posting them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.client import Api, Desk, unique

pytestmark = pytest.mark.anyio
PLACEHOLDERS = ("Hi {{requester.name}} <{{requester.email}}>, {{technician.name}} of {{group.name}} here. "
                "Chat {{chat.id}}, request [{{request.id}}]. {{unknown.thing}} {{ requester.name }}")


async def _canned(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"title": unique("title"), "body": "Have you tried turning it off and on again?", **fields}
    created: dict[str, Any] = await api.ok("POST", "/canned-messages", 201, json=body)
    return created


async def _ids(api: Api, **params: Any) -> set[int]:
    page = await api.ok("GET", "/canned-messages", params=params)
    return {c["id"] for c in page["items"]}


async def test_scopes_decide_who_sees_a_canned_message(desk: Desk) -> None:
    group_a, group_b = await desk.group(), await desk.group()
    tech1, api1, _ = await desk.technician([group_a["id"]], online=False)
    _, api2, _ = await desk.technician([group_a["id"]], online=False)
    _, api3, _ = await desk.technician([group_b["id"]], online=False)
    category = unique("cat")
    everyone = await _canned(desk.admin, category=category, scope="global")
    for_a = await _canned(desk.admin, category=category, scope="group", group_id=group_a["id"])
    for_b = await _canned(desk.admin, category=category, scope="group", group_id=group_b["id"])
    mine1 = await _canned(api1, category=category)
    mine2 = await _canned(api2, category=category, scope="personal")
    assert mine1["scope"] == "personal" and mine1["owner_id"] == tech1["id"] and mine1["group_id"] is None
    assert for_a["group_id"] == group_a["id"] and for_a["owner_id"] is None

    assert await _ids(api1, category=category) == {everyone["id"], for_a["id"], mine1["id"]}
    assert await _ids(api2, category=category) == {everyone["id"], for_a["id"], mine2["id"]}
    assert await _ids(api3, category=category) == {everyone["id"], for_b["id"]}
    assert await _ids(desk.admin, category=category) == {everyone["id"], for_a["id"], for_b["id"]}
    for api, hidden in ((api1, mine2), (api1, for_b), (api3, for_a), (desk.admin, mine1)):
        response = await api.request("GET", f"/canned-messages/{hidden['id']}")
        assert response.status_code == 404 and response.json()["type"] == "not_found"
    assert await api1.ok("GET", f"/canned-messages/{for_a['id']}") == for_a

    chat, visitor = await desk.start_chat(group_a["id"], "Requesters get no canned messages")
    for method, url in (("GET", "/canned-messages"), ("GET", f"/canned-messages/{everyone['id']}")):
        assert (await visitor.request(method, url)).status_code == 403
    created = await visitor.request("POST", "/canned-messages", json={"title": "x", "body": "y"})
    assert created.status_code == 403
    await visitor.ok("POST", f"/chats/{chat['id']}/end")


async def test_search_and_category_filter(desk: Desk) -> None:
    _, api, _ = await desk.technician([], online=False)
    u = unique("s")
    category, other_category = unique("cat"), unique("cat")
    by_shortcut = await _canned(api, title="Reset password", body="Use the portal", shortcut=f"pw-{u}",
                                category=category)
    by_body = await _canned(api, title="Printer", body=f"Check the TONER-{u} level", category=category)
    odd = await _canned(api, title="VPN", body=f"100% sure_thing {u}", category=category)
    elsewhere = await _canned(api, title=f"Printer {u}", body="Elsewhere", category=other_category)

    assert await _ids(api, category=category) == {by_shortcut["id"], by_body["id"], odd["id"]}
    assert await _ids(api, category=other_category) == {elsewhere["id"]}
    assert await _ids(api, q=f"toner-{u.upper()}") == {by_body["id"]}
    assert await _ids(api, q=f"pw-{u}") == {by_shortcut["id"]}
    assert await _ids(api, q=u) == {by_shortcut["id"], by_body["id"], odd["id"], elsewhere["id"]}
    assert await _ids(api, q=u, category=category) == {by_shortcut["id"], by_body["id"], odd["id"]}
    assert await _ids(api, q="printer", category=category) == {by_body["id"]}
    assert await _ids(api, q="%", category=category) == {odd["id"]}  # wildcards are searched as text
    assert await _ids(api, q="_", category=category) == {odd["id"]}
    assert await _ids(api, q=unique("nothing")) == set()
    page = await api.ok("GET", "/canned-messages", params={"category": category})
    assert [c["title"] for c in page["items"]] == ["Printer", "Reset password", "VPN"]


async def test_shortcut_rules(desk: Desk) -> None:
    group_a, group_b = await desk.group(), await desk.group()
    _, api1, _ = await desk.technician([group_a["id"]], online=False)
    _, api2, _ = await desk.technician([group_a["id"]], online=False)
    u = unique("k")
    for bad in ("Has Space", "UPPER", "x" * 51, "", "slash/es", "ümlaut"):
        response = await api1.request("POST", "/canned-messages", json={"title": "t", "body": "b", "shortcut": bad})
        assert response.status_code == 422 and response.json()["type"] == "validation_error", bad
    mine = await _canned(api1, shortcut=f"greet_{u}-0")
    assert mine["shortcut"] == f"greet_{u}-0"

    def conflicts(response: Any) -> bool:
        return bool(response.status_code == 409 and response.json()["type"] == "conflict"
                    and "shortcut" in response.json()["errors"])

    again = await api1.request("POST", "/canned-messages", json={"title": "t", "body": "b", "shortcut": f"greet_{u}-0"})
    assert conflicts(again)
    assert (await _canned(api2, shortcut=f"greet_{u}-0"))["shortcut"] == f"greet_{u}-0"  # another owner's
    await _canned(desk.admin, scope="global", shortcut=f"g-{u}")
    assert conflicts(await desk.admin.request("POST", "/canned-messages", json={
        "title": "t", "body": "b", "scope": "global", "shortcut": f"g-{u}"}))
    await _canned(desk.admin, scope="group", group_id=group_a["id"], shortcut=f"team-{u}")
    assert conflicts(await desk.admin.request("POST", "/canned-messages", json={
        "title": "t", "body": "b", "scope": "group", "group_id": group_a["id"], "shortcut": f"team-{u}"}))
    await _canned(desk.admin, scope="group", group_id=group_b["id"], shortcut=f"team-{u}")

    second = await _canned(api1, shortcut=f"other-{u}")
    taken = await api1.request("PATCH", f"/canned-messages/{second['id']}", json={"shortcut": f"greet_{u}-0"})
    assert conflicts(taken)
    assert (await api1.ok("GET", f"/canned-messages/{second['id']}"))["shortcut"] == f"other-{u}"
    bad = await api1.request("PATCH", f"/canned-messages/{second['id']}", json={"shortcut": "No Way"})
    assert bad.status_code == 422
    same = await api1.ok("PATCH", f"/canned-messages/{second['id']}", json={"shortcut": f"other-{u}", "title": "T2"})
    assert same["shortcut"] == f"other-{u}" and same["title"] == "T2"
    cleared = await api1.ok("PATCH", f"/canned-messages/{second['id']}", json={"shortcut": None})
    assert cleared["shortcut"] is None


async def test_admins_manage_global_and_group_ones_technicians_their_own(desk: Desk) -> None:
    group = await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]], online=False)
    _, other_api, _ = await desk.technician([group["id"]], online=False)
    for fields in ({"scope": "global"}, {"scope": "group", "group_id": group["id"]}):
        response = await tech_api.request("POST", "/canned-messages", json={"title": "t", "body": "b", **fields})
        assert response.status_code == 403 and response.json()["type"] == "forbidden", fields
    everyone = await _canned(desk.admin, scope="global")
    team = await _canned(desk.admin, scope="group", group_id=group["id"])
    for item in (everyone, team):
        path = f"/canned-messages/{item['id']}"
        assert (await tech_api.request("PATCH", path, json={"title": "mine now"})).status_code == 403
        assert (await tech_api.request("DELETE", path)).status_code == 403
        assert await tech_api.ok("GET", path) == item

    mine = await _canned(tech_api, title="Mine", category="Personal tips")
    path = f"/canned-messages/{mine['id']}"
    for method, body in (("PATCH", {"title": "stolen"}), ("DELETE", None)):
        response = await other_api.request(method, path, json=body)
        assert response.status_code == 404, (method, response.status_code)  # not theirs to know of
    promoted = await tech_api.request("PATCH", path, json={"scope": "global"})
    assert promoted.status_code == 403
    to_group = await tech_api.request("PATCH", path, json={"scope": "group", "group_id": group["id"]})
    assert to_group.status_code == 403
    assert await tech_api.ok("GET", path) == mine
    edited = await tech_api.ok("PATCH", path, json={"title": "Mine, edited", "body": "New text"})
    assert (edited["title"], edited["body"], edited["scope"]) == ("Mine, edited", "New text", "personal")
    assert (await tech_api.request("DELETE", path)).status_code == 204
    assert (await tech_api.request("GET", path)).status_code == 404

    renamed = await desk.admin.ok("PATCH", f"/canned-messages/{everyone['id']}", json={"category": "Renamed"})
    assert renamed["category"] == "Renamed"
    assert (await desk.admin.request("DELETE", f"/canned-messages/{team['id']}")).status_code == 204
    assert (await tech_api.request("GET", f"/canned-messages/{team['id']}")).status_code == 404


async def test_bad_canned_messages_are_refused(desk: Desk) -> None:
    group = await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]], online=False)
    category = unique("cat")
    base = {"title": "t", "body": "b", "category": category}
    for bad in ({"scope": "group"}, {"scope": "personal", "group_id": group["id"]},
                {"scope": "global", "group_id": group["id"]}, {"scope": "group", "group_id": 99999999},
                {"scope": "team"}, {"title": ""}, {"title": "x" * 201}, {"body": ""}, {"body": "x" * 10_001},
                {"category": "x" * 101}, {"owner_id": 1}):
        response = await desk.admin.request("POST", "/canned-messages", json={**base, **bad})
        assert response.status_code == 422 and response.json()["type"] == "validation_error", bad
    assert await _ids(desk.admin, category=category) == set()
    item = await _canned(tech_api, category=category)
    for bad, status in (({"body": ""}, 422), ({"title": "x" * 201}, 422), ({"shortcut": "A B"}, 422),
                        ({"scope": "team"}, 422), ({"scope": "group"}, 403)):
        response = await tech_api.request("PATCH", f"/canned-messages/{item['id']}", json=bad)
        assert response.status_code == status, (bad, response.text)
    assert await tech_api.ok("GET", f"/canned-messages/{item['id']}") == item


async def test_render_fills_placeholders_for_the_chat(desk: Desk) -> None:
    group = await desk.group()
    tech, tech_api, _ = await desk.technician([group["id"]], online=False, name=unique("Tess"))
    _, outsider_api, _ = await desk.technician([(await desk.group())["id"]], online=False)
    chat, _ = await desk.start_chat(group["id"], "Need a new mouse", name="Rhea Requester")
    await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    item = await _canned(tech_api, body=PLACEHOLDERS)
    path = f"/canned-messages/{item['id']}/render"

    rendered = await tech_api.ok("GET", path, params={"chat_id": chat["id"]})
    assert rendered["body"] == (f"Hi Rhea Requester <erin@example.com>, {tech['name']} of {group['name']} here. "
                                f"Chat {chat['id']}, request []. {{{{unknown.thing}}}} Rhea Requester")
    request = await tech_api.ok("POST", f"/chats/{chat['id']}/request", 201)
    rendered = await tech_api.ok("GET", path, params={"chat_id": chat["id"]})
    assert f"request [{request['id']}]" in rendered["body"]
    assert (await tech_api.ok("GET", f"/canned-messages/{item['id']}"))["body"] == PLACEHOLDERS

    assert (await outsider_api.request("GET", path, params={"chat_id": chat["id"]})).status_code == 404
    everyone = await _canned(desk.admin, scope="global", body="{{group.name}}")
    forbidden = await outsider_api.request("GET", f"/canned-messages/{everyone['id']}/render",
                                           params={"chat_id": chat["id"]})
    assert forbidden.status_code == 403
    assert (await tech_api.request("GET", path, params={"chat_id": 99999999})).status_code == 404
    assert (await tech_api.request("GET", path)).status_code == 422


async def test_posting_a_canned_message_stores_the_filled_text(desk: Desk) -> None:
    group = await desk.group()
    tech, tech_api, tech_sock = await desk.technician([group["id"]], name=unique("Theo"))
    assert tech_sock
    chat, visitor = await desk.start_chat(group["id"], "Cannot print", name="Rhea Requester")
    assert visitor.token
    user_sock = await desk.socket(visitor.token, resume={chat["id"]: 0})
    await tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    item = await _canned(tech_api, body=PLACEHOLDERS)
    expected = (f"Hi Rhea Requester <erin@example.com>, {tech['name']} of {group['name']} here. "
                f"Chat {chat['id']}, request []. {{{{unknown.thing}}}} Rhea Requester")

    posted = await tech_api.ok("POST", f"/chats/{chat['id']}/messages", 201,
                               json={"canned_message_id": item["id"], "client_msg_id": "canned-rest"})
    assert posted["body"] == expected and posted["author"]["id"] == tech["id"]
    await tech_sock.send({"type": "send", "chat_id": chat["id"], "canned_message_id": item["id"],
                          "client_msg_id": "canned-ws"})
    ack = await tech_sock.wait_for(lambda f: f["type"] == "ack" and f["client_msg_id"] == "canned-ws")
    assert ack["message"]["body"] == expected
    seen = await user_sock.wait_for(lambda f: f["type"] == "message" and f["data"]["client_msg_id"] == "canned-ws")
    assert seen["data"]["body"] == expected
    stored = (await visitor.ok("GET", f"/chats/{chat['id']}/messages"))["messages"]
    assert [m["body"] for m in stored if m["client_msg_id"] in ("canned-rest", "canned-ws")] == [expected] * 2

    last_seq = (await tech_api.ok("GET", f"/chats/{chat['id']}"))["last_seq"]
    by_requester = await visitor.request("POST", f"/chats/{chat['id']}/messages",
                                         json={"canned_message_id": item["id"], "client_msg_id": "r1"})
    assert by_requester.status_code == 403 and by_requester.json()["type"] == "forbidden"
    await user_sock.send({"type": "send", "chat_id": chat["id"], "canned_message_id": item["id"],
                          "client_msg_id": "r2"})
    error = await user_sock.wait_for(lambda f: f["type"] == "error" and f.get("client_msg_id") == "r2")
    assert error["error"]["type"] == "forbidden"
    both = await tech_api.request("POST", f"/chats/{chat['id']}/messages",
                                  json={"canned_message_id": item["id"], "body": "x", "client_msg_id": "b"})
    assert both.status_code == 422
    _, other_api, _ = await desk.technician([group["id"]], online=False)
    hidden = await _canned(other_api)
    unseen = await tech_api.request("POST", f"/chats/{chat['id']}/messages",
                                    json={"canned_message_id": hidden["id"], "client_msg_id": "h"})
    assert unseen.status_code == 404
    assert (await tech_api.ok("GET", f"/chats/{chat['id']}"))["last_seq"] == last_seq


async def test_a_shortcut_saved_twice_at_once_is_stored_once(desk: Desk) -> None:
    _, tech_api, _ = await desk.technician([], online=False)
    for scope_api, fields in ((tech_api, {}), (desk.admin, {"scope": "global"})):
        shortcut = unique("dup")
        responses = await asyncio.gather(*(scope_api.request("POST", "/canned-messages", json={
            "title": "Double click", "body": "b", "shortcut": shortcut, **fields}) for _ in range(4)))
        assert sorted(r.status_code for r in responses) == [201, 409, 409, 409], [r.text for r in responses]
        found = await scope_api.ok("GET", "/canned-messages", params={"q": shortcut})
        assert len(found["items"]) == 1
