"""List parameters (`any_of`, `value_for`) select and update the same rows on SQLite and PostgreSQL.

The message path takes every chat's seqs with one UPDATE built from these; a wrong pairing would
hand out the wrong seqs, so they are checked here directly on both databases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from deskchat.storage.lists import any_of, value_for
from tests.support.server import postgres_database, sqlite_url

pytestmark = pytest.mark.anyio

metadata = MetaData()
rows = Table("rows", metadata, Column("id", Integer, primary_key=True), Column("tag", String(20)),
             Column("n", Integer))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[AsyncConnection]:
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(rows.insert(), [{"id": i, "tag": f"t{i}", "n": 100 * i} for i in range(1, 21)])
        yield connection
    await engine.dispose()


async def _ids(conn: AsyncConnection, *where: object) -> list[int]:
    return list((await conn.execute(select(rows.c.id).where(*where).order_by(rows.c.id))).scalars())  # type: ignore[arg-type]


async def test_any_of_matches_exactly_the_listed_values(conn: AsyncConnection) -> None:
    assert await _ids(conn, any_of(rows.c.id, [3, 1, 17])) == [1, 3, 17]
    assert await _ids(conn, any_of(rows.c.id, [5])) == [5]
    assert await _ids(conn, any_of(rows.c.id, [])) == []
    assert await _ids(conn, any_of(rows.c.id, [99, 4, 4])) == [4]
    assert await _ids(conn, any_of(rows.c.id, range(1, 21))) == list(range(1, 21))
    assert await _ids(conn, any_of(rows.c.tag, ["t2", "t20", "nope", "t2'; --"])) == [2, 20]
    assert await _ids(conn, any_of(rows.c.id, [2, 3, 20]), any_of(rows.c.tag, ["t3", "t20"])) == [3, 20]


async def test_value_for_adds_each_rows_own_amount(conn: AsyncConnection) -> None:
    expected = {i: 100 * i for i in range(1, 21)}
    for counts in ({7: 3, 2: 1, 19: 250}, {2: 1}, {20: 2, 1: 5}):
        changed = await conn.execute(update(rows).where(any_of(rows.c.id, sorted(counts)))
                                     .values(n=rows.c.n + value_for(rows.c.id, counts))
                                     .returning(rows.c.id, rows.c.n))
        for i, n in counts.items():
            expected[i] += n
        assert dict(changed.all()) == {i: expected[i] for i in counts}  # type: ignore[arg-type]
    assert dict((await conn.execute(select(rows.c.id, rows.c.n))).all()) == expected  # type: ignore[arg-type]
    assert expected[2] == 202 and expected[3] == 300
