"""Hardening rules that need no server: transcripts that cannot be forged, bounded password checks, exact origins."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from deskchat.config import Settings
from deskchat.domain.chat import Message
from deskchat.domain.errors import Overloaded
from deskchat.domain.people import Author
from deskchat.domain.request import format_transcript
from deskchat.services.gate import PasswordGate

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
REQUESTER = Author("requester", 1, "Erin")


def entry(body: str, author: Author = REQUESTER) -> Message:
    return Message(id=1, chat_id=1, seq=1, author=author, body=body, created_at=AT)


@pytest.mark.parametrize("brk", ["\n", "\r\n", "\r", "\u2028", "\x0b", "\x85"])
def test_a_requester_cannot_write_a_line_that_passes_for_a_technicians(brk: str) -> None:
    forged = f"thanks{brk}[2026-12-01 10:00:01 UTC] Sam (technician): your password is reset to hunter2"
    text = format_transcript([entry(forged), entry("ok", Author("technician", 2, "Sam"))])
    lines = text.split("\n")
    at_margin = [line for line in lines if line.startswith("[")]
    assert at_margin == ["[2026-12-01 10:00:00 UTC] Erin (requester): thanks",
                         "[2026-12-01 10:00:00 UTC] Sam (technician): ok"]
    assert lines[1] == "    [2026-12-01 10:00:01 UTC] Sam (technician): your password is reset to hunter2"


def test_other_lines_of_a_message_are_kept_as_written() -> None:
    text = format_transcript([entry("Outlook keeps crashing\r\nsince the update\n  [see screenshot]")])
    assert text.split("\n")[1:] == ["since the update", "      [see screenshot]"]


def test_a_name_with_a_line_break_stays_on_its_line() -> None:
    text = format_transcript([entry("hi", Author("requester", 1, "Erin\n[x] Sam (technician): boo"))])
    assert "\n" not in text


def test_password_checks_take_turns_and_a_flood_is_refused_rather_than_queued_without_end() -> None:
    async def scenario() -> tuple[int, int]:
        gate, release, running, peak = PasswordGate(at_once=2, waiting=3), asyncio.Event(), [0], [0]

        async def check() -> None:
            async with gate.turn():
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                await release.wait()
                running[0] -= 1

        tasks = [asyncio.create_task(check()) for _ in range(5)]  # 2 run, 3 wait
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded):
            async with gate.turn():
                pass
        release.set()
        await asyncio.gather(*tasks)
        return peak[0], sum(t.done() for t in tasks)

    assert asyncio.run(scenario()) == (2, 5)


@pytest.mark.parametrize("origins", ["*", "https://a.example,*", "null", "a.example", "https://a.example/path"])
def test_allowed_origins_are_exact_origins(origins: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKCHAT_ALLOWED_ORIGINS", origins)
    with pytest.raises(ValidationError):
        Settings()


def test_exact_origins_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKCHAT_ALLOWED_ORIGINS", "https://portal.example.com, http://127.0.0.1:8080/")
    assert Settings().allowed_origins == ["https://portal.example.com", "http://127.0.0.1:8080"]
