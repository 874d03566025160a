"""Known requesters through the portal's signed identity (SQLite and PostgreSQL): one verified requester per
email, reaching all of their chats and requests from any device; anonymous requesters unchanged."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from tests.integration.test_auth_admin import assert_problem
from tests.support.client import Api, Desk, unique
from tests.support.server import IDENTITY_SECRET

pytestmark = pytest.mark.anyio


def identity(email: str, name: str = "Vera Verified", *, exp: float | None = 600, secret: str = IDENTITY_SECRET,
             alg: str = "HS256") -> str:
    """What the company portal signs for its signed-in user."""
    claims: dict[str, Any] = {"email": email, "name": name}
    if exp is not None:
        claims["exp"] = int(time.time() + exp)
    return jwt.encode({"alg": alg}, claims, OctKey.import_key(secret), algorithms=[alg])


def unsigned(email: str) -> str:
    """A token with ``alg: none``: anyone could make it."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'email': email, 'exp': int(time.time()) + 600})}."


async def sign_in(desk: Desk, token: str) -> tuple[dict[str, Any], Api]:
    body = await desk.api().ok("POST", "/requester-sessions", 201, json={"identity_token": token})
    return body["requester"], desk.api(body["visitor_token"])


async def start(desk: Desk, api: Api, group_id: int, text: str) -> dict[str, Any]:
    body: dict[str, Any] = await api.ok("POST", "/chats", 201, json={"group_id": group_id, "message": text})
    assert body["visitor_token"] == api.token  # the same token: it reaches every chat of this person
    return body["chat"]


async def test_a_signed_in_requester_starts_chats_without_a_name_and_sees_them_all_from_another_device(
        desk: Desk) -> None:
    group = await desk.group()
    email = f"{unique('vera')}@example.com"
    vera, laptop = await sign_in(desk, identity(email))
    assert vera == {"id": vera["id"], "name": "Vera Verified", "email": email, "verified": True}
    first = await start(desk, laptop, group["id"], "Printer on floor 3 is offline")
    second = await start(desk, laptop, group["id"], "And the scanner too")
    assert first["requester"] == second["requester"] == vera
    assert (await laptop.ok("GET", "/me")) == {"kind": "requester", **vera}
    # another device, another sign-in (the portal may send a new display name)
    again, phone = await sign_in(desk, identity(email.upper(), name="Vera V."))
    assert again["id"] == vera["id"] and again["name"] == "Vera V."
    listed = await phone.ok("GET", "/chats")
    assert [c["id"] for c in listed["items"]] == [second["id"], first["id"]]
    lines = await phone.ok("GET", f"/chats/{first['id']}/messages")
    assert lines["messages"][0]["body"] == "Printer on floor 3 is offline"


async def test_a_verified_requester_never_reaches_an_anonymous_chat_that_used_their_email(desk: Desk) -> None:
    group = await desk.group()
    email = f"{unique('sam')}@example.com"
    anonymous = (await desk.api().ok("POST", "/chats", 201, json={
        "group_id": group["id"], "name": "Sam", "email": email, "message": "I am Sam, honest"}))
    _, sam = await sign_in(desk, identity(email, name="Sam"))
    assert (await sam.ok("GET", "/chats"))["items"] == []
    assert_problem(await sam.request("GET", f"/chats/{anonymous['chat']['id']}/messages"), 403, "forbidden")
    # and the reverse: the anonymous token does not reach the verified requester's chats
    mine = await start(desk, sam, group["id"], "Now signed in")
    other = desk.api(anonymous["visitor_token"])
    assert_problem(await other.request("GET", f"/chats/{mine['id']}"), 403, "forbidden")
    assert anonymous["chat"]["requester"]["verified"] is False


@pytest.mark.parametrize("case", ["bad signature", "expired", "no exp", "alg none", "HS512", "garbage", "no email"])
async def test_a_bad_identity_token_is_401_and_signs_nobody_in(desk: Desk, case: str) -> None:
    email = f"{unique('mallory')}@example.com"
    token = {
        "bad signature": lambda: identity(email, secret="another-portal-key-0123456789-abcdef"),
        "expired": lambda: identity(email, exp=-30),
        "no exp": lambda: identity(email, exp=None),
        "alg none": lambda: unsigned(email),
        "HS512": lambda: identity(email, alg="HS512"),
        "garbage": lambda: "not.a.jwt",
        "no email": lambda: jwt.encode({"alg": "HS256"}, {"name": "x", "exp": int(time.time()) + 60},
                                       OctKey.import_key(IDENTITY_SECRET)),
    }[case]()
    response = await desk.api().request("POST", "/requester-sessions", json={"identity_token": token})
    assert_problem(response, 401, "unauthorized")


async def test_technicians_see_a_requesters_history_they_may_read_and_requesters_read_their_requests(
        desk: Desk) -> None:
    mine, theirs = await desk.group(), await desk.group()
    _, tech, _ = await desk.technician([mine["id"]], online=False)
    _, outsider, _ = await desk.technician([theirs["id"]], online=False)
    vera, api = await sign_in(desk, identity(f"{unique('vera')}@example.com"))
    first = await start(desk, api, mine["id"], "Outlook will not open")
    await tech.ok("POST", f"/chats/{first['id']}/pickup")
    request = await tech.ok("POST", f"/chats/{first['id']}/request", 201, json={"subject": "Outlook"})
    second = await start(desk, api, mine["id"], "Still broken")
    history = await tech.ok("GET", f"/requesters/{vera['id']}")
    assert (history["name"], history["verified"]) == (vera["name"], True)
    assert [c["id"] for c in history["chats"]] == [second["id"], first["id"]]
    assert [r["id"] for r in history["requests"]] == [request["id"]]
    assert_problem(await outsider.request("GET", f"/requesters/{vera['id']}"), 404, "not_found")
    assert_problem(await api.request("GET", f"/requesters/{vera['id']}"), 403, "forbidden")
    own = await api.ok("GET", "/requests")
    assert [r["id"] for r in own["items"]] == [request["id"]]
    assert (await api.ok("GET", f"/requests/{request['id']}"))["subject"] == "Outlook"
    assert_problem(await api.request("GET", f"/requests/{request['id']}/notes"), 403, "forbidden")
    assert_problem(await api.request("PATCH", f"/requests/{request['id']}", json={"status": "closed"}),
                   403, "forbidden")


async def test_an_anonymous_chat_still_needs_a_name_and_email(desk: Desk) -> None:
    group = await desk.group()
    response = await desk.api().request("POST", "/chats", json={"group_id": group["id"], "message": "hi"})
    assert_problem(response, 422, "validation_error")
    assert set(response.json()["errors"]) == {"name", "email"}


async def test_sign_ins_of_one_person_at_once_make_one_verified_requester(desk: Desk) -> None:
    email = f"{unique('rush')}@example.com"
    results = await asyncio.gather(*(desk.api().request("POST", "/requester-sessions", json={
        "identity_token": identity(email)}) for _ in range(6)))
    assert [r.status_code for r in results] == [201] * 6
    assert len({r.json()["requester"]["id"] for r in results}) == 1


async def test_the_sign_in_providers_are_public(desk: Desk) -> None:
    assert await desk.api().ok("GET", "/auth/providers") == {"password": True, "oidc": False}
