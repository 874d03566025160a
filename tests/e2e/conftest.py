"""Browser tests: a real deskchat server, Debian's Chromium driven by Playwright, one context per person."""

from __future__ import annotations

import contextlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, TECH_PASSWORD, HtmlPage, Server

CHROMIUM = os.environ.get("DESKCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
ROOT = Path(__file__).resolve().parents[2]

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"deskchat server exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"deskchat server not ready after {timeout}s:\n{log.read_text()[-4000:]}")


def _deskchat_cmd() -> list[str]:
    return [sys.executable, "-m", "deskchat"]


class _HostPage(HtmlPage):
    """A page of another origin that embeds the widget with one script tag."""

    deskchat_url = ""

    def page(self) -> str:
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Example Corp intranet</title></head>"
            "<body style='font-family:system-ui,sans-serif;margin:0;background:#f6f7fb'>"
            "<header style='background:#0f3d3e;color:#fff;padding:18px 32px;font-size:20px;font-weight:700'>"
            "Example Corp intranet</header>"
            "<main style='padding:32px;max-width:720px;line-height:1.6'><h1>Welcome back</h1>"
            "<p>Find policies, news and tools here. Need help with your laptop, VPN or printer? "
            "Use the chat button in the corner to reach the IT service desk.</p></main>"
            f"<script src='{self.deskchat_url}/widget.js'></script></body></html>"
        )


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real deskchat server on a free port with a fresh SQLite database, plus a host page of another origin."""
    data_dir = tmp_path_factory.mktemp("deskchat-e2e")
    port, host_port = free_port(), free_port()
    base_url = f"http://127.0.0.1:{port}"
    host_origin = f"http://localhost:{host_port}"
    env = {
        **os.environ,
        "DESKCHAT_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'db.sqlite3'}",
        "DESKCHAT_DATA_DIR": str(data_dir),
        "DESKCHAT_RATE_LIMIT_ENABLED": "false",
        "DESKCHAT_ADMIN_EMAIL": ADMIN_EMAIL,
        "DESKCHAT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "DESKCHAT_ALLOWED_ORIGINS": f"{host_origin},http://127.0.0.1:{host_port}",
        "DESKCHAT_LOG_FORMAT": "console",
        "DESKCHAT_LOG_LEVEL": "warning",
    }
    env.pop("DESKCHAT_REDIS_URL", None)
    log = data_dir / "server.log"
    subprocess.run([*_deskchat_cmd(), "db", "upgrade"], env=env, cwd=data_dir, check=True, capture_output=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*_deskchat_cmd(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=data_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    _HostPage.deskchat_url = base_url
    host = http.server.ThreadingHTTPServer(("127.0.0.1", host_port), _HostPage)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    try:
        _wait_ready(proc, base_url, log)
        srv = Server(base_url=base_url, host_page_url=f"{host_origin}/", admin=None)  # type: ignore[arg-type]
        srv.admin = srv.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        srv.seed = _seed(srv.admin)
        yield srv
    finally:
        host.shutdown()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if os.environ.get("DESKCHAT_E2E_SHOW_LOG"):
            sys.stderr.write(log.read_text()[-8000:])


def _seed(admin: httpx.Client) -> dict[str, Any]:
    """Groups and technicians every test can use."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = admin.post(path, json=body)
        assert response.status_code == 201, (path, response.status_code, response.text)
        return dict(response.json())

    hardware = post("/groups", {"name": "Hardware", "description": "Laptops, screens, printers"})
    network = post("/groups", {"name": "Network", "description": "VPN, Wi-Fi, e-mail"})
    alice = post(
        "/technicians",
        {"name": "Alice Archer", "email": "alice@example.com", "password": TECH_PASSWORD,
         "role": "technician", "group_ids": [hardware["id"], network["id"]]},
    )
    bob = post(
        "/technicians",
        {"name": "Bob Baker", "email": "bob@example.com", "password": TECH_PASSWORD,
         "role": "technician", "group_ids": [hardware["id"]]},
    )
    return {"hardware": hardware, "network": network, "alice": alice, "bob": bob}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)")
    from playwright.sync_api import expect, sync_playwright

    # A loaded 2-core CI machine: give assertions the same patience as actions.
    expect.set_options(timeout=10_000)

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser: Any, e2e_server: Server) -> Iterator[Callable[..., Any]]:
    """Open a page in its own browser context (a separate person); closed after the test.

    Uncaught script errors and Content-Security-Policy violations on any page fail the test.
    """
    contexts: list[Any] = []
    problems: list[str] = []

    def watch_console(message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            problems.append(f"CSP: {text}")

    def make(**options: Any) -> Any:
        context = browser.new_context(viewport=VIEWPORT, base_url=e2e_server.base_url, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.dialogs = []  # type: ignore[attr-defined]
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
        page.on("console", watch_console)
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        return page

    yield make
    for context in contexts:
        context.close()
    assert problems == [], problems


@pytest.fixture(scope="session")
def screenshots_dir() -> Path | None:
    """docs/screenshots when DESKCHAT_SCREENSHOTS=1, else None."""
    if os.environ.get("DESKCHAT_SCREENSHOTS") != "1":
        return None
    path = ROOT / "docs" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path



@contextlib.contextmanager
def people(browser: Any, base_url: str, *, own_pages_only: bool = False,
           accept_dialogs: bool = False) -> Iterator[Callable[[], Any]]:
    """Pages on ``base_url``, each in a browser context of its own (one per person), closed afterwards.

    Content-Security-Policy violations and uncaught script errors fail the test: on every page, or with
    ``own_pages_only`` on this server's pages only (an identity provider's login page is not ours).
    """
    contexts: list[Any] = []
    problems: list[str] = []

    def make() -> Any:
        context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        if accept_dialogs:
            page.on("dialog", lambda d: d.accept())

        def watch(msg: Any) -> None:
            ours = not own_pages_only or page.url.startswith(base_url)
            if ours and ("Content Security Policy" in msg.text or "Refused to" in msg.text):
                problems.append(f"CSP: {msg.text}")

        page.on("console", watch)
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        return page

    try:
        yield make
    finally:
        for context in contexts:
            context.close()
    assert problems == [], problems
