"""Posting messages with group commit: sends that arrive together share one transaction.

Each send is still checked on its own (the chat's rules, its client_msg_id, its canned message)
and gets its own answer; what they share is the transaction, one seq UPDATE per chat, one
INSERT for all rows and one commit. Under load this multiplies throughput; when idle a send
is written at once, alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog

from deskchat.domain import canned as canned_rules
from deskchat.domain.chat import Chat, Message
from deskchat.domain.errors import DomainError, Forbidden, InvalidState, NotFound
from deskchat.domain.people import Actor, Author, Technician
from deskchat.realtime.events import MessageFrame
from deskchat.services import common
from deskchat.services.context import Context, UnitOfWork, unit_of_work
from deskchat.services.requests import placeholder_values
from deskchat.services.views import message_view
from deskchat.storage.errors import Duplicate as StoredTwice
from deskchat.storage.repositories import Repositories

log = structlog.get_logger()
MAX_BATCH = 256
Key = tuple[int, str]  # (chat id, client_msg_id)


@dataclass(frozen=True)
class Posted:
    """The message was stored now."""

    message: Message


@dataclass(frozen=True)
class Duplicate:
    """The client_msg_id was used before (earlier, or earlier in the same batch): the first message."""

    message: Message


@dataclass(frozen=True)
class Refused:
    """The send broke a rule of the chat; nothing was stored."""

    error: DomainError


Outcome = Posted | Duplicate | Refused


@dataclass(eq=False)
class Send:
    """One message to post, and where its outcome goes."""

    actor: Actor
    chat_id: int
    body: str | None
    canned_message_id: int | None
    client_msg_id: str | None
    answer: asyncio.Future[Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def key(self) -> Key | None:
        """What makes a repeat of this send a repeat."""
        return (self.chat_id, self.client_msg_id) if self.client_msg_id is not None else None


class MessageWriter:
    """One per process: a queue of sends and a task that writes them in batches."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._queue: asyncio.Queue[Send] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="message-writer")

    async def submit(self, send: Send) -> Outcome:
        """Queue a send and wait for its own outcome."""
        self._queue.put_nowait(send)
        return await send.answer

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _write(self, batch: list[Send], *, retried: bool = False) -> None:
        try:
            outcomes = await write_batch(self._ctx, batch)
        except StoredTwice:  # another process stored one of these client_msg_ids after we looked
            if len(batch) > 1:
                for send in batch:  # isolate the one that raced
                    await self._write([send])
            elif not retried:
                await self._write(batch, retried=True)  # now the first one is found: a Duplicate
            else:
                _settle(batch[0], StoredTwice("The message could not be stored; send it again."))
            return
        except Exception as exc:
            if len(batch) > 1:
                for send in batch:
                    await self._write([send])
                return
            _settle(batch[0], exc)
            return
        for send, outcome in zip(batch, outcomes, strict=True):
            _settle(send, outcome)

    async def stop(self) -> None:
        """Stop writing (at shutdown)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def _settle(send: Send, outcome: Outcome | BaseException) -> None:
    if send.answer.done():
        return
    if isinstance(outcome, BaseException):
        send.answer.set_exception(outcome)
    else:
        send.answer.set_result(outcome)


def writer(ctx: Context) -> MessageWriter:
    """This process's message writer (the server builds it at start; other callers on first use)."""
    if ctx.writer is None:
        ctx.writer = MessageWriter(ctx)
    return ctx.writer


async def _canned_body(repos: Repositories, actor: Actor, chat: Chat, canned_id: int) -> str:
    if not isinstance(actor, Technician):
        raise Forbidden("Canned messages are for technicians only.")
    found = await repos.canned.load_canned(canned_id)
    if found is None or not found.visible_to(actor):
        raise NotFound(f"There is no canned message {canned_id}.")
    return canned_rules.render(found.body, await placeholder_values(repos, chat, actor))


@dataclass
class _Planned:
    index: int
    send: Send
    chat: Chat
    body: str
    seq: int  # on the chat as loaded; shifted if another writer took seqs since


