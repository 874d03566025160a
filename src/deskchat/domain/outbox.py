"""Outgoing email and webhooks: which events there are, when a failed delivery is tried again, and which
addresses a webhook may reach."""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from deskchat.domain.errors import ValidationFailed

EVENTS = ("chat.started", "chat.picked_up", "chat.transferred", "chat.ended", "chat.missed", "request.created",
          "request.updated", "note.created", "rating.created")
TEST_EVENT = "webhook.test"  # `Send test event` on /admin: to one webhook, whatever it subscribed to
GIVE_UP_AFTER = timedelta(hours=24)
# The contract's schedule after the 1st, 2nd, ... failure, in units of the first delay (5 s): 5 s, 30 s,
# 2 min, 10 min, 1 h, then hourly.
_STEPS = (1, 6, 24, 120, 720)
JITTER = 0.2  # +/- 20 %


class OutboxKind(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def retry_delay(failures: int, first: float, rand: random.Random | None = None) -> float:
    """Seconds to wait after the ``failures``-th failure (1, 2, ...), with jitter."""
    step = _STEPS[min(failures, len(_STEPS)) - 1] if failures >= 1 else 1
    spread = (rand or random).uniform(1 - JITTER, 1 + JITTER)
    return first * step * spread


def gives_up(created_at: datetime, now: datetime) -> bool:
    """After 24 h of failures a delivery is ``failed``."""
    return now - created_at >= GIVE_UP_AFTER


@dataclass(frozen=True)
class Webhook:
    """An endpoint that gets the events it subscribed to, signed with its secret."""

    id: int
    url: str
    events: tuple[str, ...]
    description: str
    secret: str
    created_at: datetime

    def wants(self, event: str) -> bool:
        """True for the events it subscribed to."""
        return event in self.events


def check_events(events: list[str]) -> tuple[str, ...]:
    """A non-empty list of known event names, each once."""
    unknown = [e for e in events if e not in EVENTS]
    if not events or unknown:
        raise ValidationFailed("events must be a non-empty list of: " + ", ".join(EVENTS) + ".",
                               errors={"events": f"unknown: {', '.join(unknown)}" if unknown else "at least one"})
    return tuple(dict.fromkeys(events))


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL with a host, or 422."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationFailed("The URL is not valid.", errors={"url": "an http(s) URL"}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ValidationFailed("Webhook URLs are http or https URLs with a host (and no user name).",
                               errors={"url": "an http(s) URL"})
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def address_allowed(address: str) -> bool:
    """Public addresses only: no loopback, private, unique-local, link-local, multicast or reserved ones."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Announcement:
    """Something happened that webhooks (and some emails) tell the world: the event and its object."""

    event: str
    data: dict[str, object]


@dataclass(frozen=True)
class Mail:
    """An email to send: plain text, an HTML alternative (everything users wrote escaped), a Reply-To."""

    event: str
    to: str
    subject: str
    text: str
    html: str
    reply_to: str | None = None
