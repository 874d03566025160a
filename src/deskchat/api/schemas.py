"""Request and response bodies: validated at the edge, unknown fields rejected."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from deskchat.domain.values import MAX_ID, ClientMsgId, Id, storable

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
GroupName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]
Shortcut = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,50}$")]


def _email_length(value: str) -> str:
    if len(value) > 254:
        raise ValueError("at most 254 characters")
    return value


Email = Annotated[EmailStr, AfterValidator(_email_length)]


class In(BaseModel):
    """Every request body: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


def _no_default(schema: JsonDict) -> None:
    schema.pop("default", None)


V = TypeVar("V")
# A PATCH field that may be left out (kept as it is) but not sent as null: OpenAPI shows it as not nullable.
Keep = Annotated[V | SkipJsonSchema[None], Field(json_schema_extra=_no_default)]


class Patch(In):
    """A PATCH body: a field left out stays as it is; null is refused except for the ``nullable`` fields."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("may not be null (leave the field out to keep its value)")
        return value


class LoginIn(In):
    email: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class StartChatIn(In):
    group_id: Id
    name: Name | None = None  # required unless the caller is a verified requester (bearer token)
    email: Email | None = None
    message: Body
    client_msg_id: ClientMsgId | None = None


class RequesterSessionIn(In):
    identity_token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class MessageIn(In):
    client_msg_id: ClientMsgId
    body: Body | None = None
    canned_message_id: Id | None = None


class TechnicianRef(In):
    technician_id: Id


class TransferIn(In):
    technician_id: Id
    group_id: Id | None = None


class RequestIn(In):
    subject: Name | None = None


class NoteIn(In):
    body: Body


class StatusIn(In):
    status: Literal["online", "away", "offline"]


MaxChats = Annotated[int, Field(ge=1, le=50)]


class TechnicianIn(In):
    name: Name
    email: Email
    password: Password
    role: Literal["technician", "admin"] = "technician"
    group_ids: list[Id] = Field(default_factory=list)
    max_chats: MaxChats | None = None  # null: no limit


class TechnicianPatch(Patch):
    nullable = frozenset({"max_chats"})
    max_chats: MaxChats | None = None
    name: Keep[Name] = None
    email: Keep[Email] = None
    password: Keep[Password] = None
    role: Keep[Literal["technician", "admin"]] = None
    group_ids: Keep[list[Id]] = None
    active: Keep[bool] = None


class GroupIn(In):
    name: GroupName
    description: Annotated[str, StringConstraints(max_length=1000)] = ""


Clock = Annotated[str, StringConstraints(pattern=r"^[0-9]{2}:[0-9]{2}$")]
DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class BusinessHoursIn(In):
    """Opening hours: an IANA zone and, per day, ranges [start, end) of local time (a day left out is closed)."""

    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    days: dict[DayName, Annotated[list[Annotated[list[Clock], Field(min_length=2, max_length=2)]],
                                  Field(max_length=12)]] = Field(default_factory=dict)


class GroupPatch(Patch):
    nullable = frozenset({"business_hours"})
    name: Keep[GroupName] = None
    description: Keep[Annotated[str, StringConstraints(max_length=1000)]] = None
    business_hours: BusinessHoursIn | None = None  # null: always open
    routing: Keep[Literal["broadcast", "auto_assign"]] = None


WebhookUrl = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
EventName = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class WebhookIn(In):
    url: WebhookUrl
    events: Annotated[list[EventName], Field(min_length=1, max_length=20)]
    description: Annotated[str, StringConstraints(max_length=500)] = ""


class WebhookPatch(Patch):
    url: Keep[WebhookUrl] = None
    events: Keep[Annotated[list[EventName], Field(min_length=1, max_length=20)]] = None
    description: Keep[Annotated[str, StringConstraints(max_length=500)]] = None


class WhisperIn(In):
    body: Body


class OfflineMessageIn(In):
    group_id: Id
    name: Name
    email: Email
    message: Body


class RatingIn(In):
    score: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None


class SettingsPatch(Patch):
    nullable = frozenset({"request_forward_email"})
    missed_chat_conversion: Keep[bool] = None
    request_forward_email: Email | None = None  # null: no forwarding
    missed_chat_timeout_seconds: Keep[Annotated[int, Field(ge=10, le=86_400)]] = None


class RequestPatch(Patch):
    nullable = frozenset({"technician_id"})  # null unassigns

    subject: Keep[Name] = None
    status: Keep[Literal["open", "resolved", "closed"]] = None
    technician_id: Id | None = None


class CannedIn(In):
    title: Name
    body: Body
    shortcut: Shortcut | None = None
    category: GroupName = "General"
    scope: Literal["global", "group", "personal"] = "personal"
    group_id: Id | None = None


class CannedPatch(Patch):
    nullable = frozenset({"shortcut", "group_id"})  # null removes the shortcut, or the group

    title: Keep[Name] = None
    body: Keep[Body] = None
    shortcut: Shortcut | None = None
    category: Keep[GroupName] = None
    scope: Keep[Literal["global", "group", "personal"]] = None
    group_id: Id | None = None


T = TypeVar("T")


def changes(model: BaseModel, nullable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields a PATCH body set; null clears only the fields that may be null."""
    data = model.model_dump(exclude_unset=True)
    return {k: v for k, v in data.items() if v is not None or k in nullable}


