"""This process's live sockets: who is connected, per-socket bounded queues, ordered delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from deskchat.domain.errors import Unauthorized
from deskchat.domain.people import Actor, Role, Status, Technician
from deskchat.realtime.events import (
    AnyControl,
    CloseTechnician,
    CloseToken,
    Delivery,
    Envelope,
    MessageFrame,
    Recipients,
    Resync,
    TechnicianChanged,
)
from deskchat.realtime.sockets import CLOSE_POLICY, CLOSE_TOO_SLOW, IllegalTransition, Socket, SocketState

__all__ = ["CLOSE_POLICY", "CLOSE_TOO_SLOW", "Hub", "IllegalTransition", "Socket", "SocketState"]
FetchMessages = Callable[[int, int, int], Awaitable[list[dict[str, Any]]]]
PresenceChanged = Callable[[int, int], Awaitable[None]]
PAGE = 500  # messages per database read when catching a socket up


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
        """A socket's connection ended: forget it (and close it, 1013, if nobody closed it yet)."""
        sock.close_soon()
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

    def _targets(self, to: Recipients) -> list[Socket]:
        if to.all_technicians:
            found = [s for group in self._technicians.values() for s in group]
        else:
            found = [s for t in to.technicians for s in self._technicians.get(t, ())]
            if to.admins:
                named = set(to.technicians)
                found += [s for t, group in self._technicians.items() if t not in named for s in group
                          if isinstance(s.actor, Technician) and s.actor.is_admin]
        found += [s for r in to.requesters for s in self._requesters.get(r, ())]
        return found

    async def handle(self, event: Envelope) -> None:
        """Deliver one published (and decoded) event to the sockets it names."""
        if not isinstance(event, Delivery):
            await self._control(event)
            return
        frame = event.frame
        text = frame.text()  # once, however many sockets get it
        for sock in self._targets(event.to):
            if isinstance(frame, MessageFrame):
                await self.deliver_message(sock, frame.chat_id, frame.seq, text)
            else:
                sock.enqueue_text(text)

    async def deliver_message(self, sock: Socket, chat_id: int, seq: int, text: str) -> None:
        """Send a message in seq order without gaps or repeats, filling a gap from the database."""
        if sock.hold(chat_id, seq, text):
            return
        async with sock.lock:
            last = sock.last_seq.get(chat_id)
            if last is not None and seq <= last:
                return
            if last is not None and seq > last + 1:
                await self._catch_up(sock, chat_id, last, up_to=seq - 1)
            sock.enqueue_text(text)
            sock.last_seq[chat_id] = seq
            sock.first_seq.setdefault(chat_id, seq)

    async def resume(self, sock: Socket, chat_id: int, after_seq: int) -> None:
        """Send everything after ``after_seq`` in order; live messages then continue from there."""
        async with sock.lock:
            await self._catch_up(sock, chat_id, after_seq)

    async def resync(self) -> None:
        """After a broker outage: send every socket what its chats gained meanwhile, from the database."""
        for sock in self.sockets():
            async with sock.lock:
                for chat_id in list(sock.last_seq):
                    await self._catch_up(sock, chat_id, sock.last_seq[chat_id])

    async def _catch_up(self, sock: Socket, chat_id: int, after: int, up_to: int | None = None) -> None:
        """The one gap filler (live delivery, resume, resync): send from the database what the socket lacks
        of the chat after ``after`` (up to ``up_to``), in order, skipping what live delivery already sent."""
        # Live messages may have reached the socket between hello and a resume: never twice.
        sent_from, sent_to = sock.first_seq.get(chat_id, after + 1), sock.last_seq.get(chat_id, after)
        last = max(after, sent_to) if after + 1 >= sent_from else after
        while up_to is None or last < up_to:
            limit = PAGE if up_to is None else min(PAGE, up_to - last)
            batch = await self._fetch(chat_id, last, limit)
            for msg in batch:
                if not sent_from <= msg["seq"] <= sent_to:
                    sock.enqueue_text(MessageFrame.of(msg).text(), replay=True)
                last = msg["seq"]
            if len(batch) < limit:
                break
        sock.last_seq[chat_id] = max(last, sent_to)
        sock.first_seq[chat_id] = min(sent_from, after + 1)

    async def release(self, sock: Socket) -> None:
        """HOLDING -> LIVE: deliver what waited (after the resume, so nothing twice, nothing out of order)."""
        if sock.state is not SocketState.HOLDING:
            return  # released already, or closing: a closing socket resumes when it reconnects
        for chat_id, seq, text in sock.go_live():
            await self.deliver_message(sock, chat_id, seq, text)

    async def _control(self, control: AnyControl) -> None:
        if isinstance(control, CloseToken):
            for sock in list(self._by_token.get(control.token_id, ())):
                sock.cut_off(Unauthorized("You logged out."), "logged out")
        elif isinstance(control, CloseTechnician):  # revoked: password, role or groups changed, or deactivated
            for sock in list(self._technicians.get(control.technician_id, ())):
                if sock.token_id != control.except_token_id:
                    sock.cut_off(Unauthorized("Your account changed; sign in again."), "account changed")
        elif isinstance(control, TechnicianChanged):
            for sock in self._technicians.get(control.technician["id"], set()):
                sock.actor = technician_from(control.technician)
        elif isinstance(control, Resync):  # some process failed to publish: re-read what our sockets missed
            await self.resync()


def technician_from(data: dict[str, Any]) -> Technician:
    """Rebuild a technician from its JSON form (as sent between processes)."""
    return Technician(data["id"], data["name"], data["email"], Role(data["role"]), Status(data["status"]),
                      frozenset(data["group_ids"]), bool(data.get("active", True)))
