"""Technicians, groups, requesters, tokens and presence rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.domain.hours import BusinessHours
from deskchat.domain.people import Group, Requester, Role, Routing, Status, StoredToken, Technician
from deskchat.storage.errors import duplicates
from deskchat.storage.tables import chat_participants as cp
from deskchat.storage.tables import chats, group_members, groups, presence, requesters, technicians, tokens

# -- technicians -----------------------------------------------------------------------


def _tech(row: Any, group_ids: frozenset[int]) -> Technician:
    return Technician(row.id, row.name, row.email, Role(row.role), Status(row.status), group_ids, bool(row.active),
                      row.max_chats)


# -- groups ----------------------------------------------------------------------------


def _group(row: Any) -> Group:
    return Group(row.id, row.name, row.description, BusinessHours.loads(row.business_hours), Routing(row.routing))


def member_of_condition(group_id: int) -> Any:
    """SQL: the technician belongs to the group."""
    return technicians.c.id.in_(select(group_members.c.technician_id)
                                .where(group_members.c.group_id == group_id))


# -- requesters and tokens -------------------------------------------------------------


# -- presence --------------------------------------------------------------------------

def online_condition(now: datetime, ttl_seconds: float) -> Any:
    """SQL: the technician's status is online and some live process holds a socket of theirs."""
    fresh = now - timedelta(seconds=ttl_seconds)
    live = exists().where(presence.c.technician_id == technicians.c.id, presence.c.seen_at > fresh,
                          presence.c.sockets > 0)
    return and_(technicians.c.status == Status.ONLINE.value, live)


