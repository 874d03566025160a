"""Open-loop chat load: N chats with a requester and a technician socket each.

Messages arrive on a schedule fixed in advance (Poisson or uniform arrivals at ``rate`` per
second, round-robin over the chats, alternating the side that speaks); the generator never waits
for a reply before sending the next one. Each body carries the message's *scheduled* send time,
so the latency measured at the other end (``message`` frame) includes any delay in sending it,
generator lag included: no coordinated omission. ``gen_lag`` reports how late the generator
itself was, so a run limited by the generator shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
from wsclient import WSClient, dumps, now, open_ws

REQUESTER, TECHNICIAN = 0, 1
SIDES = ("requester", "technician")


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil without floats drifting
    return sorted_values[int(min(rank, len(sorted_values))) - 1]


def latency_summary(samples_s: list[float], prefix: str = "") -> dict[str, float]:
    """p50/p99/p99.9/max in milliseconds of samples given in seconds."""
    values = sorted(samples_s)
    if not values:
        return {}
    out = {}
    for key, q in (("p50_ms", 50), ("p99_ms", 99), ("p999_ms", 99.9)):
        out[prefix + key] = round(percentile(values, q) * 1000, 2)  # type: ignore[operator]
    out[prefix + "max_ms"] = round(values[-1] * 1000, 2)
    return out


class CpuMeter:
    """CPU share (cores) of the generator, the server and its database processes over an interval."""

    def __init__(self, server_pid: int | None, db_pids: Callable[[], list[int]] | None = None) -> None:
        self.me = psutil.Process(os.getpid())
        self.server = psutil.Process(server_pid) if server_pid else None
        self.db_pids = db_pids

    def start(self) -> None:
        self._t = now()
        self._me = self._cpu(self.me, children=False)
        self._srv = self._cpu(self.server)
        self._db = self._db_times()

    def stop(self) -> dict[str, float]:
        dt = max(now() - self._t, 1e-9)
        out = {"generator_cpu": round((self._cpu(self.me, children=False) - self._me) / dt, 3)}
        if self.server is not None:
            out["server_cpu"] = round((self._cpu(self.server) - self._srv) / dt, 3)
        end = self._db_times()
        if end:
            out["db_cpu"] = round(sum(end[p] - self._db.get(p, 0.0) for p in end) / dt, 3)
        return out

    def _db_times(self) -> dict[int, float]:
        out = {}
        for pid in self.db_pids() if self.db_pids else ():
            with contextlib.suppress(psutil.Error):
                out[pid] = sum(psutil.Process(pid).cpu_times()[:2])
        return out

    @staticmethod
    def _cpu(proc: psutil.Process | None, children: bool = True) -> float:
        if proc is None:
            return 0.0
        try:
            procs = [proc, *proc.children(recursive=True)] if children else [proc]
            return sum(sum(p.cpu_times()[:2]) for p in procs)
        except psutil.Error:
            return 0.0


class BackgroundMeter:
    """CPU (in cores) used by processes outside this benchmark's tree: other load skews results."""

    def start(self) -> None:
        self._t, self._sys, self._ours = now(), self._busy(), self._tree()

    def stop(self) -> float:
        dt = max(now() - self._t, 1e-9)
        return round(max(0.0, (self._busy() - self._sys) - (self._tree() - self._ours)) / dt, 3)

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)

    @staticmethod
    def _tree() -> float:
        me = psutil.Process(os.getpid())
        total = 0.0
        for p in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += sum(p.cpu_times()[:2])
        return total


@dataclass
class ChatPair:
    """One chat as the generator knows it: its id and the two tokens."""

    chat_id: int
    requester_token: str
    technician_token: str
    base_seq: int = 0


@dataclass
class Sock:
    """Generator-side state of one socket."""

    pair: ChatPair
    side: int
    token: str
    client: WSClient | None = None
    last_seq: dict[int, int] = field(default_factory=dict)
    seen: dict[int, bytearray] = field(default_factory=dict)  # seq -> times delivered (track_seqs)
    resumed: asyncio.Future[float] | None = None
    hello: asyncio.Future[float] | None = None
    up: bool = False  # authenticated and (if resuming) resume sent: sends go straight out


