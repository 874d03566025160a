"""Bad input over REST: the 4xx problem of API.md, never a 5xx, and nothing stored (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.client import Api, Desk, unique
from tests.support.server import Server

pytestmark = pytest.mark.anyio
HUGE = 2**63
TOO_LONG = "x" * 10_001


def assert_problem(response: httpx.Response, status: int, type_: str | None = None, case: object = "") -> None:
    """An RFC 9457 problem with API.md's code; validation errors name the fields."""
    where = (case, response.request.method, str(response.request.url), response.status_code, response.text[:300])
    assert response.status_code == status, where
    assert response.headers["content-type"].split(";")[0] == "application/problem+json", where
    body = response.json()
    assert body["status"] == status, where
    assert isinstance(body["type"], str) and body["type"], where
    assert isinstance(body["title"], str) and body["title"], where
    assert isinstance(body["detail"], str) and body["detail"], where
    if type_ is not None:
        assert body["type"] == type_, where
    if status == 422:
        assert body["type"] == "validation_error", where
        assert isinstance(body.get("errors"), dict) and body["errors"], where
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in body["errors"].items()), where


class Scene:
    """A group with an on-duty technician, one active chat and one waiting chat, and an outsider."""

    async def build(self, desk: Desk) -> Scene:
        self.desk = desk
        self.group = await desk.group()
        self.other_group = await desk.group()
        self.tech, self.tech_api, _ = await desk.technician([self.group["id"]], online=False)
        self.outsider, self.outsider_api, _ = await desk.technician([self.other_group["id"]], online=False)
        self.chat, self.visitor = await desk.start_chat(self.group["id"], "VPN drops every hour")
        await self.tech_api.ok("POST", f"/chats/{self.chat['id']}/pickup")
        await self.visitor.ok("POST", f"/chats/{self.chat['id']}/messages", 201,
                              json={"body": "still broken", "client_msg_id": "v1"})
        self.waiting, self.other_visitor = await desk.start_chat(self.group["id"], "Printer offline", name="Max")
        return self

    async def state(self) -> dict[str, Any]:
        """Everything the bad calls could have touched, as the API shows it."""
        admin, tech = self.desk.admin, self.tech_api
        found: dict[str, Any] = {
            "groups": await admin.ok("GET", "/groups?limit=200"),
            "technicians": await admin.ok("GET", "/technicians?limit=200"),
            "settings": await admin.ok("GET", "/settings"),
            "waiting": await tech.ok("GET", "/chats?state=waiting&limit=200"),
            "tech_chats": await tech.ok("GET", "/chats?limit=200"),
            "requests": await admin.ok("GET", "/requests?limit=200"),
        }
        for chat in (self.chat, self.waiting):
            found[f"chat{chat['id']}"] = await admin.ok("GET", f"/chats/{chat['id']}")
            found[f"messages{chat['id']}"] = await admin.ok("GET", f"/chats/{chat['id']}/messages?limit=500")
        for group in (self.group, self.other_group):
            found[f"group{group['id']}"] = await admin.ok("GET", f"/groups/{group['id']}")
        return found

    @contextlib.asynccontextmanager
    async def unchanged(self) -> AsyncIterator[None]:
        """Nothing the block does changes stored data (bad calls only ever add or change, never undo)."""
        before = await self.state()
        yield
        after = await self.state()
        assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}

    async def refused(self, api: Api, method: str, path: str, status: int, type_: str | None = None,
                      **kw: Any) -> None:
        """The call gets the problem (run it inside ``unchanged``)."""
        response = await api.request(method, path, **kw)
        assert_problem(response, status, type_, case=kw.get("json", kw.get("content")))


@pytest.fixture(scope="module")
async def scene(server: Server) -> AsyncIterator[Scene]:
    """One scene per database for the whole module: bad calls leave it as it was."""
    desk = await Desk(server.url, server.ws_url).start()
    try:
        yield await Scene().build(desk)
    finally:
        await desk.close()


# -- messages --------------------------------------------------------------------------

