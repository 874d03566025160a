"""Every event is a typed model whose JSON is the wire form of docs/api.md, and survives the trip through JSON."""

from __future__ import annotations

import asyncio
import json
import typing
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from deskchat.domain.errors import RateLimited, ValidationFailed
from deskchat.domain.people import Requester, Role, Status, Technician
from deskchat.realtime import events
from deskchat.realtime.broker import MemoryBroker
from deskchat.realtime.events import (
    AckFrame,
    AlertClearedFrame,
    AlertFrame,
    AuthorData,
    ChatFrame,
    CloseTechnician,
    CloseToken,
    Delivery,
    ErrorFrame,
    HelloFrame,
    MessageFrame,
    MonitorFrame,
    NoteFrame,
    OfflineMessageFrame,
    PongFrame,
    PresenceFrame,
    Recipients,
    Resync,
    TechnicianChanged,
    TypingFrame,
    WhisperFrame,
)

CHAT = {"id": 12, "group_id": 1, "subject": "VPN", "state": "waiting", "owner_id": None, "participant_ids": [],
        "requester": {"id": 5, "name": "Erin", "email": "erin@example.com"}, "request_id": None,
        "created_at": "2024-05-01T12:00:00+00:00", "picked_up_at": None, "ended_at": None, "last_seq": 1}
MESSAGE = {"id": 40, "chat_id": 12, "seq": 3, "kind": "text", "event": None, "client_msg_id": "c1",
           "author": {"kind": "requester", "id": 5, "name": "Erin"}, "body": "My VPN drops — again",
           "created_at": "2024-05-01T12:00:00+00:00"}
NOTE = {"id": 2, "request_id": 9, "author": {"kind": "technician", "id": 3, "name": "Tom"}, "body": "rebooted",
        "created_at": "2024-05-01T12:00:00+00:00"}
TECH = {"id": 3, "name": "Tom", "email": "tom@example.com", "role": "technician", "group_ids": [1],
        "status": "online", "online": True, "active_chats": 0, "active": True}
INVALID = ValidationFailed("The frame is invalid.", errors={"body": "required"})
LIMITED = RateLimited("Too many messages; try again in 7 s.", retry_after=7)

# Each frame type with the exact JSON clients read (docs/api.md "Server -> client").
FRAMES: list[tuple[events.BaseFrame, dict[str, Any]]] = [
    (HelloFrame(data={"kind": "technician", **TECH}), {"type": "hello", "data": {"kind": "technician", **TECH}}),
    (MessageFrame.of(MESSAGE), {"type": "message", "chat_id": 12, "seq": 3, "data": MESSAGE}),
    (ChatFrame(data=CHAT), {"type": "chat", "data": CHAT}),
    (AlertFrame(data=CHAT), {"type": "alert", "data": CHAT}),
    (AlertClearedFrame(chat_id=12, reason="picked_up"),
     {"type": "alert_cleared", "chat_id": 12, "reason": "picked_up"}),
    (NoteFrame(chat_id=12, data=NOTE), {"type": "note", "chat_id": 12, "data": NOTE}),
    (MonitorFrame(data={"group_id": 1}), {"type": "monitor", "data": {"group_id": 1}}),
    (WhisperFrame(chat_id=12, data=NOTE), {"type": "whisper", "chat_id": 12, "data": NOTE}),
    (OfflineMessageFrame(data={"id": 9, "subject": "Printer", "source": "offline_message"}),
     {"type": "offline_message", "data": {"id": 9, "subject": "Printer", "source": "offline_message"}}),
    (PresenceFrame.of(Technician(3, "Tom", "tom@example.com", Role.TECHNICIAN, Status.AWAY), online=False),
     {"type": "presence", "data": {"technician_id": 3, "status": "away", "online": False}}),
    (TypingFrame(chat_id=12, author=AuthorData(kind="requester", id=5, name="Erin")),
     {"type": "typing", "chat_id": 12, "author": {"kind": "requester", "id": 5, "name": "Erin"}}),
    (AckFrame(client_msg_id="c1", message=MESSAGE), {"type": "ack", "client_msg_id": "c1", "message": MESSAGE}),
    (ErrorFrame.of(INVALID, "c1"), {"type": "error", "error": INVALID.problem(), "client_msg_id": "c1"}),
    (ErrorFrame.of(LIMITED), {"type": "error", "error": LIMITED.problem()}),
    (PongFrame(), {"type": "pong"}),
]
CONTROLS: list[tuple[events.AnyControl, dict[str, Any]]] = [
    (CloseToken(token_id=10), {"control": "close_token", "token_id": 10}),
    (CloseTechnician(technician_id=3, except_token_id=7),
     {"control": "close_technician", "technician_id": 3, "except_token_id": 7}),
    (CloseTechnician(technician_id=3), {"control": "close_technician", "technician_id": 3, "except_token_id": None}),
    (TechnicianChanged(technician=TECH), {"control": "technician_changed", "technician": TECH}),
    (Resync(), {"control": "resync"}),
]
TO = Recipients(technicians=[3, 1], requesters=[5])


