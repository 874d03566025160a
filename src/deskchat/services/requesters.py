"""Known requesters: signed identity from the company portal, and a requester's history for technicians."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from deskchat.domain.errors import NotFound, Unauthorized
from deskchat.domain.people import Requester
from deskchat.services.auth import Principal, issue_visitor_token
from deskchat.services.context import Context, UnitOfWork, reading, unit_of_work
from deskchat.services.views import chat_view, request_view, requester_view
from deskchat.storage.errors import Duplicate

HISTORY_LIMIT = 50
_CLAIMS = jwt.JWTClaimsRegistry(exp={"essential": True}, email={"essential": True})


def identity_claims(secret: str, identity_token: str) -> tuple[str, str]:
    """The (email, name) a portal signed (HS256 only, ``exp`` required and in the future), or 401."""
    try:
        token = jwt.decode(identity_token, OctKey.import_key(secret), algorithms=["HS256"])
        _CLAIMS.validate(token.claims)
        email = validate_email(str(token.claims["email"]), check_deliverability=False).normalized
    except (JoseError, ValueError, EmailNotValidError) as exc:
        raise Unauthorized(f"The identity token is not valid: {type(exc).__name__}.") from None
    name = token.claims.get("name")
    if not isinstance(name, str) or not name.strip():
        name = email.split("@", 1)[0]
    return email, name.strip()[:200]


async def verified_requester(uow: UnitOfWork, email: str, name: str) -> Requester:
    """The one verified requester of an email, made on first sign-in; a later one may bring a new name."""
    found = await uow.people.verified_requester(email)
    if found is None:
        return await uow.people.insert_verified_requester(name, email, uow.now)
    if found.name != name:
        await uow.people.rename_requester(found.id, name)
        found = Requester(found.id, name, found.email, True)
    return found


async def start_session(ctx: Context, identity_token: str) -> dict[str, Any]:
    """The portal's signed identity becomes a visitor token that reaches all of that person's chats."""
    secret = ctx.settings.identity_secret
    if not secret:
        raise NotFound("Signed identity is not configured on this server (DESKCHAT_IDENTITY_SECRET).")
    email, name = identity_claims(secret, identity_token)
    token, requester = await sign_in(ctx, email, name)
    return {"visitor_token": token, "requester": requester_view(requester)}


async def sign_in(ctx: Context, email: str, name: str) -> tuple[str, Requester]:
    """A token of the verified requester of a verified email (by portal identity or single sign-on)."""
    try:
        return await _sign_in(ctx, email, name)
    except Duplicate:  # the same person signed in on two devices at once: the other one stored them first
        return await _sign_in(ctx, email, name)


async def _sign_in(ctx: Context, email: str, name: str) -> tuple[str, Requester]:
    async with unit_of_work(ctx) as uow:
        requester = await verified_requester(uow, email, name)
        token = await issue_visitor_token(ctx, uow.repos, requester, uow.now)
    return token, requester


async def get_requester(ctx: Context, principal: Principal, requester_id: int) -> dict[str, Any]:
    """A requester with the chats and requests the technician may read, newest first; 404 if none."""
    tech = principal.technician()
    async with reading(ctx) as repos:
        requester = await repos.people.load_requester(requester_id)
        if requester is None:
            raise NotFound(f"There is no requester {requester_id}.")
        chats = [c for c in await repos.chats.list_of_requester(requester_id, HISTORY_LIMIT) if c.can_read(tech)]
        found = await repos.requests.list_of_requester(requester_id, None, HISTORY_LIMIT)
    requests = [r for r in found if r.visible_to(tech)]
    if not (chats or requests):
        raise NotFound(f"There is no requester {requester_id}.")
    return {**requester_view(requester), "chats": [chat_view(c) for c in chats],
            "requests": [request_view(r) for r in requests]}
