"""WebSocket frames from clients, parsed and validated without I/O."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, field_validator

from deskchat.domain.errors import ValidationFailed
from deskchat.domain.values import MAX_ID, ClientMsgId, Id, Seq, storable


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class Auth(_Frame):
    type: Literal["auth"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class Resume(_Frame):
    type: Literal["resume"]
    chats: dict[str, Seq]

    def positions(self) -> dict[int, int]:
        """Chat id -> last seq seen, with ids checked to be integers."""
        if not all(k.isascii() and k.isdigit() and len(k) <= 10 and 1 <= int(k) <= MAX_ID for k in self.chats):
            raise ValidationFailed("Chat ids in resume must be integers.",
                                   errors={"chats": "keys must be chat ids"})
        return {int(k): v for k, v in self.chats.items()}


class Send(_Frame):
    type: Literal["send"]
    chat_id: Id
    client_msg_id: ClientMsgId
    body: str | None = None
    canned_message_id: Id | None = None


class Typing(_Frame):
    type: Literal["typing"]
    chat_id: Id


class Ping(_Frame):
    type: Literal["ping"]


Command = Auth | Resume | Send | Typing | Ping
_adapter: TypeAdapter[Command] = TypeAdapter(Annotated[Command, Field(discriminator="type")])


def parse_frame(text: str | bytes | None) -> Command:
    """Turn one text frame into a command, or raise ValidationFailed saying what is wrong."""
    if not isinstance(text, str):
        raise ValidationFailed("Frames must be JSON text.", errors={"frame": "expected a text frame"})
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting too deep to decode
        raise ValidationFailed("The frame is not valid JSON.", errors={"frame": "invalid JSON"}) from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValidationFailed("A frame is a JSON object with a type.", errors={"type": "required"})
    try:
        return _adapter.validate_python(data)
    except ValidationError as exc:
        raise ValidationFailed("The frame is invalid.", errors=errors_of(exc)) from None


def errors_of(exc: ValidationError) -> dict[str, str]:
    """Pydantic errors as field -> message."""
    found: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if p not in ("auth", "resume", "send", "typing", "ping")]
        found[".".join(loc) or "frame"] = err["msg"]
    return found
