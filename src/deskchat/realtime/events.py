"""Every event the server sends, typed: the frames of docs/api.md, the hubs' control events, and the
envelope that carries either (with its recipients) from a unit of work through the broker to every hub.

A model's JSON form is the one rendering of an event: the socket's text is ``frame.text()``, the broker
carries ``encode(envelope)``, and a webhook body is to be ``frame.wire()`` (or a part of it), never a
second dict built elsewhere. Unknown fields are refused, so a renamed field fails a test, not a client.
The ``data`` payloads are the views of ``services/views.py`` (the REST shapes of API.md), carried as is.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from deskchat.domain.errors import DomainError
from deskchat.domain.people import Actor, Author, Status, Technician

Wire = dict[str, Any]  # JSON-able data, as the broker carries it
ClearReason = Literal["picked_up", "missed", "ended"]
View = dict[str, Any]  # a chat, message, note or /me object in the shape of API.md


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _omitted(value: Any) -> bool:
    return value is None


class BaseFrame(_Model):
    """A server -> client frame: what a socket sends (``type`` says which)."""

    def wire(self) -> Wire:
        """The frame as JSON-able data, exactly as clients read it."""
        return self.model_dump(mode="json")

    def text(self) -> str:
        """The frame as the compact JSON text a socket sends."""
        return self.model_dump_json()


# -- the parts of frames ---------------------------------------------------------------


class Problem(_Model):
    """An RFC 9457 problem document, as ``DomainError.problem()`` makes it."""

    type: str
    title: str
    status: int
    detail: str
    errors: dict[str, str] | None = Field(default=None, exclude_if=_omitted)
    retry_after: int | None = Field(default=None, exclude_if=_omitted)


class PresenceData(_Model):
    """Whether a technician can be reached now."""

    technician_id: int
    status: Status
    online: bool


class AuthorData(_Model):
    """Who did something, as readers see it."""

    kind: str
    id: int | None
    name: str

    @classmethod
    def of(cls, author: Author) -> AuthorData:
        """The frame form of a domain author."""
        return cls(kind=author.kind, id=author.id, name=author.name)


# -- server -> client frames (docs/api.md "Server -> client") ---------------------------


class HelloFrame(BaseFrame):
    """After authentication: the /me object of the socket's caller."""

    type: Literal["hello"] = "hello"
    data: View


class MessageFrame(BaseFrame):
    """One timeline message, in seq order per chat."""

    type: Literal["message"] = "message"
    chat_id: int
    seq: int
    data: View

    @classmethod
    def of(cls, message: View) -> MessageFrame:
        """The frame that carries a stored message."""
        return cls(chat_id=message["chat_id"], seq=message["seq"], data=message)


class ChatFrame(BaseFrame):
    """A chat's state after a change (pickup, invite, leave, transfer, end, missed, request linked)."""

    type: Literal["chat"] = "chat"
    data: View


class AlertFrame(BaseFrame):
    """A chat waits for a technician of its group."""

    type: Literal["alert"] = "alert"
    data: View


class AlertClearedFrame(BaseFrame):
    """A chat no longer waits."""

    type: Literal["alert_cleared"] = "alert_cleared"
    chat_id: int
    reason: ClearReason


class NoteFrame(BaseFrame):
    """A note on the request of a chat (technicians only)."""

    type: Literal["note"] = "note"
    chat_id: int
    data: View


class OfflineMessageFrame(BaseFrame):
    """An end user left a message for a group while nobody could chat (technicians of the group)."""

    type: Literal["offline_message"] = "offline_message"
    data: View


class MonitorFrame(BaseFrame):
    """A group's numbers on the Monitor changed (admins): waiting, active, longest wait."""

    type: Literal["monitor"] = "monitor"
    data: View


class WhisperFrame(BaseFrame):
    """A technicians-only message in a chat (its technicians and admins; never requesters)."""

    type: Literal["whisper"] = "whisper"
    chat_id: int
    data: View


class PresenceFrame(BaseFrame):
    """A technician's status or reachability changed."""

    type: Literal["presence"] = "presence"
    data: PresenceData

    @classmethod
    def of(cls, tech: Technician, *, online: bool) -> PresenceFrame:
        """The presence of a technician as stored now."""
        return cls(data=PresenceData(technician_id=tech.id, status=tech.status, online=online))


