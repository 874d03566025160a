"""Posting messages with group commit: sends that arrive together share one transaction.

Each send is still checked on its own (the chat's rules, its client_msg_id, its canned message)
and gets its own answer; what they share is the transaction, one seq UPDATE per chat, one
INSERT for all rows and one commit. Under load this multiplies throughput; when idle a send
is written at once, alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import structlog

from deskchat.domain import canned as canned_rules
from deskchat.domain.chat import Chat
from deskchat.domain.errors import DomainError, Forbidden, InvalidState, NotFound
from deskchat.domain.people import Actor, Author, Technician
from deskchat.realtime.hub import message_frame
from deskchat.services import common
from deskchat.services.context import Context, UnitOfWork, unit_of_work
from deskchat.services.requests import placeholder_values
from deskchat.storage.repositories import Repositories

log = structlog.get_logger()
MAX_BATCH = 256
Outcome = tuple[dict[str, Any], bool]


@dataclass(eq=False)
class Send:
    """One message to post, and where its answer goes."""

    actor: Actor
    chat_id: int
    body: str | None
    canned_message_id: int | None
    client_msg_id: str | None
    answer: asyncio.Future[Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


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

    async def _write(self, batch: list[Send]) -> None:
        try:
            outcomes = await write_batch(self._ctx, batch)
        except Exception as exc:  # e.g. a concurrent process inserted the same client_msg_id
            if len(batch) > 1:
                for send in batch:  # isolate the one that failed
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
    """This process's message writer, started on first use."""
    found = ctx.workers.get("messages")
    if found is None:
        found = ctx.workers["messages"] = MessageWriter(ctx)
    assert isinstance(found, MessageWriter)
    return found


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


async def _plan(repos: Repositories, batch: list[Send], results: list[Any]) -> list[_Planned]:
    """Check each send on its own; repeats of a client_msg_id answer with the first message."""
    ids = sorted({s.chat_id for s in batch})
    loaded = {c.id: c for c in await repos.chats.load_chats_by_id(ids)}
    keys = [(s.chat_id, s.client_msg_id) for s in batch if s.client_msg_id is not None]
    earlier = await repos.chats.find_by_client_msg_ids(keys)
    planned: list[_Planned] = []
    in_batch: dict[tuple[int, str], int] = {}
    for i, send in enumerate(batch):
        try:
            chat = loaded.get(send.chat_id)
            if chat is None:
                raise NotFound(f"There is no chat {send.chat_id}.")
            chat.ensure_readable(send.actor)
            key = (send.chat_id, send.client_msg_id) if send.client_msg_id is not None else None
            if key is not None and key in earlier:
                results[i] = (earlier[key], False)
                continue
            if key is not None and key in in_batch:
                results[i] = ("same_as", in_batch[key])
                continue
            body = send.body if send.canned_message_id is None else await _canned_body(
                repos, send.actor, chat, send.canned_message_id)
            assert body is not None
            chat.post(send.actor, body)
            planned.append(_Planned(i, send, chat, body))
            if key is not None:
                in_batch[key] = i
        except DomainError as exc:
            results[i] = exc
    return planned


async def _store(uow: UnitOfWork, planned: list[_Planned], results: list[Any]) -> None:
    """Take every chat's seqs in one UPDATE, insert every message in one statement, emit in order."""
    by_chat: dict[int, list[_Planned]] = defaultdict(list)
    for item in planned:
        by_chat[item.chat.id].append(item)
    rows: list[tuple[_Planned, int]] = []
    taken = await uow.chats.take_seqs({chat_id: len(items) for chat_id, items in by_chat.items()})
    for chat_id, items in by_chat.items():
        last = taken.get(chat_id)
        if last is None:
            for item in items:
                results[item.index] = InvalidState("The chat has ended; it takes no more messages.")
            continue
        rows += [(item, last - len(items) + n + 1) for n, item in enumerate(items)]
    stored = await uow.chats.insert_messages([
        {"chat_id": item.chat.id, "seq": seq, "author": Author.of(item.send.actor), "body": item.body,
         "client_msg_id": item.send.client_msg_id} for item, seq in rows], uow.now)
    for (item, _), message in zip(rows, stored, strict=True):
        results[item.index] = (message, True)
        uow.emit(message_frame(message), **common.audience(item.chat))


async def write_batch(ctx: Context, batch: list[Send]) -> list[Outcome | BaseException]:
    """Post a batch of sends in one transaction; each gets its own outcome."""
    results: list[Any] = [None] * len(batch)
    async with unit_of_work(ctx) as uow:
        planned = await _plan(uow.repos, batch, results)
        if planned:
            await _store(uow, planned, results)
    for i, result in enumerate(results):
        if isinstance(result, tuple) and result[0] == "same_as":
            first = results[result[1]]
            results[i] = (first[0], False) if isinstance(first, tuple) else first
    return results
