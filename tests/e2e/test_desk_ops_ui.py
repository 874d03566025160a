"""Desk operations in the UI (issue 14 of the tracker): the live Monitor, whispers, Reports with charts
and the CSV export, Max chats and Routing on /admin, an auto-assigned chat and 409 at_capacity in the
console."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    TECH_PASSWORD,
    Server,
    alert_card,
    api_ok,
    console_login,
    message,
    pick_up,
    send,
    start_chat,
    system_messages,
    unique,
)

pytestmark = pytest.mark.e2e


def admin_login(page: Page, path: str = "/admin") -> None:
    page.goto(path)
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log In").click()
    expect(page.get_by_role("button", name="Log Out")).to_be_visible()


def new_group(srv: Server, name: str, **extra: Any) -> dict[str, Any]:
    group = api_ok(srv.admin.post("/groups", json={"name": name, "description": "e2e"}), 201)
    if extra:
        group = api_ok(srv.admin.patch(f"/groups/{group['id']}", json=extra))
    return dict(group)


def new_technician(srv: Server, name: str, group_ids: list[int], **extra: Any) -> dict[str, Any]:
    email = f"{name.lower().replace(' ', '.')}@example.com"
    body = {"name": name, "email": email, "password": TECH_PASSWORD, "role": "technician", "group_ids": group_ids,
            **extra}
    return dict(api_ok(srv.admin.post("/technicians", json=body), 201))


def cell(page: Page, group_name: str, column: str) -> Any:
    """The Monitor's cell of one group's row under the column headed `column`."""
    table = page.locator("table").filter(has=page.get_by_role("columnheader", name=column, exact=True)).first
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    index = [h.lower() for h in headers].index(column.lower())
    return table.locator("tbody tr").filter(has_text=group_name).locator("th, td").nth(index)


def test_monitor_shows_a_new_waiting_chat_without_reloading(e2e_server: Server, new_page) -> None:
    name = unique("Monitor desk")
    group = new_group(e2e_server, name)
    admin, user = new_page(), new_page()
    admin_login(admin)
    admin.get_by_role("link", name="Monitor").click()
    expect(admin.get_by_role("heading", name="Monitor")).to_be_visible()
    expect(admin.locator("#monitor-live")).to_have_text("Live")
    waiting = cell(admin, name, "Waiting")
    expect(waiting).to_have_text("0")
    expect(cell(admin, name, "Longest wait")).to_have_text("—")
    # Every active technician is listed, with active / max chats.
    expect(admin.locator("#monitor-techs")).to_contain_text("Alice Archer")
    admin.evaluate("window.__not_reloaded = true")

    user.goto("/chat")
    start_chat(user, group["id"], unique("Mona Monitor"), "mona@example.com", "Is anybody there?")
    expect(waiting).to_have_text("1", timeout=5_000)  # a monitor frame, then one GET /monitor
    wait = cell(admin, name, "Longest wait")
    expect(wait).to_have_text(re.compile(r"^\d+:\d\d$"))
    first = wait.inner_text()
    expect(wait).not_to_have_text(first, timeout=4_000)  # counts up on its own
    assert admin.evaluate("window.__not_reloaded") is True

    # The requester gives up: back to 0, still live.
    user.get_by_role("button", name="End Chat").click()
    expect(waiting).to_have_text("0", timeout=5_000)
    expect(cell(admin, name, "Longest wait")).to_have_text("—")


def test_a_whisper_reaches_the_admin_and_never_the_requester(e2e_server: Server, new_page) -> None:
    alice, admin, user = new_page(), new_page(), new_page()
    console_login(alice, "alice@example.com")
    requester = unique("Wes Quiet")
    user.goto("/chat")
    start_chat(user, e2e_server.seed["hardware"]["id"], requester, "wes@example.com", "My laptop is slow")
    pick_up(alice, requester)
    chat_id = int(alice.locator("#fact-id").inner_text())
    send(alice, "Let me look at it.")
    expect(message(user, "Let me look at it.")).to_be_visible()

    # An admin who is not in the chat opens it (from /requests' chat link, or /console?chat=).
    admin_login(admin, f"/console?chat={chat_id}")
    expect(admin.locator("#chat-title")).to_have_text(requester)
    expect(message(admin, "Let me look at it.")).to_be_visible()
    expect(admin.locator("#state-note")).to_contain_text("not in this chat")

    secret = unique("Check the disk first, it was replaced last month")
    alice.get_by_role("button", name="More Actions").click()
    alice.get_by_role("menuitem", name="Whisper").click()
    alice.get_by_label("Whisper", exact=True).fill(secret)
    alice.get_by_role("button", name="Send Whisper").click()
    mine = alice.locator(".timeline:visible .msg--whisper").filter(has_text=secret)
    expect(mine).to_contain_text("only technicians see this")
    theirs = admin.locator(".timeline:visible .msg--whisper").filter(has_text=secret)
    expect(theirs).to_contain_text("Whisper from Alice Archer — only technicians see this")

    # The admin whispers back; Alice sees it live. Whispers are not messages (no bubbles).
    reply = unique("Fine, and ask about the charger")
    admin.get_by_role("button", name="More Actions").click()
    admin.get_by_role("menuitem", name="Whisper").click()
    admin.get_by_label("Whisper", exact=True).fill(reply)
    admin.get_by_role("button", name="Send Whisper").click()
    expect(alice.locator(".timeline:visible .msg--whisper").filter(has_text=reply)).to_contain_text(
        "Whisper from Admin")
    expect(message(alice, secret)).to_have_count(0)

    send(alice, "Which disk do you have?")
    expect(message(user, "Which disk do you have?")).to_be_visible()
    # In the console's timeline, by time: the message after both whispers.
    order = alice.locator(".timeline:visible > li").all_inner_texts()
    positions = [next(i for i, t in enumerate(order) if needle in t) for needle in
                 ("Let me look at it.", secret, reply, "Which disk do you have?")]
    assert positions == sorted(positions), order

    # Reloaded, the console loads earlier whispers in their place.
    alice.reload()
    expect(alice.get_by_role("button", name="Log Out")).to_be_visible()
    alice.locator(".chat-item").filter(has_text=requester).click()
    expect(alice.locator(".timeline:visible .msg--whisper")).to_have_count(2)
    order = alice.locator(".timeline:visible > li").all_inner_texts()
    positions = [next(i for i, t in enumerate(order) if needle in t) for needle in
                 ("Let me look at it.", secret, reply, "Which disk do you have?")]
    assert positions == sorted(positions), order

    # The requester never sees them: not live, not after a reload, not in the saved transcript.
    for page_text in (user.locator("body").inner_text(),):
        assert secret not in page_text and reply not in page_text
    user.reload()
    expect(message(user, "Which disk do you have?")).to_be_visible()
    assert secret not in user.locator("body").inner_text()
    with user.expect_download() as download:
        user.get_by_role("button", name="Save transcript").click()
    transcript = Path(download.value.path()).read_text(encoding="utf-8")
    assert "Which disk do you have?" in transcript and secret not in transcript and reply not in transcript


def test_reports_show_figures_charts_and_the_csv(e2e_server: Server, new_page) -> None:
    # At least one chat today, answered.
    started = api_ok(e2e_server.admin.post("/chats", json={
        "group_id": e2e_server.seed["network"]["id"], "name": unique("Rita Report"), "email": "rita@example.com",
        "message": "Report me"}), 201)
    page = new_page()
    admin_login(page)
    page.get_by_role("link", name="Reports").click()
    section = page.get_by_role("region", name="Reports")
    from_day = section.get_by_label("From").input_value()
    to_day = section.get_by_label("To").input_value()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", from_day) and re.fullmatch(r"\d{4}-\d\d-\d\d", to_day)
    today = page.evaluate("(() => { const d = new Date(); return [d.getFullYear(), d.getMonth() + 1, d.getDate()]"
                          ".map((n, i) => String(n).padStart(i ? 2 : 4, '0')).join('-'); })()")
    assert to_day == today
    chats = section.locator("[data-stat=chats] .stat__value")
    expect(chats).to_have_text(re.compile(r"^\d+$"))
    expect(section.locator("#chart-chats canvas").first).to_be_visible()
    expect(section.locator("#chart-wait canvas").first).to_be_visible()
    day_after = page.evaluate(f"new Date(Date.parse('{to_day}T00:00:00Z') + 864e5).toISOString().slice(0, 10)")
    summary = api_ok(e2e_server.admin.get("/reports/summary", params={"from": from_day, "to": day_after}))
    assert summary["chats"] >= 1
    expect(chats).to_have_text(str(summary["chats"]))
    expect(section.locator("[data-stat=missed] .stat__value")).to_have_text(str(summary["missed"]))

    # One group only.
    section.get_by_label("Group").select_option(label="Network")
    section.get_by_role("button", name="Show").click()
    network = api_ok(e2e_server.admin.get("/reports/summary", params={
        "from": from_day, "to": day_after, "group_id": e2e_server.seed["network"]["id"]}))
    expect(chats).to_have_text(str(network["chats"]))

    link = section.get_by_role("link", name="Download CSV")
    href = link.get_attribute("href")
    assert href and f"to={day_after}" in href and f"group_id={e2e_server.seed['network']['id']}" in href
    response = page.request.get(href)  # the admin's cookie, as a plain link
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text().strip().splitlines()
    assert lines[0].startswith("id,group_id,requester_email,state")
    assert any(line.startswith(f"{started['chat']['id']},") for line in lines[1:])
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".csv")


def test_max_chats_and_routing_on_admin(e2e_server: Server, new_page) -> None:
    tech = new_technician(e2e_server, unique("Max Limit"), [e2e_server.seed["hardware"]["id"]])
    group_name = unique("Routed")
    page = new_page()
    admin_login(page)

    groups = page.get_by_role("region", name="Groups")
    groups.get_by_label("Group name").fill(group_name)
    groups.get_by_label("Routing").select_option(label="Auto-assign")
    groups.get_by_role("button", name="Add Group").click()
    row = page.locator("#groups-rows tr").filter(has_text=group_name)
    expect(row).to_contain_text("Auto-assign")
    saved = next(g for g in api_ok(e2e_server.admin.get("/groups"))["items"] if g["name"] == group_name)
    assert saved["routing"] == "auto_assign"
    row.get_by_role("button", name=f"Edit {group_name}").click()
    expect(groups.get_by_label("Routing")).to_have_value("auto_assign")
    groups.get_by_label("Routing").select_option(label="Pick Up (broadcast)")
    groups.get_by_role("button", name="Save Group").click()
    expect(row).to_contain_text("Pick Up")
    assert api_ok(e2e_server.admin.get(f"/groups/{saved['id']}"))["routing"] == "broadcast"

    page.get_by_role("link", name="Technicians").click()
    techs = page.get_by_role("region", name="Technicians")
    tech_row = page.locator("#techs-rows tr").filter(has_text=tech["email"])
    expect(tech_row).to_contain_text("No limit")
    tech_row.get_by_role("button", name=f"Edit {tech['name']}").click()
    techs.get_by_label("Max chats").fill("51")  # the browser refuses to submit it (max 50)
    techs.get_by_role("button", name="Save Technician").click()
    assert techs.get_by_label("Max chats").evaluate("e => e.validity.rangeOverflow") is True
    assert api_ok(e2e_server.admin.get(f"/technicians/{tech['id']}"))["max_chats"] is None
    techs.get_by_label("Max chats").fill("2")
    techs.get_by_role("button", name="Save Technician").click()
    expect(page.get_by_text("Technician saved.")).to_be_visible()
    expect(tech_row).to_contain_text("2")
    assert api_ok(e2e_server.admin.get(f"/technicians/{tech['id']}"))["max_chats"] == 2
    tech_row.get_by_role("button", name=f"Edit {tech['name']}").click()
    expect(techs.get_by_label("Max chats")).to_have_value("2")
    techs.get_by_label("Max chats").fill("")
    techs.get_by_role("button", name="Save Technician").click()
    expect(tech_row).to_contain_text("No limit")
    assert api_ok(e2e_server.admin.get(f"/technicians/{tech['id']}"))["max_chats"] is None


def test_auto_assigned_chat_and_at_capacity_in_the_console(e2e_server: Server, new_page) -> None:
    auto = new_group(e2e_server, unique("Auto desk"), routing="auto_assign")
    broadcast = new_group(e2e_server, unique("Broadcast desk"))
    tech = new_technician(e2e_server, unique("Cap Ada"), [auto["id"], broadcast["id"]], max_chats=1)
    console, first, second = new_page(), new_page(), new_page()
    console_login(console, tech["email"])

    # Auto-assign: the chat simply shows up in My chats, with the "assigned" line.
    one = unique("Otto Auto")
    first.goto("/chat")
    start_chat(first, auto["id"], one, "otto@example.com", "Assign me")
    expect(console.locator("#my-chats")).to_contain_text(one, timeout=10_000)
    console.locator(".chat-item").filter(has_text=one).click()
    assigned = system_messages(console).filter(has_text=re.compile("assigned", re.I))
    expect(assigned).to_have_count(1)
    expect(first.locator(".msg--system").filter(has_text=re.compile("assigned", re.I))).to_have_count(1)

    # At capacity (max 1): Pick Up on a second chat shows the server's explanation; the alert stays.
    two = unique("Cara Capacity")
    second.goto("/chat")
    start_chat(second, broadcast["id"], two, "cara@example.com", "Me too")
    card = alert_card(console, two)
    expect(card).to_be_visible(timeout=15_000)
    card.get_by_role("button", name="Pick Up").click()
    notice = console.locator("#notice")
    expect(notice).to_be_visible()
    client = e2e_server.login(tech["email"], TECH_PASSWORD)
    waiting = api_ok(client.get("/chats", params={"state": "waiting"}))["items"]
    target = next(c for c in waiting if c["requester"]["name"] == two)
    problem = client.post(f"/chats/{target['id']}/pickup")
    assert problem.status_code == 409 and problem.json()["type"] == "at_capacity", problem.text
    expect(notice).to_have_text(problem.json()["detail"])
    expect(card).to_be_visible()

    # Another technician takes that chat and invites Ada, who is still at capacity: the dialog says why not.
    ben = new_technician(e2e_server, unique("Ben Busy"), [broadcast["id"]])
    helper = new_page()
    console_login(helper, ben["email"])
    pick_up(helper, two)
    helper.get_by_role("button", name="More Actions").click()
    helper.get_by_role("menuitem", name="Invite Other Agents").click()
    helper.get_by_role("radio", name=re.compile(re.escape(tech["name"]))).check()
    helper.get_by_role("button", name="Invite", exact=True).click()
    refused = helper.locator("#invite-error")
    expect(refused).to_be_visible()
    expect(refused).to_have_text(problem.json()["detail"])  # the same technician is at capacity
    expect(helper.locator("#fact-participants")).not_to_contain_text(tech["name"])
