"""What a person does in the UI, found by labels and roles (API.md's labels)."""

from __future__ import annotations

import http.server
import itertools
import os
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from playwright.sync_api import FrameLocator, Locator, Page, expect

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-pass-123"
TECH_PASSWORD = "tech-pass-123"

_COUNTER = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no other test uses (tests share one server)."""
    return f"{prefix} {os.getpid() % 1000}-{next(_COUNTER)}"



@dataclass
class Server:
    base_url: str
    host_page_url: str
    admin: httpx.Client
    seed: dict[str, Any] = field(default_factory=dict)

    def login(self, email: str, password: str) -> httpx.Client:
        """An API client with a technician's bearer token."""
        response = httpx.post(f"{self.base_url}/api/v1/auth/login", json={"email": email, "password": password})
        response.raise_for_status()
        token = response.json()["token"]
        return httpx.Client(base_url=f"{self.base_url}/api/v1", headers={"Authorization": f"Bearer {token}"})




def console_login(page: Page, email: str, password: str = TECH_PASSWORD, *, online: bool = True) -> None:
    """Log in on /console and set the status to Online."""
    page.goto("/console")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log In").click()
    expect(page.get_by_role("button", name="Log Out")).to_be_visible()
    if online:
        page.get_by_label("Status").select_option(label="Online")
        expect(page.locator("#status-dot[data-status=online]")).to_be_attached()
        expect(page.locator("#banner")).to_be_hidden()


def start_chat(scope: Page | FrameLocator, group_id: int, name: str, email: str, question: str) -> None:
    """Fill the end-user form and press Start Chat."""
    group = scope.get_by_label("Group")
    expect(group.locator(f"option[value='{group_id}']")).to_be_attached()
    group.select_option(value=str(group_id))
    scope.get_by_label("Name").fill(name)
    scope.get_by_label("Email").fill(email)
    scope.get_by_label("Question").fill(question)
    scope.get_by_role("button", name="Start Chat").click()
    expect(scope.get_by_label("Message", exact=True)).to_be_visible()


def alert_card(page: Page, requester: str) -> Locator:
    """The waiting-chat card of one requester in the console."""
    return page.locator(".alert-card").filter(has_text=requester)


def pick_up(page: Page, requester: str) -> None:
    """Press Pick Up on the requester's alert and wait for the chat to open."""
    card = alert_card(page, requester)
    expect(card).to_be_visible(timeout=15_000)
    card.get_by_role("button", name="Pick Up").click()
    expect(page.locator("#chat-title")).to_have_text(requester)
    expect(card).to_have_count(0)


def send(scope: Page | FrameLocator, text: str, *, enter: bool = False) -> None:
    """Type a message and send it with the Send button (or Enter)."""
    box = scope.get_by_label("Message", exact=True)
    box.fill(text)
    if enter:
        box.press("Enter")
    else:
        scope.get_by_role("button", name="Send", exact=True).click()
    expect(box).to_have_value("")


def messages(scope: Page | FrameLocator) -> Locator:
    """Text bubbles of the open conversation."""
    return scope.locator(".timeline:visible .msg__body")


def message(scope: Page | FrameLocator, text: str) -> Locator:
    return messages(scope).filter(has_text=text)


def system_messages(scope: Page | FrameLocator) -> Locator:
    return scope.locator(".timeline:visible .msg--system")


def open_chat(page: Page, requester: str) -> None:
    """Click a chat in the console's list."""
    page.locator(".chat-item").filter(has_text=requester).click()
    expect(page.locator("#chat-title")).to_have_text(requester)


def request_id_in(locator: Locator) -> int:
    """The number of the first #<id> shown in a node."""
    match = re.search(r"#(\d+)", locator.inner_text())
    assert match, locator.inner_text()
    return int(match.group(1))


def api_ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


class HtmlPage(http.server.BaseHTTPRequestHandler):
    """A tiny web page of another origin (a host portal, a foreign site); subclasses say what ``page()`` is."""

    def page(self) -> str:
        """The HTML to serve for this request."""
        raise NotImplementedError

    def do_GET(self) -> None:
        body = self.page().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass
