"""Summarise a py-spy ``--format raw`` profile (collapsed stacks) of the server.

    python bench/profile_summary.py bench/results/profile-chats-sqlite.txt [--top 25]

Prints, as shares of all samples: self time by package (which library the CPU is in), self time by
function, inclusive time by function (a function and everything it calls), and inclusive time of
deskchat's own functions, which is where a fix would go.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]+)(?::(?P<line>\d+))?\)$")
PACKAGES = ("deskchat", "sqlalchemy", "aiosqlite", "asyncpg", "sqlite3", "starlette", "fastapi", "uvicorn",
            "websockets", "pydantic", "pydantic_core", "structlog", "json", "asyncio", "uvloop", "greenlet",
            "prometheus_client", "anyio", "argon2", "concurrent", "threading", "logging", "typing")


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for raw in stack.split(";"):
            m = FRAME.match(raw.strip())
            frames.append((m["func"], m["file"]) if m else (raw.strip(), "?"))
        stacks.append((frames, int(count)))
    return stacks


def package(file: str) -> str:
    first = file.split("/", 1)[0]
    for p in PACKAGES:
        if first == p or first.startswith(p + "."):
            return p
    return first.removesuffix(".py") or "?"


def stage(frames: list[tuple[str, str]]) -> str:
    """Which part of the message path a sample belongs to (by its leaf, then by what called it)."""
    if not frames:  # a thread in native code with no Python frame at all
        return "event loop native code (uvloop: syscalls, callbacks; also idle waits)"
    func, file = frames[-1]
    files = ";".join(f for _, f in frames)
    pkg = package(file)
    if "_connection_worker_thread" in func or (pkg == "aiosqlite" and "threading.py" in files):
        return "SQLite itself (aiosqlite worker thread)"
    if pkg == "asyncpg":
        return "asyncpg driver"
    if pkg in ("sqlalchemy", "greenlet"):
        return "SQLAlchemy (build, compile, execute statements, rows)"
    if pkg == "aiosqlite":
        return "aiosqlite hand-off (event-loop side)"
    if "deskchat/realtime/" in files or ("send" in func and pkg in ("uvicorn", "websockets", "starlette")):
        return "delivery (hub, per-socket queues, frames out)"
    if "deskchat/services/messages.py" in files or "deskchat/storage/" in files:
        return "write path in deskchat's Python (plan, rules, rows -> dicts)"
    if "deskchat/api/ws.py" in files or pkg in ("uvicorn", "websockets", "starlette", "fastapi"):
        return "frames in (uvicorn, websockets, receive loop, parse)"
    if pkg == "asyncio" and func == "Runner.run":
        return "event loop native code (uvloop: syscalls, callbacks; also idle waits)"
    return "other"


def summarise(path: Path, top: int) -> str:
    stacks = parse(path)
    total = sum(c for _, c in stacks) or 1
    by_pkg: Counter[str] = Counter()
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    incl_deskchat: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    for frames, count in stacks:
        stages[stage([f for f in frames if not f[0].startswith("thread (")])] += count
        func, file = frames[-1]
        by_pkg[package(file)] += count
        self_fn[f"{file}:{func}"] += count
        seen = set()
        for func, file in frames:
            key = f"{file}:{func}"
            if key not in seen:
                seen.add(key)
                incl_fn[key] += count
                if file.startswith("deskchat/"):
                    incl_deskchat[key] += count

    def table(title: str, counter: Counter[str], n: int) -> str:
        rows = [f"  {100 * c / total:5.1f}%  {k}" for k, c in counter.most_common(n)]
        return f"{title}\n" + "\n".join(rows)

    return "\n\n".join([
        f"{path}: {total} samples",
        table("by stage of the message path", stages, 12),
        table("self time by package", by_pkg, 15),
        table("self time by function", self_fn, top),
        table("inclusive time by function", incl_fn, top),
        table("inclusive time, deskchat functions", incl_deskchat, top),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarise(args.profile, args.top))


if __name__ == "__main__":
    main()
