"""Files in the timeline: upload (the bytes into the database, a chunk at a time) and download.

The bytes live in the database (``attachment_chunks``), beside the message that carries them: every
process of a deployment reads them there, a backup holds them with the chats, and the message and its
file are committed together or not at all. Uploads are read from python-multipart's spooled file in
chunks and downloads streamed a chunk per query, so neither holds a whole file in memory.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import filetype

from deskchat.domain.chat import Attachment
from deskchat.domain.errors import InvalidState, NotFound, PayloadTooLarge, ValidationFailed
from deskchat.domain.people import Author, Requester
from deskchat.realtime.events import MessageFrame
from deskchat.services import common
from deskchat.services.auth import Principal
from deskchat.services.chats import rate_limit
from deskchat.services.context import Context, reading, unit_of_work
from deskchat.services.views import message_view
from deskchat.storage.errors import Duplicate

CHUNK = 256 * 1024
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})  # shown in the page
UNKNOWN = "application/octet-stream"
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Upload:
    """A file as the edge received it: its name as the uploader gave it, and a way to read it in chunks."""

    filename: str | None
    read: Callable[[int], Awaitable[bytes]]


def clean_filename(name: str | None) -> str:
    """The last path part of the uploader's name, without control characters, at most 255 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().strip(".")
    return base[:255] or "file"


def sniff(head: bytes) -> str:
    """The content type the bytes show (never what the uploader claimed); unknown ones are octet-stream."""
    kind = filetype.guess(head)
    return str(kind.mime) if kind is not None else UNKNOWN


async def post_attachment(ctx: Context, principal: Principal, chat_id: int, upload: Upload,
                          client_msg_id: str | None) -> tuple[dict[str, Any], bool]:
    """A file becomes a timeline message (``kind: attachment``); a repeated client_msg_id returns the first."""
    actor = principal.actor
    async with reading(ctx) as repos:
        chat = await common.load_readable_chat(repos, chat_id, actor)
        chat.ensure_can_post(actor)
        if client_msg_id is not None:
            earlier = await repos.chats.find_by_client_msg_id(chat_id, client_msg_id)
            if earlier is not None:
                return message_view(earlier), False
    if isinstance(actor, Requester):
        await rate_limit(ctx, f"msgs:{principal.token_id}", ctx.settings.rate_limit_messages_per_10s, 10, "messages")
    first = await upload.read(CHUNK)
    if not first:
        raise ValidationFailed("The file is empty.", errors={"file": "must not be empty"})
    filename, limit = clean_filename(upload.filename), ctx.settings.max_attachment_bytes
    try:
        async with unit_of_work(ctx) as uow:
            stored = await uow.attachments.insert_attachment(chat_id, filename, sniff(first[:SNIFF_BYTES]), 0, uow.now)
            size, n, chunk = 0, 0, first
            while chunk:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"The file is larger than {limit} bytes.")
                await uow.attachments.insert_chunk(stored.id, n, chunk)
                n, chunk = n + 1, await upload.read(CHUNK)
            attachment = Attachment(stored.id, chat_id, filename, stored.content_type, size)
            await uow.attachments.set_size(stored.id, size)
            seq = await uow.chats.take_seq(chat_id, open_only=True)  # the chat row is locked only from here
            if seq is None:
                raise InvalidState("The chat has ended; it takes no more messages.")
            message = await uow.chats.insert_message(chat_id=chat_id, seq=seq, author=Author.of(actor), body=filename,
                                                     now=uow.now, client_msg_id=client_msg_id, attachment=attachment)
            uow.emit(MessageFrame.of(message_view(message)), common.audience(chat))
    except Duplicate:  # the same client_msg_id, sent twice at once: the other one was stored
        async with reading(ctx) as repos:
            earlier = await repos.chats.find_by_client_msg_id(chat_id, client_msg_id or "")
        if earlier is None:
            raise
        return message_view(earlier), False
    return message_view(message), True


@dataclass(frozen=True)
class Download:
    """What a download sends: the file's facts, and its bytes as they are read."""

    attachment: Attachment
    chunks: AsyncIterator[bytes]

    @property
    def inline(self) -> bool:
        """Raster images are shown in the page; anything else is a download."""
        return self.attachment.content_type in INLINE_TYPES


async def open_attachment(ctx: Context, principal: Principal, attachment_id: int) -> Download:
    """An attachment of a chat the caller may read (else 403; no such attachment 404)."""
    async with reading(ctx) as repos:
        attachment = await repos.attachments.load_attachment(attachment_id)
        if attachment is None:
            raise NotFound(f"There is no attachment {attachment_id}.")
        await common.load_readable_chat(repos, attachment.chat_id, principal.actor)
    return Download(attachment, _chunks(ctx, attachment_id))


async def _chunks(ctx: Context, attachment_id: int) -> AsyncIterator[bytes]:
    n = 0
    while True:
        async with reading(ctx) as repos:  # a short read per chunk: no connection held by a slow client
            data = await repos.attachments.chunk(attachment_id, n)
        if data is None:
            return
        yield data
        n += 1
