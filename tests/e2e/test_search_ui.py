"""Search and suggestions in the console (issue 14): Search in the top bar, the Suggestions panel beside a chat."""

from __future__ import annotations

import os
import re
import time
from itertools import count

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.helpers import Server, api_ok, console_login, pick_up, send, start_chat, unique

_WORDS = count(1)


def unique_word(stem: str) -> str:
    """One search word (letters and digits) no other text holds."""
    return f"{stem}{os.getpid()}q{next(_WORDS)}"


def leave_offline_message(server: Server, group_id: int, name: str, text: str) -> int:
    """A requester's offline message (public, as the portal sends it); the id of its request."""
    response = httpx.post(
        f"{server.base_url}/api/v1/portal/offline-messages",
        json={"group_id": group_id, "name": name, "email": "olga@example.com", "message": text},
    )
    return int(api_ok(response, 201)["request_id"])


def search(page: Page, word: str) -> None:
    """Submit the word in Search until its result shows (the index is filled about a second after a write)."""
    box = page.get_by_role("searchbox", name="Search", exact=True)
    result = page.locator("#search-results .search-result").filter(has_text=word)
    deadline = time.monotonic() + 15
    while True:
        box.press("Enter")
        try:
            expect(result.first).to_be_visible(timeout=1_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def test_search_finds_a_request_and_opens_it(e2e_server: Server, new_page) -> None:
    word = unique_word("zanzibarprinter")
    request_id = leave_offline_message(
        e2e_server, e2e_server.seed["network"]["id"], "Olga Offline", f"The {word} on floor 3 prints blank pages."
    )
    alice = new_page()
    console_login(alice, "alice@example.com")
    box = alice.get_by_role("searchbox", name="Search", exact=True)
    expect(alice.get_by_label("Search")).to_have_count(1)  # the picker's box is "Search" only while it is open

    # "/" outside a text field comes to the box; blank input asks nothing.
    alice.locator("#no-chat h1").click()
    alice.keyboard.press("/")
    expect(box).to_be_focused()
    expect(box).to_have_value("")
    box.press("Enter")
    expect(alice.locator("#search-panel")).to_be_hidden()

    alice.keyboard.type(word)
    search(alice, word)
    result = alice.locator("#search-results .search-result").filter(has_text=word)
    expect(result).to_have_count(1)
    expect(result).to_contain_text(f"Request #{request_id}")
    expect(result.locator("mark")).to_have_text([re.compile(word, re.I)])
    expect(result).to_have_attribute("href", f"/requests#{request_id}")

    # Keyboard: ↓ into the results, Escape closes and returns to the box; Ctrl+K from the message area.
    box.press("ArrowDown")
    expect(alice.locator("#search-results .search-result").first).to_be_focused()
    alice.keyboard.press("Escape")
    expect(alice.locator("#search-panel")).to_be_hidden()
    expect(box).to_be_focused()
    box.fill(f"nothing{word}")
    box.press("Enter")
    expect(alice.locator("#search-panel")).to_contain_text(f"No results for “nothing{word}”")
    box.fill(word)
    alice.locator("#no-chat h1").click()
    expect(alice.locator("#search-panel")).to_be_hidden()
    alice.keyboard.press("Control+k")
    expect(box).to_be_focused()
    box.press("Enter")
    expect(result).to_be_visible()

    result.click()
    expect(alice).to_have_url(re.compile(rf"/requests#{request_id}$"))
    expect(alice.locator("#detail-id")).to_have_text(f"#{request_id}")
    expect(alice.locator("#detail-description")).to_contain_text(word)


def test_search_shows_markup_as_text(e2e_server: Server, new_page) -> None:
    word = unique_word("xssprobe")
    leave_offline_message(
        e2e_server, e2e_server.seed["hardware"]["id"], "Mallory", f"<img src=x onerror=alert(1)> {word} <b>bold</b>"
    )
    alice = new_page()
    console_login(alice, "alice@example.com", online=False)
    alice.keyboard.press("Control+k")
    alice.keyboard.type(word)
    search(alice, word)
    result = alice.locator("#search-results .search-result").filter(has_text=word)
    expect(result).to_contain_text("<img src=x onerror=alert(1)>")
    expect(result.locator("mark")).to_have_text([re.compile(word, re.I)])
    expect(alice.locator("#search-panel img, #search-panel b")).to_have_count(0)
    assert alice.dialogs == []  # type: ignore[attr-defined]


def test_suggestions_insert_a_canned_message(e2e_server: Server, new_page) -> None:
    network = e2e_server.seed["network"]
    tag = unique_word("vpnkit")
    api_ok(e2e_server.admin.post("/canned-messages", json={
        "title": "VPN certificate renewal",
        "body": "Hi {{requester.name}}, renew your VPN certificate in the Company Portal.",
        "category": "Network", "scope": "global",
    }), 201)
    toner = api_ok(e2e_server.admin.post("/canned-messages", json={
        "title": f"Toner cartridge {tag}", "body": f"The {tag} toner cartridges are in the supply room.",
        "category": "Hardware", "scope": "global",
    }), 201)
    # An earlier, resolved request of the group that resembles the question.
    earlier = leave_offline_message(e2e_server, network["id"], "Otto Earlier", f"VPN certificate expired {tag}")
    api_ok(e2e_server.admin.patch(f"/requests/{earlier}", json={"status": "resolved"}))
    alice_api = e2e_server.login("alice@example.com", "tech-pass-123")
    deadline = time.monotonic() + 15
    while not api_ok(alice_api.get("/search", params={"q": tag}))["items"]:
        assert time.monotonic() < deadline, "the earlier request was never indexed"
        time.sleep(0.2)

    alice = new_page()
    user = new_page()
    console_login(alice, "alice@example.com")
    requester = unique("Vera")
    user.goto("/chat")
    start_chat(user, network["id"], requester, "vera@example.com", "My VPN certificate expired")
    pick_up(alice, requester)

    panel = alice.get_by_role("region", name="Suggestions")
    expect(panel).to_be_visible()
    suggestion = panel.get_by_role("button", name="VPN certificate renewal", exact=True)
    expect(suggestion).to_be_visible()
    similar = panel.get_by_role("link", name=re.compile(rf"^#{earlier} "))
    expect(similar).to_have_attribute("href", f"/requests#{earlier}")
    expect(panel.get_by_role("button", name=toner["title"])).to_have_count(0)

    suggestion.click()
    box = alice.get_by_label("Message", exact=True)
    expect(box).to_have_value(f"Hi {requester}, renew your VPN certificate in the Company Portal.")
    expect(box).to_be_focused()
    box.press("Enter")
    expect(box).to_have_value("")

    # The requester writes again: the suggestions follow what they wrote.
    chat_word = unique_word("kiosk")
    send(user, f"And the {chat_word} printer says the toner cartridge is empty.")
    expect(panel.get_by_role("button", name=toner["title"])).to_be_visible()

    # Not in an ended chat.
    alice.get_by_role("button", name="End Session").click()
    alice.get_by_role("button", name="End Immediate").click()
    expect(panel).to_be_hidden()

    # A chat found by Search opens in the console itself, also when it is no longer in the list.
    alice.get_by_role("button", name=f"Close chat with {requester}").click()
    expect(alice.locator("#chat-pane")).to_be_hidden()
    alice.keyboard.press("/")
    alice.keyboard.type(chat_word)
    search(alice, chat_word)
    found = alice.locator("#search-results .search-result").filter(has_text=chat_word)
    expect(found).to_contain_text(re.compile(r"Chat \d+"))
    expect(found.locator("mark")).to_have_text([re.compile(chat_word, re.I)])
    found.click()
    expect(alice.locator("#chat-title")).to_have_text(requester)
    expect(alice).to_have_url(re.compile(r"/console$"))
    expect(alice.locator("#search-panel")).to_be_hidden()
    expect(panel).to_be_hidden()
