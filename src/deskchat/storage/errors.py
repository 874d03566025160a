"""Storage's own errors, so that services never see the database driver's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.exc import IntegrityError


class Duplicate(Exception):
    """A unique index refused the write: a concurrent request stored the same value first."""


@contextlib.contextmanager
def duplicates() -> Iterator[None]:
    """Raise ``Duplicate`` where the database refused a write for a unique index."""
    try:
        yield
    except IntegrityError as exc:
        raise Duplicate(str(exc.orig)) from exc
