"""JSON request bodies are UTF-8 (RFC 8259 section 8.1): anything else is refused before a route reads it.

Python's ``json.loads`` on bytes guesses UTF-16 and UTF-32 and skips a byte-order mark, so without this a
body in another encoding was silently read. The check runs while the body streams in (nothing is
buffered), so a body-size limit outside this middleware still applies first.
"""

from __future__ import annotations

import codecs
from email.message import Message as MimeHeader

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyNotUTF8(HTTPException):
    """Bytes that are not UTF-8 JSON text: 422 ``validation_error`` (rendered in errors.py)."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=422, detail=detail)


class CharsetNotUTF8(HTTPException):
    """A JSON body declared in another charset: 415 ``unsupported_media_type``."""

    def __init__(self, charset: str) -> None:
        super().__init__(status_code=415, detail=f"JSON bodies must be UTF-8, not {charset[:40]!r}.")


def json_charset(headers: Headers) -> str | None:
    """The declared charset of a JSON body ("" when none is declared); None when the body is not JSON."""
    value = headers.get("content-type")
    if not value:
        return None
    mime = MimeHeader()
    mime["content-type"] = value
    subtype = mime.get_content_subtype()
    if mime.get_content_maintype() != "application" or not (subtype == "json" or subtype.endswith("+json")):
        return None
    return mime.get_content_charset("")


def is_utf8(charset: str) -> bool:
    """True for every name of UTF-8 (``utf8``, ``UTF-8``, ...); a byte-order-mark variant is not."""
    try:
        return codecs.lookup(charset).name == "utf-8"
    except (LookupError, ValueError):  # unknown name, or one with a NUL in it
        return False


def checked_receive(receive: Receive, charset: str) -> Receive:
    """``receive`` that raises once the body shows it is not UTF-8 JSON text."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    started = False

    async def receive_checked() -> Message:
        nonlocal started
        if charset and not is_utf8(charset):
            raise CharsetNotUTF8(charset)
        message = await receive()
        if message["type"] == "http.request":
            try:
                text = decoder.decode(message.get("body", b""), final=not message.get("more_body", False))
            except UnicodeDecodeError:
                raise BodyNotUTF8("The body is not UTF-8 text.") from None
            if not started and text.startswith("\ufeff"):
                raise BodyNotUTF8("The body starts with a byte-order mark; send UTF-8 JSON without one.")
            if "\x00" in text:  # never valid in JSON text; json.loads takes it as a sign of UTF-16 or UTF-32
                raise BodyNotUTF8("The body contains NUL bytes; send UTF-8 JSON.")
            started = started or bool(text)
        return message

    return receive_checked


class StrictJSONBody:
    """Pure ASGI middleware: a JSON request body must be UTF-8 without a byte-order mark or NUL bytes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        charset = json_charset(Headers(scope=scope)) if scope["type"] == "http" else None
        if charset is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, checked_receive(receive, charset), send)