BAD_MESSAGES: list[Any] = [
    {"body": TOO_LONG, "client_msg_id": "a"},
    {"body": "", "client_msg_id": "a"},
    {"body": "   ", "client_msg_id": "a"},
    {"body": "\n\t \n", "client_msg_id": "a"},
    {"body": 5, "client_msg_id": "a"},
    {"body": ["hi"], "client_msg_id": "a"},
    {"body": None, "client_msg_id": "a"},
    {"body": "hi", "client_msg_id": 5},
    {"body": "hi", "client_msg_id": ""},
    {"body": "hi", "client_msg_id": "c" * 101},
    {"body": "hi"},                                              # client_msg_id missing
    {"client_msg_id": "a"},                                      # neither body nor canned message
    {"body": "hi", "canned_message_id": 1, "client_msg_id": "a"},
    {"body": "hi", "client_msg_id": "a", "author": "admin"},     # unknown field
    {"body": "hi", "client_msg_id": "a", "seq": 1},
    {"canned_message_id": "1", "client_msg_id": "a"},
    {"canned_message_id": HUGE, "client_msg_id": "a"},
    {"canned_message_id": 0, "client_msg_id": "a"},
    [],
    "hi",
    None,
]


async def test_bad_message_bodies_are_422_and_store_nothing(scene: Scene) -> None:
    async with scene.unchanged():
        for api in (scene.visitor, scene.tech_api):
            for payload in BAD_MESSAGES:
                await scene.refused(api, "POST", f"/chats/{scene.chat['id']}/messages", 422, json=payload)


async def test_a_body_of_exactly_ten_thousand_characters_is_accepted(scene: Scene) -> None:
    sent = await scene.visitor.ok("POST", f"/chats/{scene.chat['id']}/messages", 201,
                                  json={"body": "y" * 10_000, "client_msg_id": "long"})
    assert len(sent["body"]) == 10_000


@pytest.mark.parametrize("raw", ['{"body": "hi", "client_msg_id": "a"', "body=hi", "{'body': 'hi'}", "",
                                 '{"body": "hi", "client_msg_id": "a"} x', "[" * 5000 + "]" * 5000])
async def test_malformed_json_is_refused(scene: Scene, raw: str) -> None:
    async with scene.unchanged():
        response = await scene.visitor.request("POST", f"/chats/{scene.chat['id']}/messages", content=raw,
                                               headers={"content-type": "application/json"})
        assert_problem(response, 422, "validation_error", case=raw[:40])


async def test_text_that_no_database_can_store_is_refused(scene: Scene) -> None:
    async with scene.unchanged():
        for body in ("nul \x00 byte", "lone \ud800 surrogate"):
            payload = json.dumps({"body": body, "client_msg_id": "z"})  # JSON escapes keep it valid JSON
            response = await scene.visitor.request("POST", f"/chats/{scene.chat['id']}/messages",
                                                   content=payload, headers={"content-type": "application/json"})
            assert_problem(response, 422, "validation_error", case=body)


async def test_a_requester_may_not_post_canned_messages(scene: Scene) -> None:
    async with scene.unchanged():
        await scene.refused(scene.visitor, "POST", f"/chats/{scene.chat['id']}/messages", 403, "forbidden",
                        json={"canned_message_id": 1, "client_msg_id": "canned"})


# -- starting chats --------------------------------------------------------------------

