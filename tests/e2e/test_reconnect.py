"""A dropped connection shows a banner; after reconnecting every message is there exactly once."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import Server, console_login, message, messages, pick_up, send, start_chat, unique

pytestmark = pytest.mark.e2e


def test_end_user_reconnects_without_losing_or_doubling(e2e_server: Server, new_page) -> None:
    alice, user = new_page(), new_page()
    console_login(alice, "alice@example.com")
    requester = unique("Rita Reconnect")
    user.goto("/chat")
    start_chat(user, e2e_server.seed["hardware"]["id"], requester, "rita@example.com", "Wi-Fi keeps dropping")
    pick_up(alice, requester)
    send(alice, "before the drop")
    expect(message(user, "before the drop")).to_have_count(1)

    user.context.set_offline(True)
    user.evaluate("() => window.__deskchat_ws && window.__deskchat_ws.close()")
    expect(user.get_by_text("Connection lost — reconnecting…")).to_be_visible()

    sent = [f"while away {i}" for i in range(1, 4)]
    for text in sent:
        send(alice, text)
        expect(message(alice, text)).to_have_count(1)

    user.context.set_offline(False)
    expect(user.get_by_text("Connection lost — reconnecting…")).to_be_hidden(timeout=15_000)
    for text in sent:
        expect(message(user, text)).to_have_count(1)
    send(alice, "after the drop")
    expect(message(user, "after the drop")).to_have_count(1)
    bodies = messages(user).all_inner_texts()
    assert bodies.count("before the drop") == 1
    assert [b for b in bodies if b.startswith("while away")] == sent
    seqs = user.locator(".timeline li").evaluate_all("nodes => nodes.map(n => Number(n.dataset.seq))")
    assert seqs == sorted(set(seqs)) and seqs == list(range(seqs[0], seqs[0] + len(seqs)))

    # The end user ends the chat; the technician sees it ended.
    user.get_by_role("button", name="End Chat").click()
    expect(user.get_by_role("heading", name="Chat ended")).to_be_visible()
    expect(alice.locator("#state-note")).to_contain_text("This chat ended")
    expect(alice.get_by_role("button", name="Add as Request")).to_be_visible()


def test_console_reconnects_without_losing_or_doubling(e2e_server: Server, new_page) -> None:
    alice, user = new_page(), new_page()
    console_login(alice, "alice@example.com")
    requester = unique("Carl Console")
    user.goto("/chat")
    start_chat(user, e2e_server.seed["hardware"]["id"], requester, "carl@example.com", "Screen flickers")
    pick_up(alice, requester)

    alice.context.set_offline(True)
    alice.evaluate("() => window.__deskchat_ws && window.__deskchat_ws.close()")
    expect(alice.get_by_text("Connection lost — reconnecting…")).to_be_visible()
    for i in range(1, 4):
        send(user, f"user while tech away {i}")
    alice.context.set_offline(False)
    expect(alice.get_by_text("Connection lost — reconnecting…")).to_be_hidden(timeout=15_000)
    for i in range(1, 4):
        expect(message(alice, f"user while tech away {i}")).to_have_count(1)
