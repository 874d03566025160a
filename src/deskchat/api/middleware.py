"""Pure ASGI middleware: security headers and request metrics, and the request body limit."""

from __future__ import annotations

import json
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskchat.domain.errors import PayloadTooLarge
from deskchat.metrics import HTTP_LATENCY, HTTP_REQUESTS, WEBSOCKETS

HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class HeadersAndMetrics:
    """Security headers on every response, and request counts (no body buffering)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
        if hsts:  # only behind HTTPS (DESKCHAT_COOKIE_SECURE): a browser then refuses plain HTTP for a year
            self.extra.append(HSTS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            WEBSOCKETS.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                WEBSOCKETS.dec()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, method = time.perf_counter(), scope["method"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.extra]
                HTTP_REQUESTS.labels(method, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, send_with_headers)
        HTTP_LATENCY.labels(method).observe(time.perf_counter() - started)


UPLOAD_PATH = re.compile(r"^/api/v1/chats/[0-9]+/attachments$")


DRAIN_BYTES = 4 * 1024 * 1024  # of a too-large body, read and dropped before the 413 (larger ones: cut off)


async def _drain(receive: Receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodyLimit:
    """Request bodies above ``max_bytes`` get 413 payload_too_large before anything parses them.

    A declared Content-Length over the limit is refused before the application runs; a body sent without one
    (chunked) is counted as it arrives, and the application sees a disconnect once it goes over, so it stores
    nothing. Up to DRAIN_BYTES of the refused body are read and dropped first, so a client that is still sending
    gets the 413 instead of a reset connection.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes or max_bytes  # attachment uploads (their file's own limit is exact)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_bytes if UPLOAD_PATH.match(scope["path"]) else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            if int(declared) <= DRAIN_BYTES:  # a client still sending would miss the answer (connection reset)
                await _drain(receive, DRAIN_BYTES)
            await self._refuse(send, limit)
            return
        received, too_large, started, more = 0, False, False, True

        async def counting_receive() -> Message:
            nonlocal received, too_large, more
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                more = bool(message.get("more_body", False))
                if received > limit:
                    too_large = True
                    return {"type": "http.disconnect"}
            else:
                more = False
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large and not started:
                return  # the application's answer to a cut-off body is replaced by the 413 below
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            if more:  # read (and drop) the rest a little way, so a client still sending gets the answer
                await _drain(receive, DRAIN_BYTES)
            await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        problem = PayloadTooLarge(f"The request body is larger than {limit} bytes.").problem()
        body = json.dumps(problem).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
