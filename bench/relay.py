"""The bare baseline: a WebSocket relay on deskchat's own stack (Starlette on uvicorn).

It speaks the same frames as ``/api/v1/ws`` for the part the benchmark uses, and does nothing
else: no authentication, no database, no broker, no validation beyond ``json.loads``. What the
real server costs on top of this is the price of its features.

- ``{"type": "auth", "token": "<role>:<chat_id>[,<chat_id>...]"}`` -> ``hello``; the socket is
  joined to those chats (role is ``requester`` or ``technician``).
- ``{"type": "send", "chat_id", "body", "client_msg_id"}`` -> ``ack`` to the sender and a
  ``message`` frame (with a per-chat ``seq`` and the message object of API.md) to every socket
  of the chat, the sender included.
- ``{"type": "resume", "chats": {...}}`` -> a ``chat`` snapshot per chat (no history is kept).
- ``{"type": "ping"}`` -> ``pong``.

Run: ``python bench/relay.py --port 8300`` (the benchmark pins it to core 0 like the server).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

_sockets: dict[int, set[WebSocket]] = {}
_last_seq: dict[int, int] = {}
_message_ids = itertools.count(1)
_relayed = 0


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _chat_snapshot(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "state": "active", "last_seq": _last_seq.get(chat_id, 0)}


async def _relay_send(ws: WebSocket, role: str, frame: dict[str, Any]) -> None:
    global _relayed
    chat_id = int(frame["chat_id"])
    seq = _last_seq[chat_id] = _last_seq.get(chat_id, 0) + 1
    message = {
        "id": next(_message_ids),
        "chat_id": chat_id,
        "seq": seq,
        "kind": "text",
        "event": None,
        "author": {"kind": role, "id": chat_id, "name": role},
        "body": frame["body"],
        "client_msg_id": frame.get("client_msg_id"),
        "created_at": _now_iso(),
    }
    _relayed += 1
    await ws.send_text(json.dumps({"type": "ack", "client_msg_id": message["client_msg_id"], "message": message}))
    out = json.dumps({"type": "message", "chat_id": chat_id, "seq": seq, "data": message})
    for peer in list(_sockets.get(chat_id, ())):
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # gone; a real client resumes by seq
            await peer.send_text(out)


async def ws_endpoint(ws: WebSocket) -> None:
    await ws.accept()
    first = json.loads(await ws.receive_text())
    if first.get("type") != "auth":
        await ws.close(code=1008)
        return
    role, _, ids = str(first.get("token", "")).partition(":")
    chats = [int(x) for x in ids.split(",") if x]
    for chat_id in chats:
        _sockets.setdefault(chat_id, set()).add(ws)
    try:
        await ws.send_text(json.dumps({"type": "hello", "data": {"kind": role, "chat_ids": chats}}))
        while True:
            frame = json.loads(await ws.receive_text())
            kind = frame.get("type")
            if kind == "send":
                await _relay_send(ws, role, frame)
            elif kind == "resume":
                for chat_id in frame.get("chats", {}):
                    await ws.send_text(json.dumps({"type": "chat", "data": _chat_snapshot(int(chat_id))}))
            elif kind == "ping":
                await ws.send_text('{"type":"pong"}')
    except WebSocketDisconnect:
        pass
    finally:
        for chat_id in chats:
            _sockets.get(chat_id, set()).discard(ws)


async def stats(request: Request) -> JSONResponse:
    return JSONResponse({"relayed": _relayed, "chats": len(_last_seq), "sockets": sum(map(len, _sockets.values()))})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/stats", stats),
        WebSocketRoute("/api/v1/ws", ws_endpoint),
    ]
)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8300)
    args = parser.parse_args()
    # The same uvicorn defaults `deskchat serve` uses (auto loop/http/ws: uvloop, httptools,
    # websockets), no access log, as the server runs in the benchmark.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                ws_ping_interval=20.0, ws_ping_timeout=20.0)


if __name__ == "__main__":
    main()
