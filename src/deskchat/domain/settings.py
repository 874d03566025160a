"""The admin settings of a desk."""

from __future__ import annotations

from dataclasses import dataclass

TIMEOUT_RANGE = (10, 86_400)


@dataclass(frozen=True)
class DeskSettings:
    """What an admin sets for the whole desk (API.md "settings")."""

    missed_chat_conversion: bool = False
    missed_chat_timeout_seconds: int = 120
    request_forward_email: str | None = None  # every new request is mailed there (an ITSM's mail-in address)

    @property
    def missed_after_seconds(self) -> int | None:
        """How long a chat may wait before it is missed; None while conversion is off."""
        return self.missed_chat_timeout_seconds if self.missed_chat_conversion else None
