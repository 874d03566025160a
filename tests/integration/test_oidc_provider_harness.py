"""The test OpenID provider itself: discovery, login page, code + PKCE, signed ID tokens, single-use codes, FORGE."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from tests.support.oidc_provider import OidcProvider, sign_in_at_provider

pytestmark = pytest.mark.slow

REDIRECT_URI = "http://127.0.0.1:9/cb"  # never requested: sign_in_at_provider stops at the redirect


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider([REDIRECT_URI]) as started:
        yield started


def discover(provider: OidcProvider) -> dict[str, Any]:
    response = httpx.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=10)
    response.raise_for_status()
    config: dict[str, Any] = response.json()
    return config


def sign_in(provider: OidcProvider, login: str) -> tuple[str, str, str]:
    """Authorize as ``login`` by hand (code, S256 PKCE, state, nonce): the code, its verifier and the nonce."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = urlencode({"response_type": "code", "client_id": provider.client_id, "redirect_uri": REDIRECT_URI,
                       "scope": "openid email profile", "state": state, "nonce": nonce,
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    back = sign_in_at_provider(f"{discover(provider)['authorization_endpoint']}?{query}", login)
    assert back.startswith(REDIRECT_URI + "?")
    params = parse_qs(urlsplit(back).query)
    assert params["state"] == [state]
    assert params["iss"] == [provider.issuer]
    return params["code"][0], verifier, nonce


def exchange(provider: OidcProvider, code: str, verifier: str, *, post: bool = False) -> httpx.Response:
    """Redeem ``code`` at the token endpoint with client_secret_basic (or client_secret_post)."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    if post:
        data |= {"client_id": provider.client_id, "client_secret": provider.client_secret}
        return httpx.post(discover(provider)["token_endpoint"], data=data, timeout=10)
    return httpx.post(discover(provider)["token_endpoint"], data=data, timeout=10,
                      auth=(provider.client_id, provider.client_secret))


def verified_claims(provider: OidcProvider, id_token: str) -> dict[str, Any]:
    """The ID token's claims, after checking its signature against the provider's published JWKS."""
    jwks = httpx.get(discover(provider)["jwks_uri"], timeout=10).json()
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    return dict(token.claims)


def test_discovery(provider: OidcProvider) -> None:
    config = discover(provider)
    assert config["issuer"] == provider.issuer
    assert config["jwks_uri"] == f"{provider.issuer}/jwks"
    assert "S256" in config["code_challenge_methods_supported"]
    assert {"client_secret_basic", "client_secret_post"} <= set(config["token_endpoint_auth_methods_supported"])
    assert provider.env() == {"DESKCHAT_OIDC_ISSUER": provider.issuer, "DESKCHAT_OIDC_CLIENT_ID": "deskchat",
                              "DESKCHAT_OIDC_CLIENT_SECRET": "deskchat-test-secret"}


@pytest.mark.parametrize(("login", "email", "verified", "name"), [
    ("alice.smith", "alice.smith@example.com", True, "Alice Smith"),
    ("unverified.bob@corp.example", "unverified.bob@corp.example", False, "Unverified Bob"),
    ("noclaim.carol", "noclaim.carol@example.com", None, "Noclaim Carol"),
])
def test_signed_id_token(provider: OidcProvider, login: str, email: str, verified: bool | None, name: str) -> None:
    code, verifier, nonce = sign_in(provider, login)
    response = exchange(provider, code, verifier)
    assert response.status_code == 200, response.text
    id_token = response.json()["id_token"]
    assert id_token.count(".") == 2  # a JWS, compact form
    claims = verified_claims(provider, id_token)
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == provider.client_id
    assert claims["sub"] == login
    assert claims["nonce"] == nonce
    assert claims["email"] == email
    assert claims["name"] == name
    assert claims.get("email_verified") == verified
    assert ("email_verified" in claims) is (verified is not None)


def test_code_is_single_use_and_post_auth_works(provider: OidcProvider) -> None:
    code, verifier, _ = sign_in(provider, "dora@example.com")
    assert exchange(provider, code, verifier, post=True).status_code == 200
    again = exchange(provider, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_wrong_verifier_is_refused(provider: OidcProvider) -> None:
    code, _, _ = sign_in(provider, "eve")
    refused = exchange(provider, code, secrets.token_urlsafe(48))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


def test_forged_signature_is_detectable() -> None:
    with OidcProvider([REDIRECT_URI], forge=True) as forger:
        code, verifier, _ = sign_in(forger, "mallory")
        response = exchange(forger, code, verifier)
        assert response.status_code == 200, response.text
        with pytest.raises(BadSignatureError):
            verified_claims(forger, response.json()["id_token"])
