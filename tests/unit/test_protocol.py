"""WebSocket frames parsed without sockets: every valid frame, and every way to get one wrong."""

from __future__ import annotations

import json

import pytest

from deskchat.domain.errors import ValidationFailed
from deskchat.realtime.protocol import Auth, Ping, Resume, Send, Typing, parse_frame

BIG = 2**63  # beyond any database integer column


def bad(text: str | bytes | None) -> ValidationFailed:
    """The frame is refused with a 422 problem that names what is wrong."""
    with pytest.raises(ValidationFailed) as caught:
        parse_frame(text)
    problem = caught.value.problem()
    assert problem["type"] == "validation_error" and problem["status"] == 422
    assert isinstance(problem["detail"], str) and problem["detail"]
    assert isinstance(problem.get("errors"), dict) and problem["errors"]
    return caught.value


# -- valid frames ----------------------------------------------------------------------

def test_auth() -> None:
    assert parse_frame('{"type": "auth", "token": "abc"}') == Auth(type="auth", token="abc")


def test_resume_with_positions_per_chat() -> None:
    frame = parse_frame('{"type": "resume", "chats": {"12": 0, "7": 41}}')
    assert isinstance(frame, Resume)
    assert frame.positions() == {12: 0, 7: 41}


def test_resume_of_nothing() -> None:
    frame = parse_frame('{"type": "resume", "chats": {}}')
    assert isinstance(frame, Resume) and frame.positions() == {}


def test_send_with_a_body() -> None:
    frame = parse_frame(json.dumps({"type": "send", "chat_id": 3, "body": "hi", "client_msg_id": "c-1"}))
    assert frame == Send(type="send", chat_id=3, body="hi", client_msg_id="c-1", canned_message_id=None)


def test_send_with_a_canned_message() -> None:
    frame = parse_frame(json.dumps({"type": "send", "chat_id": 3, "canned_message_id": 9, "client_msg_id": "c"}))
    assert isinstance(frame, Send) and frame.canned_message_id == 9 and frame.body is None


def test_typing_and_ping() -> None:
    assert parse_frame('{"type": "typing", "chat_id": 5}') == Typing(type="typing", chat_id=5)
    assert parse_frame('{"type":"ping"}') == Ping(type="ping")


# -- not a JSON object with a type -----------------------------------------------------

@pytest.mark.parametrize("text", ["hello", "{", "", "{'type': 'ping'}", '{"type": "ping"} trailing'])
def test_non_json_text(text: str) -> None:
    assert bad(text).errors == {"frame": "invalid JSON"}


@pytest.mark.parametrize("data", [b'{"type": "ping"}', b"\x00\xff", None])
def test_binary_frames_and_no_text(data: bytes | None) -> None:
    assert bad(data).errors == {"frame": "expected a text frame"}


def test_deeply_nested_json_is_refused_not_crashing() -> None:
    bad("[" * 100_000 + "]" * 100_000)
    bad('{"type": "ping", "x": ' + "[" * 50_000 + "]" * 50_000 + "}")


@pytest.mark.parametrize("text", ['{"chat_id": 1}', "[]", '["ping"]', "null", "42", '"ping"', "{}",
                                  '{"type": null}', '{"type": 5}', '{"type": ["ping"]}'])
def test_missing_or_non_string_type(text: str) -> None:
    assert "type" in bad(text).errors  # type: ignore[operator]


@pytest.mark.parametrize("kind", ["pong", "PING", "hello", "message", "", "send "])
def test_unknown_type(kind: str) -> None:
    bad(json.dumps({"type": kind}))


# -- wrong fields ----------------------------------------------------------------------

