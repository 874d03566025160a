"""The hub with fake sockets and a fake database: order, no repeats, gaps filled, slow sockets dropped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from deskchat.domain.people import Requester, Role, Status, Technician
from deskchat.realtime.events import (
    CloseToken,
    Delivery,
    MessageFrame,
    NoteFrame,
    PresenceData,
    PresenceFrame,
    Recipients,
)
from deskchat.realtime.hub import CLOSE_POLICY, CLOSE_TOO_SLOW, Hub, Socket

pytestmark = pytest.mark.anyio
CHAT, OTHER_CHAT = 7, 8
ALICE = Technician(1, "Alice", "alice@example.com", Role.TECHNICIAN, Status.ONLINE, frozenset({1}))
BOB = Technician(2, "Bob", "bob@example.com", Role.TECHNICIAN, Status.ONLINE, frozenset({1}))
ERIN = Requester(1, "Erin", "erin@example.com")  # same id as Alice: a different kind of caller


class FakeTransport:
    """Records what the hub sends; a ``blocked`` one is a client that stopped reading."""

    def __init__(self, blocked: bool = False) -> None:
        self.frames: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.reading = asyncio.Event()
        if not blocked:
            self.reading.set()

    async def send_text(self, data: str) -> None:
        await self.reading.wait()
        self.frames.append(json.loads(data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.close_code = code

    def seqs(self, chat_id: int = CHAT) -> list[int]:
        return [f["seq"] for f in self.frames if f["type"] == "message" and f["chat_id"] == chat_id]


class FakeDatabase:
    """Each chat's stored timeline, and a record of what the hub asked for."""

    def __init__(self) -> None:
        self.timelines: dict[int, list[dict[str, Any]]] = {}
        self.fetches: list[tuple[int, int, int]] = []
        self.presence: list[tuple[int, int]] = []

    def add(self, chat_id: int, count: int) -> list[dict[str, Any]]:
        timeline = self.timelines.setdefault(chat_id, [])
        new = [message(chat_id, len(timeline) + i + 1) for i in range(count)]
        timeline += new
        return new

    async def fetch(self, chat_id: int, after_seq: int, limit: int) -> list[dict[str, Any]]:
        self.fetches.append((chat_id, after_seq, limit))
        return [m for m in self.timelines.get(chat_id, []) if m["seq"] > after_seq][:limit]

    async def presence_changed(self, tech_id: int, sockets: int) -> None:
        self.presence.append((tech_id, sockets))


def message(chat_id: int, seq: int) -> dict[str, Any]:
    return {"id": chat_id * 1000 + seq, "chat_id": chat_id, "seq": seq, "kind": "text", "event": None,
            "author": {"kind": "requester", "id": 1, "name": "Erin"}, "body": f"message {seq}",
            "client_msg_id": None, "created_at": "2024-05-01T12:00:00+00:00"}


