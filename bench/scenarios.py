"""The benchmark scenarios of issue 5. Each returns the raw figures as a dict; run.py names them,
compares them with the relay and checks the targets.

(a) chats         N chats, both sides sending over WS, fixed rate then a rate ramp
(b) alert_fanout  one new chat alerting M online technicians, repeated
(c) missed_timers K waiting chats reaching the missed-chat timeout
(d) reconnect     all sockets of N chats dropped at once under load, reconnected with resume
(e) idle_memory   server RSS per idle authenticated socket
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loadgen import REQUESTER, TECHNICIAN, ChatLoad, ChatPair, CpuMeter, latency_summary
from targets import TECH_PASSWORD, Api, ApiError, DeskchatServer, ServerProcess, gather_limited
from wsclient import WSClient, now, open_ws

_run_ids = itertools.count(1)


def wall_offset() -> float:
    """Add to a monotonic reading to get Unix time."""
    return time.time() - now()


def parse_ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass
class ChatsConfig:
    chats: int
    rate: float
    duration: float
    warmup: float
    ramp_start: float
    ramp_factor: float
    ramp_step: float
    ramp_steps: int
    ramp_p99_limit_ms: float = 250.0
    ramp_retry: bool = True  # run a failed step once more before concluding (noise)
    settle_s: float = 0.5
    body_size: int = 120
    arrivals: str = "poisson"


# --------------------------------------------------------------------------------------------
# seeding (deskchat only)


@dataclass
class Seed:
    """What a fresh deskchat server gets before the scenarios: admin, groups, technicians."""

    admin: str
    groups: dict[str, int]
    tech_tokens: list[str]


async def seed(api: Api, admin_email: str, admin_password: str, technicians: int, label: str,
               preseeded: dict[str, Any] | None = None) -> Seed:
    """Admin token, the three benchmark groups, and ``technicians`` logged-in technicians.

    With ``preseeded`` (from seed_fast.py) only the logins go over REST; else everything does."""
    admin = await api.login(admin_email, admin_password)
    if preseeded:
        groups, emails = preseeded["groups"], preseeded["technicians"][:technicians]
    else:
        groups = {}
        for name in ("chats", "fanout", "timers"):
            groups[name] = await api.create_group(admin, f"bench-{label}-{name}")
        emails = [f"tech{i}.{label}@bench.example.com" for i in range(technicians)]
        await gather_limited([api.create_technician(admin, f"Tech {i}", email, [groups["chats"], groups["fanout"]])
                              for i, email in enumerate(emails)], 8)
    tokens = await gather_limited([api.login(email, TECH_PASSWORD) for email in emails], 8)
    return Seed(admin, groups, list(tokens))


async def make_chats(api: Api, seed_: Seed, n: int, label: str) -> list[ChatPair]:
    """n new chats in the chats group, technician i % len(techs) picks up chat i."""
    created = await gather_limited(
        [api.create_chat(seed_.groups["chats"], f"User {label}{i}", f"u{label}{i}@example.com", f"Help {label}{i}")
         for i in range(n)],
        16,
    )
    techs = seed_.tech_tokens
    pairs = [ChatPair(chat["id"], vt, techs[i % len(techs)]) for i, (chat, vt) in enumerate(created)]
    picked = await gather_limited([api.pickup(p.technician_token, p.chat_id) for p in pairs], 16)
    for pair, chat in zip(pairs, picked, strict=True):
        pair.base_seq = chat["last_seq"]
    return pairs


async def count_persisted(api: Api, pairs: list[ChatPair]) -> int:
    """Messages stored since the load started, from each chat's last_seq (REST)."""
    chats = await gather_limited([api.chat(p.technician_token, p.chat_id) for p in pairs], 16)
    return sum(c["last_seq"] - p.base_seq for c, p in zip(chats, pairs, strict=True))


# --------------------------------------------------------------------------------------------
# (a) chats