# -- responses (for OpenAPI; services return these shapes) ----------------------------

class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class PersonOut(Out):
    id: int | None
    name: str
    email: str | None = None


class RequesterOut(Out):
    id: int
    name: str
    email: str
    verified: bool


class AuthorOut(Out):
    kind: Literal["requester", "technician", "system"]
    id: int | None
    name: str


class AttachmentOut(Out):
    id: int
    filename: str
    content_type: str
    size: int


class RatingOut(Out):
    score: int
    comment: str | None


class ChatOut(Out):
    id: int
    group_id: int
    subject: str
    state: Literal["waiting", "active", "ended", "missed"]
    requester: RequesterOut
    owner_id: int | None
    participant_ids: list[int]
    request_id: int | None
    created_at: str
    picked_up_at: str | None
    ended_at: str | None
    last_seq: int
    queue_position: int | None
    estimated_wait_seconds: int | None
    rating: RatingOut | None


class MessageOut(Out):
    id: int
    chat_id: int
    seq: int
    kind: Literal["text", "system", "attachment"]
    event: str | None
    author: AuthorOut
    body: str
    client_msg_id: str | None
    created_at: str
    attachment: AttachmentOut | None


class RatingCreatedOut(RatingOut):
    created_at: str


class TechnicianOut(Out):
    id: int
    name: str
    email: str
    role: Literal["technician", "admin"]
    group_ids: list[int]
    status: Literal["online", "away", "offline"]
    online: bool
    active_chats: int
    active: bool
    max_chats: int | None


class BusinessHoursOut(Out):
    timezone: str
    days: dict[str, list[list[str]]]


class GroupOut(Out):
    id: int
    name: str
    description: str
    online_technicians: int
    business_hours: BusinessHoursOut | None
    routing: Literal["broadcast", "auto_assign"]


class PortalGroupOut(GroupOut):
    open_now: bool
    available: bool


class OfflineMessageOut(Out):
    request_id: int


class RequestOut(Out):
    id: int
    subject: str
    description: str
    status: Literal["open", "resolved", "closed"]
    source: Literal["live_chat", "missed_chat", "offline_message"]
    requester: RequesterOut
    group_id: int | None
    technician_id: int | None
    chat_id: int | None
    created_at: str


class RequesterHistoryOut(Out):
    id: int
    name: str
    email: str
    verified: bool
    chats: list[ChatOut]
    requests: list[RequestOut]


class NoteOut(Out):
    id: int
    request_id: int
    author: AuthorOut
    body: str
    created_at: str


class CannedOut(Out):
    id: int
    title: str
    body: str
    shortcut: str | None
    category: str
    scope: Literal["global", "group", "personal"]
    group_id: int | None
    owner_id: int | None


class SettingsOut(Out):
    missed_chat_conversion: bool
    missed_chat_timeout_seconds: int
    request_forward_email: str | None


class StartChatOut(Out):
    chat: ChatOut
    visitor_token: str


class RequesterSessionOut(Out):
    visitor_token: str
    requester: RequesterOut


class LoginOut(Out):
    token: str
    technician: TechnicianOut


class MessagesOut(Out):
    messages: list[MessageOut]
    last_seq: int


class Page(Out, Generic[T]):
    items: list[T]
    next_cursor: str | None


class RenderOut(Out):
    body: str


PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
Seq = Annotated[int, Query(ge=0, le=2**31 - 1)]
SearchText = Annotated[str, Query(max_length=200), AfterValidator(storable)]
