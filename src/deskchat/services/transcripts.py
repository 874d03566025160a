"""`Email Transcript`: the whole conversation to the requester, through the outbox."""

from __future__ import annotations

from deskchat.domain.errors import EmailDisabled, Forbidden
from deskchat.domain.people import Requester, Technician
from deskchat.services import common, mails, outbox
from deskchat.services.auth import Principal
from deskchat.services.context import Context, unit_of_work

TIMELINE_LIMIT = 100_000


async def email_transcript(ctx: Context, principal: Principal, chat_id: int) -> None:
    """The chat's requester, a technician who takes (or took) part, or an admin; during or after the chat."""
    if not outbox.email_enabled(ctx):
        raise EmailDisabled("Email is not configured on this server (DESKCHAT_SMTP_HOST).")
    actor = principal.actor
    async with unit_of_work(ctx) as uow:
        chat = await common.load_readable_chat(uow.repos, chat_id, actor)
        took_part = isinstance(actor, Technician) and (
            actor.is_admin or actor.id in chat.participant_ids or actor.id in chat.former_participant_ids)
        if not (took_part or (isinstance(actor, Requester) and chat.is_own_requester(actor))):
            raise Forbidden("Only the requester, technicians in the chat and admins may email its transcript.")
        messages = await uow.chats.list_messages(chat.id, 0, TIMELINE_LIMIT)
        uow.mail(mails.transcript_mail(chat, messages))
