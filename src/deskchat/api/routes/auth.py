"""Login (password or single sign-on), logout, me, status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from deskchat.api import oidc
from deskchat.api.deps import (
    REQUESTER_COOKIE,
    SESSION_COOKIE,
    Caller,
    Ctx,
    clear_session_cookies,
    set_session_cookies,
)
from deskchat.api.schemas import LoginIn, LoginOut, StatusIn, TechnicianOut
from deskchat.domain.signin import MAX_NEXT, Audience
from deskchat.services import auth, presence, sso

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/login", response_model=LoginOut)
async def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> dict[str, Any]:
    """Technician or admin login: a bearer token, plus the console's session and CSRF cookies."""
    client = request.client.host if request.client else "unknown"
    token, technician = await auth.login(ctx, body.email, body.password, client)
    set_session_cookies(response, token, secure=ctx.settings.cookie_secure)
    return {"token": token, "technician": technician}


@router.post("/auth/logout", status_code=204)
async def logout(caller: Caller, ctx: Ctx) -> Response:
    """Revoke the token and close its live WebSockets."""
    await auth.logout(ctx, caller)
    response = Response(status_code=204)
    clear_session_cookies(response)
    return response


@router.get("/auth/providers")
async def providers(ctx: Ctx) -> dict[str, bool]:
    """Public: how people can sign in here (the sign-in pages show `Sign in with SSO` when ``oidc``)."""
    return auth.providers(ctx)


@router.get("/auth/oidc/login", response_class=RedirectResponse, status_code=302,
            responses={302: {"description": "To the identity provider's sign-in page"}})
async def oidc_login(request: Request, ctx: Ctx, audience: Audience = Audience.TECHNICIAN,
                     next_path: str | None = Query(None, alias="next", max_length=MAX_NEXT)) -> Response:
    """Single sign-on: off to the identity provider; ``next`` (a path on this server) is where it ends."""
    pending = await sso.begin(ctx, audience, next_path)
    return await oidc.redirect_to_provider(request, ctx, pending)


@router.get("/auth/oidc/callback", response_class=RedirectResponse, status_code=302,
            responses={302: {"description": "Signed in: to `next`"}})
async def oidc_callback(request: Request, ctx: Ctx, state: str | None = Query(None, max_length=200)) -> Response:
    """The provider sends the browser back here; a verified ID token signs its person in (cookies), or a 4xx page."""
    pending = await sso.resume(ctx, state)
    signed_in = await sso.finish(ctx, pending, await oidc.verified_claims(request))
    response = RedirectResponse(signed_in.next_path, status_code=302)
    cookie = REQUESTER_COOKIE if signed_in.audience is Audience.REQUESTER else SESSION_COOKIE
    set_session_cookies(response, signed_in.token, secure=ctx.settings.cookie_secure, cookie=cookie)
    return response


@router.get("/me")
async def me(caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """The caller: a technician, or a requester (``kind: requester``)."""
    return await auth.me(ctx, caller)


@router.put("/me/status", response_model=TechnicianOut)
async def set_status(body: StatusIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Online, Away or Offline."""
    return await presence.set_status(ctx, caller, body.status)
