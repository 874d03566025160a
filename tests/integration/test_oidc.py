"""Single sign-on through a real OpenID provider (``oidc-provider``, started here) on SQLite, and on PostgreSQL
with two processes (a sign-in begun on one finishes on the other): technicians by email, verified requesters,
and every way a sign-in must fail without signing anybody in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import anyio
import httpx
import pytest

from tests.integration.test_auth_admin import assert_problem
from tests.integration.test_identity import identity
from tests.support.client import Api, Desk, open_desk, unique
from tests.support.oidc_provider import OidcProvider, sign_in_at_provider
from tests.support.redis_server import RedisServer
from tests.support.server import Server, free_port, postgres_database, sqlite_server

pytestmark = pytest.mark.anyio
CALLBACK = "/api/v1/auth/oidc/callback"


@dataclass
class Sso:
    """deskchat with single sign-on: sign-ins start at ``start`` and the provider returns to ``finish``."""

    start: Server
    finish: Server
    provider: OidcProvider


def _sso_env(provider: OidcProvider, public: str, **extra: str) -> dict[str, str]:
    return {**provider.env(), "DESKCHAT_PUBLIC_URL": public, **extra}


@contextlib.contextmanager
def _sso(backend: str, *, forge: bool = False) -> Iterator[Sso]:
    finish_port = free_port()
    public = f"http://127.0.0.1:{finish_port}"
    with OidcProvider([public + CALLBACK], forge=forge) as provider:
        if backend == "sqlite":
            with sqlite_server(env=_sso_env(provider, public), port=finish_port) as server:
                yield Sso(server, server, provider)
            return
        with postgres_database() as url, RedisServer() as redis:
            env = _sso_env(provider, public, DESKCHAT_REDIS_URL=redis.url)
            with Server(url, env=env) as first, Server(url, env=env, port=finish_port) as second:
                yield Sso(first, second, provider)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def sso(request: pytest.FixtureRequest) -> Iterator[Sso]:
    with _sso(request.param) as built:
        yield built


@pytest.fixture
async def desk(sso: Sso) -> AsyncIterator[Desk]:
    async with open_desk(sso.start) as built:
        yield built


@pytest.fixture
async def browser(sso: Sso) -> AsyncIterator[httpx.AsyncClient]:
    """One browser: its own cookie jar, redirects looked at one by one."""
    async with httpx.AsyncClient(base_url=sso.start.url, timeout=30, follow_redirects=False,
                                 headers={"Accept": "text/html,*/*"}) as client:
        yield client


async def begin(browser: httpx.AsyncClient, audience: str, next_path: str | None = None) -> str:
    """Click `Sign in with SSO`: the provider's sign-in URL deskchat redirects to."""
    params = {"audience": audience, **({"next": next_path} if next_path else {})}
    response = await browser.get("/api/v1/auth/oidc/login", params=params)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and "openid" in query["scope"][0].split()
    return location


async def at_provider(authorize_url: str, login: str) -> str:
    """The person signs in on the provider's own page; the URL it sends the browser back to."""
    return await anyio.to_thread.run_sync(sign_in_at_provider, authorize_url, login)


async def sign_in(browser: httpx.AsyncClient, audience: str, login: str, next_path: str | None = None
                  ) -> httpx.Response:
    """A whole sign-in; the callback's response."""
    return await browser.get(await at_provider(await begin(browser, audience, next_path), login))


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **changes})))


