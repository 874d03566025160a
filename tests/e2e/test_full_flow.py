"""An end user and two technicians go through a whole chat, each in their own browser context."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import (
    Server,
    api_ok,
    console_login,
    message,
    open_chat,
    pick_up,
    request_id_in,
    send,
    start_chat,
    system_messages,
    unique,
)

pytestmark = pytest.mark.e2e


def test_chat_from_start_to_add_as_request(e2e_server: Server, new_page) -> None:
    seed = e2e_server.seed
    hardware = seed["hardware"]
    canned_title = unique("Greeting")
    shortcut = f"greet{canned_title.split()[-1].replace('-', '')}"
    api_ok(
        e2e_server.admin.post(
            "/canned-messages",
            json={"title": canned_title, "body": "Hello {{requester.name}}, this is the {{group.name}} desk.",
                  "shortcut": shortcut, "category": "Openers", "scope": "global"},
        ),
        201,
    )

    alice, bob, user = new_page(), new_page(), new_page()
    console_login(alice, "alice@example.com")
    console_login(bob, "bob@example.com")

    # The end user sees who is online, and starts a chat.
    requester = unique("Erin Enduser")
    user.goto("/chat")
    expect(user.get_by_label("Group").locator(f"option[value='{hardware['id']}']")).to_contain_text("online")
    start_chat(user, hardware["id"], requester, "erin@example.com", "My laptop will not boot")
    expect(user.get_by_text("Waiting for a technician…")).to_be_visible()
    expect(user.locator("#waited")).to_have_text(re.compile(r"\d+:\d\d"))

    # Alice gets the alert with the group, requester, question and time waiting, and picks it up.
    card = alice.locator(".alert-card").filter(has_text=requester)
    expect(card).to_contain_text("Hardware")
    expect(card).to_contain_text("My laptop will not boot")
    expect(card).to_contain_text(re.compile(r"waiting \d+:\d\d"))
    expect(alice).to_have_title(re.compile(r"^\(\d+\) deskchat console$"))
    pick_up(alice, requester)
    expect(user.locator("#waiting")).to_be_hidden()
    expect(system_messages(user).first).to_be_visible()

    # Messages both ways.
    send(alice, "Hi, I am looking at it now.", enter=True)
    expect(message(user, "Hi, I am looking at it now.")).to_have_count(1)
    send(user, "Thank you!")
    expect(message(alice, "Thank you!")).to_have_count(1)

    # A canned message from the picker, filled in for this chat, edited before sending.
    alice.get_by_role("button", name="Canned Messages").click()
    picker = alice.get_by_role("dialog", name="Canned Messages")
    picker.get_by_label("Search").fill(canned_title)
    picker.get_by_role("button", name=re.compile(re.escape(canned_title))).click()
    expect(picker).to_be_hidden()
    box = alice.get_by_label("Message", exact=True)
    expect(box).to_have_value(f"Hello {requester}, this is the Hardware desk.")
    box.press("End")
    box.press_sequentially(" How can I help?")
    box.press("Enter")
    expect(message(user, f"Hello {requester}, this is the Hardware desk. How can I help?")).to_have_count(1)

    # The same canned message by typing /shortcut and Tab.
    box.fill("")
    box.press_sequentially(f"/{shortcut}")
    expect(alice.get_by_role("option", name=re.compile(re.escape(canned_title)))).to_be_visible()
    box.press("Tab")
    expect(box).to_have_value(f"Hello {requester}, this is the Hardware desk.")
    box.fill("")

    # Convert Chat as Request: the side panel shows #<id> and the subject.
    alice.get_by_role("button", name="Convert Chat as Request").click()
    info = alice.locator("#request-info")
    expect(info).to_contain_text(re.compile(r"#\d+"))
    expect(info).to_contain_text("My laptop will not boot")
    expect(alice.get_by_role("button", name="Convert Chat as Request")).to_be_hidden()
    request_id = request_id_in(info)

    # A note on the request.
    alice.get_by_role("button", name="Notes").click()
    alice.get_by_label("Note", exact=True).fill("Checked the BIOS settings.")
    alice.get_by_role("button", name="Add Note").click()
    expect(alice.locator("#notes")).to_contain_text("Checked the BIOS settings.")
    notes = api_ok(e2e_server.admin.get(f"/requests/{request_id}/notes"))["items"]
    assert [n["body"] for n in notes] == ["Checked the BIOS settings."]

    # Invite Bob; he sees the chat.
    alice.get_by_role("button", name="More Actions").click()
    alice.get_by_role("menuitem", name="Invite Other Agents").click()
    invite = alice.get_by_role("dialog", name="Invite Other Agents")
    invite.get_by_role("radio", name=re.compile("Bob Baker")).check()
    invite.get_by_role("button", name="Invite", exact=True).click()
    expect(invite).to_be_hidden()
    expect(bob.locator("#my-chats")).to_contain_text(requester)
    open_chat(bob, requester)
    expect(message(bob, "Thank you!")).to_have_count(1)
    expect(bob.locator("#request-info")).to_contain_text(f"#{request_id}")
    bob.get_by_role("button", name="More Actions").click()
    expect(bob.get_by_role("menuitem", name="Leave this Chat")).to_be_visible()
    expect(bob.get_by_role("menuitem", name="Transfer this Chat")).to_be_hidden()
    bob.keyboard.press("Escape")

    # Transfer to Bob; the end user is told who has the chat now.
    alice.get_by_role("button", name="More Actions").click()
    alice.get_by_role("menuitem", name="Transfer this Chat").click()
    transfer = alice.get_by_role("dialog", name="Transfer this Chat")
    transfer.get_by_role("radio", name=re.compile("Bob Baker")).first.check()
    transfer.get_by_role("button", name="Transfer", exact=True).click()
    expect(transfer).to_be_hidden()
    expect(system_messages(user).filter(has_text="Bob Baker").first).to_be_visible()
    expect(alice.locator("#state-note")).to_contain_text("no longer in this chat")
    expect(alice.get_by_label("Message", exact=True)).to_be_disabled()

    # Bob ends the session; the end user sees that the chat ended.
    bob.get_by_role("button", name="End Session").click()
    bob.get_by_role("dialog", name="End this chat session?").get_by_role("button", name="End Immediate").click()
    expect(user.get_by_role("heading", name="Chat ended")).to_be_visible()
    expect(user.get_by_label("Message", exact=True)).to_be_hidden()
    expect(bob.get_by_label("Message", exact=True)).to_be_disabled()

    # The end user saves the transcript, built in the browser.
    with user.expect_download() as download:
        user.get_by_role("button", name="Save transcript").click()
    assert download.value.suggested_filename.endswith(".txt")
    transcript = Path(download.value.path()).read_text(encoding="utf-8")
    for text in ("My laptop will not boot", "Hi, I am looking at it now.", "Thank you!", "Bob Baker"):
        assert text in transcript

    # Another chat that ends without a request: Add as Request keeps the transcript.
    user.get_by_role("button", name="Start a new chat").click()
    second = unique("Erin Enduser")
    start_chat(user, hardware["id"], second, "erin@example.com", "The printer on floor 2 jams")
    pick_up(bob, second)
    send(bob, "Please open tray 2 and remove the paper.")
    send(user, "Done, it works again.")
    expect(message(bob, "Done, it works again.")).to_have_count(1)
    bob.get_by_role("button", name="End Session").click()
    bob.get_by_role("button", name="End Immediate").click()
    expect(user.get_by_role("heading", name="Chat ended")).to_be_visible()
    bob.get_by_role("button", name="Add as Request").click()
    expect(bob.locator("#request-info")).to_contain_text(re.compile(r"#\d+"))
    expect(bob.get_by_role("button", name="Add as Request")).to_be_hidden()
    second_request = api_ok(e2e_server.admin.get(f"/requests/{request_id_in(bob.locator('#request-info'))}"))
    assert second_request["source"] == "live_chat"
    for text in ("The printer on floor 2 jams", "Please open tray 2 and remove the paper.", "Done, it works again."):
        assert text in second_request["description"]
