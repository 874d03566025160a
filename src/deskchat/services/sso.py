"""Single sign-on (OpenID Connect): sign-ins in progress, and the session a verified ID token earns.

The protocol itself (discovery, PKCE, ``state`` and ``nonce``, the code exchange, the ID token's signature
against the provider's JWKS) is authlib's, driven from ``api/oidc.py``; this module keeps what authlib
asks to keep (single-use, in the database, so any process can finish a sign-in another one began) and
decides who the verified claims sign in.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from deskchat.domain.errors import Forbidden, NotFound, SignInFailed
from deskchat.domain.signin import Audience, display_name, safe_next, verified_email
from deskchat.services import auth, requesters
from deskchat.services.context import Context, reading, unit_of_work

log = structlog.get_logger()
SIGN_IN_SECONDS = 600  # a sign-in not finished within ten minutes starts over
_PENDING = "deskchat_sign_in_"


@dataclass(frozen=True)
class Pending:
    """A sign-in sent to the provider: who is signing in, and where they go afterwards."""

    state: str
    audience: Audience
    next_path: str


@dataclass(frozen=True)
class SignedIn:
    """A finished sign-in: the token for the session cookie, and where to send the browser."""

    audience: Audience
    token: str
    next_path: str


class StateStore:
    """authlib's cache (``get``/``set``/``delete``) on the ``sign_in_states`` table: ``get`` takes the value
    away, so a ``state`` (with its nonce and PKCE verifier) serves one callback, in whichever process."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def get(self, key: str) -> str | None:
        """The value, removed as it is read."""
        async with unit_of_work(self._ctx) as uow:
            return await uow.sign_ins.take(key, uow.now)

    async def set(self, key: str, value: str, expires_in: float | None = None) -> None:
        """Keep a value for a while (and forget sign-ins that were abandoned)."""
        seconds = min(float(expires_in or SIGN_IN_SECONDS), SIGN_IN_SECONDS)
        async with unit_of_work(self._ctx) as uow:
            await uow.sign_ins.purge_expired(uow.now)
            await uow.sign_ins.put(key, value, uow.now + timedelta(seconds=seconds))

    async def delete(self, key: str) -> None:
        """Forget a value."""
        async with unit_of_work(self._ctx) as uow:
            await uow.sign_ins.drop(key)


def check_enabled(ctx: Context) -> None:
    """404 when this server has no single sign-on."""
    if not ctx.settings.oidc_enabled:
        raise NotFound("Single sign-on is not configured on this server (DESKCHAT_OIDC_ISSUER).")


def redirect_uri(ctx: Context) -> str:
    """Where the provider sends the browser back: register exactly this at the provider."""
    return f"{ctx.settings.public_url}/api/v1/auth/oidc/callback"


async def begin(ctx: Context, audience: Audience, next_path: str | None) -> Pending:
    """Start a sign-in: a fresh ``state`` remembered with its audience and return path (422 for a bad path)."""
    check_enabled(ctx)
    pending = Pending(secrets.token_urlsafe(32), audience, safe_next(audience, next_path))
    await StateStore(ctx).set(_PENDING + pending.state,
                              json.dumps({"audience": audience.value, "next": pending.next_path}))
    return pending


async def resume(ctx: Context, state: str | None) -> Pending:
    """The sign-in a callback's ``state`` belongs to, taken once: unknown, used or expired is 400."""
    check_enabled(ctx)
    if not state or len(state) > 200:
        raise SignInFailed("The sign-in link is not valid (no state). Start the sign-in again.")
    found = await StateStore(ctx).get(_PENDING + state)
    if found is None:
        raise SignInFailed("This sign-in was already used, has expired or was not started here. "
                           "Start the sign-in again.")
    data = json.loads(found)
    return Pending(state, Audience(data["audience"]), str(data["next"]))


async def finish(ctx: Context, pending: Pending, claims: Mapping[str, Any]) -> SignedIn:
    """Sign in the person a verified ID token names: a technician by email (never created), or a requester."""
    email = verified_email(claims, ctx.settings.oidc_trust_email)
    if pending.audience is Audience.TECHNICIAN:
        async with reading(ctx) as repos:
            tech = await repos.people.technician_by_email(email)
        if tech is None or not tech.active:
            log.info("sso_refused", reason="no active technician", email=email)
            raise Forbidden("No active technician account has this email address. Ask an admin to add you.")
        token, _ = await auth.start_session(ctx, tech.id, "oidc")
    else:
        token, _ = await requesters.sign_in(ctx, email, display_name(claims, email))
    return SignedIn(pending.audience, token, pending.next_path)