async def cookie_api(sso: Sso, browser: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
    """A call of the browser's pages: its cookies, and the CSRF header for unsafe methods."""
    headers = {"Accept": "application/json"}
    if method not in ("GET", "HEAD"):
        headers["X-CSRF-Token"] = browser.cookies.get("csrf_token") or ""
    return await browser.request(method, sso.finish.url + "/api/v1" + path, headers=headers, **kw)


async def technician_count(desk: Desk) -> int:
    return len((await desk.admin.ok("GET", "/technicians"))["items"])


def signed_in_nobody(browser: httpx.AsyncClient) -> bool:
    return browser.cookies.get("deskchat_session") is None and browser.cookies.get("deskchat_requester") is None


async def test_a_technician_signs_in_through_the_provider_with_the_rights_of_a_password_login(
        sso: Sso, desk: Desk, browser: httpx.AsyncClient) -> None:
    group = await desk.group()
    tech, by_password, _ = await desk.technician([group["id"]], online=False)
    assert (await desk.api().ok("GET", "/auth/providers")) == {"password": True, "oidc": True}
    response = await sign_in(browser, "technician", tech["email"].upper(), "/requests?mine=1")
    assert response.status_code == 302 and response.headers["location"] == "/requests?mine=1"
    me = (await cookie_api(sso, browser, "GET", "/me")).json()
    assert me == await by_password.ok("GET", "/me")
    assert me["kind"] == "technician" and me["id"] == tech["id"]
    # the same rights: their group's chats, status changes (with CSRF), but not the admin pages
    chat, _ = await desk.start_chat(group["id"])
    assert chat["id"] in [c["id"] for c in (await cookie_api(sso, browser, "GET", "/chats")).json()["items"]]
    assert (await cookie_api(sso, browser, "PUT", "/me/status", json={"status": "away"})).status_code == 200
    assert_problem(await cookie_api(sso, browser, "POST", "/groups", json={"name": unique("g")}), 403, "forbidden")
    no_csrf = await browser.put(sso.finish.url + "/api/v1/me/status", json={"status": "online"})
    assert_problem(no_csrf, 403, "forbidden")


async def test_no_account_a_deactivated_one_or_an_unverified_email_gets_403_and_nothing_is_created(
        sso: Sso, desk: Desk, browser: httpx.AsyncClient) -> None:
    group = await desk.group()
    gone, _, _ = await desk.technician([group["id"]], online=False)
    await desk.admin.ok("PATCH", f"/technicians/{gone['id']}", json={"active": False})
    unverified_name = unique("unverified")
    await desk.admin.ok("POST", "/technicians", 201, json={
        "name": unverified_name, "email": f"{unverified_name}@example.com", "password": "password-123",
        "role": "technician", "group_ids": [group["id"]]})
    before = await technician_count(desk)
    for login in (f"{unique('stranger')}@example.com", gone["email"], f"{unverified_name}@example.com",
                  f"{unique('noclaim')}@example.com"):
        response = await sign_in(browser, "technician", login)
        assert response.status_code == 403, (login, response.text)
        assert response.headers["content-type"].startswith("text/html")  # a page a person can read
        assert signed_in_nobody(browser)
    assert await technician_count(desk) == before


async def test_a_tampered_state_is_refused_and_the_real_one_still_signs_in(
        sso: Sso, desk: Desk, browser: httpx.AsyncClient) -> None:
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    back = await at_provider(await begin(browser, "technician"), tech["email"])
    state = parse_qs(urlsplit(back).query)["state"][0]
    for forged in (state[:-1] + ("A" if state[-1] != "A" else "B"), "", "x" * 300):
        response = await browser.get(with_query(back, state=forged), headers={"Accept": "application/json"})
        assert response.status_code in (400, 422), response.text
        assert signed_in_nobody(browser)
    assert (await browser.get(back)).status_code == 302
    assert (await cookie_api(sso, browser, "GET", "/me")).json()["id"] == tech["id"]


async def test_a_replayed_code_is_refused(sso: Sso, desk: Desk) -> None:
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    async with httpx.AsyncClient(base_url=sso.start.url, follow_redirects=False) as victim, \
            httpx.AsyncClient(base_url=sso.start.url, follow_redirects=False) as attacker:
        back = await at_provider(await begin(victim, "technician"), tech["email"])
        assert (await victim.get(back)).status_code == 302
        # the same callback again, in the same browser and in another one
        for replayer in (victim, attacker):
            replayer.cookies.delete("deskchat_session")
            assert_problem(await replayer.get(back), 400, "sign_in_failed")
            assert replayer.cookies.get("deskchat_session") is None
        # the code under a fresh sign-in's state: the provider refuses a code it already exchanged
        fresh = await at_provider(await begin(attacker, "technician"), tech["email"])
        code = parse_qs(urlsplit(back).query)["code"][0]
        assert_problem(await attacker.get(with_query(fresh, code=code)), 400, "sign_in_failed")
        assert attacker.cookies.get("deskchat_session") is None


async def test_a_callback_from_another_browser_is_refused(sso: Sso, desk: Desk) -> None:
    """Login CSRF: a callback URL sent to someone else does not sign them in as its owner."""
    group = await desk.group()
    tech, _, _ = await desk.technician([group["id"]], online=False)
    async with httpx.AsyncClient(base_url=sso.start.url, follow_redirects=False) as owner, \
            httpx.AsyncClient(base_url=sso.start.url, follow_redirects=False) as other:
        back = await at_provider(await begin(owner, "technician"), tech["email"])
        assert_problem(await other.get(back), 400, "sign_in_failed")
        assert other.cookies.get("deskchat_session") is None


async def test_next_cannot_leave_the_server(sso: Sso, browser: httpx.AsyncClient) -> None:
    for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "evil.example", "/\t/evil.example"):
        response = await browser.get("/api/v1/auth/oidc/login", params={"audience": "technician", "next": bad},
                                     headers={"Accept": "application/json"})
        body = assert_problem(response, 422, "validation_error")
        assert "next" in body["errors"]
    page = await browser.get("/api/v1/auth/oidc/login", params={"audience": "requester", "next": "//evil.example"})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    unknown = await browser.get("/api/v1/auth/oidc/login", params={"audience": "robot"},
                                headers={"Accept": "application/json"})
    assert_problem(unknown, 422, "validation_error")
    assert (await browser.get(CALLBACK, headers={"Accept": "application/json"})).status_code == 400