@pytest.mark.parametrize("frame", [
    {"type": "send", "chat_id": "3", "body": "hi", "client_msg_id": "c"},       # id as a string
    {"type": "send", "chat_id": 3.0, "body": "hi", "client_msg_id": "c"},       # id as a float
    {"type": "send", "chat_id": True, "body": "hi", "client_msg_id": "c"},      # id as a bool
    {"type": "send", "chat_id": None, "body": "hi", "client_msg_id": "c"},
    {"type": "send", "chat_id": 3, "body": 5, "client_msg_id": "c"},            # body as an int
    {"type": "send", "chat_id": 3, "body": ["hi"], "client_msg_id": "c"},
    {"type": "send", "chat_id": 3, "body": "hi", "client_msg_id": 7},           # id as an int
    {"type": "send", "chat_id": 3, "canned_message_id": "9", "client_msg_id": "c"},
    {"type": "typing", "chat_id": "5"},
    {"type": "auth", "token": 123},
    {"type": "resume", "chats": [1, 2]},
    {"type": "resume", "chats": {"1": "3"}},
    {"type": "resume", "chats": {"1": 2.5}},
    {"type": "resume", "chats": {"1": -1}},
])
def test_wrong_types(frame: dict[str, object]) -> None:
    errors = bad(json.dumps(frame)).errors
    assert errors is not None
    assert {k.split(".")[0] for k in errors} & (set(frame) - {"type"}), errors  # names the wrong field


@pytest.mark.parametrize("frame", [
    {"type": "send", "chat_id": 3, "body": "hi"},                     # no client_msg_id
    {"type": "send", "chat_id": 3, "body": "hi", "client_msg_id": ""},
    {"type": "send", "chat_id": 3, "body": "hi", "client_msg_id": "x" * 101},
    {"type": "send", "body": "hi", "client_msg_id": "c"},             # no chat_id
    {"type": "typing"},
    {"type": "auth"},
    {"type": "auth", "token": ""},
    {"type": "resume"},
])
def test_missing_fields(frame: dict[str, object]) -> None:
    errors = bad(json.dumps(frame)).errors
    assert errors and all(isinstance(k, str) and isinstance(v, str) for k, v in errors.items())


def test_missing_client_msg_id_is_named() -> None:
    errors = bad('{"type": "send", "chat_id": 3, "body": "hi"}').errors
    assert errors is not None and "client_msg_id" in errors


@pytest.mark.parametrize("frame", [
    {"type": "ping", "extra": 1},
    {"type": "send", "chat_id": 3, "body": "hi", "client_msg_id": "c", "html": "<b>"},
    {"type": "auth", "token": "t", "user": "admin"},
    {"type": "typing", "chat_id": 1, "chat": 2},
    {"type": "resume", "chats": {}, "since": 0},
])
def test_unknown_fields(frame: dict[str, object]) -> None:
    errors = bad(json.dumps(frame)).errors
    assert errors is not None and any(k not in ("type", "frame") for k in errors)


@pytest.mark.parametrize("frame", [
    {"type": "send", "chat_id": BIG, "body": "hi", "client_msg_id": "c"},
    {"type": "send", "chat_id": 0, "body": "hi", "client_msg_id": "c"},
    {"type": "send", "chat_id": -4, "body": "hi", "client_msg_id": "c"},
    {"type": "send", "chat_id": 1, "canned_message_id": BIG, "client_msg_id": "c"},
    {"type": "typing", "chat_id": BIG},
    {"type": "resume", "chats": {"1": BIG}},
])
def test_ids_and_seqs_out_of_range(frame: dict[str, object]) -> None:
    bad(json.dumps(frame))


# -- resume keys -----------------------------------------------------------------------

@pytest.mark.parametrize("key", ["abc", "1.5", "", " ", "one", "0x10", str(BIG), "-3", "0", "1_000", "١٢", "9" * 5000])
def test_resume_keys_that_are_not_chat_ids(key: str) -> None:
    text = json.dumps({"type": "resume", "chats": {key: 0}})
    with pytest.raises(ValidationFailed) as caught:
        frame = parse_frame(text)
        assert isinstance(frame, Resume)
        frame.positions()
    assert caught.value.errors and "chats" in caught.value.errors


@pytest.mark.parametrize("text", ["nul \x00 here", "lone \ud800", "\udfff end"])
def test_text_no_database_can_store_is_refused(text: str) -> None:
    errors = bad(json.dumps({"type": "send", "chat_id": 1, "body": text, "client_msg_id": "c"})).errors
    assert errors is not None and "body" in errors
    bad(json.dumps({"type": "send", "chat_id": 1, "body": "fine", "client_msg_id": text}))


def test_emoji_and_other_scripts_are_fine() -> None:
    frame = parse_frame(json.dumps({"type": "send", "chat_id": 1, "body": "héllo 👋 你好 مرحبا", "client_msg_id": "c"}))
    assert isinstance(frame, Send) and frame.body == "héllo 👋 你好 مرحبا"
