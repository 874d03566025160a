"""The Chat aggregate's transitions and permission rules, without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deskchat.domain.chat import BODY_MAX, Chat, ChatState, SystemEvent, check_body, subject_from
from deskchat.domain.errors import (
    AlreadyPickedUp,
    DomainError,
    Forbidden,
    InvalidState,
    RequestAlreadyLinked,
    TechnicianOffline,
    ValidationFailed,
)
from deskchat.domain.people import Requester, Role, Status, Technician

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
HELPDESK, NETWORK, HR = 1, 2, 3


def tech(tech_id: int, *groups: int, admin: bool = False) -> Technician:
    return Technician(tech_id, f"Tech {tech_id}", f"t{tech_id}@example.com",
                      Role.ADMIN if admin else Role.TECHNICIAN, Status.ONLINE, frozenset(groups))


ALICE, BOB, CAROL = tech(10, HELPDESK), tech(11, HELPDESK), tech(12, HELPDESK)
NINA = tech(20, NETWORK)            # network team only
MULTI = tech(21, HR, NETWORK)       # in two other groups
LONER = tech(22)                    # in no group at all
ADMIN = tech(1, admin=True)         # admin in no group
ERIN = Requester(100, "Erin", "erin@example.com")
MALLORY = Requester(101, "Mallory", "mallory@example.com")


def waiting_chat(group_id: int = HELPDESK) -> Chat:
    """A chat as start_chat leaves it: waiting, the requester's question at seq 1."""
    return Chat(id=7, group_id=group_id, subject="Laptop", state=ChatState.WAITING, requester=ERIN,
                created_at=NOW, last_seq=1)


def active_chat(owner: Technician = ALICE) -> Chat:
    chat = waiting_chat()
    chat.pick_up(owner, NOW)
    chat.recorded.clear()
    return chat


def events(chat: Chat) -> list[SystemEvent]:
    return [r.event for r in chat.recorded]


def snapshot(chat: Chat) -> tuple[object, ...]:
    return (chat.state, chat.owner_id, list(chat.participant_ids), set(chat.former_participant_ids),
            chat.group_id, chat.request_id, chat.last_seq, list(chat.recorded), chat.ended_at)


def refused(chat: Chat, error: type[DomainError], action: object, *args: object) -> DomainError:
    """The action raises ``error`` and leaves the chat exactly as it was."""
    before = snapshot(chat)
    with pytest.raises(error) as caught:
        action(*args)  # type: ignore[operator]
    assert type(caught.value) is error
    assert snapshot(chat) == before
    return caught.value


# -- pick up ---------------------------------------------------------------------------

def test_group_member_picks_up_a_waiting_chat_and_owns_it() -> None:
    chat = waiting_chat()
    chat.pick_up(ALICE, NOW)
    assert (chat.state, chat.owner_id, chat.participant_ids, chat.picked_up_at) == (
        ChatState.ACTIVE, ALICE.id, [ALICE.id], NOW)
    assert events(chat) == [SystemEvent.PICKED_UP]
    assert "Tech 10" in chat.recorded[0].body
    assert chat.last_seq == 2


def test_technician_outside_the_group_cannot_pick_up() -> None:
    chat = waiting_chat()
    error = refused(chat, Forbidden, chat.pick_up, NINA, NOW)
    assert error.status == 403 and error.code == "forbidden"


def test_admin_outside_the_group_may_pick_up() -> None:
    chat = waiting_chat()
    chat.pick_up(ADMIN, NOW)
    assert chat.owner_id == ADMIN.id and chat.state is ChatState.ACTIVE


def test_second_pickup_is_already_picked_up() -> None:
    chat = active_chat(ALICE)
    error = refused(chat, AlreadyPickedUp, chat.pick_up, BOB, LATER)
    assert (error.status, error.code) == (409, "already_picked_up")
    refused(chat, AlreadyPickedUp, chat.pick_up, ALICE, LATER)  # the owner again: same answer


@pytest.mark.parametrize("state", [ChatState.ENDED, ChatState.MISSED])
def test_pickup_of_a_closed_chat_is_invalid_state(state: ChatState) -> None:
    chat = waiting_chat()
    if state is ChatState.ENDED:
        chat.end(ERIN, NOW)
    else:
        chat.miss(NOW, request_id=5)
    chat.recorded.clear()
    error = refused(chat, InvalidState, chat.pick_up, BOB, LATER)
    assert (error.status, error.code) == (409, "invalid_state")


def test_outsider_gets_forbidden_even_for_a_picked_up_chat() -> None:
    chat = active_chat()
    refused(chat, Forbidden, chat.pick_up, NINA, LATER)


# -- posting ---------------------------------------------------------------------------

