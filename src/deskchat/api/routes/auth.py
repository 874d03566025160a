"""Login, logout, me, status."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request, Response

from deskchat.api.deps import CSRF_COOKIE, SESSION_COOKIE, Caller, Ctx
from deskchat.api.schemas import LoginIn, LoginOut, StatusIn, TechnicianOut
from deskchat.services import auth, presence

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/login", response_model=LoginOut)
async def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> dict[str, Any]:
    """Technician or admin login: a bearer token, plus the console's session and CSRF cookies."""
    client = request.client.host if request.client else "unknown"
    token, technician = await auth.login(ctx, body.email, body.password, client)
    secure = ctx.settings.cookie_secure
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), httponly=False, samesite="lax",
                        secure=secure, path="/")
    return {"token": token, "technician": technician}


@router.post("/auth/logout", status_code=204)
async def logout(caller: Caller, ctx: Ctx) -> Response:
    """Revoke the token and close its live WebSockets."""
    await auth.logout(ctx, caller)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/auth/providers")
async def providers(ctx: Ctx) -> dict[str, bool]:
    """Public: how people can sign in here (the sign-in pages show `Sign in with SSO` when ``oidc``)."""
    return auth.providers(ctx)


@router.get("/me")
async def me(caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """The caller: a technician, or a requester (``kind: requester``)."""
    return await auth.me(ctx, caller)


@router.put("/me/status", response_model=TechnicianOut)
async def set_status(body: StatusIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Online, Away or Offline."""
    return await presence.set_status(ctx, caller, body.status)
