"""Attachments: a file into a chat's timeline, and its bytes back for whoever may read the chat."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Response, UploadFile
from fastapi.responses import StreamingResponse

from deskchat.api.deps import Caller, Ctx
from deskchat.api.schemas import MessageOut, PathId
from deskchat.domain.values import ClientMsgId
from deskchat.services import attachments
from deskchat.services.attachments import UNKNOWN, Upload

router = APIRouter(prefix="/api/v1", tags=["attachments"])
MULTIPART_OVERHEAD = 64 * 1024  # the form's boundaries, headers and client_msg_id around the file


@router.post("/chats/{chat_id}/attachments", status_code=201, response_model=MessageOut,
             responses={200: {"description": "The client_msg_id was used before: the first message"}})
async def upload(chat_id: PathId, file: Annotated[UploadFile, File()], caller: Caller, ctx: Ctx, response: Response,
                 client_msg_id: Annotated[ClientMsgId | None, Form()] = None) -> dict[str, Any]:
    """Attach File: multipart/form-data with ``file`` (and ``client_msg_id``); the message is ``kind: attachment``."""
    message, created = await attachments.post_attachment(ctx, caller, chat_id, Upload(file.filename, file.read),
                                                         client_msg_id)
    if not created:
        response.status_code = 200
    return message


@router.get("/attachments/{attachment_id}", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "The exact bytes"}})
async def download(attachment_id: PathId, caller: Caller, ctx: Ctx) -> StreamingResponse:
    """The file: PNG, JPEG, GIF and WebP inline as themselves, anything else as a download (nosniff always)."""
    found = await attachments.open_attachment(ctx, caller, attachment_id)
    item = found.attachment
    ascii_name = item.filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    disposition = "inline" if found.inline else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(item.filename)}",
        "Content-Length": str(item.size),  # X-Content-Type-Options: nosniff is on every response (middleware)
        "Content-Security-Policy": "default-src 'none'; sandbox", "Cache-Control": "private, max-age=3600",
    }
    return StreamingResponse(found.chunks, media_type=item.content_type if found.inline else UNKNOWN,
                             headers=headers)