class Phase:
    """Counters of one open-loop run (a fixed-rate phase or one ramp step)."""

    def __init__(self, pid: int, rate: float, total: int, measure_from: float) -> None:
        self.pid, self.rate, self.total, self.measure_from = pid, rate, total, measure_from
        self.t_sched = [0.0] * total
        self.sent = bytearray(total)
        self.acked = bytearray(total)
        self.delivered = bytearray(total)  # deliveries at the *other* side
        self.latencies: list[float] = []
        self.ack_latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.n_sent = self.n_acked = self.n_delivered = self.n_dup = 0
        self.t_first = self.t_last_delivery = self.t_last_ack = 0.0
        self.gen_lag: list[float] = []

    def summary(self) -> dict[str, Any]:
        span = max(self.t_last_delivery - self.t_first, 1e-9) if self.n_delivered else 0.0
        ack_span = max(self.t_last_ack - self.t_first, 1e-9) if self.n_acked else 0.0
        out: dict[str, Any] = {
            "offered_rate": round(self.rate, 1),
            "scheduled": self.total,
            "sent": self.n_sent,
            "acked": self.n_acked,
            "delivered": self.n_delivered,
            "lost": self.n_sent - self.n_delivered,
            "duplicated": self.n_dup,
            "delivered_per_s": round(self.n_delivered / span, 1) if span else 0.0,
            "acked_per_s": round(self.n_acked / ack_span, 1) if ack_span else 0.0,
            "latency_samples": len(self.latencies),
        }
        out.update(latency_summary(self.latencies))
        out.update(latency_summary(self.ack_latencies, "ack_"))
        lag = sorted(self.gen_lag)
        if lag:
            out["gen_lag_p99_ms"] = round(percentile(lag, 99) * 1000, 2)  # type: ignore[operator]
            out["gen_lag_max_ms"] = round(lag[-1] * 1000, 2)
        if self.errors:
            out["errors"] = dict(self.errors)
        return out


