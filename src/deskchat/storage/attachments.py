"""Files posted in chats: a row of metadata, and the bytes in chunks (written and read one at a time)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from deskchat.domain.chat import Attachment
from deskchat.storage.tables import attachment_chunks, attachments


class AttachmentRepository:
    """Attachments and their bytes; the database is where every process finds them."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert_attachment(self, chat_id: int, filename: str, content_type: str, size: int,
                                now: datetime) -> Attachment:
        """Store an attachment's metadata (its chunks follow)."""
        result = await self._conn.execute(insert(attachments).values(
            chat_id=chat_id, filename=filename, content_type=content_type, size=size, created_at=now)
            .returning(attachments.c.id))
        return Attachment(int(result.scalar_one()), chat_id, filename, content_type, size)

    async def insert_chunk(self, attachment_id: int, n: int, data: bytes) -> None:
        """Store the ``n``-th chunk of an attachment's bytes."""
        await self._conn.execute(insert(attachment_chunks).values(attachment_id=attachment_id, n=n, data=data))

    async def set_size(self, attachment_id: int, size: int) -> None:
        """The size, once every chunk is stored."""
        await self._conn.execute(update(attachments).where(attachments.c.id == attachment_id).values(size=size))

    async def load_attachment(self, attachment_id: int) -> Attachment | None:
        """An attachment's metadata, or None."""
        row = (await self._conn.execute(select(attachments).where(attachments.c.id == attachment_id))).first()
        return Attachment(row.id, row.chat_id, row.filename, row.content_type, row.size) if row else None

    async def chunk(self, attachment_id: int, n: int) -> bytes | None:
        """The ``n``-th chunk of the bytes, or None after the last one."""
        query = select(attachment_chunks.c.data).where(attachment_chunks.c.attachment_id == attachment_id,
                                                       attachment_chunks.c.n == n)
        data = (await self._conn.execute(query)).scalar_one_or_none()
        return bytes(data) if data is not None else None

    async def delete_attachment(self, attachment_id: int) -> None:
        """Remove an attachment and its bytes (an upload whose message was refused)."""
        await self._conn.execute(delete(attachment_chunks).where(attachment_chunks.c.attachment_id == attachment_id))
        await self._conn.execute(delete(attachments).where(attachments.c.id == attachment_id))
