"""The DomainError tree; each error carries the stable ``type`` code of API.md."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a caller can cause; ``code`` and ``status`` are part of the API."""

    code = "invalid_state"
    status = 409
    title = "Invalid state"

    def __init__(self, detail: str, *, errors: dict[str, str] | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.retry_after = retry_after

    def problem(self) -> dict[str, object]:
        """This error as an RFC 9457 problem document."""
        body: dict[str, object] = {
            "type": self.code, "title": self.title, "status": self.status, "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body


class Overloaded(DomainError):
    """Not the caller's fault: every database connection stayed busy; the same call later will do."""

    code, status, title = "overloaded", 503, "Overloaded"


class Unauthorized(DomainError):
    code, status, title = "unauthorized", 401, "Unauthorized"


class Forbidden(DomainError):
    code, status, title = "forbidden", 403, "Forbidden"


class NotFound(DomainError):
    code, status, title = "not_found", 404, "Not found"


class AlreadyPickedUp(DomainError):
    code, status, title = "already_picked_up", 409, "Already picked up"


class InvalidState(DomainError):
    code, status, title = "invalid_state", 409, "Invalid state"


class TechnicianOffline(DomainError):
    code, status, title = "technician_offline", 409, "Technician offline"


class RequestAlreadyLinked(DomainError):
    code, status, title = "request_already_linked", 409, "Request already linked"


class NoLinkedRequest(DomainError):
    code, status, title = "no_linked_request", 409, "No linked request"


class Conflict(DomainError):
    code, status, title = "conflict", 409, "Conflict"


class ValidationFailed(DomainError):
    code, status, title = "validation_error", 422, "Validation error"


class RateLimited(DomainError):
    code, status, title = "rate_limited", 429, "Too many requests"


class PayloadTooLarge(DomainError):
    code, status, title = "payload_too_large", 413, "Payload too large"


class SignInFailed(DomainError):
    """A single sign-on that cannot be trusted: unknown or used ``state``, a refused code, a bad ID token."""

    code, status, title = "sign_in_failed", 400, "Sign-in failed"


class ProviderUnavailable(DomainError):
    """Not the caller's fault: the identity provider did not answer (or answered nonsense)."""

    code, status, title = "provider_unavailable", 502, "Identity provider unavailable"


class GroupClosed(DomainError):
    code, status, title = "group_closed", 409, "Group closed"


class EmailDisabled(DomainError):
    code, status, title = "email_disabled", 409, "Email disabled"


class AtCapacity(DomainError):
    code, status, title = "at_capacity", 409, "At capacity"
