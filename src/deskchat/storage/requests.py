"""Incident requests and their notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.domain.chat import Rating
from deskchat.domain.people import Author, Requester, Technician
from deskchat.domain.request import Note, Request, RequestSource, RequestStatus
from deskchat.storage.tables import chats, notes, requesters, requests

_COLUMNS = (requests, requesters.c.name.label("r_name"), requesters.c.email.label("r_email"),
            requesters.c.verified.label("r_verified"), chats.c.rating_score, chats.c.rating_comment,
            chats.c.rated_at)


def _request(row: Any) -> Request:
    """A stored request with its requester."""
    return Request(id=row.id, subject=row.subject, description=row.description, status=RequestStatus(row.status),
                   source=RequestSource(row.source), requester=Requester(row.requester_id, row.r_name, row.r_email,
                                                                      bool(row.r_verified)),
                   group_id=row.group_id, technician_id=row.technician_id, chat_id=row.chat_id,
                   created_at=row.created_at, updated_at=row.updated_at,
                   chat_rating=(Rating(row.rating_score, row.rating_comment, row.rated_at)
                                if row.rating_score is not None else None))


def _note(row: Any) -> Note:
    """A stored note (a row, or the values just inserted with their id)."""
    return Note(id=row.id, request_id=row.request_id, author=Author(row.author_kind, row.author_id, row.author_name),
                body=row.body, created_at=row.created_at)


def _query() -> Any:
    return (select(*_COLUMNS).join(requesters, requesters.c.id == requests.c.requester_id)
            .outerjoin(chats, chats.c.id == requests.c.chat_id))


def visible_condition(tech_id: int, group_ids: list[int], is_admin: bool) -> Any:
    """Requests of my groups and those assigned to me; admins all."""
    if is_admin:
        return requests.c.id.is_not(None)
    return or_(requests.c.group_id.in_(group_ids), requests.c.technician_id == tech_id)


class RequestRepository:
    """Incident requests and their notes."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert_request(self, *, subject: str, description: str, source: str,
                             requester_id: int, group_id: int | None, technician_id: int | None,
                             chat_id: int | None, now: datetime) -> int:
        """Store a new open request."""
        result = await self._conn.execute(insert(requests).values(
            subject=subject, description=description, status="open", source=source, requester_id=requester_id,
            group_id=group_id, technician_id=technician_id, chat_id=chat_id, created_at=now, updated_at=now,
        ).returning(requests.c.id))
        return int(result.scalar_one())

    async def insert_requests(self, items: list[dict[str, Any]], now: datetime) -> list[int]:
        """Store open requests in one statement; returns their ids in the given order."""
        values = [{**item, "status": "open", "created_at": now, "updated_at": now} for item in items]
        statement = insert(requests).returning(requests.c.id, sort_by_parameter_order=True)
        result = await self._conn.execute(statement, values)
        return [int(i) for i in result.scalars()]

    async def load_request(self, request_id: int) -> Request | None:
        """One request in the API's shape, or None."""
        row = (await self._conn.execute(_query().where(requests.c.id == request_id))).first()
        return _request(row) if row else None

    async def load_requests(self, request_ids: list[int]) -> list[Request]:
        """Several requests, in id order."""
        if not request_ids:
            return []
        rows = await self._conn.execute(_query().where(requests.c.id.in_(request_ids)).order_by(requests.c.id))
        return [_request(r) for r in rows]

    async def list_requests(self, where: list[Any], limit: int) -> list[Request]:
        """Requests matching every condition, newest first."""
        rows = await self._conn.execute(_query().where(*where).order_by(requests.c.id.desc()).limit(limit))
        return [_request(r) for r in rows]

    async def list_visible(self, tech: Technician, *, source: str | None, status: str | None,
                           after: int | None, limit: int) -> list[Request]:
        """Requests of the technician's groups and assigned to them (admins: all), newest first, filtered."""
        where = [visible_condition(tech.id, sorted(tech.group_ids), tech.is_admin)]
        if source:
            where.append(requests.c.source == source)
        if status:
            where.append(requests.c.status == status)
        if after is not None:
            where.append(requests.c.id < after)
        return await self.list_requests(where, limit)

    async def list_of_requester(self, requester_id: int, after: int | None, limit: int) -> list[Request]:
        """A requester's requests, newest first, older than ``after`` when given."""
        where = [requests.c.requester_id == requester_id]
        if after is not None:
            where.append(requests.c.id < after)
        return await self.list_requests(where, limit)

    async def update_request(self, request_id: int, values: dict[str, Any]) -> None:
        """Change stored fields of a request (a new subject is news for the search index)."""
        if "subject" in values:
            values = {**values, "content_changed_at": values.get("updated_at", func.now())}
        await self._conn.execute(update(requests).where(requests.c.id == request_id).values(**values))

    async def insert_note(self, request_id: int, author: Author, body: str,
                          now: datetime) -> Note:
        """Store a note on a request and return it."""
        values = {"request_id": request_id, "author_kind": author.kind, "author_id": author.id,
                  "author_name": author.name, "body": body, "created_at": now}
        result = await self._conn.execute(insert(notes).values(**values).returning(notes.c.id))
        await self._conn.execute(update(requests).where(requests.c.id == request_id).values(content_changed_at=now))
        return Note(id=int(result.scalar_one()), request_id=request_id, author=author, body=body, created_at=now)

    async def list_notes(self, request_id: int, after: int | None, limit: int) -> list[Note]:
        """A request's notes, newest first, older than the note ``after`` when given."""
        where = [notes.c.id < after] if after is not None else []
        rows = await self._conn.execute(select(notes).where(notes.c.request_id == request_id, *where)
                                        .order_by(notes.c.id.desc()).limit(limit))
        return [_note(r) for r in rows]