def start(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"group_id": 1, "name": "Erin", "email": "erin@example.com", "message": "Help"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


async def test_bad_chat_starts_are_422_and_start_nothing(scene: Scene) -> None:
    group_id = scene.group["id"]
    cases = [
        start(group_id=group_id, message=TOO_LONG), start(group_id=group_id, message=""),
        start(group_id=group_id, message="   \n  "), start(group_id=str(group_id)), start(group_id=HUGE),
        start(group_id=-1), start(group_id=0), start(group_id=2**31 - 1), start(group_id=None),
        start(group_id=group_id, message=7), start(group_id=group_id, name=""),
        start(group_id=group_id, name="n" * 201),
        start(group_id=group_id, name=["Erin"]), start(group_id=group_id, email="not an email"),
        start(group_id=group_id, email="a" * 250 + "@example.com"), start(group_id=group_id, extra=True),
        start(group_id=group_id, visitor_token="x"), start(group_id=group_id, message=...),
        start(group_id=group_id, name=...), start(group_id=group_id, email=...), start(group_id=...),
        start(group_id=group_id, client_msg_id=""), start(group_id=group_id, client_msg_id=3),
        start(group_id=group_id, message="nul\x00"), start(group_id=group_id, name="nul\x00"),
        start(group_id=group_id, message="\ud800"), {}, [],
    ]
    anonymous = scene.desk.api()
    async with scene.unchanged():
        for payload in cases:
            await scene.refused(anonymous, "POST", "/chats", 422, "validation_error",
                                content=json.dumps(payload), headers={"content-type": "application/json"})


# -- ids, paths and queries ------------------------------------------------------------

async def test_huge_zero_and_negative_ids_are_422_and_unknown_ones_404(scene: Scene) -> None:
    admin, chat_id = scene.desk.admin, scene.chat["id"]
    async with scene.unchanged():
        for bad_id in (HUGE, 2**31, -1, 0, "abc", "1.5"):
            for method, path in [("GET", f"/chats/{bad_id}"), ("POST", f"/chats/{bad_id}/pickup"),
                                 ("GET", f"/chats/{bad_id}/messages"), ("POST", f"/chats/{bad_id}/end"),
                                 ("GET", f"/groups/{bad_id}"), ("GET", f"/technicians/{bad_id}"),
                                 ("GET", f"/requests/{bad_id}"), ("DELETE", f"/groups/{bad_id}")]:
                await scene.refused(admin, method, path, 422, "validation_error")
        for payload in ({"technician_id": HUGE}, {"technician_id": "1"}, {"technician_id": 0}, {},
                        {"technician_id": 1, "x": 1}, {"technician_id": scene.tech["id"], "group_id": HUGE}):
            await scene.refused(scene.tech_api, "POST", f"/chats/{chat_id}/transfer", 422, "validation_error",
                                json=payload)
            if "group_id" not in payload:
                await scene.refused(scene.tech_api, "POST", f"/chats/{chat_id}/invite", 422, "validation_error",
                                    json=payload)
        await scene.refused(admin, "GET", "/chats/2147483647", 404, "not_found")
        await scene.refused(scene.tech_api, "POST", f"/chats/{chat_id}/invite", 404, "not_found",
                            json={"technician_id": 2**31 - 1})


async def test_bad_list_queries_are_422(scene: Scene) -> None:
    admin = scene.desk.admin
    everywhere = ["limit=0", "limit=100000", "limit=abc", "cursor=abc", "cursor=-5", f"cursor={HUGE}",
                  "cursor=99999999999999999999999", "cursor=" + "9" * 5000]
    async with scene.unchanged():
        for path in ("/chats", "/groups", "/technicians", "/requests"):
            for query in everywhere:
                await scene.refused(admin, "GET", f"{path}?{query}", 422, "validation_error")
        for path in ("/chats?state=open", "/technicians?online=maybe", f"/technicians?group_id={HUGE}",
                     "/requests?status=lost", "/requests?source=email", "/canned-messages?q=%00",
                     "/canned-messages?category=a%00b", "/canned-messages?q=" + "a" * 201):
            await scene.refused(admin, "GET", path, 422, "validation_error")
        for query in ("after_seq=-1", f"after_seq={HUGE}", "after_seq=x", "limit=0", "limit=501"):
            await scene.refused(scene.visitor, "GET", f"/chats/{scene.chat['id']}/messages?{query}", 422,
                                "validation_error")


# -- who may do what -------------------------------------------------------------------

async def test_a_visitor_token_is_refused_on_admin_and_technician_endpoints(scene: Scene) -> None:
    group_id, tech_id = scene.group["id"], scene.tech["id"]
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/groups", {"name": unique("g")}),
        ("PATCH", f"/groups/{group_id}", {"name": "taken over"}),
        ("DELETE", f"/groups/{group_id}", None),
        ("POST", "/technicians", {"name": "Evil", "email": f"{unique('e')}@example.com", "password": "password-1",
                                  "role": "admin", "group_ids": []}),
        ("PATCH", f"/technicians/{tech_id}", {"role": "admin"}),
        ("GET", "/settings", None),
        ("PATCH", "/settings", {"missed_chat_conversion": True}),
        ("GET", "/technicians", None),
        ("GET", f"/technicians/{tech_id}", None),
        ("GET", "/groups", None),
        ("GET", f"/groups/{group_id}", None),
        ("PUT", "/me/status", {"status": "online"}),
        ("POST", f"/chats/{scene.waiting['id']}/pickup", None),
        ("POST", f"/chats/{scene.chat['id']}/invite", {"technician_id": tech_id}),
        ("POST", f"/chats/{scene.chat['id']}/transfer", {"technician_id": tech_id}),
        ("POST", f"/chats/{scene.chat['id']}/leave", None),
        ("POST", f"/chats/{scene.chat['id']}/request", None),
        ("POST", f"/chats/{scene.chat['id']}/notes", {"body": "note"}),
        ("GET", "/canned-messages", None),
        ("POST", "/canned-messages", {"title": "t", "body": "b"}),
        ("GET", "/requests", None),
    ]
    async with scene.unchanged():
        for method, path, payload in calls:
            kw = {"json": payload} if payload is not None else {}
            await scene.refused(scene.visitor, method, path, 403, "forbidden", **kw)


