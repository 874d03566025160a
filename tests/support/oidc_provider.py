"""A real OpenID Connect provider for tests: ``oidc-provider`` (Node) run from ``tests/support/oidc``.

``OidcProvider`` starts ``node provider.mjs`` on a free port with one confidential client, and
``sign_in_at_provider`` plays the user at the provider's own login page: any login, any password.
The login decides the claims (see ``provider.mjs``): ``alice.smith`` signs in as
``alice.smith@example.com``, "Alice Smith", email verified; a login whose local part starts with
``unverified`` gets ``email_verified: false``; one starting with ``noclaim`` gets no ``email_verified``.
With ``forge=True`` the provider's ID tokens are signed by a key its JWKS does not publish.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from tests.support.server import free_port

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc"
NODE = shutil.which("node") or "/usr/bin/node"


class OidcProvider:
    """One ``oidc-provider`` process, issuer ``http://127.0.0.1:<free port>``, for a ``with`` block."""

    def __init__(self, redirect_uris: list[str], *, forge: bool = False, client_id: str = "deskchat",
                 client_secret: str = "deskchat-test-secret") -> None:
        self.redirect_uris = list(redirect_uris)
        self.forge = forge
        self.client_id = client_id
        self.client_secret = client_secret
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.directory = Path(tempfile.mkdtemp(prefix="deskchat-oidc-"))
        self.stdout_path = self.directory / "stdout.log"
        self.stderr_path = self.directory / "stderr.log"

    def env(self) -> dict[str, str]:
        """The deskchat settings that point single sign-on at this provider."""
        return {
            "DESKCHAT_OIDC_ISSUER": self.issuer,
            "DESKCHAT_OIDC_CLIENT_ID": self.client_id,
            "DESKCHAT_OIDC_CLIENT_SECRET": self.client_secret,
        }

    def output(self) -> str:
        """What the provider wrote to stderr so far (its warnings and errors)."""
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self, timeout: float = 30.0) -> OidcProvider:
        """Start the provider and wait until it prints ``READY <issuer>`` (once more on a new port if it did not)."""
        try:
            return self._start(timeout)
        except RuntimeError as first:
            self.port = free_port()
            self.issuer = f"http://127.0.0.1:{self.port}"
            try:
                return self._start(timeout)
            except RuntimeError as second:
                raise second from first

    def _start(self, timeout: float) -> OidcProvider:
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError(f"{PROVIDER_DIR / 'node_modules'} is missing: run `make test` (or "
                               "`make oidc-provider`), which installs the test OpenID provider with npm ci")
        env = {
            **os.environ,
            "PORT": str(self.port),
            "CLIENT_ID": self.client_id,
            "CLIENT_SECRET": self.client_secret,
            "REDIRECT_URIS": ",".join(self.redirect_uris),
            "FORGE": "1" if self.forge else "",
        }
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen([NODE, "provider.mjs"], cwd=PROVIDER_DIR, env=env, stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=err, start_new_session=True)
        ready = f"READY {self.issuer}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready in self.stdout_path.read_text(errors="replace").splitlines():
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited with {self.process.returncode}:\n{self.output()}")
            time.sleep(0.02)
        seen = f"stdout: {self.stdout_path.read_text(errors='replace')[-2000:]}\nstderr: {self.output()[-2000:]}"
        self._terminate()
        raise RuntimeError(f"oidc-provider did not print {ready!r} within {timeout:.0f} s:\n{seen}")

    def stop(self) -> None:
        """Stop the provider (SIGTERM, then SIGKILL if it lingers) and wait until it is gone."""
        self._terminate()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class _Forms(HTMLParser):
    """The forms of a page: action, method and the name/value of each named input, plus the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": attributes.get("action", ""), "method": attributes.get("method", "get"),
                               "fields": {}})
        elif tag in ("input", "button") and self.forms and attributes.get("name"):
            fields = self.forms[-1]["fields"]
            assert isinstance(fields, dict)
            fields[attributes["name"]] = attributes.get("value", "")

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def _origin(url: str | httpx.URL) -> tuple[str, str, int | None]:
    parts = urlsplit(str(url))
    return parts.scheme, parts.hostname or "", parts.port


def sign_in_at_provider(authorize_url: str, login: str, password: str = "any-password") -> str:
    """Sign in as ``login`` at the provider's own login page; return the redirect back to the relying party.

    ``authorize_url`` is the provider's authorization URL (the ``Location`` of deskchat's
    ``/api/v1/auth/oidc/login`` redirect). Redirects are followed, with the provider's cookies, only
    while they stay on the provider; the first one that leaves it (the relying party's redirect URI
    with ``code`` and ``state``) is returned without being requested.
    """
    provider = _origin(authorize_url)
    page = ""
    with httpx.Client(follow_redirects=False, timeout=10.0) as client:
        response = client.get(authorize_url)
        for _ in range(12):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if _origin(target) != provider:
                    query = parse_qs(urlsplit(target).query)
                    if "code" not in query or "state" not in query:
                        raise AssertionError(f"the provider sent the browser back without a code: {target}")
                    return target
                response = client.get(target)
                continue
            parser = _Forms()
            parser.feed(response.text)
            page = "\n".join(parser.text)
            if response.status_code != 200 or not parser.forms:
                break
            form = parser.forms[0]
            fields = form["fields"]
            assert isinstance(fields, dict)
            data = {str(name): str(value) for name, value in fields.items()}
            if data.get("prompt") == "login":
                data["login"] = login
                data["password"] = password
            elif data.get("prompt") != "consent":
                break
            action = urljoin(str(response.url), str(form["action"]))
            if _origin(action) != provider:
                break
            response = client.request(str(form["method"]).upper(), action, data=data)
        raise AssertionError(f"sign-in at the provider stopped at {response.url} "
                             f"(HTTP {response.status_code}):\n{page}")
