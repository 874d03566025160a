"""The WebSocket endpoint: authenticate, then turn frames into service calls."""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from fastapi import APIRouter, WebSocket
from starlette.types import Message
from starlette.websockets import WebSocketDisconnect

from deskchat.api.deps import REQUESTER_COOKIE, SESSION_COOKIE
from deskchat.domain.errors import DomainError, Overloaded, RateLimited, Unauthorized, ValidationFailed
from deskchat.domain.people import Technician
from deskchat.realtime import protocol
from deskchat.realtime.events import AckFrame, ChatFrame, ErrorFrame, HelloFrame, PongFrame
from deskchat.realtime.hub import CLOSE_POLICY, CLOSE_TOO_SLOW, Hub, Socket, SocketState
from deskchat.services import auth, chats
from deskchat.services.auth import Principal
from deskchat.services.context import Context

router = APIRouter()
log = structlog.get_logger()
AUTH_TIMEOUT = 10.0
# Live messages wait for the client's first frame after hello (its resume, or a ping when it has
# nothing to resume), at most this long: long enough for a resume to get through a busy server.
RESUME_WINDOW = 2.0
CLOSE_TOO_BIG = 1009


def origin_allowed(websocket: WebSocket, ctx: Context) -> bool:
    """The server's own origin and DESKCHAT_ALLOWED_ORIGINS may use the session cookie."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: no cookie-riding across sites possible
    host = websocket.headers.get("host", "")
    own = {f"http://{host}", f"https://{host}"}
    return origin.rstrip("/") in own or origin.rstrip("/") in ctx.settings.allowed_origins


async def _first_frame_auth(websocket: WebSocket, ctx: Context) -> Principal | None:
    try:
        text = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT)
        if len(text) > ctx.settings.ws_auth_frame_bytes:  # characters: at least as many bytes
            await websocket.close(CLOSE_TOO_BIG, "frame too large before authentication")
            return None
        command = protocol.parse_frame(text)
        if not isinstance(command, protocol.Auth):
            raise Unauthorized("Authenticate first with an auth frame.")
        return await auth.authenticate(ctx, command.token)
    except Overloaded:
        raise  # not the token's fault: the client should come back (1013), not give up (1008)
    except (DomainError, TimeoutError, KeyError) as exc:
        refused = exc if isinstance(exc, DomainError) else Unauthorized("No auth frame.")
        await websocket.send_text(ErrorFrame.of(refused).text())
        await websocket.close(CLOSE_POLICY)
        return None


async def _authenticate(websocket: WebSocket, ctx: Context, hub: Hub, cookie: str | None) -> Principal | None:
    """The session cookie's caller, or the auth frame's; counted among this process's unauthenticated sockets."""
    hub.unauthenticated += 1
    try:
        if cookie:
            with contextlib.suppress(Unauthorized):
                return await auth.authenticate(ctx, cookie)
        return await _first_frame_auth(websocket, ctx)
    finally:
        hub.unauthenticated -= 1


