"""An admin deactivates a technician on /admin: their open console is signed out; Reactivate lets them back in."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, TECH_PASSWORD, Server, api_ok, console_login, unique

pytestmark = pytest.mark.e2e

WRONG_LOGIN = "Email or password is not correct."


def accept_confirms(page: Page) -> None:
    """Answer the page's confirm() questions with OK and keep them (the new_page fixture dismisses dialogs)."""
    page.evaluate("() => { window.__confirms = []; window.confirm = (q) => (window.__confirms.push(q), true); }")


def last_confirm(page: Page) -> str:
    return str(page.evaluate("() => window.__confirms.at(-1) || ''"))


def login_answer(server: Server, email: str, password: str) -> tuple[int, dict[str, object]]:
    response = httpx.post(f"{server.base_url}/api/v1/auth/login", json={"email": email, "password": password})
    body = response.json()
    return response.status_code, {k: body.get(k) for k in ("type", "title", "status", "detail")}


def test_deactivate_signs_the_technician_out_and_reactivate_lets_them_back(e2e_server: Server, new_page) -> None:
    name = unique("Dana Deactivated")
    email = f"{name.replace(' ', '-').lower()}@example.com"
    tech = api_ok(e2e_server.admin.post("/technicians", json={
        "name": name, "email": email, "password": TECH_PASSWORD, "role": "technician",
        "group_ids": [e2e_server.seed["hardware"]["id"]],
    }), 201)

    console = new_page()
    console_login(console, email, online=False)
    console.wait_for_function("() => window.__deskchat_ws && window.__deskchat_ws.readyState === WebSocket.OPEN")

    admin = new_page()
    admin.goto("/admin#technicians")
    admin.get_by_label("Email").fill(ADMIN_EMAIL)
    admin.get_by_label("Password").fill(ADMIN_PASSWORD)
    admin.get_by_role("button", name="Log In").click()
    accept_confirms(admin)
    rows = admin.locator("#techs-rows tr")
    row = rows.filter(has_text=email)
    expect(row.get_by_role("button", name="Deactivate", exact=True)).to_be_visible()
    mine = rows.filter(has_text=ADMIN_EMAIL)
    expect(mine).to_be_visible()
    expect(mine.get_by_role("button", name="Deactivate")).to_have_count(0)  # no locking yourself out

    row.get_by_role("button", name="Deactivate", exact=True).click()
    assert name in last_confirm(admin)
    expect(row.locator(".pill")).to_have_text("Deactivated")
    expect(row.get_by_role("button", name="Reactivate", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name="Deactivate", exact=True)).to_have_count(0)
    assert api_ok(e2e_server.admin.get(f"/technicians/{tech['id']}"))["active"] is False

    # The open console is cut off (close code 1008) and shows the sign-in form again by itself.
    login_button = console.get_by_role("button", name="Log In")
    expect(login_button).to_be_visible(timeout=8_000)
    console.get_by_label("Email").fill(email)
    console.get_by_label("Password").fill(TECH_PASSWORD)
    login_button.click()
    expect(console.locator("#login-notice")).to_have_text(WRONG_LOGIN)
    # A deactivated account answers exactly like a wrong password: nothing tells the account exists.
    right = login_answer(e2e_server, email, TECH_PASSWORD)
    assert right[0] == 401
    assert right == login_answer(e2e_server, email, "not-the-password")

    row.get_by_role("button", name="Reactivate", exact=True).click()
    assert name in last_confirm(admin)
    expect(row.get_by_role("button", name="Deactivate", exact=True)).to_be_visible()
    expect(row.locator(".pill")).not_to_have_text("Deactivated")

    console.get_by_label("Password").fill(TECH_PASSWORD)
    login_button.click()
    expect(console.get_by_role("button", name="Log Out")).to_be_visible()
