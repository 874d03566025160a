"""Search and suggestions: find a past chat or request, and get the right canned answer offered.

The index is filled by ``index_pending``, which every process runs every second: a chat whose timeline grew
and a request whose subject, description or notes changed get their document rebuilt (so active chats are
searchable within seconds, and the message path writes nothing more). Searches run in the database with the
caller's rights inside the query.
"""

from __future__ import annotations

from typing import Any

from deskchat.domain import suggest
from deskchat.domain.errors import ValidationFailed
from deskchat.services import common
from deskchat.services.auth import Principal
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.storage.search import MARK_END, MARK_START, Hit, words

DEFAULT_LIMIT, MAX_LIMIT = 20, 50
BATCH = 50
SUGGESTED = 5
TEXTS_CONSIDERED = 5  # the requester's latest messages


def _plain(marked: str) -> tuple[str, list[list[int]]]:
    """A marked snippet as plain text and the [start, end) ranges of its highlighted words."""
    out: list[str] = []
    ranges: list[list[int]] = []
    start: int | None = None
    length = 0
    for ch in marked:
        if ch == MARK_START:
            start = length
        elif ch == MARK_END:
            if start is not None and length > start:
                ranges.append([start, length])
            start = None
        else:
            out.append(ch)
            length += 1
    return "".join(out), ranges


def _item(hit: Hit) -> dict[str, Any]:
    snippet, highlights = _plain(hit.snippet)
    return {"kind": hit.kind, "id": hit.ref_id, "title": hit.title, "snippet": snippet, "highlights": highlights,
            "score": round(hit.score, 6)}


async def search(ctx: Context, principal: Principal, q: str | None, limit: int | None) -> dict[str, Any]:
    """Requests and chats the caller may read holding every word of ``q``, best first."""
    tech = principal.technician()
    if q is None or not q.strip():
        raise ValidationFailed("Type something to search for.", errors={"q": "must not be empty"})
    if limit is not None and limit < 1:
        raise ValidationFailed("limit must be 1 or more.", errors={"limit": "1 to 50"})
    size = min(limit or DEFAULT_LIMIT, MAX_LIMIT)
    async with reading(ctx) as repos:
        hits = await repos.search.search(tech, words(q), size)
    return {"items": [_item(h) for h in hits]}


async def suggestions(ctx: Context, principal: Principal, chat_id: int) -> dict[str, Any]:
    """Canned messages and earlier resolved requests of the caller's groups resembling what the requester wrote."""
    tech = principal.technician()
    async with reading(ctx) as repos:
        chat = await common.load_readable_chat(repos, chat_id, tech)
        chat.ensure_can_act(tech)
        texts = await repos.chats.requester_texts_many([chat.id])
        question = suggest.query_terms(texts.get(chat.id, [])[-TEXTS_CONSIDERED:])
        candidates = await repos.canned.list_visible(tech, q=None, category=None, limit=1000)
        hits = await repos.search.search(tech, question, SUGGESTED, any_word=True, kind="request",
                                         resolved_in_groups=sorted(tech.group_ids))
        found = {r.id: r for r in await repos.requests.load_requests([h.ref_id for h in hits])}
    canned = [{"id": r.canned.id, "title": r.canned.title, "score": r.score}
              for r in suggest.rank_canned(question, candidates, SUGGESTED)]
    requests = [{"id": h.ref_id, "subject": found[h.ref_id].subject, "status": found[h.ref_id].status.value,
                 "score": round(h.score, 6)} for h in hits if h.ref_id in found]
    return {"canned": canned, "requests": requests}


async def index_pending(ctx: Context) -> int:
    """Rebuild the documents of chats and requests that changed; returns how many."""
    done = 0
    while True:
        async with reading(ctx) as repos:
            chats = await repos.search.unindexed_chats(BATCH)
            requests = await repos.search.unindexed_requests(BATCH)
        if not chats and not requests:
            return done
        async with unit_of_work(ctx) as uow:
            for chat_id, seq in chats:
                title, body = await uow.repos.search.chat_document(chat_id)
                await uow.repos.search.put_document("chat", chat_id, title, body)
                await uow.repos.search.mark_chat_indexed(chat_id, seq)
            for request_id in requests:
                title, body = await uow.repos.search.request_document(request_id)
                await uow.repos.search.put_document("request", request_id, title, body)
                await uow.repos.search.mark_request_indexed(request_id, uow.now)
        done += len(chats) + len(requests)
        if len(chats) < BATCH and len(requests) < BATCH:
            return done