async def chats(server: ServerProcess, pairs: list[ChatPair], cfg: ChatsConfig,
                api: Api | None = None, on_fixed_phase: Callable[[float], Any] | None = None) -> dict[str, Any]:
    """Fixed-rate open-loop phase (latency at the target rate), then a rate ramp (sustained maximum)."""
    load = ChatLoad(server.ws_url, pairs, body_size=cfg.body_size)
    out: dict[str, Any] = {"connect_s": round(await load.connect(), 2)}
    out["settle_s"] = round(await load.settle(cfg.settle_s), 2)
    out["connect_frames"] = load.frames_in()
    if isinstance(server, DeskchatServer) and os.getpriority(os.PRIO_PROCESS, 0) < 0:
        out["db_backends_reniced"] = server.renice_db()  # as nice as the server, if --nice was given
    profiler = on_fixed_phase(cfg.duration) if on_fixed_phase else None
    fixed = await load.run(cfg.rate, cfg.duration, cfg.warmup, cfg.arrivals, server.pid, server.db_pids)
    out["drained"] = await load.drain(fixed, max(30.0, 4 * cfg.duration))  # an overloaded target needs time
    if profiler is not None:
        await profiler
    out["fixed"] = {**fixed.summary(), **fixed.cpu}  # type: ignore[attr-defined]
    # Start the ramp where it will decide fast: above the fixed rate if that held, else just under
    # what the overloaded fixed phase managed to deliver (stepping down from far above is slow).
    f = out["fixed"]
    held = f["lost"] == 0 and not f.get("errors") and f.get("p99_ms", 1e9) <= cfg.ramp_p99_limit_ms
    start = max(cfg.ramp_start, cfg.rate) if held else max(10.0, round(0.9 * f["delivered_per_s"], -1))
    out["ramp"], out["sustained"] = await ramp(load, cfg, server, start)
    out["dup_frames"], out["gap_frames"] = load.dup_frames, load.gap_frames
    out["closed_unexpectedly"] = load.closed_unexpectedly
    if load.errors:
        out["ws_errors"] = dict(load.errors)
    sent = sum(ph.n_sent for ph in load.phases.values())
    out["sent_total"], out["acked_total"] = sent, sum(ph.n_acked for ph in load.phases.values())
    await load.close()
    if api is not None:
        out["persisted_total"] = await count_persisted(api, pairs)
    return out


async def ramp(load: ChatLoad, cfg: ChatsConfig, server: ServerProcess,
               start: float) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The highest offered rate the target sustains (no loss, no error, p99 under the limit).

    From ``start`` the rate goes up by ``ramp_factor`` per step until a step fails; if the very
    first step fails it goes down instead until one passes. Steps are open-loop like the rest."""
    steps: list[dict[str, Any]] = []
    best = None
    rate, direction, retried = start, 0, False
    for _ in range(cfg.ramp_steps):
        phase = await load.run(rate, cfg.ramp_step, cfg.ramp_step / 4, cfg.arrivals, server.pid, server.db_pids)
        drained = await load.drain(phase, max(2.0, cfg.ramp_step))
        s = {**phase.summary(), **phase.cpu}  # type: ignore[attr-defined]
        passed = drained and s["lost"] == 0 and not s.get("errors") and s.get("p99_ms", 1e9) <= cfg.ramp_p99_limit_ms
        steps.append({k: s[k] for k in ("offered_rate", "delivered_per_s", "p50_ms", "p99_ms", "lost",
                                        "server_cpu", "db_cpu", "generator_cpu", "errors") if k in s}
                     | {"sustained": passed})
        print(f"    ramp step {steps[-1]}", flush=True)
        if not passed:
            await load.drain(phase, 60)  # let the backlog clear before anything else runs
            if cfg.ramp_retry and not retried and direction >= 0:  # one retry, so a single hiccup does not end the ramp
                retried = True
                continue
        if passed:
            best = s
        if direction == 0:
            direction = 1 if passed else -1
        if (direction > 0 and not passed) or (direction < 0 and passed):
            break
        rate = rate * cfg.ramp_factor if direction > 0 else rate / cfg.ramp_factor
    return steps, best


# --------------------------------------------------------------------------------------------
# (b) alert fan-out


async def alert_fanout(server: DeskchatServer, api: Api, seed_: Seed, technicians: int, rounds: int) -> dict[str, Any]:
    """M technicians online in one group; a new chat there; time from POST to each alert."""
    tokens = seed_.tech_tokens[:technicians]
    alerts: dict[int, list[float]] = {}
    complete: dict[int, asyncio.Event] = {}
    frames: Counter[str] = Counter()

    def on_frame(client: WSClient, frame: dict[str, Any], t: float) -> None:
        kind = frame.get("type")
        frames[str(kind)] += 1
        if kind == "alert":
            chat_id = (frame.get("data") or {}).get("id")
            got = alerts.setdefault(chat_id, [])
            got.append(t)
            if len(got) >= technicians:
                complete.setdefault(chat_id, asyncio.Event()).set()
        elif kind == "hello":
            client.tag.set_result(t)

    # Status first, sockets second (and the reverse at the end): every presence change is sent to
    # every technician socket, so this order halves the O(M^2) presence storm of the setup.
    t0 = now()
    await gather_limited([api.set_status(tok, "online") for tok in tokens], 16)
    clients = await _open_authenticated(server.ws_url, tokens, on_frame)
    await _settle(frames, clients)
    setup_s = now() - t0
    setup_frames = sum(c.frames_in for c in clients)
    per_round_last, all_lat, missing = [], [], 0
    for r in range(rounds + 1):  # round 0 warms up
        t_post = now()
        chat, visitor = await api.create_chat(seed_.groups["fanout"], f"Fan {r}", f"fan{r}@example.com", f"fanout {r}")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(complete.setdefault(chat["id"], asyncio.Event()).wait(), 10)
        got = [t - t_post for t in alerts.get(chat["id"], [])]
        if r:
            missing += technicians - len(got)
            all_lat.extend(got)
            if got:
                per_round_last.append(max(got))
        await api.end_chat(visitor, chat["id"])
        await asyncio.sleep(0.1)
    for c in clients:
        c.close()
    await asyncio.sleep(1.0)
    await gather_limited([api.set_status(tok, "offline") for tok in tokens], 16)
    out = {"technicians": technicians, "rounds": rounds, "missing_alerts": missing,
           "setup_s": round(setup_s, 2), "setup_frames": setup_frames}
    out.update(latency_summary(per_round_last, "last_"))
    out.update(latency_summary(all_lat, "each_"))
    return out


async def _open_authenticated(url: str, tokens: list[str], on_frame: Any, concurrency: int = 64) -> list[WSClient]:
    """One socket per token; each client's ``tag`` is a future set on its ``hello``."""
    loop = asyncio.get_running_loop()

    async def one(token: str) -> WSClient:
        client = await open_ws(url, on_frame, loop.create_future())
        client.send({"type": "auth", "token": token})
        await asyncio.wait_for(client.tag, 30)
        return client

    return await gather_limited([one(t) for t in tokens], concurrency)