async def test_another_requesters_chat_is_403_for_read_and_post(scene: Scene) -> None:
    chat_id, other = scene.chat["id"], scene.other_visitor
    async with scene.unchanged():
        await scene.refused(other, "GET", f"/chats/{chat_id}", 403, "forbidden")
        await scene.refused(other, "GET", f"/chats/{chat_id}/messages", 403, "forbidden")
        await scene.refused(other, "POST", f"/chats/{chat_id}/messages", 403, "forbidden",
                            json={"body": "let me in", "client_msg_id": "m1"})
        await scene.refused(other, "POST", f"/chats/{chat_id}/end", 403, "forbidden")
        listed = await other.ok("GET", "/chats")
        assert [c["id"] for c in listed["items"]] == [scene.waiting["id"]]
    _, again = await scene.desk.start_chat(scene.other_group["id"], "me again")  # same name and email
    async with scene.unchanged():
        await scene.refused(again, "GET", f"/chats/{chat_id}", 403, "forbidden")
        await scene.refused(again, "POST", f"/chats/{chat_id}/messages", 403, "forbidden",
                            json={"body": "it is me", "client_msg_id": "m2"})


async def test_a_technician_outside_the_group_cannot_pick_up_read_or_post(scene: Scene) -> None:
    waiting, outsider = scene.waiting["id"], scene.outsider_api
    async with scene.unchanged():
        await scene.refused(outsider, "POST", f"/chats/{waiting}/pickup", 403, "forbidden")
        await scene.refused(outsider, "GET", f"/chats/{waiting}", 403, "forbidden")
        await scene.refused(outsider, "POST", f"/chats/{scene.chat['id']}/messages", 403, "forbidden",
                            json={"body": "hello", "client_msg_id": "o1"})
        listed = await outsider.ok("GET", "/chats?state=waiting")
        assert waiting not in [c["id"] for c in listed["items"]]
        await scene.refused(scene.tech_api, "POST", "/groups", 403, "forbidden", json={"name": unique("g")})
        await scene.refused(scene.tech_api, "PATCH", "/settings", 403, "forbidden",
                            json={"missed_chat_timeout_seconds": 30})
        await scene.refused(scene.tech_api, "PATCH", f"/technicians/{scene.tech['id']}", 403, "forbidden",
                            json={"role": "admin"})


async def test_no_token_and_bad_tokens_are_401(scene: Scene) -> None:
    anonymous = scene.desk.api()
    calls: list[tuple[str, str, Any]] = [
        ("GET", "/chats", None), ("GET", "/me", None), ("POST", "/groups", {"name": "x"}),
        ("GET", f"/chats/{scene.chat['id']}", None), ("POST", "/auth/logout", None),
        ("POST", f"/chats/{scene.chat['id']}/messages", {"body": "x", "client_msg_id": "n"})]
    async with scene.unchanged():
        for method, path, payload in calls:
            kw = {"json": payload} if payload is not None else {}
            await scene.refused(anonymous, method, path, 401, "unauthorized", **kw)
            await scene.refused(anonymous, method, path, 401, "unauthorized", headers={"Authorization": "Basic YTpi"},
                                **kw)
            for token in ("not-a-token", "x" * 5000, (scene.visitor.token or "") + "x"):
                await scene.refused(scene.desk.api(token), method, path, 401, "unauthorized", **kw)


