"""Render a results file as the Markdown table of docs/benchmarks.md.

    python bench/report.py [bench/results/latest.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


def headline(s: dict[str, Any]) -> tuple[str, str]:
    """(the measured figures, the comparison with the baseline) of one scenario."""
    name = s["name"]
    if "skipped" in s:
        return f"skipped: {s['skipped']}", ""
    if "error" in s:
        return f"error: {s['error'][:120]}", ""
    if name.startswith("chats"):
        main = (f"{fmt(s.get('msgs_per_s'))} msg/s persisted at {fmt(s['params']['rate'])} offered; "
                f"p50 {fmt(s.get('p50_ms'), ' ms')}, p99 {fmt(s.get('p99_ms'), ' ms')}, "
                f"p99.9 {fmt(s.get('p999_ms'), ' ms')}; sustained {fmt(s.get('sustained_msgs_per_s'))} msg/s; "
                f"server CPU {fmt(s.get('server_cpu'))}" + (f" + db {fmt(s['db_cpu'])}" if "db_cpu" in s else ""))
        base = (f"relay sustained {fmt(s.get('baseline_msgs_per_s'))} msg/s (ratio {fmt(s.get('ratio'))}); "
                f"relay p99 {fmt(s.get('baseline_p99_ms'), ' ms')}; CPU/msg {fmt(s.get('server_us_per_msg'), ' µs')} "
                f"vs {fmt(s.get('baseline_us_per_msg'), ' µs')} (cpu ratio {fmt(s.get('cpu_ratio'))})")
        return main, base
    if name == "alert-fanout":
        return (f"time to last alert p50 {fmt(s.get('p50_ms'), ' ms')}, p99 {fmt(s.get('p99_ms'), ' ms')}; "
                f"each alert p99 {fmt(s.get('each_alert_p99_ms'), ' ms')}; missing {fmt(s.get('lost'))}"), ""
    if name == "missed-timers":
        return (f"lateness p50 {fmt(s.get('p50_ms'), ' ms')}, p99 {fmt(s.get('p99_ms'), ' ms')}, "
                f"max {fmt(s.get('max_ms'), ' ms')} (stored times: p99 {fmt(s.get('db_p99_ms'), ' ms')}); "
                f"all converted after {fmt(s.get('all_converted_s'), ' s')}; "
                f"settings PATCH {fmt(s.get('settings_patch_s'), ' s')}; "
                f"not converted {fmt(s.get('lost'))}, early {fmt(s.get('early'))}"), ""
    if name == "reconnect":
        return (f"all resumed in {fmt(s.get('resume_all_s'), ' s')} (p50 {fmt(s.get('resume_p50_s'), ' s')}); "
                f"lost {fmt(s.get('lost'))}, duplicated {fmt(s.get('duplicated'))}, "
                f"out of order {fmt(s.get('out_of_order_frames'))}"), ""
    if name == "idle-memory":
        return (f"{fmt(s.get('kib_per_socket'), ' KiB')} per socket",
                f"relay {fmt(s.get('baseline_kib_per_socket'), ' KiB')}")
    return json.dumps(s)[:200], ""


def params(s: dict[str, Any]) -> str:
    p = s.get("params") or {}
    keys = ("chats", "sockets", "rate", "technicians", "rounds", "timers", "timeout_s")
    return ", ".join(f"{k} {fmt(p[k])}" for k in keys if k in p)


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, Python {m['python']}",
        f"- command: `{results['command']}` (mode {results.get('mode')}, {results.get('duration_s')} s)",
        f"- date: {results['date']}, server at commit `{results.get('server_commit')}`",
        "",
        "| scenario | size | result | baseline (bare relay) | target | met | background CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in results["scenarios"]:
        main, base = headline(s)
        met = "yes" if s.get("target_met") else ("at this size" if s.get("thresholds_met_at_this_scale") else "no")
        lines.append(f"| {s['name']} | {params(s)} | {main} | {base or '-'} | {s.get('target', '-')} | {met} "
                     f"| {fmt(s.get('background_cpu'))} |")
    return "\n".join(lines)


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results" / "latest.json")
    print(render(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
