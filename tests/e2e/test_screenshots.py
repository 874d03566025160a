"""Screenshots of the chat page, the widget and the console (docs/screenshots with DESKCHAT_SCREENSHOTS=1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import TECH_PASSWORD, Server, api_ok, console_login, message, pick_up, send, start_chat

pytestmark = pytest.mark.e2e


def test_screenshots(e2e_server: Server, new_page, screenshots_dir: Path | None, tmp_path: Path) -> None:
    out = screenshots_dir or tmp_path
    hardware, network = e2e_server.seed["hardware"], e2e_server.seed["network"]
    # A technician of her own, so chats of other tests do not show up in her console.
    api_ok(
        e2e_server.admin.post(
            "/technicians",
            json={"name": "Dana Diaz", "email": "dana@example.com", "password": TECH_PASSWORD,
                  "role": "technician", "group_ids": [hardware["id"], network["id"]]},
        ),
        201,
    )
    alice, user, visitor, other = new_page(), new_page(), new_page(), new_page()
    console_login(alice, "dana@example.com")

    # A second chat Dana already has, with a message she has not read yet.
    other.goto("/chat")
    question = "Outlook asks for my password all the time"
    start_chat(other, network["id"], "Tom Becker", "tom.becker@example.com", question)
    pick_up(alice, "Tom Becker")
    send(alice, "Hi Tom, I will reset your mail profile.")

    user.goto("/chat")
    start_chat(user, hardware["id"], "Priya Patel", "priya.patel@example.com",
               "My laptop won't connect to the office Wi-Fi since this morning")
    pick_up(alice, "Priya Patel")
    send(alice, "Hi Priya, I'm Dana from the service desk. Sorry about the trouble!")
    send(user, "Thanks! It says 'Can't connect to this network'. Other people seem fine.")
    send(alice, "Could you try forgetting the network and joining again? Steps: https://support.example.com/wifi")
    send(user, "Done, same error.")
    alice.get_by_role("button", name="Convert Chat as Request").click()
    expect(alice.locator("#request-info")).to_contain_text("#")
    alice.get_by_label("Note", exact=True).fill("Cert on the laptop expired yesterday; renewing via MDM.")
    alice.get_by_role("button", name="Add Note").click()
    expect(alice.locator("#notes")).to_contain_text("Cert on the laptop")
    send(other, "Okay, thank you!")
    expect(alice.locator(".chat-item").filter(has_text="Tom Becker").locator(".badge")).to_have_text("1")

    # Someone else waiting, so the queue shows an alert card.
    visitor.goto(e2e_server.host_page_url)
    visitor.get_by_role("button", name="Chat with us").click()
    frame = visitor.frame_locator("iframe[title='Chat with IT support']")
    start_chat(frame, network["id"], "Sam Rivera", "sam.rivera@example.com", "VPN disconnects every ten minutes")
    expect(alice.locator(".alert-card").filter(has_text="Sam Rivera")).to_be_visible()

    alice.wait_for_timeout(2600)  # typing frames are sent at most every 2.5 s
    alice.get_by_label("Message", exact=True).press_sequentially("Your certificate has expired, I am renewing it now")
    expect(user.get_by_text("Dana Diaz is typing…")).to_be_visible()
    user.screenshot(path=str(out / "chat.png"))
    alice.wait_for_timeout(300)
    alice.screenshot(path=str(out / "console.png"))

    pick_up(alice, "Sam Rivera")
    send(alice, "Hi Sam, which VPN client are you using?")
    expect(message(frame, "Hi Sam, which VPN client are you using?")).to_have_count(1)
    send(frame, "The built-in Windows one.")
    visitor.screenshot(path=str(out / "widget.png"))
    for name in ("chat.png", "console.png", "widget.png"):
        assert (out / name).stat().st_size > 10_000