async def _settle(frames: Counter[str], clients: list[WSClient], quiet: float = 0.5, limit: float = 300.0) -> None:
    """Wait until no frame arrived for ``quiet`` seconds (e.g. a presence storm is over)."""
    deadline = now() + limit
    last = -1
    while now() < deadline:
        total = sum(c.frames_in for c in clients)
        if total == last:
            return
        last = total
        await asyncio.sleep(quiet)


# --------------------------------------------------------------------------------------------
# (c) missed-chat timers


class MissedTimers:
    """K waiting chats that all fall due at the same instant; how late does each become missed?

    ``prepare()`` creates the chats while missed-chat conversion is off (so they carry no due
    time). ``fire()`` waits until the youngest is older than the timeout, then turns conversion on:
    every one of them is due at that instant (API.md: a chat still waiting after the timeout becomes
    missed). Lateness = when its ``missed`` system message was written (server clock, via REST)
    minus max(created_at + timeout, the moment the settings change was acknowledged). A sample of
    requester sockets also times the ``chat`` frame with state ``missed``.
    """

    def __init__(self, server: DeskchatServer, api: Api, seed_: Seed, count: int, timeout_s: int, sample: int) -> None:
        self.server, self.api, self.seed, self.count = server, api, seed_, count
        self.timeout_s, self.sample = timeout_s, sample
        self.frame_missed: dict[int, float] = {}
        self.all_watched = asyncio.Event()
        self.clients: list[WSClient] = []

    async def prepare(self) -> None:
        await self.api.patch_settings(self.seed.admin, missed_chat_conversion=False)
        run = next(_run_ids)
        t0 = now()
        self.created = await gather_limited(
            [self.api.create_chat(self.seed.groups["timers"], f"Timer {i}", f"t{run}.{i}@example.com", f"timer {i}")
             for i in range(self.count)],
            32,
        )
        self.create_s = now() - t0
        self.created_at = {chat["id"]: parse_ts(chat["created_at"]) for chat, _ in self.created}

    async def fire(self) -> None:
        youngest = max(self.created_at.values())
        await asyncio.sleep(max(0.0, youngest + self.timeout_s + 0.5 - time.time()))
        step = max(1, self.count // max(1, self.sample))
        watched = self.created[::step][: self.sample]
        offset = wall_offset()

        def on_frame(client: WSClient, frame: dict[str, Any], t: float) -> None:
            if frame.get("type") == "hello":
                client.tag.set_result(t)
            elif frame.get("type") == "chat" and (frame.get("data") or {}).get("state") == "missed":
                self.frame_missed.setdefault(frame["data"]["id"], t + offset)
                if len(self.frame_missed) >= len(watched):
                    self.all_watched.set()

        self.clients = await _open_authenticated(self.server.ws_url, [vt for _, vt in watched], on_frame)
        self.watched = [chat["id"] for chat, _ in watched]
        if not self.watched:
            self.all_watched.set()
        t_patch = time.time()
        await self.api.patch_settings(self.seed.admin, missed_chat_conversion=True,
                                      missed_chat_timeout_seconds=self.timeout_s)
        self.t_fire = time.time()
        self.patch_s = self.t_fire - t_patch
        self.due = {cid: max(ts + self.timeout_s, self.t_fire) for cid, ts in self.created_at.items()}

    async def finish(self, grace: float = 120.0) -> dict[str, Any]:
        deadline = self.t_fire + grace
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.all_watched.wait(), max(0.0, deadline - time.time()))
        all_frames_s = max(self.frame_missed.values(), default=self.t_fire) - self.t_fire
        missed_at = await self._missed_times(deadline)
        await self.api.patch_settings(self.seed.admin, missed_chat_conversion=False)
        for c in self.clients:
            c.close()
        late_db = [missed_at[cid] - self.due[cid] for cid in missed_at]
        late_frame = [self.frame_missed[cid] - self.due[cid] for cid in self.frame_missed]
        early = sum(1 for cid, ts in missed_at.items() if ts < self.created_at[cid] + self.timeout_s)
        out: dict[str, Any] = {
            "timers": self.count, "timeout_s": self.timeout_s, "create_s": round(self.create_s, 2),
            "settings_patch_s": round(self.patch_s, 3), "converted": len(missed_at),
            "not_converted": self.count - len(missed_at), "early": early,
            "watched_sockets": len(self.watched), "watched_missed_frames": len(self.frame_missed),
            "watched_all_frames_s": round(all_frames_s, 3),
        }
        if missed_at:
            out["all_converted_s"] = round(max(missed_at.values()) - self.t_fire, 3)
        out.update(latency_summary(late_db))
        out.update(latency_summary(late_frame, "frame_"))
        return out

    async def _missed_times(self, deadline: float) -> dict[int, float]:
        """When each chat's ``missed`` system message was written (server clock), via REST."""
        found: dict[int, float] = {}
        pending = {chat["id"]: vt for chat, vt in self.created}
        while pending and time.time() < deadline + 5:
            results = await gather_limited([self._missed_at(cid, vt) for cid, vt in pending.items()], 16)
            for cid, ts in zip(list(pending), results, strict=True):
                if ts is not None:
                    found[cid] = ts
                    del pending[cid]
            if pending:
                await asyncio.sleep(0.5)
        return found

    async def _missed_at(self, chat_id: int, visitor: str) -> float | None:
        try:
            msgs = await self.api.all_messages(visitor, chat_id)
        except ApiError:
            return None
        for m in msgs:
            if m.get("event") == "missed":
                return parse_ts(m["created_at"])
        return None