class Repeats:
    """The one place that decides whether a send repeats an earlier one: stored before, or planned earlier
    in the same batch (a send that was refused is no first: its repeat is checked on its own)."""

    def __init__(self, stored: dict[Key, Message]) -> None:
        self._stored = stored
        self._planned: dict[Key, int] = {}
        self.of_planned: dict[int, int] = {}  # batch index -> batch index of the first

    def earlier(self, index: int, send: Send) -> Duplicate | None:
        """The stored first message of a repeat; a repeat of a send planned in this batch is noted."""
        key = send.key
        if key is None:
            return None
        if key in self._stored:
            return Duplicate(self._stored[key])
        if key in self._planned:
            self.of_planned[index] = self._planned[key]
        return None

    def planned(self, index: int, send: Send) -> None:
        """This send will be stored: later sends with its key repeat it."""
        if send.key is not None:
            self._planned.setdefault(send.key, index)

    def resolve(self, results: list[Outcome | None]) -> None:
        """Repeats within the batch answer with what their first got."""
        for index, first_index in self.of_planned.items():
            first = results[first_index]
            results[index] = Duplicate(first.message) if isinstance(first, Posted) else first


async def _plan(repos: Repositories, batch: list[Send], results: list[Outcome | None],
                repeats: Repeats) -> list[_Planned]:
    """Check each send on its own, against its chat as loaded; repeats answer with the first message."""
    loaded = {c.id: c for c in await repos.chats.load_chats_by_id(sorted({s.chat_id for s in batch}))}
    planned: list[_Planned] = []
    for i, send in enumerate(batch):
        try:
            chat = loaded.get(send.chat_id)
            if chat is None:
                raise NotFound(f"There is no chat {send.chat_id}.")
            chat.ensure_readable(send.actor)
            earlier = repeats.earlier(i, send)
            if earlier is not None:
                results[i] = earlier
                continue
            if i in repeats.of_planned:
                continue
            body = send.body if send.canned_message_id is None else await _canned_body(
                repos, send.actor, chat, send.canned_message_id)
            assert body is not None
            planned.append(_Planned(i, send, chat, body, chat.post(send.actor, body)))
            repeats.planned(i, send)
        except DomainError as exc:
            results[i] = Refused(exc)
    return planned


async def _store(uow: UnitOfWork, planned: list[_Planned], results: list[Outcome | None]) -> None:
    """Take every chat's seqs in one UPDATE, insert every message in one statement, emit in order."""
    chats_in = {item.chat.id: item.chat for item in planned}
    counts = {chat_id: sum(1 for item in planned if item.chat.id == chat_id) for chat_id in chats_in}
    taken = await uow.chats.take_seqs(counts)
    rows: list[tuple[_Planned, int]] = []
    for item in planned:
        last = taken.get(item.chat.id)
        if last is None:
            results[item.index] = Refused(InvalidState("The chat has ended; it takes no more messages."))
            continue
        rows.append((item, item.seq + last - item.chat.last_seq))  # the chat's seqs as the database gave them
    stored = await uow.chats.insert_messages([
        {"chat_id": item.chat.id, "seq": seq, "author": Author.of(item.send.actor), "body": item.body,
         "client_msg_id": item.send.client_msg_id} for item, seq in rows], uow.now)
    for (item, _), message in zip(rows, stored, strict=True):
        results[item.index] = Posted(message)
        uow.emit(MessageFrame.of(message_view(message)), common.audience(item.chat))


async def write_batch(ctx: Context, batch: list[Send]) -> list[Outcome]:
    """Post a batch of sends in one transaction; each gets its own outcome."""
    results: list[Outcome | None] = [None] * len(batch)
    async with unit_of_work(ctx) as uow:
        repeats = Repeats(await uow.chats.find_by_client_msg_ids([s.key for s in batch if s.key is not None]))
        planned = await _plan(uow.repos, batch, results, repeats)
        if planned:
            await _store(uow, planned, results)
    repeats.resolve(results)
    return [r if r is not None else Refused(InvalidState("The message was not stored.")) for r in results]
