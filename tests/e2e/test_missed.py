"""A chat nobody picks up in time becomes a request; the end user is told its id and what happens next."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import Server, api_ok, request_id_in, start_chat, unique

pytestmark = pytest.mark.e2e


def test_missed_chat_names_the_request(e2e_server: Server, new_page) -> None:
    group = api_ok(e2e_server.admin.post("/groups", json={"name": unique("Facilities"), "description": ""}), 201)
    settings = {"missed_chat_conversion": True, "missed_chat_timeout_seconds": 10}
    api_ok(e2e_server.admin.patch("/settings", json=settings))
    try:
        user = new_page()
        user.goto("/chat")
        expect(user.get_by_label("Group").locator(f"option[value='{group['id']}']")).to_contain_text("nobody online")
        requester = unique("Mia Missed")
        user.get_by_label("Group").select_option(value=str(group["id"]))
        expect(user.get_by_text("Nobody in this group is online right now.")).to_be_visible()
        start_chat(user, group["id"], requester, "mia@example.com", "The door badge reader is broken")
        ended = user.locator("#ended")
        expect(ended).to_contain_text(re.compile(r"#\d+"), timeout=25_000)
        expect(ended).to_contain_text("follow up by email")
        expect(user.get_by_label("Message", exact=True)).to_be_hidden()
        request = api_ok(e2e_server.admin.get(f"/requests/{request_id_in(ended)}"))
        assert request["source"] == "missed_chat"
        assert request["subject"] == "Missed chat: The door badge reader is broken"
        # A reload still shows it.
        user.reload()
        expect(user.locator("#ended")).to_contain_text(f"#{request['id']}")
    finally:
        api_ok(e2e_server.admin.patch("/settings", json={"missed_chat_conversion": False}))