def test_requester_posts_while_waiting_and_active_taking_the_next_seq() -> None:
    chat = waiting_chat()
    assert chat.post(ERIN, "still there?") == 2
    chat.pick_up(ALICE, NOW)                     # picked_up takes seq 3
    assert chat.post(ERIN, "thanks") == 4
    assert chat.post(ALICE, "hello") == 5


def test_technician_posts_only_as_participant_of_an_active_chat() -> None:
    chat = waiting_chat()
    refused(chat, Forbidden, chat.post, ALICE, "hi")          # group member, not picked up yet
    chat.pick_up(ALICE, NOW)
    chat.recorded.clear()
    refused(chat, Forbidden, chat.post, BOB, "me too")       # reads it, but is no participant
    refused(chat, Forbidden, chat.post, NINA, "hello")       # not even a reader
    refused(chat, Forbidden, chat.post, ADMIN, "admin")      # admin must join first
    assert chat.post(ALICE, "hi") == chat.last_seq


def test_another_requester_can_neither_read_nor_post() -> None:
    chat = waiting_chat()
    assert not chat.can_read(MALLORY)
    refused(chat, Forbidden, chat.post, MALLORY, "let me in")


@pytest.mark.parametrize("close", ["end", "miss"])
def test_no_message_after_the_chat_is_over(close: str) -> None:
    chat = waiting_chat()
    if close == "end":
        chat.pick_up(ALICE, NOW)
        chat.end(ALICE, LATER)
    else:
        chat.miss(LATER, request_id=3)
    chat.recorded.clear()
    refused(chat, InvalidState, chat.post, ERIN, "hello?")
    if close == "end":
        refused(chat, InvalidState, chat.post, ALICE, "one more thing")


@pytest.mark.parametrize("body", ["", " ", "\n\t  \n", "x" * (BODY_MAX + 1)])
def test_empty_blank_and_over_long_bodies_are_validation_errors(body: str) -> None:
    chat = waiting_chat()
    error = refused(chat, ValidationFailed, chat.post, ERIN, body)
    assert error.status == 422 and error.errors and "body" in error.errors


def test_a_body_of_exactly_ten_thousand_characters_is_fine() -> None:
    assert check_body("x" * BODY_MAX) == "x" * BODY_MAX
    assert waiting_chat().post(ERIN, "y" * BODY_MAX) == 2


# -- reading ---------------------------------------------------------------------------

def test_who_may_read() -> None:
    chat = active_chat(ALICE)
    assert chat.can_read(ERIN) and not chat.can_read(MALLORY)
    assert chat.can_read(BOB)                    # same group
    assert not chat.can_read(NINA)               # other group
    assert chat.can_read(ADMIN)
    chat.invite(ALICE, NINA, target_online=True)
    chat.leave(NINA)
    assert chat.can_read(NINA)                   # took part once


# -- invite ----------------------------------------------------------------------------

def test_participant_invites_an_online_technician_of_any_group() -> None:
    chat = active_chat(ALICE)
    before = chat.last_seq
    chat.invite(ALICE, NINA, target_online=True)
    assert chat.participant_ids == [ALICE.id, NINA.id] and chat.owner_id == ALICE.id
    assert events(chat) == [SystemEvent.INVITED] and chat.last_seq == before + 1
    assert chat.post(NINA, "network here") == before + 2


def test_invite_of_an_offline_technician_is_technician_offline() -> None:
    chat = active_chat()
    error = refused(chat, TechnicianOffline, chat.invite, ALICE, BOB, False)
    assert (error.status, error.code) == (409, "technician_offline")


def test_invite_of_someone_already_in_the_chat_is_invalid_state() -> None:
    chat = active_chat()
    chat.invite(ALICE, BOB, target_online=True)
    chat.recorded.clear()
    refused(chat, InvalidState, chat.invite, ALICE, BOB, True)
    refused(chat, InvalidState, chat.invite, BOB, ALICE, True)


def test_only_participants_or_admins_invite() -> None:
    chat = active_chat()
    refused(chat, Forbidden, chat.invite, BOB, CAROL, True)   # same group, not in the chat
    refused(chat, Forbidden, chat.invite, NINA, CAROL, True)  # other group
    chat.invite(ADMIN, CAROL, target_online=True)
    assert CAROL.id in chat.participant_ids


def test_invite_needs_an_active_chat() -> None:
    chat = waiting_chat()
    refused(chat, Forbidden, chat.invite, ALICE, BOB, True)
    refused(chat, InvalidState, chat.invite, ADMIN, BOB, True)
    chat = active_chat()
    chat.end(ALICE, LATER)
    chat.recorded.clear()
    refused(chat, InvalidState, chat.invite, ALICE, BOB, True)


