"""The end user's side of issue 10: attachments both ways, the queue, ratings, opening hours and offline
messages, and the admin's business hours, each person in a browser context of their own."""

from __future__ import annotations

import base64
import re
import struct
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    TECH_PASSWORD,
    Server,
    api_ok,
    console_login,
    message,
    pick_up,
    request_id_in,
    send,
    start_chat,
    unique,
)

pytestmark = pytest.mark.e2e

ALWAYS_CLOSED = {"timezone": "UTC", "days": {}}


def png_bytes(width: int = 48, height: int = 32, rgb: tuple[int, int, int] = (36, 86, 201)) -> bytes:
    """A real PNG image (8-bit RGB, one colour), built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def group_with_technician(server: Server, label: str) -> tuple[dict[str, Any], str]:
    """A group of its own (nothing else waits in it) and a technician of that group only."""
    group = api_ok(server.admin.post("/groups", json={"name": unique(label), "description": ""}), 201)
    email = f"tech.{uuid.uuid4().hex[:10]}@example.com"
    api_ok(server.admin.post("/technicians", json={
        "name": unique("Tess Tech"), "email": email, "password": TECH_PASSWORD, "role": "technician",
        "group_ids": [group["id"]]}), 201)
    return group, email


def paste_file(page: Page, data: bytes, name: str, content_type: str) -> None:
    """Paste a file into the Message field, as the clipboard does with a screenshot."""
    page.get_by_label("Message", exact=True).evaluate(
        """(box, [b64, name, type]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type }));
            box.focus();
            const event = new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true });
            box.dispatchEvent(event);
        }""",
        [base64.b64encode(data).decode(), name, content_type],
    )


def drop_file(target: Locator, data: bytes, name: str, content_type: str) -> None:
    """Drag a file from the desktop and drop it on a node."""
    target.evaluate(
        """(node, [b64, name, type]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type }));
            for (const kind of ["dragenter", "dragover", "drop"]) {
                node.dispatchEvent(new DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true }));
            }
        }""",
        [base64.b64encode(data).decode(), name, content_type],
    )


def thumbnail(page: Page, filename: str) -> Locator:
    return page.locator(".timeline:visible .msg--attachment").filter(has_text=filename).locator("img")


def expect_image_shown(image: Locator) -> None:
    expect(image).to_be_visible()
    expect(image).to_have_js_property("complete", True)
    page = image.page
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("(img) => img.src.startsWith('blob:')")


def test_a_pasted_screenshot_and_a_file_go_both_ways(e2e_server: Server, new_page) -> None:
    group, tech_email = group_with_technician(e2e_server, "Screens")
    tech, user = new_page(), new_page()
    console_login(tech, tech_email)
    requester = unique("Paula Paste")
    user.goto("/chat")
    start_chat(user, group["id"], requester, "paula@example.com", "My second screen shows stripes")
    pick_up(tech, requester)
    send(tech, "Could you send me a screenshot?")
    expect(message(user, "Could you send me a screenshot?")).to_have_count(1)

    # The end user pastes a screenshot into the Message field: it is uploaded and both sides see it.
    image = png_bytes()
    paste_file(user, image, "stripes.png", "image/png")
    expect(user.get_by_label("Message", exact=True)).to_have_value("")
    expect_image_shown(thumbnail(tech, "stripes.png"))
    expect_image_shown(thumbnail(user, "stripes.png"))
    expect(thumbnail(tech, "stripes.png")).to_have_attribute("alt", "stripes.png")
    # What the console shows is the pasted picture, and the server keeps its exact bytes.
    pixel = thumbnail(tech, "stripes.png").evaluate(
        """(img) => {
            const canvas = document.createElement("canvas");
            canvas.width = img.naturalWidth;
            canvas.height = img.naturalHeight;
            const context = canvas.getContext("2d");
            context.drawImage(img, 0, 0);
            return [img.naturalWidth, img.naturalHeight, ...context.getImageData(5, 5, 1, 1).data];
        }"""
    )
    assert pixel == [48, 32, 36, 86, 201, 255]
    attachment_id = tech.locator(".timeline:visible .file-thumb-box").first.get_attribute("data-attachment-id")
    stored = e2e_server.admin.get(f"/attachments/{attachment_id}")
    assert stored.status_code == 200 and stored.content == image
    assert stored.headers["content-type"] == "image/png"

    # The technician sends a file with Attach File; the end user downloads it under its own name.
    log = b"2026-12-01 10:00:01 display: EDID checksum error\n" * 50
    with tech.expect_file_chooser() as chooser:
        tech.get_by_role("button", name="Attach File").click()
    chooser.value.set_files(files=[{"name": "display.log", "mimeType": "text/plain", "buffer": log}])
    chip = user.locator(".timeline:visible .file-chip").filter(has_text="display.log")
    expect(chip).to_contain_text("2 KB")
    expect(user.locator(".timeline:visible img")).to_have_count(1)  # a log file is no thumbnail
    with user.expect_download() as download:
        chip.get_by_role("button", name="Download display.log").click()
    assert download.value.suggested_filename == "display.log"
    assert Path(download.value.path()).read_bytes() == log

    # A file dropped on the conversation is attached too.
    drop_file(tech.locator("#chat-pane"), b"Reinstall the display driver, then reboot.\n", "steps.txt", "text/plain")
    expect(user.locator(".timeline:visible .file-chip").filter(has_text="steps.txt")).to_be_visible()

    # An empty file, or one over the size limit (10 MiB), is refused with the server's explanation.
    with user.expect_file_chooser() as chooser:
        user.get_by_role("button", name="Attach File").click()
    chooser.value.set_files(files=[{"name": "empty.txt", "mimeType": "text/plain", "buffer": b""}])
    expect(user.locator("#notice")).to_contain_text(re.compile(r"empty\.txt: .*empty", re.IGNORECASE))
    with user.expect_file_chooser() as chooser:
        user.get_by_role("button", name="Attach File").click()
    chooser.value.set_files(files=[{"name": "huge.bin", "mimeType": "application/octet-stream",
                                    "buffer": b"\0" * (10 * 1024 * 1024 + 1)}])
    expect(user.locator("#notice")).to_contain_text(re.compile(r"huge\.bin: .*(large|limit)", re.IGNORECASE))
    expect(user.locator(".timeline:visible .msg--attachment")).to_have_count(3)

    # The transcript names the attachments.
    with user.expect_download() as transcript:
        user.get_by_role("button", name="Save transcript").click()
    text = Path(transcript.value.path()).read_text(encoding="utf-8")
    assert "stripes.png" in text and "display.log" in text


def test_queue_position_then_a_rating(e2e_server: Server, new_page) -> None:
    group, tech_email = group_with_technician(e2e_server, "Queue")
    tech, first, second = new_page(), new_page(), new_page()
    console_login(tech, tech_email)
    one, two = unique("Quinn First"), unique("Rory Second")
    first.goto("/chat")
    start_chat(first, group["id"], one, "quinn@example.com", "Outlook keeps asking for my password")
    expect(first.locator("#queue-position")).to_have_text("You are number 1 in the queue")
    second.goto("/chat")
    start_chat(second, group["id"], two, "rory@example.com", "Teams has no sound")
    expect(second.locator("#queue-position")).to_have_text("You are number 2 in the queue")
    expect(second.locator("#waited")).to_have_text(re.compile(r"\d+:\d\d"))

    # The chat ahead is picked up: the second requester moves up without reloading.
    pick_up(tech, one)
    expect(second.locator("#queue-position")).to_have_text("You are number 1 in the queue")
    # One pickup of this group so far, a few seconds after its start: the estimate is short.
    expect(second.locator("#queue-estimate")).to_have_text("Estimated wait: less than a minute")
    expect(first.locator("#waiting")).to_be_hidden()

    # The second chat is answered, and the requester ends it and rates it.
    pick_up(tech, two)
    send(tech, "Please check the output device in the Teams settings.")
    expect(message(second, "Please check the output device")).to_have_count(1)
    second.get_by_role("button", name="End Chat").click()
    expect(second.get_by_role("heading", name="Chat ended")).to_be_visible()
    expect(second.get_by_role("heading", name="How did we do?")).to_be_visible()
    for score in range(1, 6):
        expect(second.get_by_role("button", name=f"Rate {score}", exact=True)).to_be_visible()
    second.get_by_role("button", name="Rate 4", exact=True).click()
    expect(second.get_by_role("button", name="Rate 4", exact=True)).to_have_attribute("aria-pressed", "true")
    second.get_by_label("Comment", exact=True).fill("Quick and friendly")
    second.get_by_role("button", name="Send Rating").click()
    expect(second.get_by_text("Thank you for your feedback")).to_be_visible()
    expect(second.get_by_role("button", name="Send Rating")).to_be_hidden()

    # The technician sees the rating in the chat's details.
    expect(tech.locator("#chat-title")).to_have_text(two)
    expect(tech.locator("#fact-rating")).to_contain_text("Rated 4/5")
    expect(tech.locator("#fact-rating")).to_contain_text("Quick and friendly")
    rated = api_ok(e2e_server.admin.get(f"/chats/{tech.locator('#fact-id').inner_text()}"))
    assert rated["requester"]["name"] == two
    assert rated["rating"]["score"] == 4 and rated["rating"]["comment"] == "Quick and friendly"

    # Kept as a request, the chat's rating shows on /requests too.
    tech.get_by_role("button", name="Add as Request").click()
    expect(tech.locator("#request-info")).to_contain_text(re.compile(r"#\d+"))
    request_id = request_id_in(tech.locator("#request-info"))
    tech.goto(f"/requests#{request_id}")
    expect(tech.locator("#detail-id")).to_have_text(f"#{request_id}")
    expect(tech.locator("#detail-rating")).to_have_text("Rated 4/5: “Quick and friendly”")


def test_a_closed_group_takes_an_offline_message(e2e_server: Server, new_page) -> None:
    group, tech_email = group_with_technician(e2e_server, "After hours")
    user = new_page()

    # Open, nobody online: both a chat that waits and a message are offered.
    user.goto("/chat")
    user.get_by_label("Group").select_option(value=str(group["id"]))
    expect(user.get_by_text("No technician is available right now")).to_be_visible()
    expect(user.get_by_role("button", name="Start Chat")).to_be_visible()
    expect(user.get_by_role("button", name="Leave a Message")).to_be_visible()

    # The group closes (no opening hours at all) while the page is open: starting a chat is refused
    # with the server's explanation, and the page now offers only the offline form.
    api_ok(e2e_server.admin.patch(f"/groups/{group['id']}", json={"business_hours": ALWAYS_CLOSED}))
    tech = new_page()
    console_login(tech, tech_email)
    name = unique("Olga Offline")
    user.get_by_label("Name", exact=True).fill(name)
    user.get_by_label("Email", exact=True).fill("olga@example.com")
    user.get_by_label("Question").fill("Can someone look at the scanner?")
    user.get_by_role("button", name="Start Chat").click()
    expect(user.locator("#notice")).to_contain_text("closed")
    expect(user.get_by_role("button", name="Start Chat")).to_be_hidden()
    expect(user.get_by_label("Group").locator(f"option[value='{group['id']}']")).to_contain_text("closed now")
    expect(user.get_by_text("No technician is available right now")).to_be_visible()
    expect(user.get_by_label("Name", exact=True)).to_have_value(name)
    user.get_by_label("Message", exact=True).fill("The scanner on floor 3 is offline\nIt shows error E42.")
    user.get_by_role("button", name="Leave a Message").click()
    sent = user.locator("#offline-sent")
    expect(sent).to_contain_text(re.compile(r"request #\d+"))
    expect(sent).to_contain_text("reply by email")
    request_id = request_id_in(sent)
    request = api_ok(e2e_server.admin.get(f"/requests/{request_id}"))
    assert request["source"] == "offline_message"
    assert request["subject"] == "The scanner on floor 3 is offline"
    assert request["group_id"] == group["id"]

    # The technician online in that group is told, and the card leads to the request.
    card = tech.locator(".alert-card--offline").filter(has_text=name)
    expect(card).to_contain_text(f"Offline message from {name}: The scanner on floor 3 is offline — #{request_id}")
    expect(card.get_by_role("button", name=f"Dismiss offline message #{request_id}")).to_be_visible()
    card.get_by_role("link", name=f"#{request_id}").click()
    expect(tech).to_have_url(re.compile(rf"/requests#{request_id}$"))
    expect(tech.locator("#detail-id")).to_have_text(f"#{request_id}")
    expect(tech.locator("#detail-meta")).to_contain_text("Offline message")


def test_admin_sets_business_hours(e2e_server: Server, new_page) -> None:
    group = api_ok(e2e_server.admin.post("/groups", json={"name": unique("Office hours"), "description": ""}), 201)
    page = new_page()
    page.goto("/admin")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log In").click()
    row = page.locator("#groups-rows tr").filter(has_text=group["name"])
    expect(row).to_contain_text("Always open")
    row.get_by_role("button", name=f"Edit {group['name']}").click()

    form = page.locator("#group-form")
    form.get_by_label("Always open").uncheck()
    form.get_by_label("Time zone").fill("Europe/Berlin")
    form.get_by_label("Monday").fill("09:00-12:00, 13:00-17:00")
    form.get_by_label("Tuesday").fill("9:00 - 17:00")
    form.get_by_label("Wednesday").fill("17:00-09:00")
    form.get_by_role("button", name="Save Group").click()
    expect(form.locator("#group-hours-wed-error")).to_contain_text("after the start")
    form.get_by_label("Wednesday").fill("")
    form.get_by_role("button", name="Save Group").click()
    dash = "\u2013"  # the summary's ranges use an en dash
    expect(row).to_contain_text(f"Mon 09:00{dash}12:00, 13:00{dash}17:00; Tue 09:00{dash}17:00 (Europe/Berlin)")
    saved = api_ok(e2e_server.admin.get(f"/groups/{group['id']}"))["business_hours"]
    assert saved["timezone"] == "Europe/Berlin"
    assert saved["days"]["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert saved["days"]["tue"] == [["09:00", "17:00"]]
    assert not saved["days"].get("wed")

    # A zone the server does not know is refused with its explanation; Always open clears the hours.
    row.get_by_role("button", name=f"Edit {group['name']}").click()
    expect(form.get_by_label("Monday")).to_have_value("09:00-12:00, 13:00-17:00")
    form.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    form.get_by_role("button", name="Save Group").click()
    expect(page.locator("#notice")).to_be_visible()
    assert api_ok(e2e_server.admin.get(f"/groups/{group['id']}"))["business_hours"]["timezone"] == "Europe/Berlin"
    form.get_by_label("Always open").check()
    form.get_by_role("button", name="Save Group").click()
    expect(row).to_contain_text("Always open")
    assert api_ok(e2e_server.admin.get(f"/groups/{group['id']}"))["business_hours"] is None
