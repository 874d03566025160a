"""This process's live sockets: who is connected, per-socket bounded queues, ordered delivery."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from deskchat.domain.people import Actor, Role, Status, Technician
from deskchat.realtime.broker import Event

log = structlog.get_logger()
FetchMessages = Callable[[int, int, int], Awaitable[list[dict[str, Any]]]]
PresenceChanged = Callable[[int, int], Awaitable[None]]
CLOSE_TOO_SLOW = 1013
CLOSE_POLICY = 1008


class Transport(Protocol):
    """What the hub needs of a WebSocket."""

    async def send_text(self, data: str) -> None: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


@dataclass(eq=False)
class Socket:
    """One live connection with its own bounded send queue."""

    transport: Transport
    actor: Actor
    token_id: int
    queue_size: int
    last_seq: dict[int, int] = field(default_factory=dict)
    first_seq: dict[int, int] = field(default_factory=dict)  # with last_seq: the range this socket got
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False
    # Until the client's first frame (its resume, if it sends one) is handled, live messages wait
    # here, so a message racing the resume can be neither doubled nor delivered out of order.
    holding: bool = True
    held: list[tuple[int, int, str]] = field(default_factory=list)
    close_code: int | None = None  # set once closing: too slow (resume), or policy (logged out)
    close_reason: str = ""

    def __post_init__(self) -> None:
        # Bounded by enqueue_text, not by the queue itself, so that a resume's replay of history
        # (finite, asked for by the client) can go past the bound that protects us from slow readers.
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    @property
    def is_technician(self) -> bool:
        """True for technicians and admins."""
        return isinstance(self.actor, Technician)

    def enqueue(self, frame: dict[str, Any]) -> None:
        """Queue a frame; a socket that fell this far behind is closed and will resume by seq."""
        self.enqueue_text(encode(frame))

    def enqueue_text(self, text: str, *, replay: bool = False) -> None:
        """Queue an already encoded frame; live frames beyond the bound close a socket that fell behind."""
        if self.closed:
            return
        if replay or self.queue.qsize() < self.queue_size:
            self.queue.put_nowait(text)
        else:
            log.warning("socket_too_slow", actor_id=self.actor.id)
            while not self.queue.empty():  # drop it all: the client resumes after the last frame it got,
                self.queue.get_nowait()    # while dropping only the oldest would leave it a gap
            self.close_soon()

    def close_soon(self, code: int = CLOSE_TOO_SLOW, reason: str = "fell behind; reconnect and resume") -> None:
        """Ask the writer to close the socket with ``code`` after what is queued (once)."""
        self.closed = True
        if self.close_code is not None:
            return
        self.close_code, self.close_reason = code, reason
        self.queue.put_nowait(None)

    async def run_writer(self) -> None:
        """Send queued frames until told to stop; closes the socket when the queue overflowed."""
        while True:
            text = await self.queue.get()
            if text is None:
                with contextlib.suppress(Exception):
                    await self.transport.close(self.close_code or CLOSE_TOO_SLOW, self.close_reason)
                return
            await self.transport.send_text(text)


class Hub:
    """Routes events to this process's sockets, keeping each chat's messages in seq order."""

    def __init__(self, fetch_messages: FetchMessages, presence_changed: PresenceChanged,
                 offline_grace_seconds: float = 0.0) -> None:
        self._fetch = fetch_messages
        self._presence_changed = presence_changed
        self._grace = offline_grace_seconds
        self._technicians: dict[int, set[Socket]] = {}
        self._requesters: dict[int, set[Socket]] = {}
        self._going_offline: dict[int, asyncio.TimerHandle] = {}
        self._by_token: dict[int, set[Socket]] = {}
        self.unauthenticated = 0  # sockets accepted that have not authenticated yet (capped)

    def sockets(self) -> list[Socket]:
        """Every live socket of this process."""
        return [s for group in (*self._technicians.values(), *self._requesters.values()) for s in group]

    def technician_socket_counts(self) -> dict[int, int]:
        """Live sockets per technician in this process."""
        return {t: len(s) for t, s in self._technicians.items()}

    def present_technicians(self) -> set[int]:
        """Technicians this process keeps present: a live socket here, or gone less than the grace ago."""
        return set(self._technicians) | set(self._going_offline)

    def sockets_of_token(self, token_id: int) -> int:
        """How many live sockets of this process use a token."""
        return len(self._by_token.get(token_id, ()))

    def _index(self, actor: Actor) -> dict[int, set[Socket]]:
        return self._technicians if isinstance(actor, Technician) else self._requesters

    async def register(self, sock: Socket) -> None:
        """A socket authenticated."""
        group = self._index(sock.actor).setdefault(sock.actor.id, set())
        group.add(sock)
        self._by_token.setdefault(sock.token_id, set()).add(sock)
        pending = self._going_offline.pop(sock.actor.id, None) if sock.is_technician else None
        if pending is not None:
            pending.cancel()  # back within the grace period: presence never changed
        elif sock.is_technician and len(group) == 1:
            await self._presence_changed(sock.actor.id, 1)

    async def unregister(self, sock: Socket) -> None:
        """A socket closed."""
        sock.closed = True
        same_token = self._by_token.get(sock.token_id, set())
        same_token.discard(sock)
        if not same_token:
            self._by_token.pop(sock.token_id, None)
        index = self._index(sock.actor)
        group = index.get(sock.actor.id, set())
        group.discard(sock)
        if group:
            return
        index.pop(sock.actor.id, None)
        if not sock.is_technician:
            return
        if self._grace <= 0:
            await self._presence_changed(sock.actor.id, 0)
            return
        # A reconnect (page reload, network blip, everyone at once after a restart) within the grace
        # period changes nothing, so presence does not flap and nobody gets a storm of frames.
        tech_id = sock.actor.id
        self._going_offline[tech_id] = asyncio.get_running_loop().call_later(
            self._grace, lambda: asyncio.ensure_future(self._offline_if_still_gone(tech_id)))

    async def _offline_if_still_gone(self, tech_id: int) -> None:
        self._going_offline.pop(tech_id, None)
        if tech_id not in self._technicians:
            await self._presence_changed(tech_id, 0)

    def _targets(self, to: dict[str, Any]) -> list[Socket]:
        if to.get("all_technicians"):
            found = [s for group in self._technicians.values() for s in group]
        else:
            found = [s for t in to.get("technicians", ()) for s in self._technicians.get(t, ())]
        found += [s for r in to.get("requesters", ()) for s in self._requesters.get(r, ())]
        return found

    async def handle(self, event: Event) -> None:
        """Deliver one published event to the sockets it names."""
        control = event.get("control")
        if control is not None:
            await self._control(control, event)
            return
        frame = event["frame"]
        text = encode(frame)  # once, however many sockets get it
        for sock in self._targets(event.get("to", {})):
            if frame["type"] == "message":
                await self.deliver_message(sock, frame["chat_id"], frame["seq"], text)
            else:
                sock.enqueue_text(text)

    async def deliver_message(self, sock: Socket, chat_id: int, seq: int, text: str) -> None:
        """Send a message in seq order without gaps or repeats, filling a gap from the database."""
        if sock.holding:
            sock.held.append((chat_id, seq, text))
            return
        async with sock.lock:
            last = sock.last_seq.get(chat_id)
            if last is not None and seq <= last:
                return
            if last is not None and seq > last + 1:
                for missing in await self._fetch(chat_id, last, seq - last - 1):
                    sock.enqueue_text(encode(message_frame(missing)), replay=True)
            sock.enqueue_text(text)
            sock.last_seq[chat_id] = seq
            sock.first_seq.setdefault(chat_id, seq)

    async def resume(self, sock: Socket, chat_id: int, after_seq: int, limit: int = 500) -> None:
        """Send everything after ``after_seq`` in order; live messages then continue from there."""
        async with sock.lock:
            # Live messages may have reached the socket between hello and this resume: never twice.
            sent_from, sent_to = sock.first_seq.get(chat_id, after_seq + 1), sock.last_seq.get(chat_id, after_seq)
            last = max(after_seq, sent_to) if after_seq + 1 >= sent_from else after_seq
            while True:
                batch = await self._fetch(chat_id, last, limit)
                for msg in batch:
                    if not sent_from <= msg["seq"] <= sent_to:
                        sock.enqueue_text(encode(message_frame(msg)), replay=True)
                    last = msg["seq"]
                if len(batch) < limit:
                    break
            sock.last_seq[chat_id] = max(last, sent_to)
            sock.first_seq[chat_id] = min(sent_from, after_seq + 1)

    async def release(self, sock: Socket) -> None:
        """Stop holding: deliver what waited (after the resume, so nothing twice, nothing out of order)."""
        if not sock.holding:
            return
        sock.holding = False
        held, sock.held = sock.held, []
        for chat_id, seq, text in held:
            await self.deliver_message(sock, chat_id, seq, text)

    async def resync(self) -> None:
        """After a broker outage: send every socket what its chats gained meanwhile, from the database."""
        for sock in self.sockets():
            for chat_id in list(sock.last_seq):
                await self.resume(sock, chat_id, sock.last_seq[chat_id])

    async def _control(self, control: str, event: Event) -> None:
        if control == "close_token":
            for sock in list(self._by_token.get(event["token_id"], ())):
                _cut_off(sock, "You logged out.", "logged out")
        elif control == "close_technician":  # revoked: password, role or groups changed, or deactivated
            for sock in list(self._technicians.get(event["technician_id"], ())):
                if sock.token_id != event.get("except_token_id"):
                    _cut_off(sock, "Your account changed; sign in again.", "account changed")
        elif control == "technician_changed":
            for sock in self._technicians.get(event["technician"]["id"], set()):
                sock.actor = technician_from(event["technician"])
        elif control == "resync":  # some process failed to publish: re-read what our sockets missed
            await self.resync()


def _cut_off(sock: Socket, detail: str, reason: str) -> None:
    """Tell a socket its token no longer works and close it with 1008 (do not reconnect with it)."""
    sock.enqueue({"type": "error", "error": {"type": "unauthorized", "title": "Unauthorized", "status": 401,
                                             "detail": detail}})
    sock.close_soon(CLOSE_POLICY, reason)


def encode(frame: dict[str, Any]) -> str:
    """A frame as compact JSON text."""
    return json.dumps(frame, separators=(",", ":"))


def message_frame(message: dict[str, Any]) -> dict[str, Any]:
    """The frame that carries one timeline message."""
    return {"type": "message", "chat_id": message["chat_id"], "seq": message["seq"], "data": message}


def technician_from(data: dict[str, Any]) -> Technician:
    """Rebuild a technician from its JSON form (as sent between processes)."""
    return Technician(data["id"], data["name"], data["email"], Role(data["role"]), Status(data["status"]),
                      frozenset(data["group_ids"]), bool(data.get("active", True)))
