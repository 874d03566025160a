"""Single sign-on in the browser, through a real OpenID provider's own login page (``oidc-provider``):
a technician lands in the console, a requester chats from /chat without typing a name and finds the
chat again under My Chats in a second browser."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import people
from tests.e2e.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    TECH_PASSWORD,
    Server,
    api_ok,
    console_login,
    message,
    pick_up,
    send,
    unique,
)
from tests.support.oidc_provider import OidcProvider
from tests.support.server import free_port, sqlite_server

pytestmark = pytest.mark.e2e
QUESTION = "Outlook asks for my password every five minutes"


@pytest.fixture(scope="module")
def sso_server() -> Iterator[Server]:
    """A server of its own with single sign-on, and the provider it trusts."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    with OidcProvider([f"{public}/api/v1/auth/oidc/callback"]) as provider:
        server = sqlite_server({**provider.env(), "DESKCHAT_PUBLIC_URL": public}, port=port)
        try:
            server.start(timeout=60)
            srv = Server(base_url=server.url, host_page_url="", admin=None)  # type: ignore[arg-type]
            srv.admin = srv.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            yield srv
        finally:
            server.stop()


@pytest.fixture
def person(browser: Any, sso_server: Server) -> Iterator[Callable[[], Page]]:
    """A page in its own browser context; CSP violations and uncaught errors fail the test."""
    with people(browser, sso_server.base_url, own_pages_only=True) as make:
        yield make


def provider_login(page: Page, login: str) -> None:
    """The provider's own sign-in page: any password will do for this test provider."""
    expect(page.get_by_role("button", name="Sign-in")).to_be_visible()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign-in").click()


def test_a_technician_signs_in_through_the_provider_and_lands_in_the_console(
        sso_server: Server, person: Callable[[], Page]) -> None:
    srv = sso_server
    group = api_ok(srv.admin.post("/groups", json={"name": unique("SSO desk"), "description": "Single sign-on"}), 201)
    email = f"tess.{uuid.uuid4().hex[:8]}@example.com"
    api_ok(srv.admin.post("/technicians", json={
        "name": "Tess Token", "email": email, "password": TECH_PASSWORD, "role": "technician",
        "group_ids": [group["id"]]}), 201)
    tech = person()
    tech.goto("/console")
    tech.get_by_role("link", name="Sign in with SSO").click()
    provider_login(tech, email)
    expect(tech.get_by_role("button", name="Log Out")).to_be_visible()
    assert tech.url == f"{srv.base_url}/console"
    expect(tech.locator("#user-name")).to_have_text("Tess Token")
    tech.get_by_label("Status").select_option(label="Online")
    expect(tech.locator("#status-dot[data-status=online]")).to_be_attached()

    # the same rights as after a password login: alerts of their group, Pick Up, the requests page
    user = person()
    user.goto("/chat")
    user.get_by_label("Group").select_option(value=str(group["id"]))
    user.get_by_label("Name", exact=True).fill("Una User")
    user.get_by_label("Email", exact=True).fill("una@example.com")
    user.get_by_label("Question").fill("Printer jam")
    user.get_by_role("button", name="Start Chat").click()
    pick_up(tech, "Una User")
    send(tech, "Opening the tray now.")
    expect(message(user, "Opening the tray now.")).to_have_count(1)
    tech.goto("/requests")
    expect(tech.get_by_role("button", name="Log Out")).to_be_visible()

    # an email no technician has: a page that says so, and no session
    stranger = person()
    stranger.goto("/admin")
    stranger.get_by_role("link", name="Sign in with SSO").click()
    provider_login(stranger, f"nobody.{uuid.uuid4().hex[:8]}@example.com")
    expect(stranger.get_by_role("heading", name="Forbidden")).to_be_visible()
    expect(stranger.get_by_text("No active technician account has this email address")).to_be_visible()
    stranger.goto("/admin")
    expect(stranger.get_by_role("button", name="Log In")).to_be_visible()


def test_a_requester_signs_in_by_sso_chats_and_finds_the_chat_in_a_second_browser(
        sso_server: Server, person: Callable[[], Page]) -> None:
    srv = sso_server
    group = api_ok(srv.admin.post("/groups", json={"name": unique("Mail desk"), "description": "Email"}), 201)
    tech_email = f"mo.{uuid.uuid4().hex[:8]}@example.com"
    api_ok(srv.admin.post("/technicians", json={
        "name": "Mo Mail", "email": tech_email, "password": TECH_PASSWORD, "role": "technician",
        "group_ids": [group["id"]]}), 201)
    tech = person()
    console_login(tech, tech_email)

    login = f"rosa.{uuid.uuid4().hex[:6]}"  # email <login>@example.com; the provider names her from the login
    name = " ".join(part.capitalize() for part in login.split("."))
    user = person()
    user.goto("/chat")
    expect(user.get_by_label("Name", exact=True)).to_be_visible()
    user.get_by_role("link", name="Sign in with SSO").click()
    provider_login(user, login)
    expect(user.get_by_text(f"Signed in as {name}")).to_be_visible()
    expect(user.get_by_label("Name", exact=True)).to_be_hidden()
    expect(user.get_by_label("Email", exact=True)).to_be_hidden()
    expect(user.get_by_role("link", name="Sign in with SSO")).to_be_hidden()
    user.get_by_label("Group").select_option(value=str(group["id"]))
    user.get_by_label("Question").fill(QUESTION)
    user.get_by_role("button", name="Start Chat").click()
    expect(user.get_by_label("Message", exact=True)).to_be_visible()
    pick_up(tech, name)
    expect(tech.locator("#requester-email")).to_have_text(f"{login}@example.com")
    send(tech, "I will reset your mail profile.")
    expect(message(user, "I will reset your mail profile.")).to_have_count(1)
    send(user, "Thank you!")
    expect(message(tech, "Thank you!")).to_have_count(1)

    # a second browser, signed in through the provider again: My Chats has the chat, live
    other = person()
    other.goto("/chat")
    other.get_by_role("link", name="Sign in with SSO").click()
    provider_login(other, login)
    mine = other.locator("#my-chats").get_by_role("button").filter(has_text=QUESTION)
    expect(mine).to_contain_text("Active")
    mine.click()
    expect(message(other, "I will reset your mail profile.")).to_have_count(1)
    send(tech, "Done, restart Outlook.")
    expect(message(other, "Done, restart Outlook.")).to_have_count(1)

    # Sign out ends the single sign-on session in that browser
    other.get_by_role("button", name="My Chats").click()
    other.get_by_role("button", name="Sign out").click()
    expect(other.get_by_label("Name", exact=True)).to_be_visible()
    other.reload()
    expect(other.get_by_role("link", name="Sign in with SSO")).to_be_visible()
    expect(other.get_by_text("Signed in as")).to_have_count(0)