def test_a_technician_who_left_can_be_invited_again() -> None:
    chat = active_chat()
    chat.invite(ALICE, BOB, target_online=True)
    chat.leave(BOB)
    chat.invite(ALICE, BOB, target_online=True)
    assert chat.participant_ids == [ALICE.id, BOB.id]


# -- leave -----------------------------------------------------------------------------

def test_an_invited_participant_leaves_and_can_still_read() -> None:
    chat = active_chat()
    chat.invite(ALICE, NINA, target_online=True)
    chat.recorded.clear()
    chat.leave(NINA)
    assert chat.participant_ids == [ALICE.id] and NINA.id in chat.former_participant_ids
    assert events(chat) == [SystemEvent.LEFT]
    refused(chat, Forbidden, chat.post, NINA, "back?")


def test_the_owner_cannot_leave() -> None:
    chat = active_chat()
    error = refused(chat, InvalidState, chat.leave, ALICE)
    assert "owner" in error.detail


def test_non_participants_cannot_leave() -> None:
    chat = active_chat()
    refused(chat, Forbidden, chat.leave, BOB)
    refused(chat, Forbidden, chat.leave, NINA)


# -- transfer --------------------------------------------------------------------------

def test_owner_transfers_within_the_group_and_leaves() -> None:
    chat = active_chat(ALICE)
    before = chat.last_seq
    chat.transfer(ALICE, BOB, target_online=True, group_id=None)
    assert (chat.owner_id, chat.participant_ids, chat.group_id) == (BOB.id, [BOB.id], HELPDESK)
    assert ALICE.id in chat.former_participant_ids
    assert events(chat) == [SystemEvent.TRANSFERRED] and chat.last_seq == before + 1
    refused(chat, Forbidden, chat.post, ALICE, "still me")


def test_transfer_to_another_group_moves_the_chat_to_the_targets_first_group() -> None:
    chat = active_chat(ALICE)
    chat.transfer(ALICE, MULTI, target_online=True, group_id=None)
    assert chat.group_id == min(MULTI.group_ids) == NETWORK
    assert chat.owner_id == MULTI.id


def test_transfer_with_a_group_of_the_target_uses_it() -> None:
    chat = active_chat(ALICE)
    chat.transfer(ALICE, MULTI, target_online=True, group_id=HR)
    assert chat.group_id == HR


def test_transfer_keeps_the_group_when_the_target_is_in_it() -> None:
    both = tech(30, NETWORK, HELPDESK)
    chat = active_chat(ALICE)
    chat.transfer(ALICE, both, target_online=True, group_id=None)
    assert chat.group_id == HELPDESK


def test_transfer_to_a_group_the_target_is_not_in_is_a_validation_error() -> None:
    chat = active_chat(ALICE)
    error = refused(chat, ValidationFailed, chat.transfer, ALICE, NINA, True, HR)
    assert error.errors == {"group_id": "must be one of the technician's groups"}


def test_transfer_to_a_technician_without_groups_is_refused() -> None:
    chat = active_chat(ALICE)
    refused(chat, ValidationFailed, chat.transfer, ALICE, LONER, True, None)


def test_transfer_to_an_offline_technician_is_technician_offline() -> None:
    chat = active_chat(ALICE)
    refused(chat, TechnicianOffline, chat.transfer, ALICE, BOB, False, None)


def test_transfer_to_the_owner_is_invalid_state() -> None:
    chat = active_chat(ALICE)
    refused(chat, InvalidState, chat.transfer, ALICE, ALICE, True, None)


def test_only_the_owner_or_an_admin_transfers() -> None:
    chat = active_chat(ALICE)
    chat.invite(ALICE, BOB, target_online=True)
    chat.recorded.clear()
    refused(chat, Forbidden, chat.transfer, BOB, CAROL, True, None)    # a participant, not the owner
    refused(chat, Forbidden, chat.transfer, CAROL, BOB, True, None)    # a group member outside it
    refused(chat, Forbidden, chat.transfer, NINA, BOB, True, None)
    chat.transfer(ADMIN, CAROL, target_online=True, group_id=None)
    assert chat.owner_id == CAROL.id and sorted(chat.participant_ids) == [BOB.id, CAROL.id]


def test_transfer_to_an_invited_participant_does_not_duplicate_them() -> None:
    chat = active_chat(ALICE)
    chat.invite(ALICE, BOB, target_online=True)
    chat.transfer(ALICE, BOB, target_online=True, group_id=None)
    assert chat.participant_ids == [BOB.id] and chat.owner_id == BOB.id


def test_transfer_needs_an_active_chat() -> None:
    chat = waiting_chat()
    refused(chat, InvalidState, chat.transfer, ADMIN, BOB, True, None)
    chat = active_chat(ALICE)
    chat.end(ERIN, LATER)
    chat.recorded.clear()
    refused(chat, InvalidState, chat.transfer, ALICE, BOB, True, None)