# --------------------------------------------------------------------------------------------
# (d) reconnect


async def reconnect(server: ServerProcess, pairs: list[ChatPair], rate: float, before: float, after: float,
                    api: Api | None = None) -> dict[str, Any]:
    """Traffic on N chats; every socket aborted at once; all reconnect with resume; count loss/dups."""
    load = ChatLoad(server.ws_url, pairs)
    load.track_seqs = True
    load.buffer_when_down = True
    load.auto_reconnect = True
    socks = [s for pair in load.socks for s in pair]
    load.expect_resumes = len(socks)
    t0 = now()
    await load.connect(resume=True)
    await asyncio.wait_for(load.all_resumed.wait(), 300)  # the first connect has a presence storm too
    connect_s = now() - t0
    settle_s = await load.settle()
    traffic = asyncio.create_task(load.run(rate, before + after, 0.0, "poisson", server.pid))
    await asyncio.sleep(before)
    load.resumed_at.clear()
    load.expect_resumes = len(socks)
    load.all_resumed.clear()
    t_drop = now()
    load.drop_all()
    sem = asyncio.Semaphore(1000)

    async def back(sock: Any) -> None:
        async with sem:
            await load.open_sock(sock, resume=True)

    opened = await asyncio.gather(*(back(s) for s in socks), return_exceptions=True)
    load.expect_closes = False  # from here on a server close is answered by a reconnect
    failures = Counter(f"{type(e).__name__}: {e}"[:80] for e in opened if isinstance(e, BaseException))
    for sock, exc in zip(socks, opened, strict=True):
        if isinstance(exc, BaseException):  # keep trying, as a client would
            load.auto_reconnect_task(sock)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(load.all_resumed.wait(), 120)
    ok = list(load.resumed_at.values())
    phase = await traffic
    drained = await load.drain(phase, 60)
    await asyncio.sleep(0.5)  # let the last echoes arrive
    out: dict[str, Any] = {
        "chats": len(pairs), "sockets": len(socks), "rate": rate,
        "first_connect_s": round(connect_s, 2), "first_settle_s": round(settle_s, 2),
        "resumed": len(ok), "failed_to_resume": len(socks) - len(ok),
        "first_attempt_failures": dict(failures), "server_closes": dict(load.close_codes),
        "reconnects_after_server_close": load.reconnects,
        "resume_all_s": round(max(ok) - t_drop, 3) if ok else None,
        "resume_p50_s": round(sorted(ok)[len(ok) // 2] - t_drop, 3) if ok else None,
        "sent": phase.n_sent, "resent_after_reconnect": load.resent, "drained": drained,
        "out_of_order_frames": load.dup_frames, "gap_frames": load.gap_frames,
    }
    last_seq = {p.chat_id: max(s.last_seq.get(p.chat_id, 0) for s in pair)
                for p, pair in zip(pairs, load.socks, strict=True)}
    if api is not None:
        stored = await gather_limited([_timeline(api, p) for p in pairs], 16)
        last_seq = {p.chat_id: len(msgs) for p, msgs in zip(pairs, stored, strict=True)}
        out.update(_persisted_check(stored, phase))
    lost = dup = 0
    for pair, (req, tech) in zip(pairs, load.socks, strict=True):
        for sock in (req, tech):
            seen = sock.seen.get(pair.chat_id, bytearray())
            # lost: the socket's own chat, resumed from seq 0, must have seen 1..last_seq
            lost += sum(1 for seq in range(1, last_seq[pair.chat_id] + 1) if seq >= len(seen) or not seen[seq])
            # duplicated: any chat on this socket (a technician sees all its chats) delivered twice
            dup += sum(max(0, times - 1) for chat_seen in sock.seen.values() for times in chat_seen)
    out["lost"], out["duplicated"] = lost + out.get("not_persisted", 0), dup + out.get("persisted_twice", 0)
    out["delivered_lost"], out["delivered_duplicated"] = lost, dup
    await load.close()
    return out


async def _timeline(api: Api, pair: ChatPair) -> list[dict[str, Any]]:
    return await api.all_messages(pair.technician_token, pair.chat_id)


def _persisted_check(stored: list[list[dict[str, Any]]], phase: Any) -> dict[str, int]:
    """Every sent message stored exactly once (by client_msg_id); seqs 1..n without gaps."""
    prefix = f"b{phase.pid}-"
    counts: Counter[str] = Counter()
    gaps = 0
    for msgs in stored:
        gaps += sum(1 for k, m in enumerate(msgs, 1) if m["seq"] != k)
        counts.update(m["client_msg_id"] for m in msgs if (m.get("client_msg_id") or "").startswith(prefix))
    return {"not_persisted": phase.n_sent - len(counts), "persisted_twice": sum(c - 1 for c in counts.values()),
            "seq_gaps": gaps}


# --------------------------------------------------------------------------------------------
# (e) idle memory


async def idle_memory(server: ServerProcess, tokens: list[str], sockets: int, settle: float = 2.0) -> dict[str, Any]:
    """Server RSS growth per authenticated, idle socket (best measured on a young process)."""

    def on_frame(client: WSClient, frame: dict[str, Any], t: float) -> None:
        if frame.get("type") == "hello" and not client.tag.done():
            client.tag.set_result(t)

    warm = await _open_authenticated(server.ws_url, tokens[:50], on_frame)
    for c in warm:
        c.close()
    await asyncio.sleep(settle)
    rss0 = server.rss()
    toks = list(itertools.islice(itertools.cycle(tokens), sockets))
    t0 = now()
    clients = await _open_authenticated(server.ws_url, toks, on_frame)
    open_s = now() - t0
    await asyncio.sleep(settle)
    rss1 = server.rss()
    for c in clients:
        c.close()
    await asyncio.sleep(settle / 2)
    rss2 = server.rss()
    return {"sockets": sockets, "open_s": round(open_s, 2), "rss_before_mib": round(rss0 / 2**20, 1),
            "rss_open_mib": round(rss1 / 2**20, 1), "rss_after_close_mib": round(rss2 / 2**20, 1),
            "kib_per_socket": round((rss1 - rss0) / sockets / 1024, 2)}


__all__ = ["REQUESTER", "TECHNICIAN", "ChatsConfig", "CpuMeter", "MissedTimers", "Seed", "alert_fanout", "chats",
           "count_persisted", "idle_memory", "make_chats", "reconnect", "seed"]
