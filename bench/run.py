"""Run the deskchat benchmark and write bench/results/latest.json.

    taskset -c 1 .venv/bin/python bench/run.py --mode quick   # < 60 s, small numbers
    taskset -c 1 .venv/bin/python bench/run.py --mode full    # the targets of issue 5

This process is the load generator (pinned to --generator-cpu); every server it starts (the bare
relay, deskchat on SQLite, deskchat on PostgreSQL) is pinned to --server-cpu. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenarios as sc
from loadgen import BackgroundMeter
from targets import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Api,
    DeskchatServer,
    Postgres,
    RelayServer,
    gather_limited,
    new_workdir,
    pinned,
    sqlite_url,
)

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Mode:
    chats: sc.ChatsConfig
    fanout_techs: int
    fanout_rounds: int
    timers: int
    timer_timeout_s: int
    timer_sample_sockets: int
    reconnect_chats: int
    reconnect_rate: float
    reconnect_before_s: float
    reconnect_after_s: float
    idle_sockets: int
    idle_settle_s: float
    scenarios: list[str] = field(default_factory=list)


MODES = {
    "quick": Mode(
        chats=sc.ChatsConfig(chats=50, rate=500, duration=2.0, warmup=0.5, ramp_start=1000, ramp_factor=2,
                             ramp_step=1.0, ramp_steps=3, ramp_retry=False, settle_s=0.25),
        fanout_techs=50, fanout_rounds=5, timers=100, timer_timeout_s=10, timer_sample_sockets=50,
        reconnect_chats=50, reconnect_rate=200, reconnect_before_s=0.75, reconnect_after_s=0.75,
        idle_sockets=200, idle_settle_s=0.5,
    ),
    "full": Mode(
        chats=sc.ChatsConfig(chats=1000, rate=2000, duration=20, warmup=3, ramp_start=1000, ramp_factor=1.25,
                             ramp_step=4.0, ramp_steps=14),
        fanout_techs=1000, fanout_rounds=30, timers=10000, timer_timeout_s=10, timer_sample_sockets=1000,
        reconnect_chats=1000, reconnect_rate=1000, reconnect_before_s=5, reconnect_after_s=5,
        idle_sockets=2000, idle_settle_s=2.0,
    ),
}
ALL = ["chats-sqlite", "chats-postgres", "alert-fanout", "missed-timers", "reconnect", "idle-memory"]


# ---------------------------------------------------------------------------------------------
# result records


def chats_record(name: str, mode: Mode, res: dict[str, Any], relay: dict[str, Any], db: str) -> dict[str, Any]:
    cfg = mode.chats
    fixed, best = res["fixed"], res.get("sustained") or {}
    relay_best = relay.get("sustained") or {}
    rec: dict[str, Any] = {
        "name": name,
        "params": {"db": db, "chats": cfg.chats, "sockets": 2 * cfg.chats, "rate": cfg.rate,
                   "duration_s": cfg.duration, "warmup_s": cfg.warmup, "body_bytes": cfg.body_size,
                   "arrivals": cfg.arrivals,
                   "ramp": f"x{cfg.ramp_factor} every {cfg.ramp_step}s from {cfg.ramp_start}/s"},
        "msgs_per_s": fixed.get("acked_per_s"),
        "p50_ms": fixed.get("p50_ms"), "p99_ms": fixed.get("p99_ms"), "p999_ms": fixed.get("p999_ms"),
        "max_ms": fixed.get("max_ms"), "ack_p99_ms": fixed.get("ack_p99_ms"),
        "sustained_msgs_per_s": best.get("delivered_per_s"),
        "sustained_p50_ms": best.get("p50_ms"), "sustained_p99_ms": best.get("p99_ms"),
        "baseline_msgs_per_s": relay_best.get("delivered_per_s"),
        "baseline_p50_ms": relay["fixed"].get("p50_ms"), "baseline_p99_ms": relay["fixed"].get("p99_ms"),
        "server_cpu": fixed.get("server_cpu"), "generator_cpu": fixed.get("generator_cpu"),
        **({"db_cpu": fixed["db_cpu"]} if "db_cpu" in fixed else {}),
        "baseline_server_cpu": relay["fixed"].get("server_cpu"),
        "gen_lag_p99_ms": fixed.get("gen_lag_p99_ms"),
        "lost": fixed.get("lost", 0) + max(0, res["sent_total"] - res.get("persisted_total", res["sent_total"])),
        "duplicated": fixed.get("duplicated", 0) + res.get("dup_frames", 0),
        "sent_total": res["sent_total"], "persisted_total": res.get("persisted_total"),
        "ramp": res["ramp"], "baseline_ramp": relay["ramp"],
    }
    if rec["sustained_msgs_per_s"] and rec["baseline_msgs_per_s"]:
        rec["ratio"] = round(rec["sustained_msgs_per_s"] / rec["baseline_msgs_per_s"], 3)
    # CPU cost per message, server and relay, measured at the same offered rate: the ratio that the
    # generator cannot cap (the relay's own ceiling is above what one generator core can offer).
    if fixed.get("server_cpu") and relay["fixed"].get("server_cpu") and fixed.get("acked_per_s"):
        us = fixed["server_cpu"] / fixed["acked_per_s"] * 1e6
        us_relay = relay["fixed"]["server_cpu"] / relay["fixed"]["acked_per_s"] * 1e6
        rec["server_us_per_msg"], rec["baseline_us_per_msg"] = round(us, 1), round(us_relay, 1)
        rec["cpu_ratio"] = round(us_relay / us, 3)
        rec["cpu_capacity_msgs_per_s"] = round(1e6 / us)
    for key in ("closed_unexpectedly", "gap_frames", "ws_errors"):
        if res.get(key):
            rec[key] = res[key]
    rec["target"] = "1,000 chats at 2,000 persisted msg/s, p99 <= 50 ms, sustained >= 0.5 x relay, 0 lost"
    rec["target_met"] = bool(
        cfg.chats >= 1000 and cfg.rate >= 2000
        and (rec["msgs_per_s"] or 0) >= 0.97 * cfg.rate
        and (rec["p99_ms"] or 1e9) <= 50 and (rec.get("ratio") or 0) >= 0.5
        and rec["lost"] == 0 and rec["duplicated"] == 0
    )
    rec["thresholds_met_at_this_scale"] = bool(
        (rec["msgs_per_s"] or 0) >= 0.97 * cfg.rate and (rec["p99_ms"] or 1e9) <= 50
        and (rec.get("ratio") or 0) >= 0.5 and rec["lost"] == 0 and rec["duplicated"] == 0
    )
    return rec


def fanout_record(mode: Mode, res: dict[str, Any]) -> dict[str, Any]:
    rec = {"name": "alert-fanout", "params": {"technicians": res["technicians"], "rounds": res["rounds"]},
           "p50_ms": res.get("last_p50_ms"), "p99_ms": res.get("last_p99_ms"), "p999_ms": res.get("last_p999_ms"),
           "max_ms": res.get("last_max_ms"), "each_alert_p50_ms": res.get("each_p50_ms"),
           "each_alert_p99_ms": res.get("each_p99_ms"), "lost": res["missing_alerts"],
           "setup_s": res["setup_s"], "setup_frames": res["setup_frames"],
           "note": "p50/p99 = time from POST /chats to the LAST of the M alerts, over the rounds"}
    ok = (rec["p99_ms"] or 1e9) <= 100 and rec["lost"] == 0
    rec.update(target="1,000 technicians alerted, p99 <= 100 ms", target_met=ok and res["technicians"] >= 1000,
               thresholds_met_at_this_scale=ok)
    return rec


def timers_record(res: dict[str, Any]) -> dict[str, Any]:
    rec = {"name": "missed-timers",
           "params": {"timers": res["timers"], "timeout_s": res["timeout_s"], "create_s": res["create_s"],
                      "watched_sockets": res["watched_sockets"], "due": "all at once (conversion switched on)"},
           "p50_ms": res.get("frame_p50_ms"), "p99_ms": res.get("frame_p99_ms"), "p999_ms": res.get("frame_p999_ms"),
           "max_ms": res.get("frame_max_ms"), "db_p50_ms": res.get("p50_ms"), "db_p99_ms": res.get("p99_ms"),
           "db_max_ms": res.get("max_ms"),
           "all_converted_s": res.get("all_converted_s"), "settings_patch_s": res["settings_patch_s"],
           "converted": res["converted"], "lost": res["not_converted"], "early": res["early"],
           "watched_missed_frames": res["watched_missed_frames"],
           "note": "K chats waiting longer than the timeout while conversion is off; switching it on makes all "
                   "due at once (t_due = settings change acknowledged). p50/p99 = arrival of the requester's "
                   "chat(state=missed) frame - t_due, on the watched sample of sockets; db_* = created_at of each "
                   "chat's 'missed' system message - t_due, all K (the transaction's start time: a batch shares it)"}
    if rec["p99_ms"] is None:  # no socket watched: fall back to the stored times
        rec.update(p50_ms=rec["db_p50_ms"], p99_ms=rec["db_p99_ms"], max_ms=rec["db_max_ms"])
    ok = (rec["p99_ms"] if rec["p99_ms"] is not None else 1e9) <= 1000 and rec["lost"] == 0 and rec["early"] == 0
    rec.update(target="10,000 timers, p99 lateness <= 1 s", target_met=ok and res["timers"] >= 10000,
               thresholds_met_at_this_scale=ok)
    return rec


def reconnect_record(res: dict[str, Any]) -> dict[str, Any]:
    rec = {"name": "reconnect",
           "params": {"chats": res["chats"], "sockets": res["sockets"], "rate": res["rate"]},
           "resume_all_s": res["resume_all_s"], "resume_p50_s": res["resume_p50_s"],
           "lost": res["lost"], "duplicated": res["duplicated"], **{k: res[k] for k in (
               "first_connect_s", "resumed", "failed_to_resume", "first_attempt_failures", "server_closes",
               "reconnects_after_server_close", "sent", "resent_after_reconnect", "out_of_order_frames", "gap_frames",
               "delivered_lost", "delivered_duplicated") if k in res},
           **{k: res[k] for k in ("not_persisted", "persisted_twice", "seq_gaps") if k in res}}
    ok = ((rec["resume_all_s"] or 1e9) <= 10 and rec["lost"] == 0 and rec["duplicated"] == 0
          and not res["failed_to_resume"])
    rec.update(target="2,000 sockets resumed within 10 s, 0 lost, 0 duplicated",
               target_met=ok and res["sockets"] >= 2000, thresholds_met_at_this_scale=ok)
    return rec


def idle_record(res: dict[str, Any], relay: dict[str, Any] | None) -> dict[str, Any]:
    rec = {"name": "idle-memory", "params": {"sockets": res["sockets"], "kind": "requester (visitor token)"},
           "kib_per_socket": res["kib_per_socket"], "rss_before_mib": res["rss_before_mib"],
           "rss_open_mib": res["rss_open_mib"], "rss_after_close_mib": res["rss_after_close_mib"]}
    if relay:
        rec["baseline_kib_per_socket"] = relay["kib_per_socket"]
    ok = rec["kib_per_socket"] <= 20
    rec.update(target="<= 20 KiB per idle socket", target_met=ok and res["sockets"] >= 2000,
               thresholds_met_at_this_scale=ok)
    return rec


def failed(name: str, exc: BaseException, server: Any = None) -> dict[str, Any]:
    rec = {"name": name, "error": f"{type(exc).__name__}: {exc}"[:2000], "target_met": False}
    if server is not None:
        rec["server_log_tail"] = server.log_tail(15)
    traceback.print_exception(exc)
    return rec


# ---------------------------------------------------------------------------------------------
# orchestration


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mode = MODES[args.mode]
        self.wanted = args.scenarios or ALL
        self.records: dict[str, dict[str, Any]] = {}
        self.relay_chats: dict[str, Any] | None = None
        self.relay_idle: dict[str, Any] | None = None
        self.relay_background_cpu = 0.0
        self.started = time.monotonic()

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    async def run(self) -> None:
        if self.args.wait_quiet:
            await self.wait_quiet(self.args.wait_quiet)
        await self.run_relay()
        sqlite_wanted = [s for s in self.wanted if s != "chats-postgres"]
        if sqlite_wanted:
            workdir = new_workdir("sqlite")
            await self.run_deskchat(sqlite_url(workdir), workdir, "sqlite", sqlite_wanted)
        if "chats-postgres" in self.wanted:
            await self.run_postgres()

    async def run_relay(self) -> None:
        if not any(s.startswith("chats") or s == "idle-memory" for s in self.wanted):
            return
        relay = RelayServer(self.args.relay_port, self.args.server_cpu, new_workdir("relay"))
        await relay.start()
        meter = BackgroundMeter()
        meter.start()
        try:
            if "idle-memory" in self.wanted:  # first, on the young process, as for deskchat
                toks = [p.requester_token for p in relay.pairs(self.mode.idle_sockets, 10**6)]
                self.relay_idle = await sc.idle_memory(relay, toks, self.mode.idle_sockets, self.mode.idle_settle_s)
                self.log(f"relay: idle {self.relay_idle}")
            cfg = self.mode.chats
            if any(s.startswith("chats") for s in self.wanted):
                self.log(f"relay: chats N={cfg.chats} rate={cfg.rate}/s, then ramp")
                self.relay_chats = await sc.chats(relay, relay.pairs(cfg.chats), cfg)
                self.log(f"relay: fixed {short(self.relay_chats['fixed'])}; sustained "
                         f"{(self.relay_chats['sustained'] or {}).get('delivered_per_s')}/s")
        finally:
            relay.stop()
            self.relay_background_cpu = meter.stop()

    async def wait_quiet(self, limit: float) -> None:
        """Wait (up to ``limit`` s) until other processes use less than 0.15 cores."""
        deadline = time.monotonic() + limit
        while True:
            meter = BackgroundMeter()
            meter.start()
            await asyncio.sleep(2.0)
            bg = meter.stop()
            if bg < 0.15 or time.monotonic() > deadline:
                self.log(f"background load {bg:.2f} cores; starting")
                return
            self.log(f"background load {bg:.2f} cores; waiting for a quiet machine")

    async def run_postgres(self) -> None:
        pg = Postgres(self.args.pg_host, self.args.pg_port, self.args.pg_user)
        reason = pg.available()
        if reason:
            self.records["chats-postgres"] = {"name": "chats-postgres", "skipped": f"PostgreSQL unavailable: {reason}",
                                              "target_met": False}
            self.log(f"chats-postgres skipped: {reason}")
            return
        url = pg.create()
        try:
            await self.run_deskchat(url, new_workdir("postgres"), "postgres", ["chats-postgres"])
        finally:
            pg.drop()

    async def run_deskchat(self, db_url: str, workdir: Path, db: str, wanted: list[str]) -> None:
        server = DeskchatServer(self.args.port, self.args.server_cpu, workdir, db_url)
        api = Api(server.base_url)
        try:
            try:
                # one technician per chat: a technician's socket gets every chat of theirs
                techs = max(self.mode.chats.chats if f"chats-{db}" in wanted else 0,
                            self.mode.fanout_techs if "alert-fanout" in wanted else 0,
                            self.mode.reconnect_chats if "reconnect" in wanted else 0, 1)
                t0 = time.monotonic()
                preseeded = await server.start(0 if self.args.rest_seed else techs, db)
                seed = await sc.seed(api, ADMIN_EMAIL, ADMIN_PASSWORD, techs, db, preseeded)
                self.log(f"{db}: seeded {techs} technicians in {time.monotonic() - t0:.1f}s")
            except Exception as exc:
                for name in wanted:
                    self.records[name] = failed(name, exc, server)
                return
            await self.deskchat_scenarios(server, api, seed, db, wanted)
        finally:
            await api.aclose()
            server.stop()

    async def deskchat_scenarios(self, server: DeskchatServer, api: Api, seed: sc.Seed, db: str,
                                 wanted: list[str]) -> None:
        timers = None
        if "missed-timers" in wanted:  # created first, fired last: by then they are all past the timeout
            timers = await self.guard("missed-timers", server, self.timers_prepare(server, api, seed))
        if "idle-memory" in wanted:  # early, while the process is young (freed memory hides growth)
            tokens = [vt for _, vt in timers.created] if isinstance(timers, sc.MissedTimers) else None
            await self.guard("idle-memory", server, self.scenario_idle(server, api, seed, tokens))
        name = f"chats-{db}"
        if name in wanted:
            await self.guard(name, server, self.scenario_chats(server, api, seed, db))
        if "reconnect" in wanted:
            await self.guard("reconnect", server, self.scenario_reconnect(server, api, seed))
        if "alert-fanout" in wanted:
            await self.guard("alert-fanout", server, self.scenario_fanout(server, api, seed))
        if timers is not None:
            await self.guard("missed-timers", server, self.timers_finish(timers))

    async def guard(self, name: str, server: Any, coro: Any) -> Any:
        meter = BackgroundMeter()
        meter.start()
        try:
            return await coro
        except Exception as exc:
            self.records[name] = failed(name, exc, server)
            self.log(f"{name} FAILED: {exc}")
            return None
        finally:
            if name in self.records:
                bg = meter.stop()
                self.records[name]["background_cpu"] = max(bg, self.records[name].get("background_cpu", 0.0))
                if bg > 0.1:
                    self.log(f"{name}: WARNING other processes used {bg:.2f} cores meanwhile; figures are skewed")
                self.save()  # partial results survive an interrupted run

    async def scenario_chats(self, server: DeskchatServer, api: Api, seed: sc.Seed, db: str) -> None:
        cfg = self.mode.chats
        pairs = await sc.make_chats(api, seed, cfg.chats, f"c{db}")
        self.log(f"chats-{db}: {cfg.chats} chats picked up; load N={cfg.chats} rate={cfg.rate}/s, then ramp")
        prof = self.profiler(server, f"chats-{db}") if self.args.profile else None
        res = await sc.chats(server, pairs, cfg, api, prof)
        assert self.relay_chats is not None
        rec = chats_record(f"chats-{db}", self.mode, res, self.relay_chats, db)
        rec["baseline_background_cpu"] = self.relay_background_cpu
        self.records[rec["name"]] = rec
        self.log(f"chats-{db}: {short(res['fixed'])}; sustained {rec['sustained_msgs_per_s']}/s "
                 f"ratio {rec.get('ratio')} persisted {res.get('persisted_total')}/{res['sent_total']}")

    def profiler(self, server: DeskchatServer, name: str) -> Any:
        def start(duration: float) -> Any:
            out = RESULTS / f"profile-{name}.txt"
            # non-blocking sampling, pinned to the generator's core: the server is not paused or crowded
            cmd = pinned([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.pid),
                          "--rate", "250", "--duration", str(int(duration)), "--format", "raw", "--nonblocking",
                          "--threads", "-o", str(out)], self.args.generator_cpu)
            self.log("profiling: " + shlex.join(cmd))
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return asyncio.to_thread(proc.wait)
        return start

    async def timers_prepare(self, server: DeskchatServer, api: Api, seed: sc.Seed) -> sc.MissedTimers:
        m = self.mode
        timers = sc.MissedTimers(server, api, seed, m.timers, m.timer_timeout_s, m.timer_sample_sockets)
        await timers.prepare()
        self.log(f"missed-timers: {m.timers} waiting chats created in {timers.create_s:.1f}s (conversion off)")
        return timers

    async def timers_finish(self, timers: sc.MissedTimers) -> None:
        await timers.fire()
        self.log(f"missed-timers: conversion on, timeout {timers.timeout_s}s: all {timers.count} due now "
                 f"(PATCH took {timers.patch_s:.2f}s)")
        res = await timers.finish()
        self.records["missed-timers"] = timers_record(res)
        self.log(f"missed-timers: {res}")

    async def scenario_reconnect(self, server: DeskchatServer, api: Api, seed: sc.Seed) -> None:
        m = self.mode
        pairs = await sc.make_chats(api, seed, m.reconnect_chats, "r")
        self.log(f"reconnect: {len(pairs)} chats, {2 * len(pairs)} sockets, {m.reconnect_rate} msg/s")
        res = await sc.reconnect(server, pairs, m.reconnect_rate, m.reconnect_before_s, m.reconnect_after_s, api)
        self.records["reconnect"] = reconnect_record(res)
        self.log(f"reconnect: {res}")

    async def scenario_idle(self, server: DeskchatServer, api: Api, seed: sc.Seed, tokens: list[str] | None) -> None:
        if not tokens:
            n = min(self.mode.idle_sockets, 500)
            created = await gather_limited([api.create_chat(seed.groups["timers"], f"Idle {i}", f"idle{i}@example.com",
                                                            f"idle {i}") for i in range(n)], 16)
            tokens = [vt for _, vt in created]
        res = await sc.idle_memory(server, tokens, self.mode.idle_sockets, self.mode.idle_settle_s)
        self.records["idle-memory"] = idle_record(res, self.relay_idle)
        self.log(f"idle-memory: {res}")

    async def scenario_fanout(self, server: DeskchatServer, api: Api, seed: sc.Seed) -> None:
        m = self.mode
        res = await sc.alert_fanout(server, api, seed, m.fanout_techs, m.fanout_rounds)
        self.records["alert-fanout"] = fanout_record(m, res)
        self.log(f"alert-fanout: {res}")

    def save(self) -> None:
        self.args.out.parent.mkdir(parents=True, exist_ok=True)
        self.args.out.write_text(json.dumps(self.results(self.started), indent=2) + "\n")

    def results(self, started: float) -> dict[str, Any]:
        order = [n for n in ALL if n in self.records] + [n for n in self.records if n not in ALL]
        return {
            "machine": machine(),
            "command": self.args.command or shlex.join(["python", *sys.argv]),
            "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "mode": self.args.mode,
            "server_commit": git_describe(),
            "duration_s": round(time.monotonic() - started, 1),
            "generator": {"cpu": self.args.generator_cpu, "server_cpu": self.args.server_cpu, "nice": self.args.nice,
                          "ws_client": "websockets sans-I/O ClientProtocol on uvloop, no compression",
                          "mode_params": asdict(self.mode)},
            "scenarios": [self.records[n] for n in order],
        }


def git_describe() -> str | None:
    """The commit the server code was measured at (``-dirty`` if src/ had local changes)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True,
                               text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def short(s: dict[str, Any]) -> str:
    keys = ("acked_per_s", "p50_ms", "p99_ms", "p999_ms", "lost", "server_cpu", "generator_cpu", "gen_lag_p99_ms")
    return " ".join(f"{k}={s.get(k)}" for k in keys)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


