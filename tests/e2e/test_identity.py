"""A portal's signed identity: the widget signs the requester in, the console shows their history,
another device of the same person sees the earlier chats under My Chats."""

from __future__ import annotations

import html
import http.server
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from playwright.sync_api import FrameLocator, Page, expect

from tests.e2e.conftest import people
from tests.e2e.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    TECH_PASSWORD,
    HtmlPage,
    Server,
    api_ok,
    console_login,
    message,
    pick_up,
    send,
    unique,
)
from tests.support.server import free_port, sqlite_server

pytestmark = pytest.mark.e2e

SECRET = "e2e-portal-identity-secret-0123456789abcdef"  # DESKCHAT_IDENTITY_SECRET of this module's server
WIDGET_FRAME = "iframe[title='Chat with IT support']"
EARLIER = "Earlier: the docking station flickers"
QUESTION = "My VPN certificate expired"


def identity_token(email: str, name: str, *, secret: str = SECRET, ttl: int = 600) -> str:
    """What the company portal signs for its signed-in user."""
    claims = {"email": email, "name": name, "exp": int(time.time()) + ttl}
    return str(jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret)))


class _PortalPage(HtmlPage):
    """The portal (another origin) embeds the widget with the identity token of `?identity=`."""

    deskchat_url = ""

    def page(self) -> str:
        token = parse_qs(urlsplit(self.path).query).get("identity", [""])[0]
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Example Corp portal</title></head>"
            "<body><h1>Example Corp portal</h1><p>You are signed in to the portal.</p>"
            f"<script src='{self.deskchat_url}/widget.js' data-identity-token='{html.escape(token, quote=True)}'>"
            "</script></body></html>"
        )


@pytest.fixture(scope="module")
def identity_server() -> Iterator[Server]:
    """A server of its own (the shared e2e server has no identity secret), and the portal page."""
    host_port = free_port()
    host_origin = f"http://localhost:{host_port}"
    server = sqlite_server({"DESKCHAT_IDENTITY_SECRET": SECRET, "DESKCHAT_ALLOWED_ORIGINS": host_origin})
    _PortalPage.deskchat_url = server.url
    portal = http.server.ThreadingHTTPServer(("127.0.0.1", host_port), _PortalPage)
    threading.Thread(target=portal.serve_forever, daemon=True).start()
    try:
        server.start(timeout=60)
        srv = Server(base_url=server.url, host_page_url=f"{host_origin}/", admin=None)  # type: ignore[arg-type]
        srv.admin = srv.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        yield srv
    finally:
        portal.shutdown()
        portal.server_close()
        server.stop()


@pytest.fixture
def person(browser: Any, identity_server: Server) -> Iterator[Callable[[], Page]]:
    """A page in its own browser context; CSP violations and uncaught errors fail the test."""
    with people(browser, identity_server.base_url) as make:
        yield make


def open_widget(page: Page, portal_url: str, token: str) -> FrameLocator:
    page.goto(f"{portal_url}?identity={token}")
    page.get_by_role("button", name="Chat with us").click()
    return page.frame_locator(WIDGET_FRAME)


def chat_frame(page: Page, base_url: str) -> Any:
    return next(f for f in page.frames if f.url.startswith(f"{base_url}/chat?"))


def frame_storage(frame: Any) -> str:
    """Everything the chat frame keeps: its localStorage keys (if it may use any) and its cookies."""
    return str(frame.evaluate(
        "() => { let keys = []; try { keys = Object.keys(localStorage) } catch {} ;"
        " return JSON.stringify([keys, document.cookie]) }"))


