"""Request dependencies: the service context and the authenticated caller."""

from __future__ import annotations

import contextlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response

from deskchat.domain.errors import Forbidden, Unauthorized
from deskchat.domain.people import Requester
from deskchat.services import auth
from deskchat.services.auth import Principal
from deskchat.services.context import Context

SESSION_COOKIE = "deskchat_session"
REQUESTER_COOKIE = "deskchat_requester"  # a verified requester signed in by single sign-on (/chat)
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_ctx(request: Request) -> Context:
    """The context built at start."""
    ctx: Context = request.app.state.ctx
    return ctx


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _check_csrf(request: Request) -> None:
    """A cookie-authenticated unsafe request must echo the CSRF cookie in ``X-CSRF-Token``."""
    if request.method in SAFE_METHODS:
        return
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    # as bytes: compare_digest refuses non-ASCII str (a 500), and header bytes may be anything
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise Forbidden("The X-CSRF-Token header is missing or wrong.")


def _cookie_token(request: Request, *cookies: str) -> str | None:
    for cookie in cookies:
        token = request.cookies.get(cookie)
        if token:
            _check_csrf(request)
            return token
    return None


async def get_principal(request: Request, ctx: Annotated[Context, Depends(get_ctx)]) -> Principal:
    """The caller, by bearer token or by session cookie (with the CSRF header on unsafe requests)."""
    token = bearer_token(request) or _cookie_token(request, SESSION_COOKIE, REQUESTER_COOKIE)
    return await auth.authenticate(ctx, token)


def set_session_cookies(response: Response, token: str, *, secure: bool, cookie: str = SESSION_COOKIE) -> None:
    """The browser's session (HttpOnly) and the CSRF token its pages echo in ``X-CSRF-Token``."""
    response.set_cookie(cookie, token, httponly=True, samesite="lax", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), httponly=False, samesite="lax",
                        secure=secure, path="/")


def clear_session_cookies(response: Response) -> None:
    """Forget every session cookie of this browser."""
    for cookie in (SESSION_COOKIE, REQUESTER_COOKIE, CSRF_COOKIE):
        response.delete_cookie(cookie, path="/")


async def verified_caller(request: Request, ctx: Context) -> tuple[Requester, str] | None:
    """The verified requester of the request's bearer token or SSO cookie, with the token; None for anyone else."""
    token = bearer_token(request) or _cookie_token(request, REQUESTER_COOKIE)
    if token is None:
        return None
    with contextlib.suppress(Unauthorized):  # starting a chat is public: a stale token is no error
        principal = await auth.authenticate(ctx, token)
        if isinstance(principal.actor, Requester) and principal.actor.verified:
            return principal.actor, token
    return None


Ctx = Annotated[Context, Depends(get_ctx)]
Caller = Annotated[Principal, Depends(get_principal)]