class TypingFrame(BaseFrame):
    """Someone in the chat is typing."""

    type: Literal["typing"] = "typing"
    chat_id: int
    author: AuthorData


class AckFrame(BaseFrame):
    """A ``send`` was stored (or had been: a repeated client_msg_id)."""

    type: Literal["ack"] = "ack"
    client_msg_id: str
    message: View


class ErrorFrame(BaseFrame):
    """A frame failed, or the socket is being closed and says why."""

    type: Literal["error"] = "error"
    error: Problem
    client_msg_id: str | None = Field(default=None, exclude_if=_omitted)

    @classmethod
    def of(cls, exc: DomainError, client_msg_id: str | None = None) -> ErrorFrame:
        """The frame of a domain error, answering the send ``client_msg_id`` if any."""
        return cls(error=Problem.model_validate(exc.problem()), client_msg_id=client_msg_id)


class PongFrame(BaseFrame):
    """The answer to a ``ping``."""

    type: Literal["pong"] = "pong"


AnyFrame = (HelloFrame | MessageFrame | ChatFrame | AlertFrame | AlertClearedFrame | NoteFrame | PresenceFrame
            | TypingFrame | AckFrame | ErrorFrame | PongFrame | OfflineMessageFrame | MonitorFrame | WhisperFrame)
Frame = Annotated[AnyFrame, Field(discriminator="type")]
FRAMES: TypeAdapter[AnyFrame] = TypeAdapter(Frame)


# -- control events: housekeeping for every process's hub --------------------------------


class CloseToken(_Model):
    """Logout: every process closes the sockets of this token (1008)."""

    control: Literal["close_token"] = "close_token"
    token_id: int


class CloseTechnician(_Model):
    """A password, role or group change or a deactivation: close the technician's sockets but one token's."""

    control: Literal["close_technician"] = "close_technician"
    technician_id: int
    except_token_id: int | None = None


class TechnicianChanged(_Model):
    """A technician's account or status changed: sockets carry the new one (a technician view)."""

    control: Literal["technician_changed"] = "technician_changed"
    technician: View


class Resync(_Model):
    """Some process failed to publish: every hub re-reads from the database what its sockets missed."""

    control: Literal["resync"] = "resync"


AnyControl = CloseToken | CloseTechnician | TechnicianChanged | Resync
Control = Annotated[AnyControl, Field(discriminator="control")]
_CONTROLS: TypeAdapter[AnyControl] = TypeAdapter(Control)


# -- the envelope ----------------------------------------------------------------------


class Recipients(_Model):
    """Who gets a frame, chosen by the service (DESIGN.md rule 4); ids are kept sorted, each once."""

    technicians: tuple[int, ...] = ()
    requesters: tuple[int, ...] = ()
    all_technicians: bool = False
    admins: bool = False  # and every admin's sockets (monitor updates, whispers)

    @field_validator("technicians", "requesters", mode="before")
    @classmethod
    def _sorted(cls, ids: Any) -> Any:
        return tuple(sorted(set(ids))) if not isinstance(ids, str | bytes | dict) else ids

    def without(self, actor: Actor) -> Recipients:
        """The same people but ``actor`` (someone typing is not told that they type)."""
        if isinstance(actor, Technician):
            return self.model_copy(update={"technicians": tuple(t for t in self.technicians if t != actor.id)})
        return self.model_copy(update={"requesters": tuple(r for r in self.requesters if r != actor.id)})


class Delivery(_Model):
    """A frame on its way to its recipients."""

    frame: Frame
    to: Recipients


Envelope = Delivery | AnyControl


def encode(envelope: Envelope) -> Wire:
    """An envelope as the JSON-able data the broker carries (the broker makes it JSON text)."""
    return envelope.model_dump(mode="json")


def encode_text(envelope: Envelope) -> str:
    """An envelope as the JSON text the broker carries (one step: pydantic writes the JSON itself)."""
    return envelope.model_dump_json()


def decode(wire: Wire) -> Envelope:
    """The envelope the broker delivered; pydantic's ValidationError if it is no event of ours."""
    if isinstance(wire, dict) and "control" in wire:
        return _CONTROLS.validate_python(wire)
    return Delivery.model_validate(wire)
