"""Logins, tokens and who is calling."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from deskchat.domain.errors import Forbidden, RateLimited, Unauthorized
from deskchat.domain.people import Actor, Requester, Role, StoredToken, Technician
from deskchat.realtime.events import CloseToken
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.views import requester_view, technician_view
from deskchat.storage.repositories import Repositories

log = structlog.get_logger()
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("deskchat-timing-equalizer")
# One password check at a time per login email in this process: otherwise guesses sent all at once
# all pass the limit check before the first failure is counted.
_login_turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
LOGIN_WINDOW = 15 * 60
FREE_FAILURES = 3  # an address's first typos cost nothing; after them each failure adds a step of waiting
MAX_SLOWDOWN = 5.0
TOUCH_EVERY = 60.0  # seconds: a token's last use is written at most this often (idle expiry is in minutes)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and the token they used."""

    actor: Actor
    token_id: int
    expires_at: datetime | None = None  # a technician's token ends then at the latest

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


async def hash_password(ctx: Context, password: str) -> str:
    """An argon2 hash, computed off the event loop, taking turns with password checks (memory is bounded)."""
    async with ctx.password_gate.turn():
        return await asyncio.to_thread(_hasher.hash, password)


async def _verify(password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _slowdown(failures: int, step: float) -> float:
    """Seconds to make an address wait that failed ``failures`` times: nothing for the first few typos."""
    return min(MAX_SLOWDOWN, step * max(0, failures - FREE_FAILURES))


async def _refuse_guessers(ctx: Context, keys: LoginKeys) -> None:
    limits, limiter = ctx.settings, ctx.limiter
    retry = (await limiter.peek(keys.pair, limits.rate_limit_failed_logins_per_15min, LOGIN_WINDOW)
             or await limiter.peek(keys.address, limits.rate_limit_failed_logins_per_address_15min, LOGIN_WINDOW))
    if retry is None and await limiter.peek(keys.pair, 1, LOGIN_WINDOW) is not None:
        # many addresses guessing one account: those that guessed wrong too are refused; a clean one is not
        retry = await limiter.peek(keys.email, limits.rate_limit_failed_logins_per_15min, LOGIN_WINDOW)
    if retry is not None:
        raise RateLimited("Too many failed logins; try again later.", retry_after=retry)


async def _check_password(ctx: Context, email: str, password: str, keys: LoginKeys) -> int:
    limited = ctx.settings.rate_limit_enabled
    if limited:
        await _refuse_guessers(ctx, keys)
    async with reading(ctx) as repos:
        found = await repos.people.password_hash_of(email)
    async with ctx.password_gate.turn():
        ok = await _verify(found[1] if found else _DUMMY_HASH, password)
    if not (found and ok):
        if limited:
            for key, limit in ((keys.pair, ctx.settings.rate_limit_failed_logins_per_15min),
                               (keys.address, ctx.settings.rate_limit_failed_logins_per_address_15min),
                               (keys.email, ctx.settings.rate_limit_failed_logins_per_15min)):
                await ctx.limiter.hit(key, limit, LOGIN_WINDOW)
        raise Unauthorized("Wrong email or password.")
    return found[0]


@dataclass(frozen=True)
class LoginKeys:
    """Failed-login counters: per email and address, per address, per email."""

    pair: str
    address: str
    email: str

    @staticmethod
    def of(email: str, client: str) -> LoginKeys:
        """The counters of one login attempt."""
        email = email.lower()
        return LoginKeys(f"login:{email}:{client}", f"login-address:{client}", f"login:{email}")


async def login(ctx: Context, email: str, password: str, client: str = "unknown") -> tuple[str, dict[str, Any]]:
    """Check a technician's password and issue a token; an address that keeps guessing is slowed, then refused."""
    keys = LoginKeys.of(email, client)
    if ctx.settings.rate_limit_enabled and ctx.settings.login_slowdown_seconds > 0:
        failures = await ctx.limiter.count(keys.address, LOGIN_WINDOW)
        await asyncio.sleep(_slowdown(failures, ctx.settings.login_slowdown_seconds))
    turn = _login_turns.setdefault(keys.pair, asyncio.Lock())
    async with turn:
        tech_id = await _check_password(ctx, email, password, keys)
    return await start_session(ctx, tech_id, "password")


async def start_session(ctx: Context, tech_id: int, method: str) -> tuple[str, dict[str, Any]]:
    """A new token for a technician who proved who they are (by password or single sign-on)."""
    token = new_token()
    async with unit_of_work(ctx) as uow:
        tech = await uow.people.load_technician(tech_id)
        if tech is None or not tech.active:  # deactivated between the check and now
            raise Unauthorized("Wrong email or password.")
        await uow.people.insert_token(token_hash(ctx, token), uow.now, technician_id=tech_id)
    log.info("login", technician_id=tech.id, method=method)
    return token, await _technician_now(ctx, tech)


async def authenticate(ctx: Context, token: str | None) -> Principal:
    """The caller behind a bearer or visitor token, or 401."""
    if not token:
        raise Unauthorized("Log in or send a bearer token.")
    return await _principal(ctx, token_hash=token_hash(ctx, token))


async def refresh(ctx: Context, principal: Principal) -> Principal:
    """The caller of the same token as stored now: rights follow the account, or 401 once it is cut off."""
    return await _principal(ctx, token_id=principal.token_id)


async def _principal(ctx: Context, *, token_hash: str | None = None, token_id: int | None = None) -> Principal:
    now = ctx.clock()
    async with reading(ctx) as repos:
        row = await repos.people.lookup_token(token_hash=token_hash, token_id=token_id)
        if row is None:
            raise Unauthorized("The token is not valid.")
        if row.technician_id is None:
            assert row.requester is not None
            since = now - timedelta(days=ctx.settings.visitor_token_days)
            # a visitor token works while it is young, or its requester has a chat that has not long ended
            if row.created_at <= since and not await repos.people.requester_chats_open_since(row.requester.id, since):
                raise Unauthorized("The chat of this visitor token ended too long ago.")
            return Principal(row.requester, row.id)
        _check_not_expired(ctx, row, now)
        tech = await repos.people.load_technician(row.technician_id)
        if tech is None or not tech.active:
            raise Unauthorized("The account is no longer active.")
    touch_every = min(TOUCH_EVERY, ctx.settings.token_idle_minutes * 60 / 4)
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > touch_every:
        async with unit_of_work(ctx) as uow:
            await uow.people.touch_token(row.id, uow.now)
    return Principal(tech, row.id, row.created_at + timedelta(hours=ctx.settings.token_ttl_hours))


def _check_not_expired(ctx: Context, row: StoredToken, now: datetime) -> None:
    """A technician's token ends TOKEN_TTL_HOURS after login, or TOKEN_IDLE_MINUTES after its last use."""
    if now - row.created_at > timedelta(hours=ctx.settings.token_ttl_hours):
        raise Unauthorized("The session expired; log in again.")
    if now - (row.last_used_at or row.created_at) > timedelta(minutes=ctx.settings.token_idle_minutes):
        raise Unauthorized("The session was idle too long; log in again.")


async def logout(ctx: Context, principal: Principal) -> None:
    """Revoke the token and close its live sockets."""
    async with unit_of_work(ctx) as uow:
        await uow.people.revoke_token(principal.token_id, uow.now)
        uow.control(CloseToken(token_id=principal.token_id))


async def issue_visitor_token(ctx: Context, repos: Repositories, requester: Requester, now: Any) -> str:
    """A visitor token for a requester's own chats (inside the caller's transaction)."""
    token = new_token()
    await repos.people.insert_token(token_hash(ctx, token), now, requester_id=requester.id)
    return token


async def ensure_first_admin(ctx: Context) -> bool:
    """Create the admin of ``DESKCHAT_ADMIN_EMAIL``/``PASSWORD`` if no admin exists yet."""
    email, password = ctx.settings.admin_email, ctx.settings.admin_password
    if not (email and password):
        return False
    password_hash = await hash_password(ctx, password)
    async with unit_of_work(ctx) as uow:
        if await uow.people.any_admin() or await uow.people.email_taken(email):
            return False
        await uow.people.insert_technician(name="Administrator", email=email,
                                       password_hash=password_hash, role=Role.ADMIN, now=uow.now)
    log.info("admin_created", email=email)
    return True


def providers(ctx: Context) -> dict[str, bool]:
    """The ways to sign in: passwords always, OpenID Connect single sign-on when it is configured."""
    return {"password": True, "oidc": ctx.settings.oidc_enabled}


async def me(ctx: Context, principal: Principal) -> dict[str, Any]:
    """The caller as the API shows it."""
    actor = principal.actor
    if isinstance(actor, Requester):
        return {"kind": "requester", **requester_view(actor)}
    return {"kind": "technician", **await _technician_now(ctx, actor)}


async def _technician_now(ctx: Context, tech: Technician) -> dict[str, Any]:
    """A technician with their live online flag and active chats (a second login may find both)."""
    async with reading(ctx) as repos:
        online = await repos.people.online_ids([tech.id], ctx.clock(), ctx.settings.presence_ttl_seconds)
        counts = await repos.people.active_chat_counts([tech.id])
    return technician_view(tech, online=tech.id in online, active_chats=counts.get(tech.id, 0))
