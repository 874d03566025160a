"""Chats, their participants and their timeline; every state change is a guarded UPDATE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.domain.chat import Attachment, Chat, ChatState, Message, Rating, Whisper
from deskchat.domain.people import Actor, Author, Requester, Technician
from deskchat.storage.lists import any_of, value_for
from deskchat.storage.tables import chat_participants as cp
from deskchat.storage.tables import chats, messages, requesters, whispers

_CHAT_COLUMNS = (chats, requesters.c.name.label("r_name"), requesters.c.email.label("r_email"),
                 requesters.c.verified.label("r_verified"))


def _is_open() -> Any:
    """The chat is waiting or active (two plain comparisons: an IN list is re-rendered on every execution)."""
    return or_(chats.c.state == ChatState.WAITING.value, chats.c.state == ChatState.ACTIVE.value)


def _chat_from(row: Any, parts: list[Any]) -> Chat:
    return Chat(
        id=row.id, group_id=row.group_id, subject=row.subject, state=ChatState(row.state),
        requester=Requester(row.requester_id, row.r_name, row.r_email, bool(row.r_verified)), created_at=row.created_at,
        owner_id=row.owner_id, request_id=row.request_id, picked_up_at=row.picked_up_at,
        ended_at=row.ended_at, last_seq=row.last_seq,
        rating=Rating(row.rating_score, row.rating_comment, row.rated_at) if row.rating_score is not None else None,
        participant_ids=[p.technician_id for p in parts if p.left_at is None],
        former_participant_ids={p.technician_id for p in parts if p.left_at is not None},
    )


def _chat_query() -> Any:
    return select(*_CHAT_COLUMNS).join(requesters, requesters.c.id == chats.c.requester_id)


def visible_to_technician(tech_id: int, group_ids: list[int], state: str | None) -> Any:
    """Waiting chats of my groups, and chats I take part in now."""
    mine = exists().where(and_(cp.c.chat_id == chats.c.id, cp.c.technician_id == tech_id,
                               cp.c.left_at.is_(None)))
    waiting = and_(chats.c.state == ChatState.WAITING.value, chats.c.group_id.in_(group_ids))
    cond = or_(waiting, mine)
    return and_(cond, chats.c.state == state) if state else cond


def visible_to_requester(requester_id: int, state: str | None) -> Any:
    """A requester's own chats."""
    cond = chats.c.requester_id == requester_id
    return and_(cond, chats.c.state == state) if state else cond


# -- timeline ------------------------------------------------------------------------


