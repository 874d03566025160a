"""The shipped deployment (docker-compose.yml, Dockerfile, deploy/nginx.conf, docs/deployment.md) is
consistent: two app processes sharing one database, one Redis and one secret key, behind nginx that
proxies the WebSocket. Docker does not run here, so the files are parsed and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from deskchat.config import Settings

ROOT = Path(__file__).resolve().parents[2]
APPS = ("app1", "app2")
SHARED = ("DESKCHAT_DATABASE_URL", "DESKCHAT_REDIS_URL", "DESKCHAT_SECRET_KEY")


@dataclass
class Directive:
    """One nginx directive: its name, arguments and (for a block) the directives inside."""

    name: str
    args: list[str]
    children: list[Directive] = field(default_factory=list)

    def all(self, name: str) -> list[Directive]:
        """Directives of this name directly inside this block."""
        return [d for d in self.children if d.name == name]

    def one(self, name: str) -> Directive:
        found = self.all(name)
        assert len(found) == 1, f"expected one {name} in {self.name} {self.args}, found {len(found)}"
        return found[0]

    def headers(self) -> dict[str, str]:
        """proxy_set_header name -> value, by lower-case name."""
        return {d.args[0].lower(): " ".join(d.args[1:]) for d in self.all("proxy_set_header")}


def parse_nginx(text: str) -> Directive:
    """A small parser for nginx's configuration syntax (enough for checking our file)."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[{};]|[^\s{};]+', re.sub(r"#[^\n]*", "", text))
    root, stack, words = Directive("main", []), [], []
    stack.append(root)
    for token in tokens:
        if token == ";":
            stack[-1].children.append(Directive(words[0], words[1:]))
            words = []
        elif token == "{":
            block = Directive(words[0], words[1:])
            stack[-1].children.append(block)
            stack.append(block)
            words = []
        elif token == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        else:
            words.append(token.strip("\"'") if token[0] in "\"'" else token)
    assert len(stack) == 1 and not words, "unbalanced braces"
    return root


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    assert match, value
    return int(match[1]) * {"ms": 0.001, "s": 1, None: 1, "m": 60}[match[2]]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def nginx() -> Directive:
    return parse_nginx((ROOT / "deploy" / "nginx.conf").read_text())


def env_of(compose: dict[str, Any], service: str) -> dict[str, str]:
    environment = compose["services"][service]["environment"]
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {k: str(v) for k, v in environment.items()}


def test_compose_runs_two_apps_postgres_redis_and_nginx(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"app1", "app2", "postgres", "redis", "nginx"}
    for app in APPS:
        assert services[app]["build"] in (".", {"context": "."}), "the apps are built from the Dockerfile"
        assert "ports" not in services[app], "the apps are reached through nginx only"
        depends = services[app]["depends_on"]
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["nginx"]["image"].startswith("nginx:")
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert {d: c["condition"] for d, c in services["nginx"]["depends_on"].items()} == {
        "app1": "service_healthy", "app2": "service_healthy"}
    assert [p for p in services["nginx"]["ports"] if str(p).endswith(":80")]


def test_both_apps_share_the_database_redis_and_secret_key(compose: dict[str, Any]) -> None:
    one, two = (env_of(compose, app) for app in APPS)
    for key in SHARED:
        assert one.get(key) and one[key] == two.get(key), key
    assert one == two, "the two processes are configured alike"
    assert one["DESKCHAT_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in one["DESKCHAT_DATABASE_URL"]
    assert one["DESKCHAT_REDIS_URL"].startswith("redis://redis:6379")
    # the key is required from the operator (no default that every installation would share)
    assert re.fullmatch(r"\$\{DESKCHAT_SECRET_KEY:\?[^}]+\}", one["DESKCHAT_SECRET_KEY"])
    # client addresses come through nginx's X-Forwarded-For, or every user shares the proxy's rate limits;
    # trusted from nginx alone, or a client could name its own address and escape the per-address limits
    nginx_address = compose["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    assert one["FORWARDED_ALLOW_IPS"] == nginx_address and "*" not in one["FORWARDED_ALLOW_IPS"]


def test_every_service_has_a_healthcheck_and_the_apps_check_readiness(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("app1", "app2", "postgres", "redis", "nginx"):
        check = services[name]["healthcheck"]
        assert check["test"] and check["interval"], name
    for app in APPS:
        assert "/readyz" in " ".join(services[app]["healthcheck"]["test"])


def test_the_image_installs_the_package_and_serves_on_all_interfaces() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert re.search(r"^RUN pip install \.", dockerfile, re.M)
    cmd = re.search(r"^CMD (\[.*\])", dockerfile, re.M)
    assert cmd and yaml.safe_load(cmd[1])[:4] == ["deskchat", "serve", "--host", "0.0.0.0"]
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M), "the server does not run as root"


def test_nginx_balances_over_both_apps_without_sticky_sessions(nginx: Directive) -> None:
    http = nginx.one("http")
    upstream = http.one("upstream")
    assert sorted(s.args[0] for s in upstream.all("server")) == ["app1:8000", "app2:8000"]
    assert not {"ip_hash", "hash", "sticky"} & {d.name for d in upstream.children}, "no sticky sessions needed"
    locations = {tuple(loc.args): loc for loc in http.one("server").all("location")}
    assert locations[("/",)].one("proxy_pass").args == [f"http://{upstream.args[0]}"]


def test_nginx_proxies_the_websocket_with_upgrade_headers_and_a_long_read_timeout(nginx: Directive) -> None:
    http = nginx.one("http")
    server = http.one("server")
    ws = next(loc for loc in server.all("location") if loc.args[-1] == "/api/v1/ws")
    assert ws.one("proxy_pass").args == [f"http://{http.one('upstream').args[0]}"]
    version = ws.all("proxy_http_version") or server.all("proxy_http_version")
    assert version and version[0].args == ["1.1"]
    headers = ws.headers()
    assert headers["upgrade"] == "$http_upgrade"
    connection = headers["connection"]
    if connection.startswith("$"):  # a map from $http_upgrade that says "upgrade" for an upgrade request
        mapping = next(m for m in http.all("map") if m.args == ["$http_upgrade", connection])
        assert {d.name: d.args for d in mapping.children}["default"] == ["upgrade"]
    else:
        assert connection.lower() == "upgrade"
    # the browser's Host (with its port), so the apps' Origin check of cookie WebSockets matches
    assert headers["host"] == "$http_host"
    ping = Settings.model_fields["ws_ping_interval_seconds"].default
    assert seconds(ws.one("proxy_read_timeout").args[0]) > 2 * ping, "idle sockets outlive a ping round"


def test_every_nginx_location_forwards_the_client_address_and_host(nginx: Directive) -> None:
    # proxy_set_header is inherited only by locations that set none of their own
    for location in nginx.one("http").one("server").all("location"):
        if location.all("proxy_pass"):
            headers = location.headers()
            assert headers.get("x-forwarded-for") == "$proxy_add_x_forwarded_for", location.args
            assert headers.get("host") == "$http_host", location.args


def test_the_deployment_guide_explains_every_setting_the_compose_file_uses(compose: dict[str, Any]) -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    for key in env_of(compose, "app1"):
        assert key in guide, f"{key} is not explained in docs/deployment.md"
    for must in ("/healthz", "/readyz", "/metrics", "proxy_read_timeout", "Upgrade", "sticky",
                 "DESKCHAT_PRESENCE_TTL_SECONDS", "DESKCHAT_ALLOWED_ORIGINS", "DESKCHAT_COOKIE_SECURE",
                 "advisory lock", "--workers"):
        assert must in guide, must
