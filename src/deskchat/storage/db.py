"""The database handle: one async engine, write transactions, and schema migrations."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from deskchat.domain.errors import Overloaded

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let us issue BEGIN ourselves (the driver's implicit BEGIN cannot be IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL", "busy_timeout=10000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


class Database:
    """The engine plus the rule that writes on SQLite take turns (one writer at a time)."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = 30.0) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        in_memory = self.is_sqlite and make_url(url).database in (None, "", ":memory:")  # one shared connection
        pool: dict[str, Any] = {} if in_memory else {
            "pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=not self.is_sqlite, **pool)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            secure_sqlite_file(url)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)

    @contextlib.asynccontextmanager
    async def write_turn(self) -> AsyncIterator[None]:
        """On SQLite, writers of this process take turns (SQLite has one writer at a time)."""
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection; ``Overloaded`` (503) when none came free within the pool timeout."""
        conn = self.engine.connect()
        try:
            await conn.start()
        except PoolTimeout as exc:
            raise Overloaded("The server is too busy to answer now; try again in a moment.",
                             retry_after=1) from exc
        try:
            yield conn
        finally:
            await conn.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One read-write transaction; committed when the block ends without error."""
        async with self._connect() as conn:
            if self.is_sqlite:
                conn = await conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            async with conn.begin():
                yield conn

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """Take a writer's turn and run one transaction."""
        async with self.write_turn(), self.transaction() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """One read-only transaction (a consistent snapshot)."""
        async with self._connect() as conn, conn.begin():
            yield conn

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the migrations shipped in this package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations under a lock, so processes starting together migrate once.

    PostgreSQL: an advisory lock (in migrations/env.py); SQLite: a lock file beside the database.
    """
    secure_sqlite_file(url)
    with _sqlite_file_lock(url):
        command.upgrade(alembic_config(url), revision)


def secure_sqlite_file(url: str) -> None:
    """A SQLite database file is readable by its owner only (0600); SQLite gives its -wal and -shm the same mode."""
    database = make_url(url).database if url.startswith("sqlite") else None
    if not database or database == ":memory:":
        return
    os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(database, 0o600)


@contextlib.contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    database = make_url(url).database if url.startswith("sqlite") else None
    if not database or database == ":memory:":
        yield
        return
    with os.fdopen(os.open(f"{database}.migrate-lock", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
