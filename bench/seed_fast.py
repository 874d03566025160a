"""Seed benchmark groups and technicians through deskchat's own service layer, cheaply.

Creating a technician over REST costs one argon2 hash with deskchat's production parameters
(~0.2 s on one core), and logging in costs another: 1,000 technicians would take six minutes of
setup per database. This helper runs *before* the server starts, against the same database, and
calls the same use cases as ``deskchat group create`` / ``deskchat technician create``, with
the module's password hasher swapped for a low-cost argon2 parameter set. The stored hashes are
ordinary argon2 hashes (their parameters are encoded in them), so the server later verifies the
REST logins with those cheap parameters. Nothing that the benchmark measures goes through this.

Prints ``{"groups": {name: id}, "technicians": [email, ...]}`` as JSON. If deskchat's internals
change shape, run.py falls back to seeding over REST (slow but always correct).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets

from argon2 import PasswordHasher

GROUPS = ("chats", "fanout", "timers")


async def seed(technicians: int, label: str, password: str) -> dict[str, object]:
    from deskchat.config import load_settings
    from deskchat.ratelimit import MemoryRateLimiter
    from deskchat.realtime.broker import MemoryBroker
    from deskchat.services import admin, auth
    from deskchat.services.context import Context, SqlStore
    from deskchat.storage.db import Database

    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    settings = load_settings()  # migrated by main() before the event loop starts
    db = Database(settings.database_url)
    ctx = Context(settings, SqlStore(db), MemoryBroker(), MemoryRateLimiter(), "bench-seed-" + secrets.token_hex(4))
    try:
        groups = {}
        for name in GROUPS:
            groups[name] = (await admin.create_group(ctx, None, f"bench-{label}-{name}", "benchmark"))["id"]
        emails = []
        for i in range(technicians):
            email = f"tech{i}.{label}@bench.example.com"
            await admin.create_technician(ctx, None, name=f"Tech {i}", email=email, password=password,
                                          role="technician", group_ids=[groups["chats"], groups["fanout"]])
            emails.append(email)
        return {"groups": groups, "technicians": emails}
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--technicians", type=int, required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--upgrade", action="store_true", help="apply the migrations first (deskchat db upgrade)")
    args = parser.parse_args()
    if args.upgrade:  # one process start instead of two: alembic's env.py runs its own event loop
        from deskchat.config import load_settings
        from deskchat.storage.db import upgrade

        upgrade(load_settings().database_url)
    print(json.dumps(asyncio.run(seed(args.technicians, args.label, args.password))))


if __name__ == "__main__":
    main()
