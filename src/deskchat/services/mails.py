"""Emails: what they say (plain text, and an HTML alternative that escapes everything users wrote), which
emails follow from events, and sending one over SMTP with aiosmtplib.

Nothing here imports the unit of work: the outbox (which the unit of work calls) builds on this module.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

import aiosmtplib

from deskchat.domain.chat import Chat, Message
from deskchat.domain.outbox import Announcement, Mail
from deskchat.domain.request import format_transcript, one_line

if TYPE_CHECKING:
    from deskchat.services.context import Context
    from deskchat.storage.repositories import Repositories

SMTP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt came to (email or webhook)."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None


def _page(title: str, parts: Iterable[str]) -> str:
    return ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title></head>"
            "<body style='font-family:system-ui,sans-serif;line-height:1.5'>" + "".join(parts) + "</body></html>")


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line.strip())


def transcript_mail(chat: Chat, messages: list[Message]) -> Mail:
    """The whole conversation, to the chat's requester."""
    subject = f"Your chat {chat.id} with the service desk: {one_line(chat.subject)}"
    text = (f"Hello {chat.requester.name},\n\nhere is the transcript of your chat {chat.id} "
            f"(\"{one_line(chat.subject)}\").\n\n{format_transcript(messages)}\n")
    rows = []
    for m in messages:
        stamp = html.escape(m.created_at.strftime("%Y-%m-%d %H:%M UTC"))
        if m.kind == "system":
            rows.append(f"<p style='color:#666'><small>{stamp}</small> <em>{html.escape(m.body)}</em></p>")
        else:
            words = (f"[attachment] {m.attachment.filename}" if m.attachment else m.body)
            rows.append(f"<p><small>{stamp}</small> <strong>{html.escape(m.author.name)}</strong>: "
                        f"{html.escape(words).replace(chr(10), '<br>')}</p>")
    body = _page(subject, [f"<p>Hello {html.escape(chat.requester.name)},</p>",
                           f"<p>here is the transcript of your chat {chat.id} "
                           f"(&ldquo;{html.escape(one_line(chat.subject))}&rdquo;).</p>", *rows])
    return Mail("chat.transcript", chat.requester.email, subject, text, body)


def missed_notice(chat: dict[str, Any]) -> Mail | None:
    """A missed chat's requester learns which request a technician will follow up on."""
    requester, request_id = chat.get("requester") or {}, chat.get("request_id")
    if not requester.get("email") or request_id is None:
        return None
    subject = f"We missed your chat: request #{request_id}"
    text = (f"Hello {requester.get('name', '')},\n\nno technician was free in time to answer your chat "
            f"\"{one_line(str(chat.get('subject', '')))}\". We made it request #{request_id}; a technician will "
            "follow up by email.\n")
    return Mail("chat.missed", str(requester["email"]), subject, text, _page(subject, [_paragraphs(text)]))


def forward_mail(request: dict[str, Any], to: str) -> Mail:
    """A new request, to the ITSM's mail-in address; replies go to the requester."""
    subject = f"[deskchat #{request['id']}] {one_line(str(request['subject']))}"
    description = str(request.get("description", ""))
    requester = request.get("requester") or {}
    text = description + "\n"
    body = _page(subject, [f"<pre style='white-space:pre-wrap;font-family:inherit'>{html.escape(description)}</pre>"])
    return Mail("request.created", to, subject, text, body, reply_to=requester.get("email"))


async def follow_ups(repos: Repositories, announcements: Iterable[Announcement]) -> list[Mail]:
    """The emails that events cause: new requests to the forward address, missed chats' notices."""
    found: list[Mail] = []
    forward: str | None = None
    looked = False
    for announcement in announcements:
        if announcement.event == "request.created":
            if not looked:
                forward, looked = (await repos.settings.load_settings()).request_forward_email, True
            if forward:
                found.append(forward_mail(announcement.data, forward))
        elif announcement.event == "chat.missed":
            notice = missed_notice(announcement.data)
            if notice is not None:
                found.append(notice)
    return found


def build_message(sender: str, payload: dict[str, Any]) -> EmailMessage:
    """The MIME message of a stored email: text/plain with a text/html alternative."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = payload["to"]
    message["Subject"] = " ".join(str(payload["subject"]).splitlines())
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1] or None)
    if payload.get("reply_to"):
        message["Reply-To"] = payload["reply_to"]
    message.set_content(payload["text"])
    message.add_alternative(payload["html"], subtype="html")
    return message


async def deliver(ctx: Context, payload_text: str) -> Outcome:
    """Send one stored email to DESKCHAT_SMTP_HOST (STARTTLS or TLS, with login when configured)."""
    settings = ctx.settings
    message = build_message(settings.mail_from, json.loads(payload_text))
    try:
        await aiosmtplib.send(message, hostname=settings.smtp_host, port=settings.smtp_port,
                              username=settings.smtp_username or None, password=settings.smtp_password or None,
                              use_tls=settings.smtp_tls, start_tls=settings.smtp_starttls and not settings.smtp_tls,
                              timeout=SMTP_TIMEOUT)
    except (aiosmtplib.SMTPException, OSError) as exc:
        code = getattr(exc, "code", None)
        return Outcome(False, code if isinstance(code, int) else None, f"{type(exc).__name__}: {exc}")
    return Outcome(True, 250)