# -- browser session: cookie + CSRF ----------------------------------------------------

async def test_cookie_authenticated_writes_need_the_csrf_header(scene: Scene) -> None:
    browser = httpx.AsyncClient(base_url=scene.desk.base_url + "/api/v1")
    try:
        login = await browser.post("/auth/login", json={"email": scene.tech["email"], "password": "password-123"})
        assert login.status_code == 200 and browser.cookies.get("deskchat_session")
        csrf = browser.cookies["csrf_token"]
        assert (await browser.get("/me")).status_code == 200  # safe methods need no header
        path, payload = f"/chats/{scene.chat['id']}/messages", {"body": "from the console", "client_msg_id": "b1"}
        async with scene.unchanged():
            for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": csrf + "x"}):
                assert_problem(await browser.post(path, json=payload, headers=headers), 403, "forbidden", headers)
            assert_problem(await browser.put("/me/status", json={"status": "away"}), 403, "forbidden")
        ok = await browser.post(path, json=payload, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 201 and ok.json()["body"] == "from the console"
        away = await browser.put("/me/status", json={"status": "away"}, headers={"X-CSRF-Token": csrf})
        assert away.status_code == 200 and away.json()["status"] == "away"
    finally:
        await browser.aclose()


# -- anything else ---------------------------------------------------------------------

async def test_no_input_gets_a_5xx(scene: Scene) -> None:
    """A sweep of odd bodies against every write endpoint: always a 4xx problem."""
    chat_id, group_id, tech_id = scene.chat["id"], scene.group["id"], scene.tech["id"]
    targets = [("POST", "/chats"), ("POST", f"/chats/{chat_id}/messages"), ("POST", f"/chats/{chat_id}/invite"),
               ("POST", f"/chats/{chat_id}/transfer"), ("POST", f"/chats/{chat_id}/request"),
               ("POST", f"/chats/{chat_id}/notes"), ("POST", "/groups"), ("PATCH", f"/groups/{group_id}"),
               ("POST", "/technicians"), ("PATCH", f"/technicians/{tech_id}"), ("PATCH", "/settings"),
               ("PUT", "/me/status"), ("POST", "/auth/login"), ("POST", "/canned-messages")]
    bodies: list[tuple[str, str]] = [
        ("application/json", "null"), ("application/json", "[]"), ("application/json", '"text"'),
        ("application/json", "1e999"), ("application/json", "{"), ("application/json", '{"a": NaN}'),
        ("application/json", '{"name": "\\u0000"}'), ("application/json", '{"body": "\\udfff"}'),
        ("application/json", "\xff\xfe"), ("text/plain", "hello"), ("application/x-www-form-urlencoded", "a=b"),
        ("application/json", '{"name": ' + "[" * 3000 + "]" * 3000 + "}"),
        ("application/json", json.dumps({"name": {"$ne": 1}, "email": ["a"], "status": True})),
    ]
    async with scene.unchanged():
        for method, path in targets:
            for content_type, raw in bodies:
                if path.endswith("/request") and raw == "null":
                    continue  # the subject is optional: no body at all is a valid conversion
                response = await scene.desk.admin.request(method, path, content=raw.encode("utf-8", "surrogatepass"),
                                                          headers={"content-type": content_type})
                assert 400 <= response.status_code < 500, (method, path, raw[:40], response.status_code)
                assert_problem(response, response.status_code, case=(method, path, raw[:40]))


# -- nulls, encodings and odd headers (issue 7) ----------------------------------------

async def test_null_for_a_field_that_cannot_be_null_is_422(scene: Scene) -> None:
    """PATCH /settings with nulls was a 500; null is refused wherever it cannot mean "clear this"."""
    chat, _ = await scene.desk.start_chat(scene.group["id"], "Null or not")
    await scene.tech_api.ok("POST", f"/chats/{chat['id']}/pickup")
    request = await scene.tech_api.ok("POST", f"/chats/{chat['id']}/request", 201)
    canned = await scene.tech_api.ok("POST", "/canned-messages", 201, json={"title": "Hi", "body": "Hello"})
    admin = scene.desk.admin
    patches: list[tuple[Api, str, list[str]]] = [
        (admin, "/settings", ["missed_chat_conversion", "missed_chat_timeout_seconds"]),
        (admin, f"/groups/{scene.group['id']}", ["name", "description"]),
        (admin, f"/technicians/{scene.tech['id']}", ["name", "email", "password", "role", "group_ids", "active"]),
        (admin, f"/requests/{request['id']}", ["subject", "status"]),
        (scene.tech_api, f"/canned-messages/{canned['id']}", ["title", "body", "category", "scope"]),
    ]
    async with scene.unchanged():
        for api, path, fields in patches:
            for payload in [*({name: None} for name in fields), dict.fromkeys(fields)]:
                await scene.refused(api, "PATCH", path, 422, "validation_error", json=payload)
            await api.ok("PATCH", path, json={})  # nothing to change is a no-op (PATCH /settings {} was a 500 too)
    assert await scene.tech_api.ok("GET", f"/canned-messages/{canned['id']}") == canned
    assert await admin.ok("GET", f"/requests/{request['id']}") == request


ENCODINGS = ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1"]  # utf-8-sig: a byte-order mark


async def test_json_that_is_not_plain_utf8_is_refused(scene: Scene) -> None:
    """A body after a byte-order mark was a 500 and a UTF-16 one dropped the connection, or was read anyway."""
    chat_id, group_id = scene.chat["id"], scene.group["id"]
    calls: list[tuple[Api, str, str, Any]] = [
        (scene.visitor, "POST", f"/chats/{chat_id}/messages", {"body": "encodé", "client_msg_id": "enc"}),
        (scene.desk.admin, "PATCH", "/settings", {"missed_chat_timeout_seconds": 777}),
        (scene.desk.admin, "POST", "/groups", {"name": unique("encodé")}),
        (scene.desk.api(), "POST", "/chats", {"group_id": group_id, "name": "Zoë", "email": "zoe@example.com",
                                             "message": "encodé"}),
    ]
    async with scene.unchanged():
        for api, method, path, payload in calls:
            text = json.dumps(payload, ensure_ascii=False)
            for encoding in ENCODINGS:
                if text.encode(encoding) != text.encode():  # latin-1 of ASCII-only text is UTF-8 already
                    await scene.refused(api, method, path, 422, "validation_error", content=text.encode(encoding),
                                        headers={"content-type": "application/json"})
            for charset, encoding in (("utf-16", "utf-16"), ("latin-1", "utf-8"), ("utf-8-sig", "utf-8")):
                await scene.refused(api, method, path, 415, "unsupported_media_type", content=text.encode(encoding),
                                    headers={"content-type": f"application/json; charset={charset}"})
    utf8 = json.dumps({"body": "é ok", "client_msg_id": "u8"}, ensure_ascii=False).encode()
    sent = await scene.visitor.ok("POST", f"/chats/{chat_id}/messages", 201, content=utf8,
                                  headers={"content-type": "application/json; charset=UTF-8"})
    assert sent["body"] == "é ok"


async def test_a_csrf_header_that_is_not_ascii_is_403(scene: Scene) -> None:
    """Header bytes can be anything: comparing a non-ASCII CSRF token was a 500."""
    browser = httpx.AsyncClient(base_url=scene.desk.base_url + "/api/v1")
    try:
        login = await browser.post("/auth/login", json={"email": scene.tech["email"], "password": "password-123"})
        assert login.status_code == 200
        async with scene.unchanged():
            for sent in ("é".encode("latin-1"), b"\xff\xfe", (browser.cookies["csrf_token"] + "é").encode("latin-1")):
                response = await browser.put("/me/status", json={"status": "away"}, headers={"X-CSRF-Token": sent})
                assert_problem(response, 403, "forbidden", sent)
    finally:
        await browser.aclose()
