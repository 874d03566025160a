"""Services on a fake unit of work (no database, no sockets): pickup, post, transfer, convert, missed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from deskchat.domain.errors import AlreadyPickedUp, Forbidden, InvalidState, RequestAlreadyLinked, TechnicianOffline
from deskchat.services import messages
from deskchat.services.chats import pick_up, post_message
from deskchat.services.collaboration import transfer
from deskchat.services.missed import expire_due
from deskchat.services.requests import convert_to_request
from tests.unit.fakes import FakeDesk, principal

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fake() -> AsyncIterator[FakeDesk]:
    desk = FakeDesk()
    yield desk
    await desk.close()


# -- pickup -----------------------------------------------------------------------------------


async def test_a_group_technician_picks_up_a_waiting_chat(fake: FakeDesk) -> None:
    desk = fake.add_group("Service desk")
    alice, bob = fake.add_technician("Alice", desk), fake.add_technician("Bob", desk)
    chat = fake.add_waiting_chat(desk)
    view = await pick_up(fake.ctx, principal(alice), chat.id)
    assert (view["state"], view["owner_id"], view["participant_ids"]) == ("active", alice.id, [alice.id])
    assert fake.chat(chat.id).owner_id == alice.id
    assert fake.system_events(chat.id) == ["picked_up"]
    (cleared,) = fake.broker.sent("alert_cleared")
    assert set(cleared["to"]["technicians"]) == {alice.id, bob.id}  # the alert leaves every colleague's list


async def test_a_second_technician_gets_already_picked_up_and_nothing_changes(fake: FakeDesk) -> None:
    desk = fake.add_group("Service desk")
    alice, bob = fake.add_technician("Alice", desk), fake.add_technician("Bob", desk)
    chat = fake.add_waiting_chat(desk)
    await pick_up(fake.ctx, principal(alice), chat.id)
    before, published = fake.messages(chat.id), len(fake.broker.published)
    with pytest.raises(AlreadyPickedUp) as refused:
        await pick_up(fake.ctx, principal(bob), chat.id)
    assert refused.value.status == 409
    assert fake.chat(chat.id).owner_id == alice.id
    assert fake.messages(chat.id) == before
    assert len(fake.broker.published) == published


async def test_a_technician_outside_the_group_cannot_pick_up(fake: FakeDesk) -> None:
    chat = fake.add_waiting_chat(fake.add_group("Service desk"))
    outsider = fake.add_technician("Oscar", fake.add_group("Network"))
    with pytest.raises(Forbidden):
        await pick_up(fake.ctx, principal(outsider), chat.id)
    assert fake.chat(chat.id).state == "waiting"


# -- post -------------------------------------------------------------------------------------


async def test_a_participant_message_takes_the_next_seq(fake: FakeDesk) -> None:
    alice = fake.add_technician("Alice", desk := fake.add_group("Service desk"))
    chat = fake.add_active_chat(desk, alice)
    mine, created = await post_message(fake.ctx, principal(alice), chat.id, body="Is it plugged in?",
                                       canned_message_id=None, client_msg_id="t-1")
    theirs, _ = await post_message(fake.ctx, principal(chat.requester), chat.id, body="Yes",
                                   canned_message_id=None, client_msg_id="r-1")
    assert created and (mine["seq"], theirs["seq"]) == (chat.last_seq + 1, chat.last_seq + 2)
    assert [m["body"] for m in fake.messages(chat.id)][-2:] == ["Is it plugged in?", "Yes"]
    sent = fake.broker.sent("message")[-1]
    assert (sent["to"]["technicians"], sent["to"]["requesters"]) == ([alice.id], [chat.requester.id])


async def test_the_same_client_msg_id_twice_returns_the_first_message(fake: FakeDesk) -> None:
    chat = fake.add_active_chat(desk := fake.add_group("Service desk"), fake.add_technician("Alice", desk))
    erin = principal(chat.requester)
    first, _ = await post_message(fake.ctx, erin, chat.id, body="Hello?", canned_message_id=None, client_msg_id="m-1")
    again, created = await post_message(fake.ctx, erin, chat.id, body="Hello?", canned_message_id=None,
                                        client_msg_id="m-1")
    assert (again, created) == (first, False)
    assert [m["client_msg_id"] for m in fake.messages(chat.id)].count("m-1") == 1


async def test_a_message_to_an_ended_chat_is_refused(fake: FakeDesk) -> None:
    chat = fake.add_active_chat(desk := fake.add_group("Service desk"), fake.add_technician("Alice", desk))
    fake.mark_ended(chat.id)
    with pytest.raises(InvalidState):
        await post_message(fake.ctx, principal(chat.requester), chat.id, body="Still there?",
                           canned_message_id=None, client_msg_id=None)
    assert len(fake.messages(chat.id)) == chat.last_seq


async def test_a_batch_with_a_repeated_client_msg_id_stores_one(fake: FakeDesk) -> None:
    chat = fake.add_active_chat(desk := fake.add_group("Service desk"), fake.add_technician("Alice", desk))
    erin = chat.requester
    first, repeat = await messages.write_batch(fake.ctx, [messages.Send(erin, chat.id, "Hi", None, "dup"),
                                                          messages.Send(erin, chat.id, "Hi", None, "dup")])
    assert isinstance(first, messages.Posted) and isinstance(repeat, messages.Duplicate)
    assert repeat.message == first.message
    assert [m["client_msg_id"] for m in fake.messages(chat.id)].count("dup") == 1


# -- transfer ---------------------------------------------------------------------------------


async def test_the_owner_transfers_to_an_online_technician_of_another_group(fake: FakeDesk) -> None:
    alice = fake.add_technician("Alice", desk := fake.add_group("Service desk"))
    carol = fake.add_technician("Carol", network := fake.add_group("Network"))
    chat = fake.add_active_chat(desk, alice)
    view = await transfer(fake.ctx, principal(alice), chat.id, carol.id, None)
    assert (view["owner_id"], view["group_id"], view["participant_ids"]) == (carol.id, network, [carol.id])
    stored = fake.chat(chat.id)
    assert stored.owner_id == carol.id and alice.id in stored.former_participant_ids
    assert fake.system_events(chat.id) == ["picked_up", "transferred"]
    told = fake.broker.sent("message")[-1]["to"]["technicians"]
    assert set(told) == {alice.id, carol.id}  # the old owner sees the transfer too


async def test_a_transfer_to_an_offline_technician_is_refused(fake: FakeDesk) -> None:
    alice = fake.add_technician("Alice", desk := fake.add_group("Service desk"))
    dave = fake.add_technician("Dave", fake.add_group("Network"), online=False)
    chat = fake.add_active_chat(desk, alice)
    with pytest.raises(TechnicianOffline):
        await transfer(fake.ctx, principal(alice), chat.id, dave.id, None)
    assert fake.chat(chat.id).owner_id == alice.id


# -- convert ----------------------------------------------------------------------------------


async def test_converting_an_active_chat_makes_a_linked_request_without_chat_text(fake: FakeDesk) -> None:
    alice = fake.add_technician("Alice", desk := fake.add_group("Service desk"))
    chat = fake.add_active_chat(desk, alice, text="My password is hunter2")
    request = await convert_to_request(fake.ctx, principal(alice), chat.id, None)
    assert (request["source"], request["chat_id"], request["technician_id"]) == ("live_chat", chat.id, alice.id)
    assert "hunter2" not in request["description"]
    assert fake.chat(chat.id).request_id == request["id"]
    assert fake.system_events(chat.id) == ["picked_up", "request_linked"]


async def test_a_second_convert_is_request_already_linked(fake: FakeDesk) -> None:
    alice = fake.add_technician("Alice", desk := fake.add_group("Service desk"))
    chat = fake.add_active_chat(desk, alice)
    await convert_to_request(fake.ctx, principal(alice), chat.id, None)
    with pytest.raises(RequestAlreadyLinked):
        await convert_to_request(fake.ctx, principal(alice), chat.id, "Again")
    assert len(fake.requests()) == 1


# -- missed -----------------------------------------------------------------------------------


async def test_a_due_waiting_chat_becomes_a_missed_chat_request_once(fake: FakeDesk) -> None:
    chat = fake.add_waiting_chat(fake.add_group("Service desk"), "VPN is down", missed_after=300)
    fake.advance(301)
    assert await expire_due(fake.ctx, [chat.id]) == 1
    assert await expire_due(fake.ctx, [chat.id]) == 0
    (request,) = fake.requests()
    assert (request["source"], request["chat_id"]) == ("missed_chat", chat.id)
    assert "VPN is down" in request["description"]
    assert fake.chat(chat.id).state == "missed"
    assert fake.system_events(chat.id) == ["missed"]


async def test_a_chat_picked_up_meanwhile_is_not_missed(fake: FakeDesk) -> None:
    alice = fake.add_technician("Alice", desk := fake.add_group("Service desk"))
    chat = fake.add_waiting_chat(desk, missed_after=300)
    fake.advance(301)  # due, but Alice picks it up before the sweeper's turn
    await pick_up(fake.ctx, principal(alice), chat.id)
    assert await expire_due(fake.ctx, [chat.id]) == 0
    assert fake.requests() == []
    assert fake.chat(chat.id).state == "active"
