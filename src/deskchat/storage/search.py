"""The search index: documents kept up to date by the indexer, searched with the database's own full-text
engine (SQLite FTS5 with ``bm25``/``snippet``; PostgreSQL ``tsvector``/``ts_rank``/``ts_headline``), with the
caller's read rights inside the query.

Queries reach the engines only as words: every token is letters and digits, quoted for FTS5 and
joined by the engine's own AND / OR, so no operator, wildcard or quote in what a user types changes the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, column, exists, func, literal_column, or_, select, table, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.domain.people import Technician
from deskchat.storage.tables import chat_participants as cp
from deskchat.storage.tables import chats, messages, notes, requests, search_documents

MARK_START, MARK_END = "\x02", "\x03"  # around a highlighted word in snippets (stripped from indexed text)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_WORDS = 24
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def words(query: str) -> list[str]:
    """The words of a query: letters and digits only, lower case, each once, at most 24."""
    return list(dict.fromkeys(w.lower()[:60] for w in _WORD.findall(query)))[:MAX_WORDS]


def clean(value: str) -> str:
    """Indexed text never holds control characters (the snippet markers among them)."""
    return _CONTROL.sub(" ", value)


@dataclass(frozen=True)
class Hit:
    """One search result as the engine found it (the snippet still marked)."""

    kind: str
    ref_id: int
    title: str
    snippet: str
    score: float


def _readable(tech: Technician) -> Any:
    """SQL: the document is a request or chat the technician may read (what the services check one by one)."""
    if tech.is_admin:
        return true()
    groups = sorted(tech.group_ids) or [-1]
    request_ok = exists().where(requests.c.id == search_documents.c.ref_id,
                                or_(requests.c.group_id.in_(groups), requests.c.technician_id == tech.id))
    took_part = exists().where(cp.c.chat_id == search_documents.c.ref_id, cp.c.technician_id == tech.id)
    chat_ok = exists().where(chats.c.id == search_documents.c.ref_id,
                             or_(chats.c.group_id.in_(groups), took_part))
    return or_(and_(search_documents.c.kind == "request", request_ok),
               and_(search_documents.c.kind == "chat", chat_ok))


class SearchRepository:
    """The index's documents, what the indexer has left to do, and the searches."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    @property
    def _postgres(self) -> bool:
        return self._conn.dialect.name == "postgresql"

    # -- indexing ------------------------------------------------------------------------

    async def unindexed_chats(self, limit: int) -> list[tuple[int, int]]:
        """(chat id, last seq) of chats whose text grew since they were indexed."""
        rows = await self._conn.execute(select(chats.c.id, chats.c.last_seq)
                                        .where(chats.c.last_seq > chats.c.indexed_seq).order_by(chats.c.id)
                                        .limit(limit))
        return [(int(c), int(s)) for c, s in rows.tuples()]

    async def chat_document(self, chat_id: int) -> tuple[str, str]:
        """A chat's title (its subject) and body (its text messages, in order)."""
        subject = (await self._conn.execute(select(chats.c.subject).where(chats.c.id == chat_id))).scalar_one()
        rows = await self._conn.execute(select(messages.c.body).where(messages.c.chat_id == chat_id,
                                                                      messages.c.kind == "text")
                                        .order_by(messages.c.seq))
        return clean(str(subject)), clean("\n".join(str(b) for b in rows.scalars()))

    async def mark_chat_indexed(self, chat_id: int, seq: int) -> None:
        """The index has the chat's text up to ``seq`` (never moves back)."""
        await self._conn.execute(update(chats).where(chats.c.id == chat_id, chats.c.indexed_seq < seq)
                                 .values(indexed_seq=seq))

    async def unindexed_requests(self, limit: int) -> list[int]:
        """Requests that are new, or whose subject, description or notes changed since they were indexed."""
        rows = await self._conn.execute(select(requests.c.id).where(
            or_(requests.c.indexed_at.is_(None), requests.c.indexed_at < requests.c.content_changed_at))
            .order_by(requests.c.id).limit(limit))
        return [int(r) for r in rows.scalars()]

    async def request_document(self, request_id: int) -> tuple[str, str]:
        """A request's title (its subject) and body (description and notes)."""
        row = (await self._conn.execute(select(requests.c.subject, requests.c.description)
                                        .where(requests.c.id == request_id))).one()
        bodies = await self._conn.execute(select(notes.c.body).where(notes.c.request_id == request_id)
                                          .order_by(notes.c.id))
        return clean(str(row.subject)), clean("\n".join([str(row.description), *(str(b) for b in bodies.scalars())]))

    async def mark_request_indexed(self, request_id: int, now: datetime) -> None:
        """The index has the request as of ``now``."""
        await self._conn.execute(update(requests).where(requests.c.id == request_id).values(indexed_at=now))

    async def put_document(self, kind: str, ref_id: int, title: str, body: str) -> None:
        """Insert or replace the document of a request or chat."""
        dialect_insert = postgresql.insert if self._postgres else sqlite.insert
        statement: Any = dialect_insert(search_documents).values(kind=kind, ref_id=ref_id, title=title, body=body)
        await self._conn.execute(statement.on_conflict_do_update(
            index_elements=[search_documents.c.kind, search_documents.c.ref_id],
            set_={"title": statement.excluded.title, "body": statement.excluded.body}))

    # -- searching ---------------------------------------------------------------------------

    async def search(self, tech: Technician, terms: list[str], limit: int, *, any_word: bool = False,
                     kind: str | None = None, resolved_in_groups: list[int] | None = None) -> list[Hit]:
        """Documents the technician may read that hold every word (``any_word``: at least one), best first."""
        if not terms:
            return []
        where = [_readable(tech)]
        if kind is not None:
            where.append(search_documents.c.kind == kind)
        if resolved_in_groups is not None:
            where.append(exists().where(requests.c.id == search_documents.c.ref_id,
                                        requests.c.status.in_(["resolved", "closed"]),
                                        requests.c.group_id.in_(resolved_in_groups or [-1])))
        return await (self._search_postgres if self._postgres else self._search_sqlite)(terms, where, limit, any_word)

    async def _search_sqlite(self, terms: list[str], where: list[Any], limit: int, any_word: bool) -> list[Hit]:
        match = (" OR " if any_word else " ").join(f'"{t}"' for t in terms)  # each a quoted string: no operators
        fts = table("search_fts", column("rowid"))
        score = (-func.bm25(literal_column("search_fts"), 5.0, 1.0)).label("score")
        snippet = func.snippet(literal_column("search_fts"), -1, MARK_START, MARK_END, "…", 16).label("snippet")
        query = (select(search_documents.c.kind, search_documents.c.ref_id, search_documents.c.title, snippet, score)
                 .select_from(search_documents.join(fts, fts.c.rowid == search_documents.c.id))
                 .where(literal_column("search_fts").op("MATCH")(match), *where)
                 .order_by(score.desc(), search_documents.c.id.desc()).limit(limit))
        rows = await self._conn.execute(query)
        return [Hit(r.kind, int(r.ref_id), r.title, r.snippet or "", float(r.score)) for r in rows]

    async def _search_postgres(self, terms: list[str], where: list[Any], limit: int, any_word: bool) -> list[Hit]:
        tsquery = func.to_tsquery("english", (" | " if any_word else " & ").join(terms))  # words only: no operators
        tsv: Any = literal_column("search_documents.tsv")
        options = f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=28, MinWords=8, MaxFragments=1"
        snippet = func.ts_headline("english", search_documents.c.body, tsquery, options).label("snippet")
        score = func.ts_rank(tsv, tsquery).label("score")
        query = (select(search_documents.c.kind, search_documents.c.ref_id, search_documents.c.title, snippet, score)
                 .where(tsv.op("@@")(tsquery), *where)
                 .order_by(score.desc(), search_documents.c.id.desc()).limit(limit))
        rows = await self._conn.execute(query)
        return [Hit(r.kind, int(r.ref_id), r.title, r.snippet or "", float(r.score)) for r in rows]
