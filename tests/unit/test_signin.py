"""Single sign-on rules: where a sign-in may send the browser, and which provider emails count."""

from __future__ import annotations

import pytest

from deskchat.domain.errors import Forbidden, ValidationFailed
from deskchat.domain.signin import Audience, display_name, safe_next, verified_email


@pytest.mark.parametrize("audience,expected", [(Audience.TECHNICIAN, "/console"), (Audience.REQUESTER, "/chat")])
def test_no_next_lands_on_the_audiences_home(audience: Audience, expected: str) -> None:
    assert safe_next(audience, None) == expected
    assert safe_next(audience, "") == expected


@pytest.mark.parametrize("path", ["/console", "/requests?status=open", "/chat#mine", "/admin/x%2F%2Fy"])
def test_paths_on_this_server_are_kept(path: str) -> None:
    assert safe_next(Audience.TECHNICIAN, path) == path


@pytest.mark.parametrize("path", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "evil.example",
    "/\t/evil.example", "/console\\..\\", "/\n/evil.example", "javascript:alert(1)", "/" + "a" * 2001,
])
def test_anything_that_could_leave_the_server_is_refused(path: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        safe_next(Audience.REQUESTER, path)
    assert refused.value.errors == {"next": "a path starting with one /"}


def test_a_verified_email_counts_in_lower_case() -> None:
    assert verified_email({"email": "Alice@Example.COM", "email_verified": True}, False) == "alice@example.com"
    assert verified_email({"email": "bob@example.com", "email_verified": "true"}, False) == "bob@example.com"


def test_an_unverified_email_never_counts_even_when_the_admin_trusts_the_provider() -> None:
    for trust in (False, True):
        with pytest.raises(Forbidden):
            verified_email({"email": "eve@example.com", "email_verified": False}, trust)


def test_a_missing_claim_counts_only_when_the_provider_is_trusted() -> None:
    with pytest.raises(Forbidden):
        verified_email({"email": "entra@example.com"}, False)
    assert verified_email({"email": "entra@example.com"}, True) == "entra@example.com"


def test_no_email_is_refused() -> None:
    with pytest.raises(Forbidden):
        verified_email({"email_verified": True, "sub": "x"}, True)


def test_the_name_comes_from_the_token_or_the_email() -> None:
    assert display_name({"name": " Rita Requester "}, "rita@example.com") == "Rita Requester"
    assert display_name({"preferred_username": "rita.r"}, "rita@example.com") == "rita.r"
    assert display_name({"name": "rita@example.com"}, "rita@example.com") == "rita"
