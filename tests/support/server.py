"""Real deskchat server processes for tests: started with the CLI, stopped at the end."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

PG_ADMIN_URL = os.environ.get("DESKCHAT_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("DESKCHAT_TEST_REDIS", "redis://127.0.0.1:6379/0")
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-pass-123"
IDENTITY_SECRET = "portal-signing-key-for-tests-0123456789"  # DESKCHAT_IDENTITY_SECRET of test servers


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True,
                   capture_output=True)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = "deskchat_test_" + uuid.uuid4().hex[:10]
    _psql(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_ADMIN_URL}/{name}"
    finally:
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def sqlite_url(directory: Path) -> str:
    """A SQLite database file in a directory."""
    return f"sqlite+aiosqlite:///{directory / 'deskchat.sqlite3'}"


def sqlite_server(env: dict[str, str] | None = None, port: int | None = None) -> Server:
    """A server (not started yet) on a new SQLite file of its own."""
    directory = Path(tempfile.mkdtemp(prefix="deskchat-sqlite-"))
    return Server(sqlite_url(directory), data_dir=directory, env=env, port=port)


class Server:
    """One ``deskchat serve`` process."""

    def __init__(self, database_url: str, *, data_dir: Path | None = None, env: dict[str, str] | None = None,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/api/v1/ws"
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="deskchat-test-"))
        self.env = {
            **os.environ, "DESKCHAT_DATABASE_URL": database_url, "DESKCHAT_DATA_DIR": str(self.data_dir),
            "DESKCHAT_SECRET_KEY": "test-secret-key-0123456789", "DESKCHAT_ADMIN_EMAIL": ADMIN_EMAIL,
            "DESKCHAT_ADMIN_PASSWORD": ADMIN_PASSWORD, "DESKCHAT_RATE_LIMIT_ENABLED": "false",
            "DESKCHAT_LOG_LEVEL": "warning", "DESKCHAT_SWEEP_INTERVAL_SECONDS": "0.5",
            "DESKCHAT_OFFLINE_GRACE_SECONDS": "0", "DESKCHAT_DB_POOL_SIZE": "4", "DESKCHAT_DB_MAX_OVERFLOW": "6",
            "DESKCHAT_IDENTITY_SECRET": IDENTITY_SECRET,
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / f"server-{self.port}.log"

    def start(self, timeout: float = 30.0) -> Server:
        """Start the process and wait until /readyz answers 200."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "deskchat", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"server did not become ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the process dies without any clean-up."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), SIGKILL if it hangs."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
