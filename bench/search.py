"""Search benchmark (issue 16): 10,000 requests, then the latency of GET /api/v1/search on SQLite and PostgreSQL.

    make bench-search                # both databases, writes bench/results/search.json
    python bench/search.py --requests 10000 --queries 300

The requests (with a note each) are written straight into the database after `deskchat db upgrade`, then a
server is started and its indexer fills the index; the clock starts once every request is searchable. Each
query is one or two words drawn from the vocabulary, as a technician of one group (the readability check is
part of every query) and as an admin.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.targets import ADMIN_EMAIL, ADMIN_PASSWORD, DeskchatServer, Postgres, new_workdir, sqlite_url  # noqa: E402

from deskchat.storage.tables import groups, notes, requesters, requests  # noqa: E402

_VOCABULARY = ("printer toner vpn certificate outlook password wifi laptop battery screen monitor dock keyboard mouse "
         "badge door license excel teams meeting calendar phone headset camera update driver backup disk share "
         "folder permission account locked expired slow crash freeze install error network cable port")
WORDS = _VOCABULARY.split()
GROUPS = 10


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


async def seed(url: str, count: int, rng: random.Random) -> None:
    engine = create_async_engine(url)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        group_ids = [(await conn.execute(insert(groups).values(name=f"Bench group {i}", description="",
                                                                created_at=now).returning(groups.c.id))).scalar_one()
                     for i in range(GROUPS)]
        requester_id = (await conn.execute(insert(requesters).values(name="Bench", email="bench@example.com",
                                                                     created_at=now).returning(requesters.c.id))
                        ).scalar_one()
        for start in range(0, count, 1000):
            rows = [{"subject": text(rng, 5), "description": text(rng, 40), "status": "open", "source": "live_chat",
                     "requester_id": requester_id, "group_id": group_ids[i % GROUPS], "created_at": now,
                     "updated_at": now} for i in range(start, min(count, start + 1000))]
            ids = (await conn.execute(insert(requests).returning(requests.c.id, sort_by_parameter_order=True),
                                      rows)).scalars().all()
            await conn.execute(insert(notes), [{"request_id": i, "author_kind": "technician", "author_id": None,
                                                "author_name": "Bench", "body": text(rng, 15), "created_at": now}
                                               for i in ids])
    await engine.dispose()


async def wait_indexed(url: str, count: int, timeout: float = 600) -> float:
    engine = create_async_engine(url)
    started = time.monotonic()
    try:
        while True:
            async with engine.connect() as conn:
                left = (await conn.execute(select(requests.c.id).where(requests.c.indexed_at.is_(None)).limit(1))
                        ).first()
            if left is None:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise RuntimeError("the index did not catch up")
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(q * len(ordered)) - 1)]


async def measure(base: str, token: str, queries: int, rng: random.Random) -> dict[str, float]:
    timings = []
    async with httpx.AsyncClient(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {token}"},
                                 timeout=30) as client:
        for _ in range(10):  # warm up
            await client.get("/search", params={"q": rng.choice(WORDS)})
        for i in range(queries):
            q = " ".join(rng.sample(WORDS, 1 + i % 2))
            t0 = time.perf_counter()
            response = await client.get("/search", params={"q": q})
            timings.append((time.perf_counter() - t0) * 1000)
            response.raise_for_status()
    return {"p50_ms": round(statistics.median(timings), 2), "p95_ms": round(percentile(timings, 0.95), 2),
            "max_ms": round(max(timings), 2)}


async def run_one(name: str, url: str, workdir: Path, count: int, queries: int, port: int) -> dict[str, Any]:
    rng = random.Random(7)
    server = DeskchatServer(port, None, workdir, url)
    env = server.env()
    await asyncio.to_thread(server._prepare, env, 0, "search")
    await seed(url, count, rng)
    await server.start()
    try:
        indexed = await wait_indexed(url, count)
        async with httpx.AsyncClient(base_url=server.base_url + "/api/v1") as client:
            admin = (await client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).json()
            group_id = (await client.get("/groups", headers={"Authorization": f"Bearer {admin['token']}"},
                                         params={"limit": 200})).json()["items"][-1]["id"]
            headers = {"Authorization": f"Bearer {admin['token']}"}
            await client.post("/technicians", headers=headers, json={
                "name": "Bench tech", "email": "bench.tech@example.com", "password": "bench-password-1",
                "group_ids": [group_id]})
            tech = (await client.post("/auth/login", json={"email": "bench.tech@example.com",
                                                           "password": "bench-password-1"})).json()
        return {"database": name, "requests": count, "index_seconds": round(indexed, 1),
                "technician": await measure(server.base_url, tech["token"], queries, rng),
                "admin": await measure(server.base_url, admin["token"], queries, rng)}
    finally:
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "search.json"))
    args = parser.parse_args()
    results = []
    workdir = new_workdir("search-sqlite")
    results.append(await run_one("sqlite", sqlite_url(workdir), workdir, args.requests, args.queries, 8731))
    pg = Postgres()
    if pg.available() is None:
        try:
            results.append(await run_one("postgres", pg.create(), new_workdir("search-pg"), args.requests,
                                         args.queries, 8732))
        finally:
            pg.drop()
    report = json.dumps({"when": datetime.now(UTC).isoformat(), "results": results}, indent=2)
    await asyncio.to_thread(Path(args.out).write_text, report)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
