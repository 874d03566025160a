"""Shared fixtures: real servers on SQLite and PostgreSQL, and a help desk built on them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.client import Desk, open_desk
from tests.support.server import Server, postgres_database, sqlite_server


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """One real server per database backend for the whole session."""
    if request.param == "sqlite":
        with sqlite_server() as srv:
            yield srv
    else:
        with postgres_database() as url, Server(url) as srv:
            yield srv


@pytest.fixture
async def desk(server: Server) -> AsyncIterator[Desk]:
    """A help desk on the server, with the admin logged in."""
    async with open_desk(server) as built:
        yield built
