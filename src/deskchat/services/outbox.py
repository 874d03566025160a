"""The outbox: every email and webhook delivery, written in the transaction of the change that causes it
(``services/sender.py`` sends them after commit).

A unit of work's announcements (``uow.announce``) become one webhook delivery per subscribed endpoint, plus
the emails that follow from them (a new request to the forward address, a missed chat's notice to its
requester); ``uow.mail`` adds an email directly.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from deskchat.domain.outbox import Mail, OutboxKind
from deskchat.services import mails

if TYPE_CHECKING:  # the unit of work calls this module: it cannot import it back
    from deskchat.services.context import Context, UnitOfWork


def email_enabled(ctx: Context) -> bool:
    """Email is on when DESKCHAT_SMTP_HOST is set."""
    return bool(ctx.settings.smtp_host)


async def write(ctx: Context, uow: UnitOfWork) -> bool:
    """Store the unit of work's deliveries (before its commit); True if there were any."""
    items: list[dict[str, Any]] = []
    if uow.announcements:
        hooks = await uow.repos.webhooks.all_webhooks()
        stamp = uow.now.isoformat()
        for announcement in uow.announcements:
            body = json.dumps({"type": announcement.event, "timestamp": stamp, "data": announcement.data},
                              separators=(",", ":"), ensure_ascii=False)
            items.extend(webhook_item(hook.id, announcement.event, body) for hook in hooks
                         if hook.wants(announcement.event))
        if email_enabled(ctx):
            uow.mails.extend(await mails.follow_ups(uow.repos, uow.announcements))
    if uow.mails and email_enabled(ctx):
        items.extend(email_item(m) for m in uow.mails)
    await uow.repos.outbox.insert_items(items, uow.now)
    return bool(items)


def new_event_id() -> str:
    """A delivery's id: the ``webhook-id`` every retry keeps."""
    return f"msg_{uuid.uuid4().hex}"


def webhook_item(webhook_id: int, event: str, body: str) -> dict[str, Any]:
    """A webhook delivery row (the body is stored as it will be signed and sent)."""
    return {"kind": OutboxKind.WEBHOOK.value, "event": event, "event_id": new_event_id(), "webhook_id": webhook_id,
            "payload": body}


def email_item(mail: Mail) -> dict[str, Any]:
    """An email delivery row."""
    payload = {"to": mail.to, "subject": mail.subject, "text": mail.text, "html": mail.html, "reply_to": mail.reply_to}
    return {"kind": OutboxKind.EMAIL.value, "event": mail.event, "event_id": new_event_id(), "webhook_id": None,
            "payload": json.dumps(payload, ensure_ascii=False)}
