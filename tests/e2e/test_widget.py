"""The widget on a page of another origin opens /chat in an iframe; a technician answers."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import Server, console_login, message, pick_up, send, start_chat, unique

pytestmark = pytest.mark.e2e


def test_widget_on_another_origin_starts_a_chat(e2e_server: Server, new_page) -> None:
    network = e2e_server.seed["network"]
    alice, visitor = new_page(), new_page()
    console_login(alice, "alice@example.com")

    visitor.goto(e2e_server.host_page_url)
    assert not visitor.url.startswith(e2e_server.base_url)
    launcher = visitor.get_by_role("button", name="Chat with us")
    expect(launcher).to_be_visible()
    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    frame = visitor.frame_locator("iframe[title='Chat with IT support']")

    requester = unique("Wanda Widget")
    start_chat(frame, network["id"], requester, "wanda@example.com", "VPN drops every ten minutes")
    expect(frame.get_by_text("Waiting for a technician…")).to_be_visible()

    pick_up(alice, requester)
    send(alice, "Hello from the service desk, which VPN client do you use?")
    expect(message(frame, "Hello from the service desk, which VPN client do you use?")).to_have_count(1)
    send(frame, "The built-in one.", enter=True)
    expect(message(alice, "The built-in one.")).to_have_count(1)

    # Closing and reopening the widget keeps the conversation.
    visitor.get_by_role("button", name="Close chat").click()
    expect(visitor.locator("iframe[title='Chat with IT support']")).to_be_hidden()
    dot = visitor.locator("#deskchat-launcher span[aria-hidden=true]")
    expect(dot).to_be_hidden()
    send(alice, "Could you restart the VPN client?")
    expect(dot).to_be_visible()
    launcher.click()
    expect(dot).to_be_hidden()
    expect(message(frame, "The built-in one.")).to_have_count(1)
    expect(message(frame, "Could you restart the VPN client?")).to_have_count(1)

    # A reload of the host page resumes the same chat: from the iframe's own storage, or, where the
    # browser blocks third-party storage as this test browser does, from the iframe's partitioned
    # cookie (never from the host page).
    visitor.reload()
    visitor.get_by_role("button", name="Chat with us").click()
    frame = visitor.frame_locator("iframe[title='Chat with IT support']")
    expect(message(frame, "Hello from the service desk, which VPN client do you use?")).to_have_count(1)
    expect(frame.get_by_label("Message", exact=True)).to_be_visible()