def through_json(envelope: events.Envelope) -> events.Envelope:
    """What another process's hub gets: encoded, sent as JSON text, decoded."""
    return events.decode(json.loads(json.dumps(events.encode(envelope))))


def test_every_frame_and_control_type_has_a_sample() -> None:
    assert {type(f) for f, _ in FRAMES} == set(typing.get_args(events.AnyFrame))
    assert {type(c) for c, _ in CONTROLS} == set(typing.get_args(events.AnyControl))


@pytest.mark.parametrize(("frame", "wire"), FRAMES, ids=lambda v: getattr(v, "type", ""))
def test_a_frame_is_the_wire_json_of_the_protocol(frame: events.BaseFrame, wire: dict[str, Any]) -> None:
    assert frame.wire() == wire
    assert json.loads(frame.text()) == wire


@pytest.mark.parametrize(("frame", "wire"), FRAMES, ids=lambda v: getattr(v, "type", ""))
def test_a_frame_round_trips_through_json(frame: events.AnyFrame, wire: dict[str, Any]) -> None:
    delivery = Delivery(frame=frame, to=TO)
    assert through_json(delivery) == delivery
    assert events.decode(json.loads(events.encode_text(delivery))) == delivery  # what units of work publish
    assert events.FRAMES.validate_json(frame.text()) == frame


@pytest.mark.parametrize(("control", "wire"), CONTROLS, ids=lambda v: getattr(v, "control", ""))
def test_a_control_event_round_trips_through_json(control: events.AnyControl, wire: dict[str, Any]) -> None:
    assert events.encode(control) == wire
    assert through_json(control) == control
    assert json.loads(events.encode_text(control)) == wire


@pytest.mark.parametrize(("frame", "wire"), FRAMES, ids=lambda v: getattr(v, "type", ""))
def test_a_frame_with_a_field_too_many_is_refused(frame: events.BaseFrame, wire: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        events.FRAMES.validate_python({**wire, "extra": 1})
    with pytest.raises(ValidationError):
        events.decode({"frame": {**wire, "extra": 1}, "to": {}})


@pytest.mark.parametrize(("control", "wire"), CONTROLS, ids=lambda v: getattr(v, "control", ""))
def test_a_control_event_with_a_field_too_many_is_refused(control: events.AnyControl, wire: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        events.decode({**wire, "extra": 1})


@pytest.mark.parametrize("wire", [
    {"frame": {"type": "pong"}, "to": {}, "extra": 1},
    {"frame": {"type": "pong"}, "to": {"everyone": True}},
    {"frame": {"type": "presence", "data": {"technician_id": 1, "status": "online", "online": True, "x": 1}},
     "to": {}},
    {"frame": {"type": "error", "error": {"type": "x", "title": "X", "status": 400, "detail": "d", "x": 1}},
     "to": {}},
    {"frame": {"type": "bogus"}, "to": {}},
    {"control": "bogus"},
    {"frame": {"type": "alert_cleared", "chat_id": 1, "reason": "bored"}, "to": {}},
])
def test_what_is_no_event_of_ours_is_refused(wire: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        events.decode(wire)


def test_recipients_are_sorted_once_each_and_leave_out_who_types() -> None:
    to = Recipients(technicians=[3, 1, 3, 2], requesters=(5, 5))
    assert to.technicians == (1, 2, 3) and to.requesters == (5,)
    assert events.encode(Delivery(frame=PongFrame(), to=to))["to"] == {
        "technicians": [1, 2, 3], "requesters": [5], "all_technicians": False, "admins": False}
    tech = Technician(2, "Bea", "bea@example.com", Role.TECHNICIAN)
    assert to.without(tech) == Recipients(technicians=[1, 3], requesters=[5])
    assert to.without(Requester(5, "Erin", "erin@example.com")) == Recipients(technicians=[1, 2, 3])


def test_frames_are_values() -> None:
    frame = PongFrame()
    with pytest.raises(ValidationError):
        frame.type = "ping"  # type: ignore[misc]
    assert isinstance(frame, BaseModel)


def test_the_memory_broker_hands_over_what_redis_would() -> None:
    async def run() -> list[events.Envelope]:
        heard: list[events.Envelope] = []
        broker = MemoryBroker()

        async def hub(wire: dict[str, Any]) -> None:
            heard.append(events.decode(wire))

        await broker.start(hub)
        for envelope in (Delivery(frame=MessageFrame.of(MESSAGE), to=TO), Resync()):
            await broker.publish(events.encode(envelope))
        with pytest.raises(TypeError):  # not JSON: fails at publish, as it would on its way to Redis
            await broker.publish({"frame": {"type": "pong", "at": datetime.now(UTC)}, "to": {}})
        while len(heard) < 2:  # noqa: ASYNC110 - the broker's task delivers soon
            await asyncio.sleep(0.001)
        await broker.stop()
        return heard

    assert asyncio.run(run()) == [Delivery(frame=MessageFrame.of(MESSAGE), to=TO), Resync()]
