"""A private ``redis-server`` for a test: its own port, no persistence, stopped and started at will.

Pub/sub channels are global per Redis server, so tests that run several deskchat processes use their
own server instead of the shared one on 6379 (and a test may kill it without disturbing anyone).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.server import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """One ``redis-server --port <free> --save '' --appendonly no`` process."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = Path(tempfile.mkdtemp(prefix="deskchat-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start (or start again, on the same port) and wait until it answers PING."""
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.directory / 'redis.log').read_text()[-2000:]}")
            if self.answers():
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING")

    def answers(self) -> bool:
        """True if something on the port answers PING with PONG."""
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
        return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server with ``sig`` (SIGKILL: no goodbye to its clients) and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(signal.SIGKILL)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A private Redis for the duration of the block."""
    with RedisServer() as server:
        yield server
