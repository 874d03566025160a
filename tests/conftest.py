"""Shared fixtures: real servers on SQLite and PostgreSQL, and a help desk built on them."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.client import Desk
from tests.support.server import Server, postgres_database, sqlite_url


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """One real server per database backend for the whole session."""
    if request.param == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="deskchat-sqlite-"))
        with Server(sqlite_url(directory), data_dir=directory) as srv:
            yield srv
    else:
        with postgres_database() as url, Server(url) as srv:
            yield srv


@pytest.fixture
async def desk(server: Server) -> AsyncIterator[Desk]:
    """A help desk on the server, with the admin logged in."""
    built = await Desk(server.url, server.ws_url).start()
    try:
        yield built
    finally:
        await built.close()