def main() -> None:
    parser = argparse.ArgumentParser(description="deskchat benchmark (issue 5)")
    parser.add_argument("--mode", choices=sorted(MODES), default="quick")
    parser.add_argument("--scenarios", nargs="*", choices=ALL, help="default: all")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--relay-port", type=int, default=8300)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--generator-cpu", type=int, default=1)
    parser.add_argument("--pg-host", default=os.environ.get("BENCH_PG_HOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("BENCH_PG_PORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("BENCH_PG_USER", "postgres"))
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="first wait up to this long for other processes to go quiet")
    parser.add_argument("--nice", type=int, default=0,
                        help="scheduling niceness of the generator and servers (e.g. -10 on a shared machine; "
                             "needs root for < 0)")
    parser.add_argument("--profile", action="store_true", help="py-spy the server during the fixed-rate chats phase")
    parser.add_argument("--rest-seed", action="store_true",
                        help="create technicians over REST (production argon2 cost: slow) instead of seed_fast.py")
    parser.add_argument("--command", help="command line to record in the results (set by bench.mk)")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        args.server_cpu = args.generator_cpu = None
    pin(args.generator_cpu)
    if args.nice:  # inherited by every server this process starts
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    raise_nofile()
    RESULTS.mkdir(parents=True, exist_ok=True)
    bench = Bench(args)
    started = bench.started
    try:
        import uvloop

        uvloop.run(bench.run())
    except ImportError:  # pragma: no cover
        asyncio.run(bench.run())
    bench.save()
    out = bench.results(started)
    met = [f"{s['name']}={'MET' if s.get('target_met') else 'not met'}" for s in out["scenarios"]]
    print(f"wrote {args.out} in {out['duration_s']}s: " + ", ".join(met), flush=True)


if __name__ == "__main__":
    main()