def _aware(value: Any) -> datetime | None:
    """A datetime that an aggregate returned (SQLite: text without a zone) as an aware UTC datetime."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _attachment(chat_id: int, attachment_id: int | None, filename: str, content_type: str | None,
                size: int | None) -> Attachment | None:
    if attachment_id is None or content_type is None or size is None:
        return None
    return Attachment(attachment_id, chat_id, filename, content_type, size)


def _message(row: Any) -> Message:
    """A stored message (a row, or the values just inserted with their id)."""
    return Message(id=row.id, chat_id=row.chat_id, seq=row.seq,
                   author=Author(row.author_kind, row.author_id, row.author_name), body=row.body,
                   created_at=row.created_at, event=row.event, client_msg_id=row.client_msg_id,
                   attachment=_attachment(row.chat_id, row.attachment_id, row.body, row.attachment_type,
                                          row.attachment_size))


def _inserted(message_id: int, values: dict[str, Any]) -> Message:
    return Message(id=message_id, chat_id=values["chat_id"], seq=values["seq"],
                   author=Author(values["author_kind"], values["author_id"], values["author_name"]),
                   body=values["body"], created_at=values["created_at"], event=values["event"],
                   client_msg_id=values["client_msg_id"],
                   attachment=_attachment(values["chat_id"], values.get("attachment_id"), values["body"],
                                          values.get("attachment_type"), values.get("attachment_size")))


class ChatRepository:
    """Chats, participants and timelines: every state change a guarded UPDATE."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert_chat(self, *, group_id: int, subject: str, requester_id: int,
                          now: datetime, missed_due_at: datetime | None) -> int:
        """Store a new waiting chat and return its id."""
        result = await self._conn.execute(insert(chats).values(
            group_id=group_id, first_group_id=group_id, subject=subject, state=ChatState.WAITING.value,
            requester_id=requester_id,
            last_seq=0, missed_due_at=missed_due_at, created_at=now).returning(chats.c.id))
        return int(result.scalar_one())

    async def load_chat(self, chat_id: int) -> Chat | None:
        """The chat with its requester and participants, or None."""
        row = (await self._conn.execute(_chat_query().where(chats.c.id == chat_id))).first()
        if row is None:
            return None
        parts = (await self._conn.execute(
            select(cp.c.technician_id, cp.c.left_at).where(cp.c.chat_id == chat_id)
            .order_by(cp.c.joined_at, cp.c.technician_id))).all()
        return _chat_from(row, list(parts))

    async def load_chats(self, where: Any, order: Any, limit: int) -> list[Chat]:
        """Chats matching a condition, with participants, in one round trip for each table."""
        ordering = order if isinstance(order, tuple) else (order,)
        rows = (await self._conn.execute(_chat_query().where(where).order_by(*ordering).limit(limit))).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        parts = (await self._conn.execute(select(cp.c.chat_id, cp.c.technician_id, cp.c.left_at)
                                    .where(any_of(cp.c.chat_id, ids)).order_by(cp.c.joined_at))).all()
        by_chat: dict[int, list[Any]] = {}
        for p in parts:
            by_chat.setdefault(p.chat_id, []).append(p)
        return [_chat_from(r, by_chat.get(r.id, [])) for r in rows]

    async def list_visible(self, actor: Actor, state: str | None, after: int | None, limit: int) -> list[Chat]:
        """The chats an actor may list (see ``visible_to_*``): waiting ones longest-waiting first, else newest first."""
        if isinstance(actor, Technician):
            where = visible_to_technician(actor.id, sorted(actor.group_ids), state)
        else:
            where = visible_to_requester(actor.id, state)
        oldest_first = state == ChatState.WAITING.value
        if after is not None:
            where = where & (chats.c.id > after if oldest_first else chats.c.id < after)
        return await self.load_chats(where, chats.c.id.asc() if oldest_first else chats.c.id.desc(), limit)

    async def list_of_requester(self, requester_id: int, limit: int) -> list[Chat]:
        """A requester's chats, newest first."""
        return await self.load_chats(chats.c.requester_id == requester_id, chats.c.id.desc(), limit)

    async def load_chats_by_id(self, chat_ids: list[int]) -> list[Chat]:
        """These chats (those that exist), in id order."""
        return await self.load_chats(any_of(chats.c.id, sorted(chat_ids)), chats.c.id, len(chat_ids))

    async def claim_pickup(self, chat_id: int, tech_id: int, now: datetime) -> bool:
        """The single-winner pickup: only a still-waiting chat changes."""
        result = await self._conn.execute(update(chats).where(
            chats.c.id == chat_id, chats.c.state == ChatState.WAITING.value,
        ).values(state=ChatState.ACTIVE.value, owner_id=tech_id, picked_up_at=now, missed_due_at=None))
        return result.rowcount == 1

    async def join(self, chat_id: int, tech_id: int, now: datetime) -> bool:
        """Make the technician a participant (again); False if they already are one (a concurrent join won)."""
        result = await self._conn.execute(update(cp).where(
            cp.c.chat_id == chat_id, cp.c.technician_id == tech_id, cp.c.left_at.is_not(None),
        ).values(left_at=None, joined_at=now))
        if result.rowcount == 1:
            return True
        dialect_insert = postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        statement = dialect_insert(cp).values(chat_id=chat_id, technician_id=tech_id, joined_at=now)
        result = await self._conn.execute(statement.on_conflict_do_nothing())
        return result.rowcount == 1

    async def current_participant_ids(self, chat_id: int) -> list[int]:
        """The technicians taking part in the chat now, as stored."""
        rows = await self._conn.execute(select(cp.c.technician_id).where(cp.c.chat_id == chat_id,
                                                                         cp.c.left_at.is_(None)))
        return sorted(int(t) for t in rows.scalars())

    async def queue_stats(self) -> dict[int, tuple[int, datetime | None, int]]:
        """Per group: waiting chats, when the longest-waiting one started, active chats."""
        waiting = await self._conn.execute(
            select(chats.c.group_id, func.count(), func.min(chats.c.created_at))
            .where(chats.c.state == ChatState.WAITING.value).group_by(chats.c.group_id))
        active = await self._conn.execute(select(chats.c.group_id, func.count())
                                          .where(chats.c.state == ChatState.ACTIVE.value).group_by(chats.c.group_id))
        found: dict[int, tuple[int, datetime | None, int]] = {}
        for group_id, count, oldest in waiting.tuples():
            found[int(group_id)] = (int(count), _aware(oldest), 0)
        for group_id, count in active.tuples():
            waiting_count, oldest, _ = found.get(int(group_id), (0, None, 0))
            found[int(group_id)] = (waiting_count, oldest, int(count))
        return found

    # -- whispers ------------------------------------------------------------------------

    async def insert_whisper(self, chat_id: int, author: Author, body: str, now: datetime) -> Whisper:
        """Store a technicians-only message (no seq: it is not part of the timeline)."""
        result = await self._conn.execute(insert(whispers).values(
            chat_id=chat_id, author_id=author.id, author_name=author.name, body=body, created_at=now)
            .returning(whispers.c.id))
        return Whisper(int(result.scalar_one()), chat_id, author, body, now)

    async def list_whispers(self, chat_id: int, limit: int) -> list[Whisper]:
        """A chat's whispers, oldest first."""
        rows = await self._conn.execute(select(whispers).where(whispers.c.chat_id == chat_id)
                                        .order_by(whispers.c.id).limit(limit))
        return [Whisper(r.id, r.chat_id, Author("technician", r.author_id, r.author_name), r.body, r.created_at)
                for r in rows]

    async def leave(self, chat_id: int, tech_id: int, now: datetime) -> bool:
        """The technician is no longer a participant (but took part once); False if they had already left."""
        result = await self._conn.execute(update(cp).where(
            cp.c.chat_id == chat_id, cp.c.technician_id == tech_id, cp.c.left_at.is_(None),
        ).values(left_at=now))
        return result.rowcount == 1

    async def claim_transfer(self, chat_id: int, *, old_owner: int | None, new_owner: int,
                             group_id: int) -> bool:
        """Hand over an active chat, only if nobody changed its owner meanwhile."""
        result = await self._conn.execute(update(chats).where(
            chats.c.id == chat_id, chats.c.state == ChatState.ACTIVE.value, chats.c.owner_id == old_owner,
        ).values(owner_id=new_owner, group_id=group_id))
        return result.rowcount == 1

    async def claim_end(self, chat_id: int, now: datetime) -> str | None:
        """End an open chat; returns the state it had, or None if it was not open."""
        result = await self._conn.execute(update(chats).where(
            chats.c.id == chat_id, _is_open(),
        ).values(state=ChatState.ENDED.value, ended_at=now, missed_due_at=None).returning(chats.c.id))
        return "ended" if result.first() is not None else None

    async def claim_missed_many(self, chat_ids: list[int], now: datetime) -> set[int]:
        """Mark those of these chats that are still waiting and due missed; returns the ids this call won."""
        if not chat_ids:
            return set()
        result = await self._conn.execute(update(chats).where(
            any_of(chats.c.id, chat_ids), chats.c.state == ChatState.WAITING.value, chats.c.missed_due_at <= now,
        ).values(state=ChatState.MISSED.value, ended_at=now, missed_due_at=None).returning(chats.c.id))
        return {int(i) for i in result.scalars()}

    async def link_requests(self, request_of: dict[int, int]) -> None:
        """Link each chat to its new request (chats that have none)."""
        if request_of:
            await self._conn.execute(
                update(chats).where(chats.c.id == bindparam("cid"), chats.c.request_id.is_(None))
                .values(request_id=bindparam("rid")).execution_options(synchronize_session=False),
                [{"cid": c, "rid": r} for c, r in request_of.items()])

    async def take_next_seqs(self, chat_ids: list[int]) -> dict[int, int]:
        """Take one seq in each of these chats; returns chat id -> the new seq."""
        result = await self._conn.execute(update(chats).where(any_of(chats.c.id, chat_ids))
                                    .values(last_seq=chats.c.last_seq + 1).returning(chats.c.id, chats.c.last_seq))
        return {int(c): int(s) for c, s in result}

    async def requester_texts_many(self, chat_ids: list[int]) -> dict[int, list[str]]:
        """What the requester wrote in each chat, in order."""
        rows = await self._conn.execute(select(messages.c.chat_id, messages.c.body).where(
            any_of(messages.c.chat_id, chat_ids), messages.c.author_kind == "requester")
            .order_by(messages.c.chat_id, messages.c.seq))
        found: dict[int, list[str]] = {c: [] for c in chat_ids}
        for chat_id, body in rows:
            found[int(chat_id)].append(str(body))
        return found

    async def claim_request_link(self, chat_id: int, request_id: int, state: ChatState) -> bool:
        """Link a request to a chat that has none yet and is still in the state the caller decided on."""
        result = await self._conn.execute(update(chats).where(
            chats.c.id == chat_id, chats.c.request_id.is_(None), chats.c.state == state.value,
        ).values(request_id=request_id))
        return result.rowcount == 1

    async def linked_request_id(self, chat_id: int) -> int | None:
        """The request linked to a chat, as committed (read after a guarded UPDATE holds the row)."""
        value = (await self._conn.execute(select(chats.c.request_id).where(chats.c.id == chat_id))).scalar()
        return None if value is None else int(value)

    async def due_chat_ids(self, now: datetime, limit: int) -> list[int]:
        """Waiting chats whose missed-chat time has come, oldest first."""
        rows = await self._conn.execute(select(chats.c.id).where(
            chats.c.state == ChatState.WAITING.value, chats.c.missed_due_at <= now,
        ).order_by(chats.c.missed_due_at).limit(limit))
        return [int(r) for r in rows.scalars()]

    async def next_due_at(self) -> datetime | None:
        """When the next waiting chat falls due, if any."""
        value = (await self._conn.execute(select(func.min(chats.c.missed_due_at)).where(
            chats.c.state == ChatState.WAITING.value))).scalar()
        return value  # type: ignore[no-any-return]

    async def reschedule_waiting(self, timeout_seconds: int | None) -> None:
        """Set (or clear) the missed-chat due time of every waiting chat after a settings change."""
        waiting = chats.c.state == ChatState.WAITING.value
        if timeout_seconds is None:
            await self._conn.execute(update(chats).where(waiting).values(missed_due_at=None))
            return
        rows = (await self._conn.execute(select(chats.c.id, chats.c.created_at).where(waiting))).all()
        if rows:  # one statement run for every row (executemany), not a round trip per chat
            await self._conn.execute(
                update(chats).where(chats.c.id == bindparam("cid"), waiting)
                .values(missed_due_at=bindparam("due")).execution_options(synchronize_session=False),
                [{"cid": row.id, "due": row.created_at + timedelta(seconds=timeout_seconds)} for row in rows])

    async def take_seq(self, chat_id: int, *, open_only: bool) -> int | None:
        """Take the chat's next seq in this transaction (None if the chat is no longer open)."""
        cond = [chats.c.id == chat_id]
        if open_only:
            cond.append(_is_open())
        result = await self._conn.execute(update(chats).where(*cond).values(last_seq=chats.c.last_seq + 1)
                                    .returning(chats.c.last_seq))
        value = result.scalar()
        return None if value is None else int(value)

    async def take_seqs(self, counts: dict[int, int]) -> dict[int, int]:
        """Take ``counts[chat]`` seqs in each open chat; returns each open chat's new last seq.

        PostgreSQL: one statement, so concurrent processes lock the rows in one order (id order). SQLite
        (one writer at a time, so no lock order to keep): one statement per distinct count, usually one
        or two, since SQLite has no arrays and pairing through JSON costs a parse per row.
        """
        if not counts:
            return {}
        if self._conn.dialect.name == "postgresql":
            groups: list[tuple[list[int], Any]] = [(sorted(counts), value_for(chats.c.id, counts))]
        else:
            by_count: dict[int, list[int]] = {}
            for chat_id, n in sorted(counts.items()):
                by_count.setdefault(n, []).append(chat_id)
            groups = [(ids, bindparam("n", n, type_=Integer)) for n, ids in sorted(by_count.items())]
        taken: dict[int, int] = {}
        for ids, increment in groups:
            result = await self._conn.execute(update(chats).where(any_of(chats.c.id, ids), _is_open())
                                        .values(last_seq=chats.c.last_seq + increment)
                                        .returning(chats.c.id, chats.c.last_seq))
            taken.update((int(c), int(s)) for c, s in result)
        return taken

    async def insert_message(self, *, chat_id: int, seq: int, author: Author, body: str,
                             now: datetime, event: str | None = None,
                             client_msg_id: str | None = None, attachment: Attachment | None = None) -> Message:
        """Store one timeline message (text, system, or a file whose name is ``body``) and return it."""
        kind = "system" if event else "attachment" if attachment else "text"
        values = {
            "chat_id": chat_id, "seq": seq, "kind": kind, "event": event,
            "author_kind": author.kind, "author_id": author.id, "author_name": author.name, "body": body,
            "client_msg_id": client_msg_id, "created_at": now,
            "attachment_id": attachment.id if attachment else None,
            "attachment_type": attachment.content_type if attachment else None,
            "attachment_size": attachment.size if attachment else None,
        }
        result = await self._conn.execute(insert(messages).values(**values).returning(messages.c.id))
        return _inserted(int(result.scalar_one()), values)

    async def insert_messages(self, items: list[dict[str, Any]], now: datetime) -> list[Message]:
        """Store messages in one statement; returns them in the given order."""
        if not items:
            return []
        values = [{"chat_id": i["chat_id"], "seq": i["seq"], "kind": "system" if i.get("event") else "text",
                   "event": i.get("event"),
                   "author_kind": i["author"].kind, "author_id": i["author"].id, "author_name": i["author"].name,
                   "body": i["body"], "client_msg_id": i["client_msg_id"], "created_at": now} for i in items]
        statement = insert(messages).returning(messages.c.id, sort_by_parameter_order=True)
        result = await self._conn.execute(statement, values)
        return [_inserted(int(row_id), v) for row_id, v in zip(result.scalars(), values, strict=True)]

    async def find_by_client_msg_ids(self, keys: list[tuple[int, str]]) -> dict[tuple[int, str], Message]:
        """Messages already sent under these (chat_id, client_msg_id) pairs."""
        if not keys:
            return {}
        chat_ids = sorted({k[0] for k in keys})
        msg_ids = sorted({k[1] for k in keys})
        rows = await self._conn.execute(select(messages).where(any_of(messages.c.chat_id, chat_ids),
                                                         any_of(messages.c.client_msg_id, msg_ids)))
        wanted = set(keys)
        return {(r.chat_id, r.client_msg_id): _message(r) for r in rows if (r.chat_id, r.client_msg_id) in wanted}

    async def find_by_client_msg_id(self, chat_id: int, client_msg_id: str) -> Message | None:
        """The message sent under this client_msg_id in the chat, if any."""
        return (await self.find_by_client_msg_ids([(chat_id, client_msg_id)])).get((chat_id, client_msg_id))

    # -- the queue -------------------------------------------------------------------

    async def waiting_ids(self, group_ids: list[int]) -> dict[int, list[int]]:
        """Each group's waiting chats, longest-waiting first (position 1 first)."""
        if not group_ids:
            return {}
        rows = await self._conn.execute(
            select(chats.c.group_id, chats.c.id)
            .where(chats.c.state == ChatState.WAITING.value, any_of(chats.c.group_id, sorted(set(group_ids))))
            .order_by(chats.c.created_at, chats.c.id))
        found: dict[int, list[int]] = {g: [] for g in group_ids}
        for group_id, chat_id in rows.tuples():
            found[int(group_id)].append(int(chat_id))
        return found

    async def waiting_in_group(self, group_id: int, limit: int) -> list[Chat]:
        """A group's waiting chats, longest-waiting first."""
        where = and_(chats.c.group_id == group_id, chats.c.state == ChatState.WAITING.value)
        return await self.load_chats(where, (chats.c.created_at, chats.c.id), limit)

    async def recent_pickup_waits(self, group_id: int, since: datetime, limit: int) -> list[float]:
        """Seconds from start to pickup of a group's latest pickups since ``since``, newest first."""
        rows = await self._conn.execute(
            select(chats.c.created_at, chats.c.picked_up_at)
            .where(chats.c.group_id == group_id, chats.c.picked_up_at.is_not(None), chats.c.picked_up_at >= since)
            .order_by(chats.c.picked_up_at.desc()).limit(limit))
        return [max(0.0, (picked - created).total_seconds()) for created, picked in rows.tuples()]

    # -- ratings ---------------------------------------------------------------------

    async def claim_rating(self, chat_id: int, score: int, comment: str | None, now: datetime) -> bool:
        """Store the rating of an ended chat that has none yet; False if another one came first."""
        result = await self._conn.execute(
            update(chats).where(chats.c.id == chat_id, chats.c.state == ChatState.ENDED.value,
                                chats.c.rating_score.is_(None))
            .values(rating_score=score, rating_comment=comment, rated_at=now))
        return bool(result.rowcount)

    async def list_messages(self, chat_id: int, after_seq: int, limit: int) -> list[Message]:
        """Timeline messages after a seq, in seq order."""
        rows = await self._conn.execute(select(messages).where(
            messages.c.chat_id == chat_id, messages.c.seq > after_seq).order_by(messages.c.seq).limit(limit))
        return [_message(r) for r in rows]
