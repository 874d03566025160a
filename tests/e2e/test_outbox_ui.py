"""Email and webhooks in the UI (issue 13 of the tracker): an admin adds a webhook on /admin and sends a
test event that the receiver gets, signed with the secret the page shows, and sees it delivered; the
requester emails themselves the transcript after the end, the technician does from the console, and the
mails arrive; the forward address is saved on /admin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from standardwebhooks.webhooks import Webhook as Verifier

from tests.e2e.conftest import people
from tests.e2e.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, TECH_PASSWORD, Server, api_ok, console_login, send, unique
from tests.e2e.helpers import start_chat as fill_start_form
from tests.support.mail_server import MailServer, body_of
from tests.support.receiver import Receiver
from tests.support.server import sqlite_server

pytestmark = pytest.mark.e2e


@dataclass
class Outbox:
    server: Server
    smtp: MailServer
    hooks: Receiver
    group: dict[str, Any]
    tech_email: str


@pytest.fixture(scope="module")
def outbox() -> Iterator[Outbox]:
    """A server of its own with email on (a real SMTP server) and private webhook URLs allowed."""
    with MailServer() as smtp, Receiver() as hooks:
        server = sqlite_server({**smtp.env(), "DESKCHAT_WEBHOOK_ALLOW_PRIVATE": "true",
                                "DESKCHAT_OUTBOX_POLL_SECONDS": "0.2"})
        try:
            server.start(timeout=60)
            srv = Server(base_url=server.url, host_page_url="", admin=None)  # type: ignore[arg-type]
            srv.admin = srv.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            group = api_ok(srv.admin.post("/groups", json={"name": "Service Desk", "description": "All of IT"}), 201)
            tech_email = "tina@example.com"
            api_ok(srv.admin.post("/technicians", json={
                "name": "Tina Tech", "email": tech_email, "password": TECH_PASSWORD, "role": "technician",
                "group_ids": [group["id"]]}), 201)
            yield Outbox(srv, smtp, hooks, group, tech_email)
        finally:
            server.stop()


@pytest.fixture
def person(browser: Any, outbox: Outbox) -> Iterator[Callable[[], Page]]:
    """A page in its own browser context; CSP violations and uncaught errors fail the test."""
    with people(browser, outbox.server.base_url, accept_dialogs=True) as make:
        yield make


def admin_login(page: Page) -> None:
    page.goto("/admin")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log In").click()
    expect(page.get_by_role("button", name="Log Out")).to_be_visible()


def test_admin_adds_a_webhook_sends_a_test_event_and_sees_it_delivered(outbox: Outbox, person) -> None:
    page = person()
    admin_login(page)
    page.get_by_role("link", name="Webhooks").click()
    section = page.get_by_role("region", name="Webhooks")

    # A URL the server refuses: its reason shows beside the URL field, nothing is added.
    section.get_by_label("URL").fill("http://user:secret@hooks.example.com/x")
    section.get_by_role("checkbox", name="chat.started").check()
    section.get_by_role("button", name="Add Webhook").click()
    expect(page.locator("#webhook-url-error")).to_be_visible()
    expect(page.locator("#webhook-url-error")).to_contain_text("http")
    expect(section.get_by_label("URL")).to_have_attribute("aria-invalid", "true")
    assert api_ok(outbox.server.admin.get("/webhooks"))["items"] == []

    description = unique("ITSM bridge")
    section.get_by_label("URL").fill(outbox.hooks.url)
    section.get_by_label("Description").fill(description)
    section.get_by_role("checkbox", name="request.created").check()
    section.get_by_role("button", name="Add Webhook").click()
    card = page.locator(".webhook").filter(has_text=description)
    expect(card).to_be_visible()
    expect(page.locator("#webhook-url-error")).to_be_hidden()
    expect(card).to_contain_text(outbox.hooks.url)
    expect(card).to_contain_text("chat.started")
    expect(card).to_contain_text("request.created")
    secret = card.get_by_label("Signing secret").input_value()
    assert secret.startswith("whsec_")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=outbox.server.base_url)
    card.get_by_role("button", name="Copy").click()
    expect(card.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    hook = api_ok(outbox.server.admin.get("/webhooks"))["items"][0]
    assert (hook["url"], hook["events"], hook["description"], hook["secret"]) == (
        outbox.hooks.url, ["chat.started", "request.created"], description, secret)

    card.get_by_role("button", name="Send test event").click()
    got = outbox.hooks.wait_for(lambda r: b"webhook.test" in r.body)[0]
    payload = Verifier(secret).verify(got.body, got.headers)  # signed with the secret the page shows
    assert payload["type"] == "webhook.test"

    # Recent deliveries opened by the test and refreshed until the delivery is recorded.
    deliveries = card.locator(".webhook__deliveries")
    expect(card.get_by_role("button", name="Recent deliveries")).to_have_attribute("aria-expanded", "true")
    row = deliveries.locator("tr").filter(has_text=got.headers["webhook-id"])
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text("delivered", timeout=15_000)
    expect(row).to_contain_text("HTTP 200")

    # Delete takes it away (after the confirmation).
    card.get_by_role("button", name="Delete").click()
    expect(card).to_have_count(0)
    assert api_ok(outbox.server.admin.get("/webhooks"))["items"] == []


def test_admin_saves_the_forward_address(outbox: Outbox, person) -> None:
    page = person()
    admin_login(page)
    page.get_by_role("link", name="Settings").click()
    field = page.get_by_label("Forward new requests to")
    field.fill("itsm@example.com")
    page.get_by_role("button", name="Save Settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    assert api_ok(outbox.server.admin.get("/settings"))["request_forward_email"] == "itsm@example.com"
    page.reload()
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_label("Forward new requests to")).to_have_value("itsm@example.com")
    page.get_by_label("Forward new requests to").fill("")
    page.get_by_role("button", name="Save Settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    assert api_ok(outbox.server.admin.get("/settings"))["request_forward_email"] is None


def test_transcript_by_email_from_the_chat_page_and_from_the_console(outbox: Outbox, person) -> None:
    user, tech = person(), person()
    console_login(tech, outbox.tech_email)
    requester = unique("Erin Email")
    email = f"{requester.split()[-1]}@example.com"
    user.goto("/chat")
    fill_start_form(user, outbox.group["id"], requester, email, "The monitor flickers")
    card = tech.locator(".alert-card").filter(has_text=requester)
    card.get_by_role("button", name="Pick Up").click()
    expect(tech.locator("#chat-title")).to_have_text(requester)
    chat_id = int(tech.locator("#fact-id").inner_text())
    send(tech, "Try another cable, please.")
    expect(user.locator(".msg__body").filter(has_text="Try another cable")).to_be_visible()

    # Not offered while the chat goes on.
    expect(user.get_by_role("button", name="Email me the transcript")).to_be_hidden()
    user.get_by_role("button", name="End Chat").click()
    expect(user.get_by_role("heading", name="Chat ended")).to_be_visible()
    user.get_by_role("button", name="Email me the transcript").click()
    expect(user.get_by_text(f"We sent the transcript to {email}.")).to_be_visible()
    expect(user.get_by_role("button", name="Email me the transcript")).to_be_hidden()
    mail = outbox.smtp.wait_for(lambda m: f"chat {chat_id}" in str(m["Subject"]) and m["To"] == email)[0]
    assert "Try another cable, please." in body_of(mail)

    # The console: More Actions → Email Transcript, on the ended chat.
    expect(tech.locator("#fact-state")).to_contain_text("Ended")
    tech.get_by_role("button", name="More Actions").click()
    expect(tech.get_by_role("menuitem", name="Invite Other Agents")).to_be_hidden()
    tech.get_by_role("menuitem", name="Email Transcript").click()
    expect(tech.get_by_text(f"Transcript emailed to {email}.")).to_be_visible()
    outbox.smtp.wait_for(lambda m: f"chat {chat_id}" in str(m["Subject"]) and m["To"] == email, count=2)


def test_without_email_the_chat_page_does_not_offer_the_transcript(e2e_server: Server, new_page) -> None:
    """The shared server has no SMTP: /chat hides the button (or, on a server without /portal/config,
    says email is not set up when it is pressed)."""
    user = new_page()
    user.goto("/chat")
    fill_start_form(user, e2e_server.seed["hardware"]["id"], unique("Nia Nomail"), "nia@example.com", "Printer jam")
    user.get_by_role("button", name="End Chat").click()
    expect(user.get_by_role("heading", name="Chat ended")).to_be_visible()
    config = httpx.get(f"{e2e_server.base_url}/api/v1/portal/config")
    button = user.get_by_role("button", name="Email me the transcript")
    if config.status_code == 200:
        assert config.json()["email"] is False
        expect(button).to_be_hidden()
    else:
        button.click()
        expect(user.get_by_text("Email is not set up")).to_be_visible()