def event(msg: dict[str, Any], technicians: list[int] = (), requesters: list[int] = ()) -> Delivery:  # type: ignore[assignment]
    return Delivery(frame=MessageFrame.of(msg), to=Recipients(technicians=technicians, requesters=requesters))


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Let the writer tasks run until ``condition`` holds."""
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - the condition spans several fakes; polling is simplest
            await asyncio.sleep(0.001)
    await asyncio.wait_for(poll(), timeout)


class Rig:
    """A hub, a fake database, and sockets with running writers."""

    def __init__(self, grace: float = 0.0) -> None:
        self.db = FakeDatabase()
        self.hub = Hub(self.db.fetch, self.db.presence_changed, grace)
        self.tasks: list[asyncio.Task[None]] = []

    async def connect(self, actor: Technician | Requester, *, token_id: int = 1, queue_size: int = 100,
                      blocked: bool = False, first_frame_handled: bool = True) -> tuple[Socket, FakeTransport]:
        """A socket after hello; by default its first frame was handled too, so live messages flow."""
        transport = FakeTransport(blocked)
        sock = Socket(transport, actor, token_id, queue_size)
        self.tasks.append(asyncio.create_task(sock.run_writer()))
        await self.hub.register(sock)
        if first_frame_handled:
            await self.hub.release(sock)
        return sock, transport

    async def publish(self, messages: list[dict[str, Any]], **to: list[int]) -> None:
        for msg in messages:
            await self.hub.handle(event(msg, **to))


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    built = Rig()
    yield built
    for task in built.tasks:
        task.cancel()
    await asyncio.gather(*built.tasks, return_exceptions=True)


async def test_messages_arrive_in_order_to_the_named_recipients_only(rig: Rig) -> None:
    _, alice = await rig.connect(ALICE)
    _, bob = await rig.connect(BOB)
    _, erin = await rig.connect(ERIN, token_id=2)
    await rig.publish(rig.db.add(CHAT, 5), technicians=[ALICE.id], requesters=[ERIN.id])
    await until(lambda: len(alice.frames) == 5 and len(erin.frames) == 5)
    assert alice.seqs() == erin.seqs() == [1, 2, 3, 4, 5]
    assert [f["data"]["body"] for f in alice.frames] == [f"message {i}" for i in range(1, 6)]
    await asyncio.sleep(0.01)
    assert bob.frames == []
    assert rig.db.fetches == []  # nothing was missing, nothing was fetched


async def test_repeats_and_stale_messages_are_dropped(rig: Rig) -> None:
    _, alice = await rig.connect(ALICE)
    msgs = rig.db.add(CHAT, 3)
    for seq in (1, 2, 2, 1, 3, 3, 2):
        await rig.publish([msgs[seq - 1]], technicians=[ALICE.id])
    await until(lambda: len(alice.frames) >= 3)
    await asyncio.sleep(0.01)
    assert alice.seqs() == [1, 2, 3]


async def test_a_gap_is_filled_from_the_database_before_the_later_message(rig: Rig) -> None:
    _, alice = await rig.connect(ALICE)
    msgs = rig.db.add(CHAT, 6)
    await rig.publish([msgs[0]], technicians=[ALICE.id])
    await rig.publish([msgs[4]], technicians=[ALICE.id])        # 2, 3, 4 were lost on the way
    await rig.publish([msgs[2], msgs[5]], technicians=[ALICE.id])  # 3 arrives late: already sent
    await until(lambda: len(alice.frames) >= 6)
    await asyncio.sleep(0.01)
    assert alice.seqs() == [1, 2, 3, 4, 5, 6]
    assert rig.db.fetches == [(CHAT, 1, 3)]


async def test_chats_are_ordered_independently(rig: Rig) -> None:
    _, alice = await rig.connect(ALICE)
    first, second = rig.db.add(CHAT, 3), rig.db.add(OTHER_CHAT, 3)
    for a, b in zip(first, second, strict=True):
        await rig.publish([b, a], technicians=[ALICE.id])
    await until(lambda: len(alice.frames) == 6)
    assert alice.seqs(CHAT) == alice.seqs(OTHER_CHAT) == [1, 2, 3]


async def test_resume_sends_everything_after_the_seq_then_live_messages_continue(rig: Rig) -> None:
    sock, erin = await rig.connect(ERIN, queue_size=2000)
    rig.db.add(CHAT, 1200)  # more than one fetch page
    await rig.hub.resume(sock, CHAT, 3)
    await until(lambda: len(erin.frames) == 1197)
    assert erin.seqs() == list(range(4, 1201))
    await rig.publish(rig.db.timelines[CHAT][1198:1200], requesters=[ERIN.id])  # repeats of what resume sent
    await rig.publish(rig.db.add(CHAT, 2), requesters=[ERIN.id])
    await until(lambda: len(erin.frames) >= 1199)
    await asyncio.sleep(0.01)
    assert erin.seqs() == list(range(4, 1203))


async def test_resume_at_the_end_sends_nothing_and_the_next_live_message_follows(rig: Rig) -> None:
    sock, erin = await rig.connect(ERIN)
    rig.db.add(CHAT, 4)
    await rig.hub.resume(sock, CHAT, 4)
    await rig.publish(rig.db.add(CHAT, 1), requesters=[ERIN.id])
    await until(lambda: len(erin.frames) == 1)
    assert erin.seqs() == [5]


async def test_a_live_message_before_the_resume_is_neither_doubled_nor_out_of_order(rig: Rig) -> None:
    """The client resumes right after hello, but a live message can slip in between."""
    sock, erin = await rig.connect(ERIN, first_frame_handled=False)
    rig.db.add(CHAT, 4)                          # the client saw 1 and 2 before it reconnected
    await rig.publish(rig.db.add(CHAT, 1), requesters=[ERIN.id])  # 5 arrives before the resume
    await rig.hub.resume(sock, CHAT, 2)
    await rig.hub.release(sock)                  # the resume, its first frame, is handled
    await rig.publish(rig.db.add(CHAT, 1), requesters=[ERIN.id])
    await until(lambda: len(erin.seqs()) >= 4)
    await asyncio.sleep(0.01)
    assert erin.seqs() == [3, 4, 5, 6]


async def test_live_messages_held_for_a_first_frame_that_is_no_resume_arrive_in_order(rig: Rig) -> None:
    sock, alice = await rig.connect(ALICE, first_frame_handled=False)
    await rig.publish(rig.db.add(CHAT, 3), technicians=[ALICE.id])
    await asyncio.sleep(0.01)
    assert alice.frames == []
    await rig.hub.release(sock)
    await rig.publish(rig.db.add(CHAT, 1), technicians=[ALICE.id])
    await until(lambda: len(alice.frames) == 4)
    assert alice.seqs() == [1, 2, 3, 4]


async def test_a_later_resume_never_repeats_what_live_delivery_already_sent(rig: Rig) -> None:
    """A resume that is not the first frame (a chat opened later in the console): no doubles."""
    sock, erin = await rig.connect(ERIN)
    rig.db.add(CHAT, 4)
    await rig.publish(rig.db.add(CHAT, 1), requesters=[ERIN.id])  # 5, live
    await rig.hub.resume(sock, CHAT, 2)                          # the client had 1, 2
    await rig.publish(rig.db.add(CHAT, 1), requesters=[ERIN.id])
    await until(lambda: len(erin.seqs()) >= 4)
    await asyncio.sleep(0.01)
    assert sorted(erin.seqs()) == [3, 4, 5, 6], erin.seqs()  # each exactly once


async def test_a_client_that_resumes_from_where_live_delivery_began_sees_strict_order(rig: Rig) -> None:
    sock, erin = await rig.connect(ERIN)
    rig.db.add(CHAT, 2)
    await rig.publish(rig.db.add(CHAT, 2), requesters=[ERIN.id])  # 3 (gap fill impossible: untracked), 4
    await rig.hub.resume(sock, CHAT, 2)                          # the client had 1, 2
    await rig.publish(rig.db.add(CHAT, 1), requesters=[ERIN.id])
    await until(lambda: len(erin.seqs()) >= 3)
    await asyncio.sleep(0.01)
    assert erin.seqs() == [3, 4, 5]


async def test_resync_after_a_broker_outage_sends_what_each_socket_missed(rig: Rig) -> None:
    _, alice = await rig.connect(ALICE)
    await rig.publish(rig.db.add(CHAT, 2), technicians=[ALICE.id])
    rig.db.add(CHAT, 3)  # published while the broker was down: never reached the hub
    await rig.hub.resync()
    await until(lambda: len(alice.frames) == 5)
    assert alice.seqs() == [1, 2, 3, 4, 5]


async def test_a_slow_socket_is_closed_while_the_others_keep_getting_frames(rig: Rig) -> None:
    slow_sock, slow = await rig.connect(ALICE, queue_size=5, blocked=True)
    _, fast = await rig.connect(BOB, queue_size=5)
    _, erin = await rig.connect(ERIN, queue_size=5)
    for msg in rig.db.add(CHAT, 40):
        await rig.publish([msg], technicians=[ALICE.id, BOB.id], requesters=[ERIN.id])
        await until(lambda n=msg["seq"]: len(fast.frames) == n and len(erin.frames) == n)
    assert fast.seqs() == erin.seqs() == list(range(1, 41))
    assert slow_sock.closed and slow.close_code is None and slow.frames == []
    slow.reading.set()  # the client reads again: it gets what was queued, then the close
    await until(lambda: slow.close_code is not None)
    assert slow.close_code == CLOSE_TOO_SLOW
    assert slow.seqs() == list(range(1, len(slow.seqs()) + 1)) and len(slow.seqs()) <= 6
    assert fast.close_code is None and erin.close_code is None


async def test_a_resume_longer_than_the_send_queue_is_replayed_whole_without_closing(rig: Rig) -> None:
    sock, erin = await rig.connect(ERIN, queue_size=10, blocked=True)
    rig.db.add(CHAT, 300)  # the client missed far more than its queue holds
    await rig.hub.resume(sock, CHAT, 0)
    assert not sock.closed
    erin.reading.set()
    await until(lambda: len(erin.frames) == 300)
    assert erin.seqs() == list(range(1, 301)) and erin.close_code is None


async def test_a_socket_is_not_closed_while_it_keeps_up(rig: Rig) -> None:
    sock, alice = await rig.connect(ALICE, queue_size=2)
    for msg in rig.db.add(CHAT, 20):
        await rig.publish([msg], technicians=[ALICE.id])
        await until(lambda n=msg["seq"]: len(alice.frames) == n)
    assert not sock.closed and alice.close_code is None


async def test_technician_and_requester_ids_do_not_mix(rig: Rig) -> None:
    _, alice = await rig.connect(ALICE)
    _, erin = await rig.connect(ERIN, token_id=2)
    await rig.hub.handle(Delivery(frame=NoteFrame(chat_id=CHAT, data={}), to=Recipients(technicians=[ALICE.id])))
    await until(lambda: len(alice.frames) == 1)
    await asyncio.sleep(0.01)
    assert erin.frames == []


async def test_all_technicians_frames_skip_requesters(rig: Rig) -> None:
    _, alice = await rig.connect(ALICE)
    _, bob = await rig.connect(BOB)
    _, erin = await rig.connect(ERIN, token_id=2)
    presence = PresenceFrame(data=PresenceData(technician_id=1, status=Status.ONLINE, online=True))
    await rig.hub.handle(Delivery(frame=presence, to=Recipients(all_technicians=True)))
    await until(lambda: len(alice.frames) == 1 and len(bob.frames) == 1)
    await asyncio.sleep(0.01)
    assert erin.frames == []


async def test_logout_closes_only_the_sockets_of_that_token(rig: Rig) -> None:
    first, on_laptop = await rig.connect(ALICE, token_id=10)
    second, on_phone = await rig.connect(ALICE, token_id=11)
    await rig.hub.handle(CloseToken(token_id=10))
    await until(lambda: on_laptop.close_code is not None)
    assert on_laptop.frames[-1]["type"] == "error" and on_laptop.frames[-1]["error"]["type"] == "unauthorized"
    assert on_laptop.close_code == CLOSE_POLICY  # not "too slow": the client must not reconnect with it
    assert first.closed and not second.closed and on_phone.close_code is None


async def test_presence_changes_with_the_first_and_the_last_socket_of_a_technician(rig: Rig) -> None:
    first, _ = await rig.connect(ALICE)
    second, _ = await rig.connect(ALICE)
    await rig.connect(ERIN)
    assert rig.hub.technician_socket_counts() == {ALICE.id: 2}
    await rig.hub.unregister(first)
    assert rig.db.presence == [(ALICE.id, 1)]
    await rig.hub.unregister(second)
    assert rig.db.presence == [(ALICE.id, 1), (ALICE.id, 0)]
    assert rig.hub.technician_socket_counts() == {}


async def test_a_reconnect_within_the_grace_period_does_not_flap_presence() -> None:
    rig = Rig(grace=0.05)
    first = Socket(FakeTransport(), ALICE, 1, 10)
    await rig.hub.register(first)
    await rig.hub.unregister(first)
    again = Socket(FakeTransport(), ALICE, 1, 10)
    await rig.hub.register(again)
    await asyncio.sleep(0.1)
    assert rig.db.presence == [(ALICE.id, 1)]
    await rig.hub.unregister(again)
    await until(lambda: len(rig.db.presence) == 2)
    assert rig.db.presence == [(ALICE.id, 1), (ALICE.id, 0)]
