"""A Hypothesis state machine: technicians and requesters do random things to one chat.

Whatever they do, the chat keeps its promises: one owner who takes part, nothing accepted
once it is over, one gapless timeline, and states that only move forward. An action the
rules refuse leaves the chat exactly as it was (the service would roll back, but the domain
must not half-apply a change either).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from deskchat.domain.chat import Chat, ChatState, SystemEvent
from deskchat.domain.errors import DomainError
from deskchat.domain.people import Actor, Requester, Role, Status, Technician

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
HELPDESK, NETWORK = 1, 2
TECHS = [
    Technician(1, "Admin", "admin@example.com", Role.ADMIN, Status.ONLINE, frozenset()),
    Technician(2, "Alice", "alice@example.com", Role.TECHNICIAN, Status.ONLINE, frozenset({HELPDESK})),
    Technician(3, "Bob", "bob@example.com", Role.TECHNICIAN, Status.ONLINE, frozenset({HELPDESK})),
    Technician(4, "Nina", "nina@example.com", Role.TECHNICIAN, Status.ONLINE, frozenset({NETWORK})),
    Technician(5, "Max", "max@example.com", Role.TECHNICIAN, Status.ONLINE, frozenset({HELPDESK, NETWORK})),
]
OWN = Requester(100, "Erin", "erin@example.com")
OTHER = Requester(101, "Mallory", "mallory@example.com")
RANK = {ChatState.WAITING: 0, ChatState.ACTIVE: 1, ChatState.ENDED: 2, ChatState.MISSED: 2}

techs = st.sampled_from(TECHS)
actors = st.sampled_from([*TECHS, OWN, OTHER])
groups = st.sampled_from([None, HELPDESK, NETWORK, 3])
bodies = st.one_of(st.text(max_size=30), st.just("   "), st.just("x" * 10_001))


class ChatMachine(RuleBasedStateMachine):
    """One chat, many hands."""

    chat: Chat
    timeline: list[tuple[int, str]]
    clock: datetime

    @initialize()
    def start(self) -> None:
        self.chat = Chat(id=1, group_id=HELPDESK, subject="VPN down", state=ChatState.WAITING, requester=OWN,
                         created_at=START, last_seq=1)
        self.timeline = [(1, "text")]  # start_chat stores the question at seq 1
        self.clock = START
        self.next_request = 500
        self.closed_seq: int | None = None

    def _now(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def _apply(self, action: Callable[[], object]) -> object | None:
        """Run a domain action like a service would: on success store the system messages it recorded."""
        chat = self.chat
        before = (chat.state, chat.owner_id, list(chat.participant_ids), set(chat.former_participant_ids),
                  chat.group_id, chat.request_id, chat.last_seq, chat.ended_at)
        try:
            result = action()
        except DomainError:
            after = (chat.state, chat.owner_id, list(chat.participant_ids), set(chat.former_participant_ids),
                     chat.group_id, chat.request_id, chat.last_seq, chat.ended_at)
            assert after == before, "a refused action changed the chat"
            assert chat.recorded == []
            return None
        for note in chat.recorded:
            self.timeline.append((self.timeline[-1][0] + 1, note.event.value))
        chat.recorded.clear()
        assert RANK[chat.state] >= RANK[before[0]], f"state went back from {before[0]} to {chat.state}"
        return result if result is not None else True

    @rule(actor=actors, body=bodies)
    def post(self, actor: Actor, body: str) -> None:
        chat = self.chat
        was_open, was_state = chat.state.is_open, chat.state
        is_part = isinstance(actor, Technician) and actor.id in chat.participant_ids
        seq = self._apply(lambda: chat.post(actor, body))
        if seq is None:
            return
        assert was_open, "a message was accepted by a chat that is over"
        assert 1 <= len(body) <= 10_000 and body.strip()
        if isinstance(actor, Requester):
            assert actor == OWN
        else:
            assert is_part and was_state is ChatState.ACTIVE
        assert seq == self.timeline[-1][0] + 1
        self.timeline.append((int(seq), "text"))  # type: ignore[call-overload]

    @rule(tech=techs)
    def pick_up(self, tech: Technician) -> None:
        was = self.chat.state
        if self._apply(lambda: self.chat.pick_up(tech, self._now())):
            assert was is ChatState.WAITING
            assert tech.is_admin or tech.in_group(self.chat.group_id)
            assert self.chat.owner_id == tech.id and self.timeline[-1][1] == SystemEvent.PICKED_UP.value

    @rule(actor=techs, invitee=techs, online=st.booleans())
    def invite(self, actor: Technician, invitee: Technician, online: bool) -> None:
        was_in = invitee.id in self.chat.participant_ids
        if self._apply(lambda: self.chat.invite(actor, invitee, online)):
            assert online and not was_in and invitee.id in self.chat.participant_ids

    @rule(tech=techs)
    def leave(self, tech: Technician) -> None:
        owner = self.chat.owner_id
        if self._apply(lambda: self.chat.leave(tech)):
            assert tech.id != owner and tech.id not in self.chat.participant_ids

    @rule(actor=techs, to=techs, online=st.booleans(), group_id=groups)
    def transfer(self, actor: Technician, to: Technician, online: bool, group_id: int | None) -> None:
        owner = self.chat.owner_id
        if self._apply(lambda: self.chat.transfer(actor, to, online, group_id)):
            assert online and (actor.id == owner or actor.is_admin)
            assert self.chat.owner_id == to.id and to.in_group(self.chat.group_id)
            assert owner not in self.chat.participant_ids

    @rule(actor=actors)
    def end(self, actor: Actor) -> None:
        if self._apply(lambda: self.chat.end(actor, self._now())):
            assert self.chat.state is ChatState.ENDED
            self.closed_seq = self.timeline[-1][0]

    @rule()
    def miss(self) -> None:
        request_id = self.next_request
        self.next_request += 1
        if self._apply(lambda: self.chat.miss(self._now(), request_id)):
            assert self.chat.state is ChatState.MISSED and self.chat.request_id == request_id
            self.closed_seq = self.timeline[-1][0]

    @rule(tech=techs)
    def link_request(self, tech: Technician) -> None:
        had = self.chat.request_id
        request_id = self.next_request
        self.next_request += 1
        if self._apply(lambda: self.chat.link_request(tech, request_id, "VPN down")):
            assert had is None and self.chat.request_id == request_id

    @precondition(lambda self: self.chat.state is ChatState.ACTIVE)
    @rule()
    def owner_writes(self) -> None:
        """Keep active chats busy: the owner answers (most random posters are refused)."""
        owner = next(t for t in TECHS if t.id == self.chat.owner_id)
        self.post(owner, "Let me check that for you")

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def one_owner_who_takes_part(self) -> None:
        chat = self.chat
        assert len(chat.participant_ids) == len(set(chat.participant_ids))
        if chat.state is ChatState.WAITING or chat.state is ChatState.MISSED:
            assert chat.owner_id is None and chat.participant_ids == []
        if chat.state is ChatState.ACTIVE:
            assert chat.owner_id is not None
        if chat.owner_id is not None:
            assert chat.owner_id in chat.participant_ids
            assert chat.owner_id not in chat.former_participant_ids or chat.owner_id in chat.participant_ids

    @invariant()
    def seq_counts_every_timeline_entry_without_gaps(self) -> None:
        seqs = [seq for seq, _ in self.timeline]
        assert seqs == list(range(1, len(seqs) + 1))
        assert self.chat.last_seq == len(seqs)

    @invariant()
    def nothing_after_the_end(self) -> None:
        if self.closed_seq is not None:
            after = [kind for seq, kind in self.timeline if seq > self.closed_seq]
            assert after in ([], [SystemEvent.REQUEST_LINKED.value]), after
            assert not self.chat.state.is_open


ChatMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestChatStateMachine = ChatMachine.TestCase