def test_portal_identity_signs_the_widget_in(identity_server: Server, person: Callable[[], Page]) -> None:
    srv = identity_server
    group = api_ok(srv.admin.post("/groups", json={"name": unique("Known desk"), "description": "Portal users"}), 201)
    tech_email = f"tina.{uuid.uuid4().hex[:8]}@example.com"
    api_ok(srv.admin.post("/technicians", json={
        "name": "Tina Trust", "email": tech_email, "password": TECH_PASSWORD, "role": "technician",
        "group_ids": [group["id"]]}), 201)
    name, email = unique("Vera Verified"), f"vera.{uuid.uuid4().hex[:8]}@example.com"

    # An earlier chat of the same person (the portal's identity, straight through the API), now ended.
    session = api_ok(httpx.post(f"{srv.base_url}/api/v1/requester-sessions",
                                json={"identity_token": identity_token(email, name)}), 201)
    assert session["requester"]["verified"] is True
    visitor = {"Authorization": f"Bearer {session['visitor_token']}"}
    earlier = api_ok(httpx.post(f"{srv.base_url}/api/v1/chats", headers=visitor,
                                json={"group_id": group["id"], "message": EARLIER}), 201)
    assert earlier["visitor_token"] == session["visitor_token"]
    api_ok(httpx.post(f"{srv.base_url}/api/v1/chats/{earlier['chat']['id']}/end", headers=visitor))

    tech = person()
    console_login(tech, tech_email)

    # The portal embeds the widget with the identity token: no Name or Email to type.
    user = person()
    token = identity_token(email, name)
    frame = open_widget(user, srv.host_page_url, token)
    expect(frame.get_by_text(f"Signed in as {name}")).to_be_visible()
    expect(frame.get_by_label("Name", exact=True)).to_be_hidden()
    expect(frame.get_by_label("Email", exact=True)).to_be_hidden()
    page_frame = chat_frame(user, srv.base_url)
    assert token not in page_frame.url and "identity=1" in page_frame.url
    expect(frame.locator("#my-chats").get_by_role("button").filter(has_text="docking station")).to_be_visible()
    frame.get_by_label("Group").select_option(value=str(group["id"]))
    frame.get_by_label("Question").fill(QUESTION)
    frame.get_by_role("button", name="Start Chat").click()
    expect(frame.get_by_label("Message", exact=True)).to_be_visible()

    # The technician sees who it is, and that person's earlier chat, which opens from the panel.
    pick_up(tech, name)
    expect(tech.locator("#requester-name")).to_have_text(name)
    expect(tech.locator("#requester-email")).to_have_text(email)
    history = tech.locator("#requester-history")
    expect(history.get_by_role("heading", name="Previous chats")).to_be_visible()
    expect(history.get_by_role("heading", name="Requests")).to_be_visible()
    previous = history.get_by_role("button").filter(has_text=EARLIER)
    expect(previous).to_be_visible()
    expect(history.get_by_role("button").filter(has_text=QUESTION)).to_have_count(0)
    send(tech, "Hello, I will renew the certificate for you.")
    expect(message(frame, "Hello, I will renew the certificate for you.")).to_have_count(1)
    previous.click()
    expect(message(tech, EARLIER)).to_have_count(1)
    tech.locator(".chat-item").filter(has_text=QUESTION).click()
    expect(message(tech, "Hello, I will renew the certificate for you.")).to_have_count(1)

    # Another device of the same person, signed in by a new identity token: My Chats lists both chats,
    # and the active one opens live.
    other = person()
    frame2 = open_widget(other, srv.host_page_url, identity_token(email, name))
    expect(frame2.get_by_text(f"Signed in as {name}")).to_be_visible()
    my_chats = frame2.locator("#my-chats")
    expect(my_chats.get_by_role("heading", name="My Chats")).to_be_visible()
    current = my_chats.get_by_role("button").filter(has_text=QUESTION)
    expect(current).to_contain_text("Active")
    expect(my_chats.get_by_role("button").filter(has_text=EARLIER)).to_contain_text("Ended")
    current.click()
    expect(message(frame2, "Hello, I will renew the certificate for you.")).to_have_count(1)
    send(tech, "The new certificate is installed.")
    expect(message(frame2, "The new certificate is installed.")).to_have_count(1)
    expect(message(frame, "The new certificate is installed.")).to_have_count(1)

    # End Chat closes the chat, not the sign-in: the frame keeps the verified token, not the chat record.
    frame.get_by_role("button", name="End Chat").click()
    expect(frame.locator("#ended")).to_contain_text("Chat ended")
    expect(frame2.locator("#ended")).to_contain_text("Chat ended")
    kept = frame_storage(page_frame)
    assert "deskchat.requester" in kept or "deskchat_requester=" in kept, kept
    assert "deskchat.visitor" not in kept and "deskchat_visitor=" not in kept, kept
    frame.get_by_role("button", name="Start a new chat").click()
    expect(frame.get_by_text(f"Signed in as {name}")).to_be_visible()
    expect(frame.get_by_label("Name", exact=True)).to_be_hidden()

    # An ended chat opened from My Chats is read only.
    frame2.get_by_role("button", name="My Chats").click()
    frame2.locator("#my-chats").get_by_role("button").filter(has_text=EARLIER).click()
    expect(message(frame2, EARLIER)).to_have_count(1)
    expect(frame2.locator("#ended")).to_contain_text("Chat ended")
    expect(frame2.get_by_label("Message", exact=True)).to_be_hidden()


def test_a_bad_identity_token_signs_nobody_in(identity_server: Server, person: Callable[[], Page]) -> None:
    user = person()
    forged = identity_token("mallory@example.com", "Mallory", secret="not-the-portal-secret-0123456789abcdef")
    frame = open_widget(user, identity_server.host_page_url, forged)
    expect(frame.get_by_text("We could not confirm who you are")).to_be_visible()
    expect(frame.get_by_label("Name", exact=True)).to_be_visible()
    expect(frame.get_by_label("Email", exact=True)).to_be_visible()
    expect(frame.get_by_text("Signed in as")).to_have_count(0)
    expect(frame.locator("#my-chats")).to_be_hidden()