@router.websocket("/api/v1/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    """Live events for a technician (cookie or token) or a requester (visitor token, or the SSO cookie)."""
    ctx: Context = websocket.app.state.ctx
    hub: Hub = websocket.app.state.hub
    cookie = websocket.cookies.get(SESSION_COOKIE) or websocket.cookies.get(REQUESTER_COOKIE)
    if cookie and not origin_allowed(websocket, ctx):
        await websocket.close(CLOSE_POLICY)  # before accept: the handshake gets HTTP 403
        return
    if hub.unauthenticated >= ctx.settings.max_unauthenticated_sockets:
        await websocket.close(CLOSE_TOO_SLOW)  # a flood of sockets that never authenticate: refused unopened
        return
    await websocket.accept()
    try:
        principal = await _authenticate(websocket, ctx, hub, cookie)
        if principal is not None:
            await _serve(websocket, ctx, hub, principal)
    except Overloaded as exc:  # no database connection came free: come back and resume (1013 "try again later")
        with contextlib.suppress(Exception):
            await websocket.send_text(ErrorFrame.of(exc).text())
            await websocket.close(CLOSE_TOO_SLOW, "server busy; reconnect and resume")


async def _serve(websocket: WebSocket, ctx: Context, hub: Hub, principal: Principal) -> None:
    sock = Socket(websocket, principal.actor, principal.token_id, ctx.settings.ws_send_queue_size)
    hello = HelloFrame(data=await auth.me(ctx, principal))
    if hub.sockets_of_token(principal.token_id) >= ctx.settings.max_sockets_per_token:
        refused = RateLimited("Too many open sockets for this token; close one first.", retry_after=5)
        await websocket.send_text(ErrorFrame.of(refused).text())
        await websocket.close(CLOSE_TOO_SLOW, "too many sockets for this token")
        return
    session = Session(sock, principal, ctx.settings.ws_reauth_seconds)
    writer = asyncio.create_task(sock.run_writer())
    sock.enqueue(hello)  # first, before any event
    await hub.register(sock)  # right after the count above, with no await between: the cap holds
    expiry = _close_at_expiry(session, ctx)
    try:
        if isinstance(principal.actor, Technician):
            for alert in await chats.waiting_alerts_for(ctx, principal.actor):
                sock.enqueue(alert)
        await _receive_loop(websocket, ctx, hub, session)
    except WebSocketDisconnect:
        pass
    finally:
        if expiry is not None:
            expiry.cancel()
        await hub.unregister(sock)  # CLOSING (1013) unless it already was: the writer sends what waits
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer, 1.0)
        writer.cancel()


def _close_at_expiry(session: Session, ctx: Context) -> asyncio.TimerHandle | None:
    """A technician's socket closes (1008) when the token's absolute lifetime ends."""
    expires_at = session.principal.expires_at
    if expires_at is None:
        return None
    seconds = max(0.0, (expires_at - ctx.clock()).total_seconds())
    return asyncio.get_running_loop().call_later(seconds, session.sock.cut_off, Unauthorized(
        "The session expired; log in again."), "token expired")


async def recheck_accounts(ctx: Context, hub: Hub) -> None:
    """Close the sockets whose token no longer works (after a broker outage a revocation may not have reached us)."""
    for sock in hub.sockets():
        try:
            fresh = await auth.refresh(ctx, Principal(sock.actor, sock.token_id))
        except Unauthorized as exc:
            sock.cut_off(exc, "token no longer valid")
        else:
            sock.actor = fresh.actor


class Session:
    """One authenticated connection: the socket, whose state it drives, and the caller, re-read as frames come.

    The caller's actor lives on the socket, where the hub routes by it and keeps it current
    (``technician_changed``); the session decides when it is re-read from the database (rights follow the
    account) and when the socket stops holding live messages.
    """

    def __init__(self, sock: Socket, principal: Principal, reauth_seconds: float,
                 hold_seconds: float = RESUME_WINDOW) -> None:
        self.sock = sock
        self._expires_at = principal.expires_at
        self._reauth = reauth_seconds
        self._verified_at = time.monotonic()
        self._live_by = self._verified_at + hold_seconds  # HOLDING ends at the first frame or then

    @property
    def principal(self) -> Principal:
        """The caller as last read."""
        return Principal(self.sock.actor, self.sock.token_id, self._expires_at)

    async def current(self, ctx: Context, command: protocol.Command) -> Principal | None:
        """The caller as stored now, or None once cut off (the socket is then closing with 1008).

        A ``resume`` (which reads whole chats) always re-reads the account; other frames do when the
        last check is older than DESKCHAT_WS_REAUTH_SECONDS. A change of rights does not wait for that:
        it revokes the tokens and closes the sockets at once (``close_technician``).
        """
        if not isinstance(command, protocol.Resume) and time.monotonic() - self._verified_at < self._reauth:
            return self.principal
        try:
            fresh = await auth.refresh(ctx, self.principal)
        except Unauthorized as exc:
            self.sock.cut_off(exc, "token no longer valid")
            return None
        self.sock.actor, self._expires_at, self._verified_at = fresh.actor, fresh.expires_at, time.monotonic()
        return fresh

    async def receive(self, websocket: WebSocket, hub: Hub) -> Message:
        """The client's next message; while the socket holds live messages, waiting at most until it goes live."""
        while self.sock.state is SocketState.HOLDING:
            try:  # cancelling a receive loses nothing: the message waits for the next one
                return await asyncio.wait_for(websocket.receive(), max(0.0, self._live_by - time.monotonic()))
            except TimeoutError:
                await hub.release(self.sock)  # no first frame in time: live messages flow anyway
        return await websocket.receive()


async def _receive_loop(websocket: WebSocket, ctx: Context, hub: Hub, session: Session) -> None:
    sock = session.sock
    while not sock.closed:
        message = await session.receive(websocket, hub)
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is not None and len(text) > ctx.settings.ws_max_frame_bytes:
            sock.close_soon(CLOSE_TOO_BIG, "frame too large")
            return
        try:
            command = protocol.parse_frame(text)
            current = await session.current(ctx, command)
        except (ValidationFailed, Overloaded) as exc:
            sock.enqueue(ErrorFrame.of(exc))
            continue
        if current is None:
            return
        await _dispatch(ctx, hub, sock, current, command)
        await hub.release(sock)  # the first frame, a resume or not, is handled: live messages flow now


async def _dispatch(ctx: Context, hub: Hub, sock: Socket, principal: Principal, command: protocol.Command) -> None:
    client_msg_id = command.client_msg_id if isinstance(command, protocol.Send) else None
    try:
        if isinstance(command, protocol.Ping):
            sock.enqueue(PongFrame())
        elif isinstance(command, protocol.Send):
            message, _ = await chats.post_message(ctx, principal, command.chat_id, body=command.body,
                                                  canned_message_id=command.canned_message_id,
                                                  client_msg_id=command.client_msg_id)
            sock.enqueue(AckFrame(client_msg_id=command.client_msg_id, message=message))
        elif isinstance(command, protocol.Typing):
            await chats.typing(ctx, principal, command.chat_id)
        elif isinstance(command, protocol.Resume):
            for chat_id, after in command.positions().items():
                chat = await chats.get_chat(ctx, principal, chat_id)
                await hub.resume(sock, chat_id, after)
                sock.enqueue(ChatFrame(data=chat))
        else:
            raise ValidationFailed("Already authenticated.", errors={"type": "auth is only the first frame"})
    except Overloaded as exc:
        sock.enqueue(ErrorFrame.of(exc, client_msg_id))
        if isinstance(command, protocol.Resume):  # a half-done resume: the client must resume again
            sock.close_soon(CLOSE_TOO_SLOW, "server busy; reconnect and resume")
    except DomainError as exc:
        sock.enqueue(ErrorFrame.of(exc, client_msg_id))
