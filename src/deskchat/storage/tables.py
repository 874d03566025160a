"""The schema, in SQLAlchemy Core; Alembic migrations are made from it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.sql import false, func, true
from sqlalchemy.types import TypeDecorator

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _created() -> Column[datetime]:
    return Column("created_at", UTCDateTime(), nullable=False)


technicians = Table(
    "technicians", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    _created(),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("max_chats", Integer, nullable=True),  # null: no limit
    # active chats they take part in, kept by the statements that change participation; the capacity guard
    Column("open_chats", Integer, nullable=False, server_default="0"),
    Column("last_assigned_at", UTCDateTime(), nullable=True),  # their last pickup or assignment
)

groups = Table(
    "groups", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    _created(),
    Column("business_hours", Text, nullable=True),  # JSON of domain.hours.BusinessHours; null: always open
    Column("routing", String(20), nullable=False, server_default="broadcast"),  # broadcast | auto_assign
)

group_members = Table(
    "group_members", metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("technician_id", ForeignKey("technicians.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)

requesters = Table(
    "requesters", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=False),
    _created(),
    # signed in (portal identity or SSO): one per email, reaching all their chats and requests
    Column("verified", Boolean, nullable=False, server_default=false()),
)
Index("uq_requesters_verified_email", func.lower(requesters.c.email), unique=True,
      sqlite_where=requesters.c.verified, postgresql_where=requesters.c.verified)

tokens = Table(
    "tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("technician_id", ForeignKey("technicians.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("requester_id", ForeignKey("requesters.id", ondelete="CASCADE"), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    _created(),
    Column("last_used_at", UTCDateTime(), nullable=True),
)

chats = Table(
    "chats", metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("groups.id"), nullable=False, index=True),
    Column("subject", String(200), nullable=False),
    Column("state", String(20), nullable=False),
    Column("requester_id", ForeignKey("requesters.id"), nullable=False, index=True),
    Column("owner_id", ForeignKey("technicians.id"), nullable=True),
    Column("request_id", Integer, nullable=True),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("missed_due_at", UTCDateTime(), nullable=True),
    _created(),
    Column("picked_up_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("first_group_id", Integer, nullable=True),  # the group it was started in (reports); transfers move group_id
    Column("indexed_seq", Integer, nullable=False, server_default="0"),  # the search index has the text up to here
    Column("rating_score", Integer, nullable=True),
    Column("rating_comment", Text, nullable=True),
    Column("rated_at", UTCDateTime(), nullable=True),
    Index("ix_chats_state_missed_due_at", "state", "missed_due_at"),
    Index("ix_chats_group_id_state_created_at", "group_id", "state", "created_at"),
)

chat_participants = Table(
    "chat_participants", metadata,
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
    Column("technician_id", ForeignKey("technicians.id", ondelete="CASCADE"), primary_key=True,
           index=True),
    Column("joined_at", UTCDateTime(), nullable=False),
    Column("left_at", UTCDateTime(), nullable=True),
)

messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("event", String(20), nullable=True),
    Column("author_kind", String(12), nullable=False),
    Column("author_id", Integer, nullable=True),
    Column("author_name", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("client_msg_id", String(100), nullable=True),
    _created(),
    Column("attachment_id", ForeignKey("attachments.id", ondelete="SET NULL"), nullable=True),
    Column("attachment_type", String(100), nullable=True),
    Column("attachment_size", Integer, nullable=True),
    UniqueConstraint("chat_id", "seq", name="uq_messages_chat_id_seq"),
    UniqueConstraint("chat_id", "client_msg_id", name="uq_messages_chat_id_client_msg_id"),
)

requests = Table(
    "requests", metadata,
    Column("id", Integer, primary_key=True),
    Column("subject", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("source", String(20), nullable=False),
    Column("requester_id", ForeignKey("requesters.id"), nullable=False),
    Column("group_id", ForeignKey("groups.id", ondelete="SET NULL"), nullable=True, index=True),
    Column("technician_id", ForeignKey("technicians.id", ondelete="SET NULL"), nullable=True,
           index=True),
    Column("chat_id", ForeignKey("chats.id", ondelete="SET NULL"), nullable=True, unique=True),
    _created(),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("content_changed_at", UTCDateTime(), nullable=True),  # subject, description or a note changed
    Column("indexed_at", UTCDateTime(), nullable=True),  # the search index has its text as of then
)

notes = Table(
    "notes", metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", ForeignKey("requests.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("author_kind", String(12), nullable=False),
    Column("author_id", Integer, nullable=True),
    Column("author_name", String(200), nullable=False),
    Column("body", Text, nullable=False),
    _created(),
)

canned_messages = Table(
    "canned_messages", metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("shortcut", String(50), nullable=True),
    Column("category", String(100), nullable=False),
    Column("scope", String(10), nullable=False),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), nullable=True),
    Column("owner_id", ForeignKey("technicians.id", ondelete="CASCADE"), nullable=True),
    _created(),
)

settings = Table(
    "settings", metadata,
    Column("id", Integer, primary_key=True),
    Column("missed_chat_conversion", Boolean, nullable=False),
    Column("missed_chat_timeout_seconds", Integer, nullable=False),
    Column("installation_id", String(32), nullable=True),
    Column("request_forward_email", String(254), nullable=True),  # the ITSM's mail-in address
)

presence = Table(
    "presence", metadata,
    Column("process_id", String(64), primary_key=True),
    Column("technician_id", ForeignKey("technicians.id", ondelete="CASCADE"), primary_key=True,
           index=True),
    Column("sockets", Integer, nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
)

sign_in_states = Table(
    "sign_in_states", metadata,
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

attachments = Table(
    "attachments", metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    _created(),
)

# The bytes, in chunks: an upload is written and a download read a chunk at a time.
attachment_chunks = Table(
    "attachment_chunks", metadata,
    Column("attachment_id", ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

webhooks = Table(
    "webhooks", metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("events", Text, nullable=False),  # JSON list of event names
    Column("description", String(500), nullable=False),
    Column("secret", String(100), nullable=False),  # whsec_<base64>: the key deliveries are signed with
    _created(),
)

# Every email and webhook delivery to make: written in the transaction of the change that causes it,
# sent after commit by whichever process claims it (claim = a guarded UPDATE of next_attempt_at and claim).
outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(10), nullable=False),  # email | webhook
    Column("event", String(40), nullable=False),
    Column("event_id", String(64), nullable=False),  # the webhook-id (kept by every retry)
    Column("webhook_id", ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("payload", Text, nullable=False),
    Column("status", String(10), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("claim", String(32), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    _created(),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

# Technicians-only messages in a chat: never a requester's, never in a transcript or the timeline's seq.
whispers = Table(
    "whispers", metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("author_id", ForeignKey("technicians.id", ondelete="SET NULL"), nullable=True),
    Column("author_name", String(200), nullable=False),
    Column("body", Text, nullable=False),
    _created(),
)

# The search index's documents: a request (subject, description, notes) or a chat (its text messages).
# SQLite: an FTS5 table with this as external content, kept in sync by triggers; PostgreSQL: a generated
# tsvector column with a GIN index. Both made by migration 0008.
search_documents = Table(
    "search_documents", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(10), nullable=False),  # request | chat
    Column("ref_id", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    UniqueConstraint("kind", "ref_id", name="uq_search_documents_kind_ref_id"),
)
