"""Single sign-on rules: where a sign-in may return to, and when a provider's email counts."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from deskchat.domain.errors import Forbidden, ValidationFailed

MAX_NEXT = 2000


class Audience(StrEnum):
    """Who signs in: a technician (console, admin, requests pages) or an end user (``/chat``)."""

    TECHNICIAN = "technician"
    REQUESTER = "requester"

    @property
    def home(self) -> str:
        """Where a sign-in lands when it names no ``next``."""
        return "/console" if self is Audience.TECHNICIAN else "/chat"


def safe_next(audience: Audience, next_path: str | None) -> str:
    """``next`` when it is a path on this server (one leading ``/``, not ``//`` or ``/\\``), else 422."""
    if next_path is None or next_path == "":
        return audience.home
    if (len(next_path) > MAX_NEXT or not next_path.startswith("/") or next_path[1:2] in ("/", "\\")
            or any(ch < " " or ch == "\x7f" or ch == "\\" for ch in next_path)):
        # a backslash anywhere, or a control character (browsers drop tabs and newlines), could turn
        # the path into another host's address
        raise ValidationFailed("next must be a path on this server, such as /console.",
                               errors={"next": "a path starting with one /"})
    return next_path


def verified_email(claims: Mapping[str, Any], trust_email: bool) -> str:
    """The ID token's email when the provider vouches for it, else 403.

    ``email_verified: true`` counts; a provider that never sends the claim (Entra ID) counts only when
    the admin says its emails are verified (``DESKCHAT_OIDC_TRUST_EMAIL``); ``false`` never counts.
    """
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise Forbidden("The identity provider sent no email address for this account.")
    verified = claims.get("email_verified")
    if isinstance(verified, str):  # some providers send the string "true"
        verified = verified.lower() == "true"
    if verified is True or (verified is None and trust_email):
        return email.strip().lower()
    raise Forbidden("The identity provider has not verified this account's email address.")


def display_name(claims: Mapping[str, Any], email: str) -> str:
    """The name to show for a signed-in requester: the token's name, else the email's local part."""
    for key in ("name", "preferred_username"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip() and "@" not in value:
            return value.strip()[:200]
    return email.split("@", 1)[0][:200]
