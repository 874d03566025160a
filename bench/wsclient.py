"""A lean WebSocket client for the load generator, built on websockets' sans-I/O core.

One asyncio ``Protocol`` per socket: frames are parsed by ``websockets.client.ClientProtocol``
inside ``data_received`` and handed to a plain callback, with the arrival time taken once per
read. No task, queue or coroutine switch per frame, and ``send`` never waits: this is what lets
one generator process on one core drive thousands of sockets open-loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

try:  # orjson is optional; it only makes the generator cheaper.
    import orjson

    loads: Callable[[bytes | str], Any] = orjson.loads

    def dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - depends on the environment
    import json

    loads = json.loads

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


now = time.monotonic

FrameHandler = Callable[["WSClient", dict[str, Any], float], None]

# Frames no scenario looks at, dropped before JSON parsing: deskchat broadcasts every technician's
# presence change to every technician socket, which is O(sockets^2) frames when many connect at once.
SKIP_PREFIXES = (b'{"type":"presence"', b'{"type": "presence"', b'{"type":"typing"', b'{"type": "typing"')


class WSClient(asyncio.Protocol):
    """One client socket; ``on_frame(client, frame, t_recv)`` gets every JSON text frame."""

    def __init__(self, url: str, on_frame: FrameHandler, tag: Any = None) -> None:
        self.proto = ClientProtocol(parse_uri(url), max_size=2**24)
        self.on_frame = on_frame
        self.on_close: Callable[[WSClient], None] | None = None
        self.tag = tag
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._fragments: list[bytes] = []
        self.frames_in = 0
        self.skipped = 0
        self.eof = False
        self.lost_exc: Exception | None = None

    # asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        self.proto.send_request(self.proto.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        t = now()
        self.proto.receive_data(data)
        for event in self.proto.events_received():
            if isinstance(event, Response):
                self._handshake_done()
                continue
            if event.opcode is Opcode.TEXT or event.opcode is Opcode.CONT:
                if not event.fin:
                    self._fragments.append(event.data)
                    continue
                payload = event.data
                if self._fragments:
                    payload = b"".join([*self._fragments, payload])
                    self._fragments.clear()
                self.frames_in += 1
                if payload.startswith(SKIP_PREFIXES):
                    self.skipped += 1
                    continue
                self.on_frame(self, loads(payload), t)
        self._flush()

    def eof_received(self) -> bool | None:
        self.eof = True
        self.proto.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost_exc = exc
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost during handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)
        if self.on_close is not None:
            self.on_close(self)

    # API --------------------------------------------------------------------------------
    def close_reason(self) -> str:
        """How the connection ended: close code, or EOF / reset without a close frame."""
        if self.proto.close_rcvd is not None:
            return str(self.proto.close_rcvd.code)
        if self.eof:
            return "eof without close frame"
        return f"lost: {type(self.lost_exc).__name__}" if self.lost_exc else "lost"

    @property
    def is_open(self) -> bool:
        return self.proto.state is State.OPEN and not self.closed.done()

    def send(self, frame: dict[str, Any] | bytes) -> None:
        """Queue one text frame on the transport; never waits (open loop)."""
        if not self.is_open:
            raise ConnectionError("socket is not open")
        self.proto.send_text(frame if isinstance(frame, bytes) else dumps(frame))
        self._flush()

    def close(self) -> None:
        """Polite close (close frame, then TCP close)."""
        if self.is_open:
            self.proto.send_close(1000)
            self._flush()
        if self.transport is not None:
            asyncio.get_running_loop().call_later(1.0, self.abort)

    def abort(self) -> None:
        """Drop the TCP connection at once, as a network failure would."""
        if self.transport is not None:
            self.transport.abort()

    # internals --------------------------------------------------------------------------
    def _handshake_done(self) -> None:
        if self.opened.done():
            return
        if self.proto.handshake_exc is not None:
            self.opened.set_exception(self.proto.handshake_exc)
        else:
            self.opened.set_result(None)

    def _flush(self) -> None:
        assert self.transport is not None
        for chunk in self.proto.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                self.transport.write_eof()
        if self.proto.close_expected():
            asyncio.get_running_loop().call_later(2.0, self.abort)


async def open_ws(url: str, on_frame: FrameHandler, tag: Any = None, timeout: float = 30.0) -> WSClient:
    """Connect and complete the WebSocket handshake."""
    loop = asyncio.get_running_loop()
    uri = parse_uri(url)
    client = WSClient(url, on_frame, tag)
    await asyncio.wait_for(loop.create_connection(lambda: client, uri.host, uri.port), timeout)
    await asyncio.wait_for(asyncio.shield(client.opened), timeout)
    return client
