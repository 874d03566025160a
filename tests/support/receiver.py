"""A real HTTP receiver for webhook tests: a threaded HTTP server that records every request and answers
with the status codes it is told to (then 200)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.server import free_port


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


class Receiver:
    """``with Receiver() as hooks:``; ``hooks.url``; ``hooks.answers = [500, 500]`` fails the next two
    requests, ``hooks.answers_for["/hooks/7"] = [500]`` the next one to that path."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.received: list[Received] = []
        self.answers: list[int] = []  # the next answers to any path
        self.answers_for: dict[str, list[int]] = {}  # the next answers to one path
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    own = receiver.answers_for.get(self.path)
                    status = own.pop(0) if own else receiver.answers.pop(0) if receiver.answers else 200
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)

    def wait_for(self, match: Callable[[Received], bool], count: int = 1, timeout: float = 20.0) -> list[Received]:
        """At least ``count`` requests that ``match`` accepts; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [r for r in self.received if match(r)]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"{len(found)} of {count}; got {len(self.received)} requests"
            time.sleep(0.05)

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
