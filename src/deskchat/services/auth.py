"""Logins, tokens and who is calling."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import weakref
from dataclasses import dataclass
from typing import Any

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from deskchat.domain.errors import Forbidden, RateLimited, Unauthorized
from deskchat.domain.people import Actor, Requester, Role, Technician
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.views import technician_view
from deskchat.storage import people

log = structlog.get_logger()
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("deskchat-timing-equalizer")
# One password check at a time per login email in this process: otherwise guesses sent all at once
# all pass the limit check before the first failure is counted.
_login_turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and the token they used."""

    actor: Actor
    token_id: int

    def technician(self) -> Technician:
        """The caller as a technician, or 403 for a requester."""
        if not isinstance(self.actor, Technician):
            raise Forbidden("This needs a technician account.")
        return self.actor

    def admin(self) -> Technician:
        """The caller as an admin, or 403."""
        tech = self.technician()
        if not tech.is_admin:
            raise Forbidden("This needs an admin account.")
        return tech


def new_token() -> str:
    """A fresh bearer token (256 random bits)."""
    return secrets.token_urlsafe(32)


def token_hash(ctx: Context, token: str) -> str:
    """Tokens are stored only as a keyed hash."""
    return hmac.new(ctx.settings.secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


async def hash_password(password: str) -> str:
    """An argon2 hash, computed off the event loop."""
    return await asyncio.to_thread(_hasher.hash, password)


async def _verify(password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _check_password(ctx: Context, email: str, password: str) -> int:
    key, limits = f"login:{email.lower()}", ctx.settings
    window = 15 * 60
    if limits.rate_limit_enabled:
        retry = await ctx.limiter.peek(key, limits.rate_limit_failed_logins_per_15min, window)
        if retry is not None:
            raise RateLimited("Too many failed logins; try again later.", retry_after=retry)
    async with reading(ctx) as conn:
        found = await people.password_hash_of(conn, email)
    ok = await _verify(found[1] if found else _DUMMY_HASH, password)
    if not (found and ok):
        if limits.rate_limit_enabled:
            await ctx.limiter.hit(key, limits.rate_limit_failed_logins_per_15min, window)
        raise Unauthorized("Wrong email or password.")
    return found[0]


async def login(ctx: Context, email: str, password: str) -> tuple[str, dict[str, Any]]:
    """Check a technician's password and issue a token."""
    turn = _login_turns.setdefault(email.lower(), asyncio.Lock())
    async with turn:
        tech_id = await _check_password(ctx, email, password)
    token = new_token()
    async with unit_of_work(ctx) as uow:
        await people.insert_token(uow.conn, token_hash(ctx, token), uow.now, technician_id=tech_id)
        tech = await people.load_technician(uow.conn, tech_id)
    assert tech is not None
    log.info("login", technician_id=tech.id)
    return token, await _technician_now(ctx, tech)


async def authenticate(ctx: Context, token: str | None) -> Principal:
    """The caller behind a bearer or visitor token, or 401."""
    if not token:
        raise Unauthorized("Log in or send a bearer token.")
    async with reading(ctx) as conn:
        row = await people.lookup_token(conn, token_hash(ctx, token))
        if row is None:
            raise Unauthorized("The token is not valid.")
        if row.technician_id is not None:
            tech = await people.load_technician(conn, row.technician_id)
            if tech is None:
                raise Unauthorized("The account no longer exists.")
            return Principal(tech, row.id)
    return Principal(Requester(row.requester_id, row.r_name, row.r_email), row.id)


async def logout(ctx: Context, principal: Principal) -> None:
    """Revoke the token and close its live sockets."""
    async with unit_of_work(ctx) as uow:
        await people.revoke_token(uow.conn, principal.token_id, uow.now)
        uow.control("close_token", token_id=principal.token_id)


async def issue_visitor_token(ctx: Context, conn: Any, requester: Requester, now: Any) -> str:
    """A visitor token for a requester's own chats (inside the caller's transaction)."""
    token = new_token()
    await people.insert_token(conn, token_hash(ctx, token), now, requester_id=requester.id)
    return token


async def ensure_first_admin(ctx: Context) -> bool:
    """Create the admin of ``DESKCHAT_ADMIN_EMAIL``/``PASSWORD`` if no admin exists yet."""
    email, password = ctx.settings.admin_email, ctx.settings.admin_password
    if not (email and password):
        return False
    password_hash = await hash_password(password)
    async with unit_of_work(ctx) as uow:
        if await people.any_admin(uow.conn) or await people.email_taken(uow.conn, email):
            return False
        await people.insert_technician(uow.conn, name="Administrator", email=email,
                                       password_hash=password_hash, role=Role.ADMIN, now=uow.now)
    log.info("admin_created", email=email)
    return True


async def me(ctx: Context, principal: Principal) -> dict[str, Any]:
    """The caller as the API shows it."""
    actor = principal.actor
    if isinstance(actor, Requester):
        return {"kind": "requester", "id": actor.id, "name": actor.name, "email": actor.email}
    return {"kind": "technician", **await _technician_now(ctx, actor)}


async def _technician_now(ctx: Context, tech: Technician) -> dict[str, Any]:
    """A technician with their live online flag and active chats (a second login may find both)."""
    async with reading(ctx) as conn:
        online = await people.online_ids(conn, [tech.id], ctx.clock(), ctx.settings.presence_ttl_seconds)
        counts = await people.active_chat_counts(conn, [tech.id])
    return technician_view(tech, online=tech.id in online, active_chats=counts.get(tech.id, 0))
