"""Offline messages: when nobody can chat, an end user leaves a message and it becomes a request."""

from __future__ import annotations

from typing import Any

import structlog

from deskchat.domain import request as rules
from deskchat.domain.chat import check_body
from deskchat.domain.errors import ValidationFailed
from deskchat.domain.people import Requester
from deskchat.realtime.events import OfflineMessageFrame, Recipients
from deskchat.services import common
from deskchat.services.chats import limit_new
from deskchat.services.context import Context, unit_of_work
from deskchat.services.views import request_view

log = structlog.get_logger()


async def leave_message(ctx: Context, *, group_id: int, name: str, email: str, message: str, client_addr: str,
                        signed_in: Requester | None = None) -> dict[str, Any]:
    """An ``offline_message`` request in the group, open or closed; its online technicians are told."""
    try:
        check_body(message)
    except ValidationFailed as exc:  # the field is called message here
        raise ValidationFailed(exc.detail, errors={"message": next(iter((exc.errors or {}).values()), "invalid")}) \
            from None
    subject = rules.offline_subject(message)
    await limit_new(ctx, f"offline:{client_addr}", "offline messages")
    async with unit_of_work(ctx) as uow:
        group = await uow.people.load_group(group_id)
        if group is None:
            raise ValidationFailed("There is no such group.", errors={"group_id": "no such group"})
        requester = signed_in or await uow.people.insert_requester(name, email, uow.now)
        request_id = await uow.requests.insert_request(
            subject=subject, description=message, source=rules.RequestSource.OFFLINE_MESSAGE.value,
            requester_id=requester.id, group_id=group.id, technician_id=None, chat_id=None, now=uow.now)
        stored = await uow.requests.load_request(request_id)
        assert stored is not None
        uow.announce("request.created", request_view(stored))
        uow.emit(OfflineMessageFrame(data=request_view(stored)),
                 Recipients(technicians=await common.online_group_members(ctx, uow, group.id)))
    log.info("offline_message", request_id=request_id, group_id=group_id)
    return {"request_id": request_id}
