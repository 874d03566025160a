"""A real SMTP server for tests (aiosmtpd), on its own port and thread; it can be stopped and started again
on the same port, as a mail server that goes down for a while."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.server import free_port


class _Collect:
    def __init__(self, box: MailServer) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.box.lock:
            self.box.received.append(message)
        return "250 OK"


class MailServer:
    """``with MailServer() as smtp:``; ``smtp.env()`` points deskchat at it; ``smtp.received`` are the mails."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[EmailMessage] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def env(self) -> dict[str, str]:
        """The deskchat settings for this server (no TLS, no login)."""
        return {"DESKCHAT_SMTP_HOST": "127.0.0.1", "DESKCHAT_SMTP_PORT": str(self.port),
                "DESKCHAT_SMTP_STARTTLS": "false", "DESKCHAT_MAIL_FROM": "desk@example.com"}

    def start(self) -> MailServer:
        """Listen (again) on the port."""
        self._controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Go down: connections are refused until ``start``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def mails(self, match: Any = None) -> list[EmailMessage]:
        """What arrived (that ``match`` accepts)."""
        with self.lock:
            return [m for m in self.received if match is None or match(m)]

    def wait_for(self, match: Any, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        """At least ``count`` mails that ``match`` accepts; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.mails(match)
            if len(found) >= count:
                return found
            subjects = [m["Subject"] for m in self.mails()]
            assert time.monotonic() < deadline, f"{len(found)} of {count} mails; got {subjects}"
            time.sleep(0.1)

    def __enter__(self) -> MailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def body_of(message: EmailMessage, subtype: str = "plain") -> str:
    """The text/plain (or text/html) part of a mail."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())  # type: ignore[attr-defined]
