"""Admin pages and the incident requests page, used as a person would."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, TECH_PASSWORD, Server, api_ok, unique

pytestmark = pytest.mark.e2e


def sign_in(page: Page, path: str, email: str, password: str) -> None:
    page.goto(path)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log In").click()
    expect(page.get_by_role("button", name="Log Out")).to_be_visible()


def test_admin_manages_groups_technicians_canned_messages_and_settings(e2e_server: Server, new_page) -> None:
    page = new_page()
    sign_in(page, "/admin", ADMIN_EMAIL, ADMIN_PASSWORD)

    group = unique("Printers")
    groups = page.get_by_role("region", name="Groups")
    groups.get_by_label("Group name").fill(group)
    groups.get_by_label("Description").fill("Printers and scanners")
    groups.get_by_role("button", name="Add Group").click()
    expect(page.locator("#groups-rows")).to_contain_text(group)

    page.get_by_role("link", name="Technicians").click()
    techs = page.get_by_role("region", name="Technicians")
    email = f"{unique('pat').replace(' ', '-').lower()}@example.com"
    techs.get_by_label("Name").fill("Pat Printer")
    techs.get_by_label("Email").fill(email)
    techs.get_by_label("Password").fill(TECH_PASSWORD)
    techs.get_by_label("Role").select_option(label="Admin")
    techs.get_by_role("checkbox", name=group).check()
    techs.get_by_role("button", name="Add Technician").click()
    row = page.locator("#techs-rows tr").filter(has_text=email)
    expect(row).to_contain_text(group)
    expect(row).to_contain_text("Admin")

    page.get_by_role("link", name="Canned messages").click()
    canned = page.get_by_role("region", name="Canned messages")
    title = unique("Toner")
    canned.get_by_label("Title").fill(title)
    canned.get_by_label("Shortcut").fill("toner")
    canned.get_by_label("Text").fill("Spare toner is in room {{group.name}} - see https://example.com/toner")
    canned.get_by_label("Category", exact=True).fill("Printing")
    canned.get_by_label("Scope").select_option(label="Group")
    canned.get_by_label("Group", exact=True).select_option(label=group)
    canned.get_by_role("button", name="Add Canned Message").click()
    canned_row = page.locator("#canned-rows tr").filter(has_text=title)
    expect(canned_row).to_contain_text("/toner")
    expect(canned_row.get_by_role("link", name="https://example.com/toner")).to_have_attribute("target", "_blank")
    items = api_ok(e2e_server.admin.get("/canned-messages", params={"q": title}))["items"]
    assert [(c["scope"], c["category"], c["shortcut"]) for c in items] == [("group", "Printing", "toner")]

    page.get_by_role("link", name="Settings").click()
    try:
        page.get_by_label("Convert missed chats to requests").check()
        page.get_by_label("Missed-chat timeout (seconds)").fill("300")
        page.get_by_role("button", name="Save Settings").click()
        expect(page.get_by_text("Settings saved.")).to_be_visible()
        settings = api_ok(e2e_server.admin.get("/settings"))
        assert settings == {"missed_chat_conversion": True, "missed_chat_timeout_seconds": 300,
                            "request_forward_email": None}
    finally:
        api_ok(e2e_server.admin.patch("/settings", json={"missed_chat_conversion": False,
                                                          "missed_chat_timeout_seconds": 120}))


def test_requests_page_lists_filters_and_updates_a_request(e2e_server: Server, new_page) -> None:
    hardware = e2e_server.seed["hardware"]
    requester = unique("Quinn Query")
    started = api_ok(
        e2e_server.admin.post("/chats", json={"group_id": hardware["id"], "name": requester,
                                               "email": "quinn@example.com", "message": "Monitor is blank"}),
        201,
    )
    chat_id = started["chat"]["id"]
    alice = e2e_server.login("alice@example.com", TECH_PASSWORD)
    api_ok(alice.post(f"/chats/{chat_id}/pickup"))
    request = api_ok(alice.post(f"/chats/{chat_id}/request", json={}), 201)

    page = new_page()
    sign_in(page, "/requests", "alice@example.com", TECH_PASSWORD)
    item = page.locator(".request-item").filter(has_text=f"#{request['id']}")
    expect(item).to_contain_text("Monitor is blank")
    page.get_by_label("Source").select_option(label="Missed chat")
    expect(item).to_have_count(0)
    page.get_by_label("Source").select_option(label="Live chat")
    item.click()
    expect(page).to_have_url(re.compile(rf"#{request['id']}$"))
    detail = page.locator("#detail")
    expect(detail.locator("#detail-id")).to_have_text(f"#{request['id']}")
    expect(detail).to_contain_text(requester)

    page.get_by_label("Note", exact=True).fill("Swapped the cable <b>twice</b>.")
    page.get_by_role("button", name="Add Note").click()
    expect(page.locator("#detail-notes")).to_contain_text("Swapped the cable <b>twice</b>.")

    page.get_by_label("Request status").select_option(label="Resolved")
    expect(page.get_by_text(f"Request #{request['id']} is now resolved.")).to_be_visible()
    assert api_ok(alice.get(f"/requests/{request['id']}"))["status"] == "resolved"
    api_ok(alice.post(f"/chats/{chat_id}/end"))
