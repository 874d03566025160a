"""The systems under test: the bare relay and deskchat, each started pinned to the server core.

``DeskchatServer`` runs ``deskchat db upgrade`` then ``deskchat serve`` on a fresh database
(SQLite file in a temporary directory, or a PostgreSQL database created for the run and dropped
afterwards). ``Api`` is the small REST client the scenarios seed and verify with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from loadgen import ChatPair

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-pass-123"
TECH_PASSWORD = "tech-pass-123456"


def pinned(cmd: list[str], cpu: int | None) -> list[str]:
    """Prefix a command with ``taskset -c <cpu>`` when pinning is possible."""
    if cpu is None or shutil.which("taskset") is None:
        return cmd
    return ["taskset", "-c", str(cpu), *cmd]


class ServerProcess:
    """A server subprocess, its log file, and its process id for CPU and RSS readings."""

    name = "server"

    def __init__(self, port: int, cpu: int | None, workdir: Path) -> None:
        self.port, self.cpu, self.workdir = port, cpu, workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{self.name}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/ws"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def db_pids(self) -> list[int]:
        """Processes of a database server working for this target (none: SQLite runs in-process)."""
        return []

    def rss(self) -> int:
        """Resident memory of the server process (and any children), bytes."""
        proc = psutil.Process(self.pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])

    def _spawn(self, cmd: list[str], env: dict[str, str]) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(pinned(cmd, self.cpu), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    async def wait_ready(self, path: str = "/healthz", timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
                try:
                    if (await client.get(path)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class RelayServer(ServerProcess):
    name = "relay"

    async def start(self) -> None:
        env = dict(os.environ)
        self._spawn([sys.executable, str(ROOT / "bench" / "relay.py"), "--port", str(self.port)], env)
        await self.wait_ready()

    def pairs(self, n: int, first_id: int = 1) -> list[ChatPair]:
        """The relay needs no seeding: a chat is just an id both tokens name."""
        return [ChatPair(c, f"requester:{c}", f"technician:{c}") for c in range(first_id, first_id + n)]


class DeskchatServer(ServerProcess):
    name = "deskchat"

    def __init__(self, port: int, cpu: int | None, workdir: Path, database_url: str) -> None:
        super().__init__(port, cpu, workdir)
        self.database_url = database_url

    def db_pids(self) -> list[int]:
        """PostgreSQL backends serving this server's database (their cmdline names the database)."""
        if not self.database_url.startswith("postgresql"):
            return []
        dbname = self.database_url.rsplit("/", 1)[-1]
        pids = []
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmd = " ".join(proc.info.get("cmdline") or [])
            if cmd.startswith("postgres:") and f" {dbname} " in f"{cmd} ":
                pids.append(proc.pid)
        return pids

    def renice_db(self) -> int:
        """Give this database's PostgreSQL backends the server's own niceness (see run.py --nice)."""
        nice = os.getpriority(os.PRIO_PROCESS, self.pid)
        done = 0
        for pid in self.db_pids():
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, nice)
                done += 1
        return done

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DESKCHAT_DATABASE_URL=self.database_url,
            DESKCHAT_DATA_DIR=str(self.workdir),
            DESKCHAT_RATE_LIMIT_ENABLED="false",
            DESKCHAT_ADMIN_EMAIL=ADMIN_EMAIL,
            DESKCHAT_ADMIN_PASSWORD=ADMIN_PASSWORD,
            DESKCHAT_LOG_LEVEL="warning",
        )
        return env

    async def start(self, seed_technicians: int = 0, label: str = "bench") -> dict[str, Any] | None:
        """Migrate, optionally pre-seed technicians (seed_fast.py), then serve.

        Returns the pre-seeded groups and technicians, or None when there were none or the
        helper failed (the caller then seeds over REST)."""
        env = self.env()
        seeded = await asyncio.to_thread(self._prepare, env, seed_technicians, label)
        self._spawn([str(VENV_BIN / "deskchat"), "serve", "--host", "127.0.0.1", "--port", str(self.port)], env)
        await self.wait_ready()
        return seeded

    def _prepare(self, env: dict[str, str], technicians: int, label: str) -> dict[str, Any] | None:
        seeded = self._fast_seed(env, technicians, label) if technicians else None
        if seeded is None:
            with open(self.log_path, "ab") as log:
                subprocess.run([str(VENV_BIN / "deskchat"), "db", "upgrade"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, check=True, cwd=ROOT)
        return seeded

    def _fast_seed(self, env: dict[str, str], technicians: int, label: str) -> dict[str, Any] | None:
        cmd = [sys.executable, str(ROOT / "bench" / "seed_fast.py"), "--technicians", str(technicians),
               "--label", label, "--password", TECH_PASSWORD, "--upgrade"]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        with open(self.log_path, "a") as log:
            log.write(res.stderr)
        if res.returncode != 0:
            print(f"seed_fast.py failed ({res.stderr.strip().splitlines()[-1:]}); seeding over REST", flush=True)
            return None
        return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def sqlite_url(workdir: Path) -> str:
    return f"sqlite+aiosqlite:///{workdir / 'db.sqlite3'}"


class Postgres:
    """A throw-away PostgreSQL database for one run (created with psql, dropped after)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5432, user: str = "postgres") -> None:
        self.host, self.port, self.user = host, port, user
        self.name = f"deskchat_bench_{os.getpid()}_{int(time.time())}"

    def _psql(self, sql: str) -> subprocess.CompletedProcess[str]:
        cmd = ["psql", "-h", self.host, "-p", str(self.port), "-U", self.user, "-v", "ON_ERROR_STOP=1", "-c", sql]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30)

    def available(self) -> str | None:
        """None when usable, else the reason it is not."""
        if shutil.which("psql") is None:
            return "psql not installed"
        try:
            res = self._psql("select 1")
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        return None if res.returncode == 0 else (res.stderr.strip() or "psql failed")

    def create(self) -> str:
        res = self._psql(f"create database {self.name}")
        if res.returncode != 0:
            raise RuntimeError(res.stderr)
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{self.name}"

    def drop(self) -> None:
        self._psql(f"drop database if exists {self.name} with (force)")


def new_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"deskchat-bench-{prefix}-"))


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:300]}")
        self.status, self.body = status, body


class Api:
    """REST calls the benchmark needs (API.md), with a bounded connection pool."""

    def __init__(self, base_url: str, concurrency: int = 16) -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=60.0, limits=limits)
        self.sem = asyncio.Semaphore(concurrency)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def call(self, method: str, path: str, token: str | None = None, json: Any = None,
                   params: dict[str, Any] | None = None, ok: tuple[int, ...] = (200, 201, 204)) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.sem:
            resp = await self.client.request(method, path, json=json, params=params, headers=headers)
        if resp.status_code not in ok:
            raise ApiError(method, path, resp.status_code, resp.text)
        return resp.json() if resp.content else None

    async def login(self, email: str, password: str) -> str:
        return (await self.call("POST", "/auth/login", json={"email": email, "password": password}))["token"]

    async def create_group(self, admin: str, name: str) -> int:
        return (await self.call("POST", "/groups", admin, {"name": name, "description": "benchmark"}))["id"]

    async def create_technician(self, admin: str, name: str, email: str, group_ids: list[int]) -> int:
        body = {"name": name, "email": email, "password": TECH_PASSWORD, "role": "technician", "group_ids": group_ids}
        return (await self.call("POST", "/technicians", admin, body))["id"]

    async def set_status(self, token: str, status: str) -> None:
        await self.call("PUT", "/me/status", token, {"status": status})

    async def create_chat(self, group_id: int, name: str, email: str, message: str) -> tuple[dict[str, Any], str]:
        body = {"group_id": group_id, "name": name, "email": email, "message": message}
        out = await self.call("POST", "/chats", json=body)
        return out["chat"], out["visitor_token"]

    async def pickup(self, token: str, chat_id: int) -> dict[str, Any]:
        return await self.call("POST", f"/chats/{chat_id}/pickup", token)

    async def end_chat(self, token: str, chat_id: int) -> dict[str, Any]:
        return await self.call("POST", f"/chats/{chat_id}/end", token)

    async def chat(self, token: str, chat_id: int) -> dict[str, Any]:
        return await self.call("GET", f"/chats/{chat_id}", token)

    async def messages(self, token: str, chat_id: int, after_seq: int = 0, limit: int = 100) -> dict[str, Any]:
        params = {"after_seq": after_seq, "limit": limit}
        return await self.call("GET", f"/chats/{chat_id}/messages", token, params=params)

    async def all_messages(self, token: str, chat_id: int, after_seq: int = 0) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = await self.messages(token, chat_id, after_seq, 100)
            msgs = page.get("messages") or []
            out.extend(msgs)
            if not msgs or msgs[-1]["seq"] >= page.get("last_seq", 0):
                return out
            after_seq = msgs[-1]["seq"]

    async def patch_settings(self, admin: str, **changes: Any) -> dict[str, Any]:
        return await self.call("PATCH", "/settings", admin, changes)


async def gather_limited(coros: list[Any], limit: int) -> list[Any]:
    """Run coroutines with at most ``limit`` in flight, keeping their order."""
    sem = asyncio.Semaphore(limit)

    async def one(c: Any) -> Any:
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))
