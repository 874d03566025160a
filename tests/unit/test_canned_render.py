"""Placeholders in canned messages, filled for a chat."""

from __future__ import annotations

import pytest

from deskchat.domain.canned import KNOWN_PLACEHOLDERS, render

VALUES: dict[str, str | None] = {
    "requester.name": "Erin", "requester.email": "erin@example.com", "technician.name": "Alice",
    "group.name": "Service Desk", "chat.id": "17", "request.id": "42",
}


@pytest.mark.parametrize("key", sorted(KNOWN_PLACEHOLDERS))
def test_each_known_placeholder_is_filled(key: str) -> None:
    assert render(f"<{{{{{key}}}}}>", VALUES) == f"<{VALUES[key]}>"


def test_a_whole_greeting() -> None:
    body = "Hi {{requester.name}}, this is {{technician.name}} from {{group.name}} (chat {{chat.id}})."
    assert render(body, VALUES) == "Hi Erin, this is Alice from Service Desk (chat 17)."


def test_the_same_placeholder_twice() -> None:
    assert render("{{requester.name}} / {{requester.name}}", VALUES) == "Erin / Erin"


@pytest.mark.parametrize("body", ["{{requester.phone}}", "{{ticket.id}}", "{{foo.bar}}"])
def test_unknown_placeholders_stay_visible(body: str) -> None:
    assert render(f"see {body} here", VALUES) == f"see {body} here"


def test_unknown_next_to_known() -> None:
    assert render("{{requester.name}} {{requester.phone}}", VALUES) == "Erin {{requester.phone}}"


@pytest.mark.parametrize("value", [None, ""])
def test_an_empty_value_becomes_empty(value: str | None) -> None:
    assert render("Request #{{request.id}}.", {**VALUES, "request.id": value}) == "Request #."


def test_a_value_that_is_missing_entirely_becomes_empty() -> None:
    assert render("Hi {{requester.name}}!", {}) == "Hi !"


@pytest.mark.parametrize("body", ["{{ requester.name }}", "{{requester.name  }}", "{{\trequester.name\n}}",
                                  "{{  requester.name}}"])
def test_whitespace_inside_the_braces_is_allowed(body: str) -> None:
    assert render(body, VALUES) == "Erin"


@pytest.mark.parametrize("body", ["{requester.name}", "{{requester.name}", "{{requester name}}",
                                  "{{ requester . name }}", "{{}}", "{{Requester.Name}}", "requester.name"])
def test_things_that_are_not_placeholders_are_left_as_they_are(body: str) -> None:
    assert render(body, VALUES) == body


def test_values_are_inserted_literally_and_not_expanded_again() -> None:
    values = {**VALUES, "requester.name": "{{technician.name}} \\1 \\g<0> <b>"}
    assert render("Hi {{requester.name}}", values) == "Hi {{technician.name}} \\1 \\g<0> <b>"


def test_text_without_placeholders_is_unchanged() -> None:
    text = "Please restart your laptop; {not a placeholder} and }} {{ stay."
    assert render(text, VALUES) == text
