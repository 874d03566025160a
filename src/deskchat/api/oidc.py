"""The OpenID Connect relying party, which is authlib's Starlette client: discovery, the redirect with
``state``, ``nonce`` and a PKCE challenge, the code exchange, and the ID token's checks (signature against
the provider's JWKS, issuer, audience, expiry, nonce). Its failures become deskchat's errors here."""

from __future__ import annotations

from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import Response

from deskchat.domain.errors import ProviderUnavailable, SignInFailed
from deskchat.services import sso
from deskchat.services.context import Context

SIGN_IN_COOKIE = "deskchat_sign_in"  # binds a sign-in to the browser that began it (signed, ten minutes)
SIGN_IN_PATH = "/api/v1/auth/oidc"
_UNREACHABLE = (httpx.HTTPError, ValueError, KeyError, RuntimeError)  # discovery, JWKS, token endpoint


def provider_client(ctx: Context) -> StarletteOAuth2App:
    """The provider of ``DESKCHAT_OIDC_ISSUER``, found by discovery on first use."""
    settings = ctx.settings
    oauth = OAuth(cache=sso.StateStore(ctx))
    client: StarletteOAuth2App = oauth.register(
        "oidc", client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
        server_metadata_url=f"{settings.oidc_issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256", "timeout": 10.0})
    return client


async def redirect_to_provider(request: Request, ctx: Context, pending: sso.Pending) -> Response:
    """The 302 to the provider's sign-in page for a sign-in that ``sso.begin`` started."""
    client: StarletteOAuth2App = request.app.state.oidc
    try:
        response: Response = await client.authorize_redirect(request, sso.redirect_uri(ctx), state=pending.state)
    except _UNREACHABLE as exc:
        raise ProviderUnavailable(f"The identity provider could not be reached ({type(exc).__name__}). "
                                  "Try again in a moment.") from None
    return response


async def verified_claims(request: Request) -> dict[str, Any]:
    """The claims of the callback's ID token once authlib has checked it, or 400 (502 if unreachable)."""
    client: StarletteOAuth2App = request.app.state.oidc
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as exc:  # a state of another browser, the provider's error, a code it refused
        reason = exc.description or exc.error or type(exc).__name__
        raise SignInFailed(f"The sign-in was refused: {reason}. Start the sign-in again.") from None
    except (JoseError, AuthlibBaseError) as exc:  # signature, issuer, audience, expiry or nonce
        raise SignInFailed(f"The identity provider's ID token did not check out ({type(exc).__name__}). "
                           "Start the sign-in again.") from None
    except _UNREACHABLE as exc:
        raise ProviderUnavailable(f"The identity provider could not be reached ({type(exc).__name__}). "
                                  "Try again in a moment.") from None
    claims = token.get("userinfo")
    if not claims:
        raise SignInFailed("The identity provider sent no ID token. Start the sign-in again.")
    return dict(claims)
