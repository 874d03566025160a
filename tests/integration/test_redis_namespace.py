"""Two installations on one Redis (staging and production, say) never see each other's events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.support.client import open_desk
from tests.support.redis_server import RedisServer
from tests.support.server import Server, sqlite_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def installations() -> Iterator[tuple[Server, Server, Server]]:
    """Three servers on three new databases (so their ids coincide) and one Redis; the third sets a prefix."""
    with RedisServer() as redis:
        env = {"DESKCHAT_REDIS_URL": redis.url}
        with sqlite_server(env) as a, sqlite_server(env) as b, \
                sqlite_server({**env, "DESKCHAT_REDIS_PREFIX": "staging"}) as c:
            yield a, b, c


async def test_alerts_of_one_installation_never_reach_another_on_the_same_redis(
        installations: tuple[Server, Server, Server]) -> None:
    async with open_desk(installations[0]) as a, open_desk(installations[1]) as b, \
            open_desk(installations[2]) as c:
        desks = (a, b, c)
        groups = [await d.group("Network") for d in desks]
        techs = [await d.technician([g["id"]], name="sam") for d, g in zip(desks, groups, strict=True)]
        assert len({(t["id"], g["id"]) for (t, _, _), g in zip(techs, groups, strict=True)}) == 1  # same ids
        chat, _ = await b.start_chat(groups[1]["id"], message="Salary spreadsheet will not open")
        b_sock = techs[1][2]
        assert b_sock is not None
        await b_sock.wait_for(lambda f: f["type"] == "alert" and f["data"]["id"] == chat["id"])
        await asyncio.sleep(1.0)  # time enough for a stray event to arrive elsewhere
        for _, _, sock in (techs[0], techs[2]):
            assert sock is not None
            assert not [f for f in sock.frames if f["type"] == "alert"], sock.frames
