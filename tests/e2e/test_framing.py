"""Who may frame /chat, where the visitor token lives, and that End Chat forgets it."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT
from tests.e2e.helpers import HtmlPage, Server, console_login, message, pick_up, send, start_chat, unique

pytestmark = pytest.mark.e2e

WIDGET_FRAME = "iframe[title='Chat with IT support']"


class _ForeignPage(HtmlPage):
    """A site not in DESKCHAT_ALLOWED_ORIGINS that frames /chat, once plainly, once claiming an allowed host."""

    frames: tuple[str, ...] = ()

    def page(self) -> str:
        iframes = "".join(f"<iframe title='chat {i}' src='{src}'></iframe>" for i, src in enumerate(self.frames))
        return f"<!doctype html><html lang='en'><title>Not allowed</title><body>{iframes}</body></html>"


@pytest.fixture
def foreign_url(e2e_server: Server) -> Iterator[str]:
    allowed_host = e2e_server.host_page_url.rstrip("/")
    _ForeignPage.frames = (f"{e2e_server.base_url}/chat?embed=1",
                           f"{e2e_server.base_url}/chat?embed=1&host={allowed_host}")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ForeignPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # localhost:<port> is in neither the server's own origin nor DESKCHAT_ALLOWED_ORIGINS.
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_another_origin_cannot_frame_the_chat(browser: Any, foreign_url: str) -> None:
    # Not the new_page fixture: the refusal we want to see is a CSP message, which that fixture fails on.
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        refusals: list[str] = []
        page.on("console", lambda m: refusals.append(m.text) if "frame-ancestors" in m.text else None)
        page.goto(foreign_url)
        deadline = time.monotonic() + 10
        while len(refusals) < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert len(refusals) == 2, refusals
        blocked = ["chrome-error://chromewebdata/"] * 2  # the refused frames end on Chromium's error page
        while [f.url for f in page.frames[1:]] != blocked and time.monotonic() < deadline + 5:
            page.wait_for_timeout(50)
        assert [f.url for f in page.frames[1:]] == blocked
        for index in range(2):
            chat = page.frame_locator(f"iframe[title='chat {index}']")
            expect(chat.get_by_role("button", name="Start Chat")).to_have_count(0)
            expect(chat.locator("#start-form")).to_have_count(0)
    finally:
        context.close()


@pytest.fixture
def storage_blocking_page(browser: Any) -> Iterator[Any]:
    """A page in a Chromium that blocks third-party cookies and storage.

    `--enable-features=TrackingProtection3pcd` is Chromium's third-party-cookie deprecation: third-party
    cookies and third-party storage (localStorage, sessionStorage, IndexedDB) are blocked; only
    partitioned (CHIPS) cookies are allowed. Debian's Chromium turns it on by default; the flag pins it.
    """
    problems: list[str] = []
    instance = browser.browser_type.launch(executable_path=CHROMIUM,
                                           args=[*CHROMIUM_ARGS, "--enable-features=TrackingProtection3pcd"])
    try:
        page = instance.new_context(viewport=VIEWPORT).new_page()
        page.set_default_timeout(10_000)
        page.on("console", lambda m: problems.append(m.text) if "Refused to" in m.text else None)
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        yield page
    finally:
        instance.close()
    assert problems == [], problems


def test_widget_on_allowed_origin_keeps_the_token_in_the_frame(
    e2e_server: Server, new_page: Callable[..., Any], storage_blocking_page: Any
) -> None:
    alice, visitor = new_page(), storage_blocking_page
    console_login(alice, "alice@example.com")
    visitor.goto(e2e_server.host_page_url)
    visitor.get_by_role("button", name="Chat with us").click()
    frame = visitor.frame_locator(WIDGET_FRAME)
    requester = unique("Hana Host")
    start_chat(frame, e2e_server.seed["network"]["id"], requester, "hana@example.com", "Printer offline")

    chat = next(f for f in visitor.frames if f.url.startswith(f"{e2e_server.base_url}/chat?"))
    assert chat.evaluate("() => { try { localStorage.length; return false } catch { return true } }"), \
        "third-party storage is not blocked in this browser: the test would prove nothing"

    pick_up(alice, requester)
    send(alice, "Which printer is it?")
    expect(message(frame, "Which printer is it?")).to_have_count(1)

    # The token is in the frame's partitioned cookie, and nowhere in the host page's storage.
    cookie = next(c for c in chat.evaluate("document.cookie").split("; ") if c.startswith("deskchat_visitor="))
    token = unquote(cookie).split('"visitor_token":"')[1].split('"')[0]
    assert len(token) > 16
    host_storage = visitor.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}, document.cookie])")
    assert host_storage == '[{},{},""]'


def test_end_chat_forgets_the_visitor(e2e_server: Server, new_page: Callable[..., Any]) -> None:
    user = new_page()
    user.goto("/chat")
    start_chat(user, e2e_server.seed["hardware"]["id"], unique("Sam Shared"), "sam@example.com", "Shared PC question")
    user.get_by_role("button", name="End Chat").click()
    expect(user.locator("#ended")).to_be_visible()

    user.reload()
    expect(user.get_by_role("button", name="Start Chat")).to_be_visible()
    expect(user.get_by_text("Shared PC question")).to_have_count(0)
    expect(user.get_by_label("Name")).to_have_value("")
    expect(user.get_by_label("Email")).to_have_value("")
    assert user.evaluate("() => Object.keys(localStorage).filter((k) => k.startsWith('deskchat'))") == []
