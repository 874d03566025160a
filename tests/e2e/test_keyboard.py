"""The console works from the keyboard: composer, /shortcuts, the canned picker, menus, switching chats."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import Server, api_ok, console_login, message, pick_up, start_chat, unique

pytestmark = pytest.mark.e2e


def test_console_keyboard(e2e_server: Server, new_page) -> None:
    network = e2e_server.seed["network"]
    title = unique("Restart router")
    shortcut = "rr" + title.split()[-1].replace("-", "")
    api_ok(
        e2e_server.admin.post(
            "/canned-messages",
            json={"title": title, "body": "Please restart your router, {{requester.name}}.", "shortcut": shortcut,
                  "category": "Network", "scope": "global"},
        ),
        201,
    )
    alice, first, second = new_page(), new_page(), new_page()
    console_login(alice, "alice@example.com")
    one, two = unique("Kim Keys"), unique("Lee Keys")
    first.goto("/chat")
    start_chat(first, network["id"], one, "kim@example.com", "No internet at home office")
    second.goto("/chat")
    start_chat(second, network["id"], two, "lee@example.com", "Slow VPN")
    pick_up(alice, one)

    box = alice.get_by_label("Message", exact=True)
    expect(box).to_be_focused()
    box.press_sequentially(f"/{shortcut[:3]}")
    expect(alice.get_by_role("listbox", name="Canned message shortcuts")).to_be_visible()
    box.press("Enter")
    expect(box).to_have_value(f"Please restart your router, {one}.")
    box.press("Shift+Enter")
    box.press_sequentially("Then tell me what the lights show.")
    box.press("Enter")
    expect(message(first, "Then tell me what the lights show.")).to_have_count(1)
    expect(message(first, f"Please restart your router, {one}.")).to_contain_text("lights show")

    # The canned picker: search, arrow down into the list, Enter inserts; focus comes back to the composer.
    alice.get_by_role("button", name="Canned Messages").focus()
    alice.keyboard.press("Enter")
    search = alice.get_by_label("Search")
    expect(search).to_be_focused()
    search.fill(title)
    expect(alice.locator(".canned-item")).to_have_count(1)
    search.press("ArrowDown")
    expect(alice.locator(".canned-item")).to_be_focused()
    alice.keyboard.press("Enter")
    expect(box).to_have_value(f"Please restart your router, {one}.")
    expect(box).to_be_focused()
    box.fill("")

    # More Actions opens as a menu; Escape closes it and returns focus.
    more = alice.get_by_role("button", name="More Actions")
    more.focus()
    alice.keyboard.press("Enter")
    expect(alice.get_by_role("menuitem", name="Invite Other Agents")).to_be_focused()
    alice.keyboard.press("ArrowDown")
    expect(alice.get_by_role("menuitem", name="Transfer this Chat")).to_be_focused()
    alice.keyboard.press("Escape")
    expect(alice.get_by_role("menu")).to_be_hidden()
    expect(more).to_be_focused()

    # A second chat; Alt+Down / Alt+Up switch between them.
    pick_up(alice, two)
    alice.keyboard.press("Alt+ArrowDown")
    expect(alice.locator("#chat-title")).to_have_text(re.compile(f"^({re.escape(one)})$"))
    alice.keyboard.press("Alt+ArrowUp")
    expect(alice.locator("#chat-title")).to_have_text(two)


def test_invited_technician_leaves(e2e_server: Server, new_page) -> None:
    alice, bob, user = new_page(), new_page(), new_page()
    console_login(alice, "alice@example.com")
    console_login(bob, "bob@example.com")
    requester = unique("Lou Leave")
    user.goto("/chat")
    start_chat(user, e2e_server.seed["hardware"]["id"], requester, "lou@example.com", "Docking station")
    pick_up(alice, requester)
    bob_id = e2e_server.seed["bob"]["id"]
    chat_id = int(alice.locator("#fact-id").inner_text())
    api_ok(e2e_server.admin.post(f"/chats/{chat_id}/invite", json={"technician_id": bob_id}))
    expect(bob.locator("#my-chats")).to_contain_text(requester)
    bob.locator(".chat-item").filter(has_text=requester).click()
    bob.get_by_role("button", name="More Actions").press("ArrowDown")
    expect(bob.get_by_role("menuitem", name="Invite Other Agents")).to_be_focused()
    bob.keyboard.press("ArrowDown")  # Transfer this Chat is the owner's: skipped
    expect(bob.get_by_role("menuitem", name="Leave this Chat")).to_be_focused()
    bob.keyboard.press("Enter")
    expect(bob.locator("#state-note")).to_contain_text("no longer in this chat")
    expect(alice.locator("#fact-participants")).not_to_contain_text("Bob Baker")
    expect(message(user, "Docking station")).to_have_count(1)