class PeopleRepository:
    """Technicians, groups, requesters, tokens and presence."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _group_ids(self, tech_ids: list[int]) -> dict[int, frozenset[int]]:
        rows = await self._conn.execute(select(group_members).where(group_members.c.technician_id.in_(tech_ids)))
        found: dict[int, set[int]] = {t: set() for t in tech_ids}
        for r in rows:
            found[r.technician_id].add(r.group_id)
        return {t: frozenset(g) for t, g in found.items()}

    async def load_technicians(self, where: Any = None, limit: int = 1000) -> list[Technician]:
        """Technicians (with their groups) matching a condition, newest first."""
        query = select(technicians).order_by(technicians.c.id.desc()).limit(limit)
        rows = (await self._conn.execute(query.where(where) if where is not None else query)).all()
        groups_of = await self._group_ids([r.id for r in rows]) if rows else {}
        return [_tech(r, groups_of[r.id]) for r in rows]

    async def list_technicians(self, *, online: bool | None, group_id: int | None, after: int | None,
                               limit: int, now: datetime, ttl: float) -> list[Technician]:
        """Technicians, newest first: online or not (None: all), of a group, older than ``after``."""
        where = []
        if online is not None:
            cond = online_condition(now, ttl)
            where.append(cond if online else ~cond)
        if group_id is not None:
            where.append(member_of_condition(group_id))
        if after is not None:
            where.append(technicians.c.id < after)
        return await self.load_technicians(and_(true(), *where), limit)

    async def technician_by_email(self, email: str) -> Technician | None:
        """The technician with this login email, or None."""
        found = await self.load_technicians(technicians.c.email == email.lower(), 1)
        return found[0] if found else None

    async def load_technician(self, tech_id: int) -> Technician | None:
        """One technician, or None."""
        found = await self.load_technicians(technicians.c.id == tech_id)
        return found[0] if found else None

    async def password_hash_of(self, email: str) -> tuple[int, str] | None:
        """The id and password hash for a login email (active technicians only)."""
        row = (await self._conn.execute(select(technicians.c.id, technicians.c.password_hash)
                                  .where(technicians.c.email == email.lower(), technicians.c.active))).first()
        return (row.id, row.password_hash) if row else None

    async def insert_technician(self, *, name: str, email: str, password_hash: str,
                                role: Role, now: datetime) -> int:
        """Store a new technician (status offline)."""
        with duplicates():
            result = await self._conn.execute(insert(technicians).values(
                name=name, email=email.lower(), password_hash=password_hash, role=role.value,
                status=Status.OFFLINE.value, created_at=now).returning(technicians.c.id))
            return int(result.scalar_one())

    async def email_taken(self, email: str, except_id: int | None = None) -> bool:
        """True if another technician has this email."""
        cond = technicians.c.email == email.lower()
        if except_id is not None:
            cond = and_(cond, technicians.c.id != except_id)
        return bool((await self._conn.execute(select(exists().where(cond)))).scalar())

    async def update_technician(self, tech_id: int, values: dict[str, Any]) -> None:
        """Change stored fields of a technician."""
        if values:
            with duplicates():
                await self._conn.execute(update(technicians).where(technicians.c.id == tech_id).values(**values))

    async def set_groups(self, tech_id: int, group_ids: list[int]) -> None:
        """Replace a technician's group membership."""
        await self._conn.execute(delete(group_members).where(group_members.c.technician_id == tech_id))
        if group_ids:
            await self._conn.execute(insert(group_members), [
                {"group_id": g, "technician_id": tech_id} for g in sorted(set(group_ids))])

    async def any_admin(self) -> bool:
        """True if an admin account exists."""
        return bool((await self._conn.execute(select(exists().where(technicians.c.role == Role.ADMIN.value)))).scalar())

    async def active_chat_counts(self, tech_ids: list[int]) -> dict[int, int]:
        """How many active chats each technician takes part in now."""
        rows = await self._conn.execute(
            select(cp.c.technician_id, func.count()).join(chats, chats.c.id == cp.c.chat_id)
            .where(cp.c.technician_id.in_(tech_ids), cp.c.left_at.is_(None), chats.c.state == "active")
            .group_by(cp.c.technician_id))
        return {int(t): int(n) for t, n in rows.tuples()}

    async def list_groups(self, after: int | None, limit: int) -> list[Group]:
        """Groups, newest first, older than the group ``after`` when given."""
        query = select(groups).order_by(groups.c.id.desc()).limit(limit)
        rows = await self._conn.execute(query.where(groups.c.id < after) if after is not None else query)
        return [_group(r) for r in rows]

    async def load_group(self, group_id: int) -> Group | None:
        """One group, or None."""
        row = (await self._conn.execute(select(groups).where(groups.c.id == group_id))).first()
        return _group(row) if row else None

    async def insert_group(self, name: str, description: str, now: datetime) -> int:
        """Store a new group."""
        with duplicates():
            result = await self._conn.execute(insert(groups).values(name=name, description=description, created_at=now)
                                        .returning(groups.c.id))
            return int(result.scalar_one())

    async def group_name_taken(self, name: str, except_id: int | None = None) -> bool:
        """True if another group has this name."""
        cond = func.lower(groups.c.name) == name.lower()
        if except_id is not None:
            cond = and_(cond, groups.c.id != except_id)
        return bool((await self._conn.execute(select(exists().where(cond)))).scalar())

    async def update_group(self, group_id: int, values: dict[str, Any]) -> None:
        """Change a group's name or description."""
        if values:
            with duplicates():
                await self._conn.execute(update(groups).where(groups.c.id == group_id).values(**values))

    async def group_has_chats(self, group_id: int) -> bool:
        """True if any chat belongs to the group."""
        return bool((await self._conn.execute(select(exists().where(chats.c.group_id == group_id)))).scalar())

    async def delete_group(self, group_id: int) -> None:
        """Remove a group; its members are simply removed from it."""
        await self._conn.execute(delete(group_members).where(group_members.c.group_id == group_id))
        await self._conn.execute(delete(groups).where(groups.c.id == group_id))

    async def existing_group_ids(self, group_ids: list[int]) -> set[int]:
        """Which of these group ids exist."""
        rows = await self._conn.execute(select(groups.c.id).where(groups.c.id.in_(group_ids)))
        return {int(g) for g in rows.scalars()}

    async def member_ids(self, group_id: int) -> list[int]:
        """Technicians of a group."""
        query = select(group_members.c.technician_id).where(group_members.c.group_id == group_id)
        rows = await self._conn.execute(query)
        return [int(t) for t in rows.scalars()]

    async def members_of_groups(self, group_ids: set[int]) -> dict[int, list[int]]:
        """Technicians of each of these groups."""
        rows = await self._conn.execute(select(group_members).where(group_members.c.group_id.in_(sorted(group_ids))))
        found: dict[int, list[int]] = {}
        for row in rows:
            found.setdefault(row.group_id, []).append(row.technician_id)
        return found

    async def insert_requester(self, name: str, email: str, now: datetime) -> Requester:
        """Store a new requester."""
        result = await self._conn.execute(insert(requesters).values(name=name, email=email, created_at=now)
                                    .returning(requesters.c.id))
        return Requester(int(result.scalar_one()), name, email)

    async def verified_requester(self, email: str) -> Requester | None:
        """The verified requester of this email (compared case-insensitively), or None."""
        row = (await self._conn.execute(select(requesters).where(
            requesters.c.verified, func.lower(requesters.c.email) == email.lower()))).first()
        return Requester(row.id, row.name, row.email, True) if row else None

    async def insert_verified_requester(self, name: str, email: str, now: datetime) -> Requester:
        """Store the verified requester of an email (Duplicate if a concurrent sign-in stored it first)."""
        with duplicates():
            result = await self._conn.execute(insert(requesters).values(
                name=name, email=email, created_at=now, verified=True).returning(requesters.c.id))
            return Requester(int(result.scalar_one()), name, email, True)

    async def rename_requester(self, requester_id: int, name: str) -> None:
        """A later sign-in may bring a new display name."""
        await self._conn.execute(update(requesters).where(requesters.c.id == requester_id).values(name=name))

    async def load_requester(self, requester_id: int) -> Requester | None:
        """One requester, or None."""
        row = (await self._conn.execute(select(requesters).where(requesters.c.id == requester_id))).first()
        return Requester(row.id, row.name, row.email, bool(row.verified)) if row else None

    async def insert_token(self, token_hash: str, now: datetime, *,
                           technician_id: int | None = None, requester_id: int | None = None) -> int:
        """Store a token's hash for a technician or a requester."""
        result = await self._conn.execute(insert(tokens).values(
            token_hash=token_hash, technician_id=technician_id, requester_id=requester_id, created_at=now,
        ).returning(tokens.c.id))
        return int(result.scalar_one())

    async def lookup_token(self, *, token_hash: str | None = None, token_id: int | None = None) -> StoredToken | None:
        """The unrevoked token (by hash or id) with its requester for a visitor token, or None."""
        query = (select(tokens.c.id, tokens.c.technician_id, tokens.c.requester_id, tokens.c.created_at,
                        tokens.c.last_used_at, requesters.c.name.label("r_name"), requesters.c.email.label("r_email"),
                        requesters.c.verified.label("r_verified"))
                 .outerjoin(requesters, requesters.c.id == tokens.c.requester_id)
                 .where(tokens.c.revoked_at.is_(None)))
        query = query.where(tokens.c.token_hash == token_hash) if token_hash is not None else query.where(
            tokens.c.id == token_id)
        row = (await self._conn.execute(query)).first()
        if row is None:
            return None
        requester = (Requester(row.requester_id, row.r_name, row.r_email, bool(row.r_verified))
                     if row.requester_id is not None else None)
        return StoredToken(row.id, row.created_at, row.last_used_at, row.technician_id, requester)

    async def touch_token(self, token_id: int, now: datetime) -> None:
        """Record that a token was used (for idle expiry)."""
        await self._conn.execute(update(tokens).where(tokens.c.id == token_id).values(last_used_at=now))

    async def revoke_token(self, token_id: int, now: datetime) -> None:
        """A revoked token no longer authenticates."""
        await self._conn.execute(update(tokens).where(tokens.c.id == token_id).values(revoked_at=now))

    async def revoke_technician_tokens(self, tech_id: int, now: datetime,
                                       keep_token_id: int | None = None) -> None:
        """Revoke every live token of a technician, except ``keep_token_id``."""
        where = and_(tokens.c.technician_id == tech_id, tokens.c.revoked_at.is_(None))
        if keep_token_id is not None:
            where = and_(where, tokens.c.id != keep_token_id)
        await self._conn.execute(update(tokens).where(where).values(revoked_at=now))

    async def requester_chats_open_since(self, requester_id: int, since: datetime) -> bool:
        """True if the requester has a chat that has not ended, or ended after ``since``."""
        cond = and_(chats.c.requester_id == requester_id, or_(chats.c.ended_at.is_(None), chats.c.ended_at > since))
        return bool((await self._conn.execute(select(exists().where(cond)))).scalar())

    async def online_ids(self, tech_ids: list[int], now: datetime, ttl: float) -> set[int]:
        """Which of these technicians are online."""
        if not tech_ids:
            return set()
        rows = await self._conn.execute(select(technicians.c.id).where(
            technicians.c.id.in_(tech_ids), online_condition(now, ttl)))
        return {int(t) for t in rows.scalars()}

    async def online_in_group(self, group_id: int, now: datetime, ttl: float) -> list[int]:
        """Online technicians of a group."""
        rows = await self._conn.execute(
            select(technicians.c.id).join(group_members, group_members.c.technician_id == technicians.c.id)
            .where(group_members.c.group_id == group_id, online_condition(now, ttl)))
        return [int(t) for t in rows.scalars()]

    # -- capacity and auto-assign -----------------------------------------------------

    async def take_seat(self, tech_id: int) -> bool:
        """Count one more active chat for the technician, only while under their limit: the capacity guard.

        On PostgreSQL the row stays locked until commit and a concurrent guard re-reads it, so two processes
        can never both fill the last seat.
        """
        result = await self._conn.execute(update(technicians).where(
            technicians.c.id == tech_id,
            or_(technicians.c.max_chats.is_(None), technicians.c.open_chats < technicians.c.max_chats))
            .values(open_chats=technicians.c.open_chats + 1))
        return result.rowcount == 1

    async def release_seats(self, tech_ids: list[int]) -> None:
        """One active chat less for each (in id order: transactions lock technicians in one order)."""
        for tech_id in sorted(set(tech_ids)):
            await self._conn.execute(update(technicians).where(technicians.c.id == tech_id,
                                                               technicians.c.open_chats > 0)
                                     .values(open_chats=technicians.c.open_chats - 1))

    async def mark_assigned(self, tech_id: int, now: datetime) -> None:
        """Remember the technician's latest pickup or assignment (auto-assign's tie-break)."""
        await self._conn.execute(update(technicians).where(technicians.c.id == tech_id)
                                 .values(last_assigned_at=now))

    async def open_chat_counts(self, tech_ids: list[int]) -> dict[int, int]:
        """The active chats each technician takes part in, as the capacity guard counts them."""
        if not tech_ids:
            return {}
        rows = await self._conn.execute(select(technicians.c.id, technicians.c.open_chats)
                                        .where(technicians.c.id.in_(tech_ids)))
        return {int(t): int(n) for t, n in rows.tuples()}

    async def assignable(self, group_id: int, now: datetime, ttl: float) -> list[Technician]:
        """Online technicians of the group under their limit: fewest active chats first, then the one whose last
        pickup or assignment is oldest (never first)."""
        query = (select(technicians.c.id)
                 .join(group_members, group_members.c.technician_id == technicians.c.id)
                 .where(group_members.c.group_id == group_id, technicians.c.active, online_condition(now, ttl),
                        or_(technicians.c.max_chats.is_(None), technicians.c.open_chats < technicians.c.max_chats))
                 .order_by(technicians.c.open_chats, technicians.c.last_assigned_at.is_not(None),
                           technicians.c.last_assigned_at, technicians.c.id))
        ids = [int(t) for t in (await self._conn.execute(query)).scalars()]
        found = {t.id: t for t in await self.load_technicians(technicians.c.id.in_(ids))} if ids else {}
        return [found[i] for i in ids if i in found]

    async def auto_assign_groups_waiting(self) -> list[int]:
        """Groups that auto-assign and have waiting chats."""
        waiting = exists().where(chats.c.group_id == groups.c.id, chats.c.state == "waiting")
        rows = await self._conn.execute(select(groups.c.id).where(groups.c.routing == Routing.AUTO_ASSIGN.value,
                                                                  waiting).order_by(groups.c.id))
        return [int(g) for g in rows.scalars()]

    async def online_counts(self, now: datetime, ttl: float) -> dict[int, int]:
        """Online technicians per group."""
        rows = await self._conn.execute(
            select(group_members.c.group_id, func.count()).join(
                technicians, technicians.c.id == group_members.c.technician_id)
            .where(online_condition(now, ttl)).group_by(group_members.c.group_id))
        return {int(g): int(n) for g, n in rows.tuples()}

    def _upsert_presence(self, rows: list[dict[str, Any]]) -> Any:
        """INSERT presence rows, or refresh the ones that exist (two sockets may register at once)."""
        dialect_insert = postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        stmt: Any = dialect_insert(presence).values(rows)
        return stmt.on_conflict_do_update(index_elements=[presence.c.process_id, presence.c.technician_id],
                                          set_={"sockets": stmt.excluded.sockets, "seen_at": stmt.excluded.seen_at})

    async def set_presence(self, process_id: str, tech_id: int, sockets: int,
                           now: datetime) -> None:
        """Record how many live sockets this process holds for a technician."""
        where = and_(presence.c.process_id == process_id, presence.c.technician_id == tech_id)
        if sockets <= 0:
            await self._conn.execute(delete(presence).where(where))
            return
        await self._conn.execute(self._upsert_presence([{"process_id": process_id, "technician_id": tech_id,
                                                    "sockets": sockets, "seen_at": now}]))

    async def heartbeat(self, process_id: str, now: datetime, tech_ids: Iterable[int]) -> list[int]:
        """Refresh this process's rows of the technicians it holds; returns those whose row had to be re-created.

        Rows of technicians it no longer holds are not refreshed, so a row left behind by a lost update expires.
        """
        ids = sorted(set(tech_ids))
        if not ids:
            return []
        mine = and_(presence.c.process_id == process_id, presence.c.technician_id.in_(ids))
        result = await self._conn.execute(update(presence).where(mine).values(seen_at=now))
        if result.rowcount == len(ids):
            return []
        have = set((await self._conn.execute(select(presence.c.technician_id).where(mine))).scalars())
        missing = [t for t in ids if t not in have]
        await self._conn.execute(self._upsert_presence([{"process_id": process_id, "technician_id": t, "sockets": 1,
                                                    "seen_at": now} for t in missing]))
        return missing

    async def expire_presence(self, now: datetime, ttl: float) -> list[int]:
        """Delete rows no process refreshed within the TTL (their process died); the technicians they were for."""
        stale = now - timedelta(seconds=ttl)  # the complement of ``online_condition``'s freshness
        statement = delete(presence).where(presence.c.seen_at <= stale).returning(presence.c.technician_id)
        rows = await self._conn.execute(statement)
        return sorted({int(t) for t in rows.scalars()})

    async def clear_presence(self, process_id: str | None = None,
                             stale_before: datetime | None = None) -> list[int]:
        """Drop a process's rows (clean shutdown) or rows no process refreshed; the technicians they were for."""
        conditions = []
        if process_id is not None:
            conditions.append(presence.c.process_id == process_id)
        if stale_before is not None:
            conditions.append(presence.c.seen_at < stale_before)
        gone: set[int] = set()
        for condition in conditions:
            rows = await self._conn.execute(delete(presence).where(condition).returning(presence.c.technician_id))
            gone.update(int(t) for t in rows.scalars())
        return sorted(gone)