async def test_a_requester_signed_in_by_sso_starts_chats_without_a_name_and_sees_them_from_a_second_browser(
        sso: Sso, desk: Desk, browser: httpx.AsyncClient) -> None:
    group = await desk.group()
    email = f"{unique('rita')}@example.com"
    anonymous = await desk.api().ok("POST", "/chats", 201, json={
        "group_id": group["id"], "name": "Rita?", "email": email, "message": "not really Rita"})
    response = await sign_in(browser, "requester", email)
    assert response.status_code == 302 and response.headers["location"] == "/chat"
    assert browser.cookies.get("deskchat_requester") and browser.cookies.get("deskchat_session") is None
    me = (await cookie_api(sso, browser, "GET", "/me")).json()
    assert me["kind"] == "requester" and me["verified"] is True and me["email"] == email
    assert_problem(await browser.post(sso.finish.url + "/api/v1/chats", json={
        "group_id": group["id"], "message": "no CSRF header"}), 403, "forbidden")
    started = await cookie_api(sso, browser, "POST", "/chats", json={"group_id": group["id"],
                                                                      "message": "VPN drops every hour"})
    assert started.status_code == 201, started.text
    chat = started.json()["chat"]
    assert chat["requester"]["id"] == me["id"] and chat["requester"]["verified"] is True
    token = started.json()["visitor_token"]
    # the token works as a bearer too (the page's socket and later calls)
    assert (await Api(sso.start.url, token).ok("GET", "/me"))["id"] == me["id"]
    # a second browser: the same person, every chat, and never the anonymous chat that used the email
    async with httpx.AsyncClient(base_url=sso.start.url, follow_redirects=False) as second:
        assert (await sign_in(second, "requester", email)).status_code == 302
        listed = (await cookie_api(sso, second, "GET", "/chats")).json()["items"]
        assert [c["id"] for c in listed] == [chat["id"]]
        assert_problem(await cookie_api(sso, second, "GET", f"/chats/{anonymous['chat']['id']}"), 403, "forbidden")
        lines = (await cookie_api(sso, second, "GET", f"/chats/{chat['id']}/messages")).json()["messages"]
        assert lines[0]["body"] == "VPN drops every hour"
    # the portal's signed identity of the same email is the same verified requester
    portal = await desk.api().ok("POST", "/requester-sessions", 201, json={"identity_token": identity(email)})
    assert portal["requester"]["id"] == me["id"]


async def test_signing_out_ends_the_sso_session(sso: Sso, desk: Desk, browser: httpx.AsyncClient) -> None:
    email = f"{unique('otto')}@example.com"
    assert (await sign_in(browser, "requester", email)).status_code == 302
    cookie = browser.cookies.get("deskchat_requester")
    assert (await cookie_api(sso, browser, "POST", "/auth/logout")).status_code == 204
    assert browser.cookies.get("deskchat_requester") is None
    assert_problem(await Api(sso.start.url, cookie).request("GET", "/me"), 401, "unauthorized")


async def test_an_id_token_signed_by_another_key_is_refused() -> None:
    with _sso("sqlite", forge=True) as forged:
        async with open_desk(forged.start) as desk, \
                httpx.AsyncClient(base_url=forged.start.url, follow_redirects=False) as browser:
            group = await desk.group()
            tech, _, _ = await desk.technician([group["id"]], online=False)
            response = await sign_in(browser, "technician", tech["email"])
            body = assert_problem(response, 400, "sign_in_failed")
            assert "ID token" in body["detail"]
            assert signed_in_nobody(browser)
            response = await sign_in(browser, "requester", f"{unique('rita')}@example.com")
            assert_problem(response, 400, "sign_in_failed")
            assert signed_in_nobody(browser)
