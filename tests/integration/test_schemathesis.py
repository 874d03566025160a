"""Schemathesis over /openapi.json, as a technician and as an admin: no input gets a 5xx (SQLite).

Each run is schemathesis's CLI in a subprocess (its stable interface), with a fixed seed, one worker, the
``not_a_server_error`` check only, and a time budget: the coverage phase goes through every operation
once (boundaries, wrong types, nulls, missing fields), then fuzzing and stateful (linked) calls repeat
until the budget is spent.

Kept away from the callers' own accounts, so that a run keeps testing as the caller it started as:
- ``POST /api/v1/auth/logout`` is left out: it revokes the caller's token.
- ``PATCH /api/v1/technicians/{tech_id}`` only targets a spare technician: on the caller's own id it could
  demote, deactivate or re-password the admin, and on the technician's id end the technician's run.
Both are covered by their own tests. After each run the caller must still be who it was, and admin-only
operations must have been accepted in the admin's run, else the run proved little.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.support.client import Api, Desk, open_desk
from tests.support.server import Server, sqlite_server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SEED = 20261202
BUDGET_SECONDS = 30  # per caller (make test must stay under 15 minutes; the fuzzing is seeded and time-boxed)
MAX_EXAMPLES = 15  # per operation and turn of a phase
SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]  # its CLI, from this environment
# calls that only succeed with the caller's rights: some must have succeeded in the caller's run
REACHED = {"admin": ["GET /api/v1/settings", "PATCH /api/v1/settings"],
           "technician": ["GET /api/v1/chats", "PUT /api/v1/me/status"]}


@dataclass
class Callers:
    """The running server, the callers' clients and the one technician schemathesis may change."""

    server: Server
    apis: dict[str, Api]
    spare_id: int
    workdir: Path

    async def accounts(self) -> list[dict[str, Any]]:
        """The callers' accounts as stored (each caller's token must still work, too)."""
        found = []
        for api in self.apis.values():
            me = await api.ok("GET", "/me")
            found.append(await self.apis["admin"].ok("GET", f"/technicians/{me['id']}"))
        return [{k: v for k, v in tech.items() if k not in ("status", "online", "active_chats")} for tech in found]


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[Server]:
    """A server of its own: what schemathesis leaves behind stays out of other tests."""
    with sqlite_server() as server:
        yield server


async def _seed(desk: Desk) -> tuple[Api, int]:
    """Something to find behind small ids: groups, online technicians, chats in every state, a request."""
    group, other = await desk.group(), await desk.group()
    _, tech_api, _ = await desk.technician([group["id"]])
    await desk.technician([group["id"], other["id"]])  # an online colleague: invite and transfer can succeed
    spare, _, _ = await desk.technician([other["id"]], online=False)
    active, _ = await desk.start_chat(group["id"], "VPN drops every hour")
    await tech_api.ok("POST", f"/chats/{active['id']}/pickup")
    await tech_api.ok("POST", f"/chats/{active['id']}/request", 201)
    ended, _ = await desk.start_chat(group["id"], "Printer offline")
    await tech_api.ok("POST", f"/chats/{ended['id']}/pickup")
    await tech_api.ok("POST", f"/chats/{ended['id']}/end")
    await desk.start_chat(group["id"], "Still waiting")
    await tech_api.ok("POST", "/canned-messages", 201, json={"title": "Hello", "body": "Hi {{requester.name}}",
                                                            "shortcut": "hello"})
    await desk.admin.ok("POST", "/canned-messages", 201, json={"title": "Bye", "body": "Bye", "scope": "global"})
    return tech_api, int(spare["id"])


@pytest.fixture(scope="module")
async def callers(fuzz_server: Server, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Callers]:
    async with open_desk(fuzz_server) as desk:
        tech_api, spare_id = await _seed(desk)
        yield Callers(fuzz_server, {"admin": desk.admin, "technician": tech_api}, spare_id,
                      tmp_path_factory.mktemp("schemathesis"))


def _command(callers: Callers, role: str) -> list[str]:
    workdir = callers.workdir / role
    workdir.mkdir()
    config = workdir / "schemathesis.toml"  # an explicit file: no schemathesis.toml found around is used
    config.write_text('[[operations]]\ninclude-name = "PATCH /api/v1/technicians/{tech_id}"\n'
                      f"parameters = {{ tech_id = {callers.spare_id} }}\n")
    return [*SCHEMATHESIS, "--config-file", str(config), "run", f"{callers.server.url}/openapi.json",
            "--header", f"Authorization: Bearer {callers.apis[role].token}",
            "--checks", "not_a_server_error", "--exclude-path", "/api/v1/auth/logout",
            "--phases", "examples,coverage,fuzzing,stateful", "--seed", str(SEED), "--workers", "1",
            "--max-examples", str(MAX_EXAMPLES), "--max-time", str(BUDGET_SECONDS), "--request-timeout", "20",
            "--generation-database", "none", "--no-color", "--output-truncate", "false",
            "--report", "json", "--report-json-path", str(workdir / "report.json")]


def _accepted(report: dict[str, Any], operation: str) -> int:
    """How many generated calls of ``operation`` got a 2xx."""
    rates = report.get("valid_rates", {}).get(operation, {})
    return sum(int(phase.get("accepted", 0)) for phase in rates.values())


@pytest.mark.parametrize("role", ["technician", "admin"])
async def test_schemathesis_finds_no_server_error(callers: Callers, role: str) -> None:
    before = await callers.accounts()
    with anyio.fail_after(BUDGET_SECONDS + 120):  # the budget, the schema load and the last calls
        # in a directory of its own: schemathesis and hypothesis keep caches in the working directory
        run = await anyio.run_process(_command(callers, role), cwd=callers.workdir / role, check=False)
    output = (run.stdout + run.stderr).decode(errors="replace")
    report_path = callers.workdir / role / "report.json"
    assert report_path.exists(), output[-20_000:]
    report = json.loads(report_path.read_text())
    assert report["failures"] == [] and report["errors"] == [], output[-20_000:]
    assert run.returncode == 0, output[-20_000:]
    assert report["operations"]["tested"] >= 30 and report["test_cases"]["generated"] >= 500, report
    assert await callers.accounts() == before  # the same callers with the same rights: the run tested as them
    for operation in REACHED[role]:
        assert _accepted(report, operation) > 0, (operation, report.get("valid_rates"))