class ChatLoad:
    """Sockets of a set of chats, and the open-loop message schedule over them."""

    def __init__(self, ws_url: str, pairs: list[ChatPair], body_size: int = 120, seed: int = 1) -> None:
        self.ws_url = ws_url
        self.pairs = pairs
        self.body_size = body_size
        self.rng = random.Random(seed)
        self.socks = [[Sock(p, REQUESTER, p.requester_token), Sock(p, TECHNICIAN, p.technician_token)] for p in pairs]
        self.phases: dict[int, Phase] = {}
        self._phase_ids = itertools.count(1)
        self.dup_frames = 0  # a seq delivered again on the same socket
        self.gap_frames = 0  # a seq skipped on a socket
        self.closed_unexpectedly = 0
        self.close_codes: Counter[str] = Counter()
        self.auto_reconnect = False  # reconnect (with resume) when the server closes a socket
        self.reconnects = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.resumed_at: dict[int, float] = {}  # id(sock) -> when its last resume completed
        self.expect_resumes = 0
        self.all_resumed = asyncio.Event()
        self.resent = 0
        self.errors: Counter[str] = Counter()
        self.track_seqs = False
        self.buffer_when_down = False  # keep frames of a dropped socket; resend after resume
        self.unacked: dict[int, dict[tuple[int, int], bytes]] = {}  # id(sock) -> sent, not acked yet
        self.expect_closes = False

    # sockets ----------------------------------------------------------------------------
    async def connect(self, concurrency: int = 64, resume: bool = False) -> float:
        """Open every socket (auth, hello; resume if asked). Returns seconds taken."""
        t0 = now()
        sem = asyncio.Semaphore(concurrency)

        async def one(sock: Sock) -> None:
            async with sem:
                await self.open_sock(sock, resume=resume)

        await asyncio.gather(*(one(s) for pair in self.socks for s in pair))
        return now() - t0

    def frames_in(self) -> int:
        """Frames received so far on every socket (skipped ones included)."""
        return sum(s.client.frames_in for pair in self.socks for s in pair if s.client is not None)

    async def settle(self, quiet: float = 0.5, limit: float = 300.0) -> float:
        """Wait until no frame arrived for ``quiet`` s (e.g. the presence storm of many logins)."""
        t0 = now()
        last = -1
        while now() - t0 < limit:
            total = self.frames_in()
            if total == last:
                break
            last = total
            await asyncio.sleep(quiet)
        return now() - t0

    async def open_sock(self, sock: Sock, resume: bool, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        sock.hello = loop.create_future()
        sock.resumed = loop.create_future() if resume else None
        for attempt in range(5):
            try:
                client = await open_ws(self.ws_url, self._on_frame, sock, timeout)
                break
            except (TimeoutError, OSError):
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        client.on_close = self._on_close
        sock.client = client
        client.send({"type": "auth", "token": sock.token})
        await asyncio.wait_for(sock.hello, timeout)
        if resume:
            chats = {str(cid): seq for cid, seq in sock.last_seq.items()} or {str(sock.pair.chat_id): 0}
            client.send({"type": "resume", "chats": chats})
        else:  # as the web clients do: the first frame after hello lets live messages flow at once
            client.send({"type": "ping"})
        self.resend_unacked(sock)
        sock.up = True

    def _on_close(self, client: WSClient) -> None:
        sock: Sock = client.tag
        if sock.client is client:
            sock.up = False
        if not self.expect_closes:
            self.closed_unexpectedly += 1
            self.close_codes[client.close_reason()] += 1
            if self.auto_reconnect and sock.client is client:
                self.auto_reconnect_task(sock)

    def auto_reconnect_task(self, sock: Sock) -> None:
        """Reconnect ``sock`` in the background (after a failed attempt or a server close)."""
        task = asyncio.get_running_loop().create_task(self._reconnect(sock))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconnect(self, sock: Sock) -> None:
        """What a real client does when the server closes it (1013: fell behind): resume by seq."""
        for attempt in range(10):
            await asyncio.sleep(0.2 * (attempt + 1))
            try:
                await self.open_sock(sock, resume=True)
                self.reconnects += 1
                return
            except (TimeoutError, OSError) as exc:
                self.errors[f"reconnect: {type(exc).__name__}"] += 1

    async def close(self) -> None:
        self.expect_closes = True
        for pair in self.socks:
            for sock in pair:
                if sock.client is not None:
                    sock.client.close()
        await asyncio.sleep(0.2)

    def drop_all(self) -> None:
        """Abort every TCP connection at once (no close handshake)."""
        self.expect_closes = True
        for pair in self.socks:
            for sock in pair:
                sock.up = False
                if sock.client is not None:
                    sock.client.abort()

    # frames -----------------------------------------------------------------------------
    def _on_frame(self, client: WSClient, frame: dict[str, Any], t: float) -> None:
        sock: Sock = client.tag
        kind = frame.get("type")
        if kind == "message":
            self._on_message(sock, frame, t)
        elif kind == "ack":
            self._on_ack(sock, frame.get("client_msg_id") or "", t)
        elif kind == "hello":
            if sock.hello is not None and not sock.hello.done():
                sock.hello.set_result(t)
        elif kind == "chat":
            data = frame.get("data") or {}
            if sock.resumed is not None and not sock.resumed.done() and data.get("id") == sock.pair.chat_id:
                sock.resumed.set_result(t)
                self.resumed_at[id(sock)] = t
                if self.expect_resumes and len(self.resumed_at) >= self.expect_resumes:
                    self.all_resumed.set()
        elif kind == "error":
            err = frame.get("error") or {}
            self.errors[str(err.get("type"))] += 1
            cmid = frame.get("client_msg_id")
            if cmid and cmid.startswith("b"):
                phase_id = int(cmid[1:].split("-", 1)[0])
                if phase_id in self.phases:
                    self.phases[phase_id].errors[str(err.get("type"))] += 1

    def _on_message(self, sock: Sock, frame: dict[str, Any], t: float) -> None:
        chat_id, seq = frame.get("chat_id"), frame.get("seq")
        if isinstance(chat_id, int) and isinstance(seq, int):
            last = sock.last_seq.get(chat_id, 0)
            if seq <= last:
                self.dup_frames += 1
            elif last and seq != last + 1:
                self.gap_frames += 1
            if seq > last:
                sock.last_seq[chat_id] = seq
            if self.track_seqs:
                seen = sock.seen.setdefault(chat_id, bytearray(64))
                if seq >= len(seen):
                    seen.extend(bytearray(max(seq + 1 - len(seen), len(seen))))
                seen[seq] = min(seen[seq] + 1, 255)
        if chat_id != sock.pair.chat_id:
            return  # a technician in several chats: only this socket's own chat counts here
        body = (frame.get("data") or {}).get("body") or ""
        if not body.startswith("b|"):
            return
        _, phase_id, index, side, t_sched, _ = body.split("|", 5)
        phase = self.phases.get(int(phase_id))
        if phase is None or int(side) == sock.side:
            return
        i = int(index)
        if phase.delivered[i]:
            phase.n_dup += 1
            return
        phase.delivered[i] = 1
        phase.n_delivered += 1
        phase.t_last_delivery = t
        ts = float(t_sched)
        if ts >= phase.measure_from:
            phase.latencies.append(t - ts)

    def _on_ack(self, sock: Sock, cmid: str, t: float) -> None:
        if not cmid.startswith("b"):
            return
        phase_id, index = cmid[1:].split("-", 1)
        phase = self.phases.get(int(phase_id))
        if phase is None:
            return
        i = int(index)
        self.unacked.get(id(sock), {}).pop((phase.pid, i), None)
        if phase.acked[i]:
            return
        phase.acked[i] = 1
        phase.n_acked += 1
        phase.t_last_ack = t
        if phase.t_sched[i] >= phase.measure_from:
            phase.ack_latencies.append(t - phase.t_sched[i])

    # load -------------------------------------------------------------------------------
    def _frame(self, phase: Phase, i: int, side: int, t_sched: float) -> bytes:
        pair = self.pairs[i % len(self.pairs)]
        head = f"b|{phase.pid}|{i}|{side}|{t_sched:.6f}|"
        body = head + "x" * max(0, self.body_size - len(head))
        return dumps({"type": "send", "chat_id": pair.chat_id, "body": body, "client_msg_id": f"b{phase.pid}-{i}"})

    def _send(self, phase: Phase, i: int, t_sched: float) -> None:
        n = len(self.pairs)
        side = (i // n) % 2
        sock = self.socks[i % n][side]
        frame = self._frame(phase, i, side, t_sched)
        phase.t_sched[i] = t_sched
        if not phase.sent[i]:
            phase.sent[i] = 1
            phase.n_sent += 1
        if self.buffer_when_down:
            self.unacked.setdefault(id(sock), {})[(phase.pid, i)] = frame
        if sock.up and sock.client is not None and sock.client.is_open:
            sock.client.send(frame)
        elif not self.buffer_when_down:
            phase.errors["socket_closed"] += 1
        # else: kept in ``unacked``; sent again once the socket is back (resend_unacked)

    def resend_unacked(self, sock: Sock) -> int:
        """After a reconnect: send again, in order and with the same client_msg_id, what was not acked."""
        pending = self.unacked.get(id(sock))
        if not pending or sock.client is None:
            return 0
        for frame in list(pending.values()):
            sock.client.send(frame)
        self.resent += len(pending)
        return len(pending)

    async def run(
        self,
        rate: float,
        duration: float,
        warmup: float = 0.0,
        arrivals: str = "poisson",
        server_pid: int | None = None,
        db_pids: Callable[[], list[int]] | None = None,
    ) -> Phase:
        """Send ``rate * duration`` messages open-loop; latency is sampled after ``warmup`` s."""
        total = max(1, int(rate * duration))
        pid = next(self._phase_ids)
        t0 = now() + 0.02
        phase = Phase(pid, rate, total, t0 + warmup)
        self.phases[pid] = phase
        schedule = self._schedule(t0, rate, total, arrivals)
        meter = CpuMeter(server_pid, db_pids)
        meter.start()
        phase.t_first = t0
        i = 0
        while i < total:
            t = now()
            if schedule[i] <= t:
                phase.gen_lag.append(t - schedule[i])  # how late the oldest due message goes out
            while i < total and schedule[i] <= t:
                self._send(phase, i, schedule[i])
                i += 1
            if i < total:
                await asyncio.sleep(max(0.0, min(schedule[i] - now(), 0.005)))
        phase.cpu = meter.stop()  # type: ignore[attr-defined]
        return phase

    def _schedule(self, t0: float, rate: float, total: int, arrivals: str) -> list[float]:
        if arrivals == "uniform":
            return [t0 + k / rate for k in range(total)]
        out, t = [], t0
        for _ in range(total):
            out.append(t)
            t += self.rng.expovariate(rate)
        return out

    async def drain(self, phase: Phase, timeout: float) -> bool:
        """Wait until every sent message reached the other side (or the timeout)."""
        deadline = now() + timeout
        while now() < deadline:
            if phase.n_delivered >= phase.n_sent and phase.n_acked >= phase.n_sent:
                return True
            await asyncio.sleep(0.01)
        return False
