"""Value rules shared by every edge (REST bodies, WebSocket frames): id ranges, client message ids, storable text."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, StringConstraints

MAX_ID = 2**31 - 1  # ids and seqs are 32-bit integer columns; larger ones are bad input, not a crash
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Seq = Annotated[int, Field(ge=0, le=MAX_ID)]
ClientMsgId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and unpaired surrogates: no database stores them


def storable(value: Any) -> Any:
    """Refuse text that no database can store (PostgreSQL rejects NUL; neither encodes lone surrogates)."""
    if isinstance(value, str) and UNSTORABLE.search(value):
        raise ValueError("must not contain NUL characters or unpaired surrogates")
    return value