# -- end and miss ----------------------------------------------------------------------

def test_requester_ends_a_waiting_chat() -> None:
    chat = waiting_chat()
    chat.end(ERIN, LATER)
    assert (chat.state, chat.ended_at) == (ChatState.ENDED, LATER)
    assert events(chat) == [SystemEvent.ENDED] and "Erin" in chat.recorded[0].body


@pytest.mark.parametrize("who", [ALICE, ERIN, ADMIN])
def test_owner_requester_or_admin_end_an_active_chat(who: Technician | Requester) -> None:
    chat = active_chat(ALICE)
    chat.end(who, LATER)
    assert chat.state is ChatState.ENDED and events(chat) == [SystemEvent.ENDED]


def test_an_invited_participant_may_end() -> None:
    chat = active_chat(ALICE)
    chat.invite(ALICE, NINA, target_online=True)
    chat.end(NINA, LATER)
    assert chat.state is ChatState.ENDED


@pytest.mark.parametrize("who", [BOB, NINA, MALLORY])
def test_outsiders_cannot_end(who: Technician | Requester) -> None:
    chat = active_chat(ALICE)
    refused(chat, Forbidden, chat.end, who, LATER)


def test_group_member_cannot_end_a_waiting_chat() -> None:
    chat = waiting_chat()
    refused(chat, Forbidden, chat.end, BOB, LATER)


@pytest.mark.parametrize("who", [ALICE, ERIN, ADMIN])
def test_ending_twice_is_invalid_state(who: Technician | Requester) -> None:
    chat = active_chat(ALICE)
    chat.end(ALICE, NOW)
    chat.recorded.clear()
    refused(chat, InvalidState, chat.end, who, LATER)


def test_a_waiting_chat_is_missed_once_with_its_request() -> None:
    chat = waiting_chat()
    chat.miss(LATER, request_id=42)
    assert (chat.state, chat.request_id, chat.ended_at) == (ChatState.MISSED, 42, LATER)
    assert events(chat) == [SystemEvent.MISSED] and "#42" in chat.recorded[0].body
    chat.recorded.clear()
    refused(chat, InvalidState, chat.miss, LATER, 43)
    refused(chat, InvalidState, chat.end, ERIN, LATER)


@pytest.mark.parametrize("close", ["pick_up", "end"])
def test_only_waiting_chats_are_missed(close: str) -> None:
    chat = waiting_chat()
    if close == "pick_up":
        chat.pick_up(ALICE, NOW)
    else:
        chat.end(ERIN, NOW)
    chat.recorded.clear()
    refused(chat, InvalidState, chat.miss, LATER, 9)


# -- requests --------------------------------------------------------------------------

def test_link_request_once_while_active() -> None:
    chat = active_chat(ALICE)
    chat.link_request(ALICE, 77, "Laptop")
    assert chat.request_id == 77 and events(chat) == [SystemEvent.REQUEST_LINKED]
    assert "#77" in chat.recorded[0].body
    chat.recorded.clear()
    error = refused(chat, RequestAlreadyLinked, chat.link_request, ALICE, 78, "again")
    assert (error.status, error.code) == (409, "request_already_linked")
    refused(chat, RequestAlreadyLinked, chat.link_request, ADMIN, 79, "admin too")


def test_link_request_after_the_end_by_a_former_participant() -> None:
    chat = active_chat(ALICE)
    chat.transfer(ALICE, BOB, target_online=True, group_id=None)
    chat.end(BOB, LATER)
    chat.recorded.clear()
    chat.link_request(ALICE, 80, "after the fact")
    assert chat.request_id == 80


def test_link_request_rules() -> None:
    chat = active_chat(ALICE)
    refused(chat, Forbidden, chat.link_request, BOB, 1, "not mine")
    refused(chat, Forbidden, chat.link_request, NINA, 1, "not mine")
    waiting = waiting_chat()
    refused(waiting, InvalidState, waiting.link_request, ADMIN, 1, "too early")
    missed = waiting_chat()
    missed.miss(NOW, request_id=5)
    missed.recorded.clear()
    refused(missed, RequestAlreadyLinked, missed.link_request, ADMIN, 6, "already has one")


# -- subject ---------------------------------------------------------------------------

@pytest.mark.parametrize(("message", "subject"), [
    ("My laptop will not start", "My laptop will not start"),
    ("\n\n   Printer jam  \nsecond line", "Printer jam"),
    ("first\r\nsecond", "first"),
    ("x" * 250, "x" * 200),
    ("  " + "y" * 300 + "\nmore", "y" * 200),
])
def test_subject_is_the_first_non_empty_line_cut_to_200(message: str, subject: str) -> None:
    assert subject_from(message) == subject
