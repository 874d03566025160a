"""Whatever people type is shown as text; only http(s) URLs become links."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import Server, console_login, message, pick_up, send, start_chat, unique

pytestmark = pytest.mark.e2e

PAYLOAD = "<img src=x onerror=alert(1)>"


def test_markup_is_text_and_only_http_links_are_links(e2e_server: Server, new_page) -> None:
    alice, user = new_page(), new_page()
    console_login(alice, "alice@example.com")
    requester = unique("Mallory <b>Markup</b>")
    user.goto("/chat")
    start_chat(user, e2e_server.seed["hardware"]["id"], requester, "mallory@example.com", PAYLOAD)

    card = alice.locator(".alert-card").filter(has_text=requester)
    expect(card).to_contain_text(PAYLOAD)
    pick_up(alice, requester)

    send(user, PAYLOAD)
    send(alice, f"echo {PAYLOAD}")
    send(alice, "See https://example.com/x for the guide.")
    send(alice, "Do not click javascript:alert(1) or data:text/html,hi")

    for page in (user, alice):
        expect(message(page, "See https://example.com/x")).to_have_count(1)
        expect(message(page, "javascript:alert(1)")).to_have_count(1)
        timeline = page.locator(".timeline:visible")
        expect(timeline.get_by_text(PAYLOAD, exact=True).first).to_be_visible()
        expect(timeline.get_by_text(f"echo {PAYLOAD}")).to_have_count(1)
        assert timeline.locator("img").count() == 0
        assert page.locator("img").count() == 0
        link = timeline.get_by_role("link", name="https://example.com/x")
        expect(link).to_have_count(1)
        expect(link).to_have_attribute("href", "https://example.com/x")
        expect(link).to_have_attribute("target", "_blank")
        assert "noopener" in (link.get_attribute("rel") or "")
        assert timeline.locator("a[href^='javascript'], a[href^='data']").count() == 0
        assert timeline.get_by_role("link").count() == 1
        assert page.dialogs == []  # type: ignore[attr-defined]
    expect(alice.locator("#chat-title")).to_have_text(requester)
