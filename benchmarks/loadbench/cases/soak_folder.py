"""The run folder of case 5, synthesized: what `loadkit run` leaves after a 28-hour soak test
(scenario.yaml, a locust_stats_history.csv in Locust's exact format, the matching
locust_final.json), deterministic for a given seed."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size"
)
REQUESTS = [  # (method, name, share of the traffic, typical ms)
    ("POST", "/api/login", 0.02, 40.0),
    ("GET", "/api/me", 0.20, 8.0),
    ("GET", "/api/cases", 0.25, 25.0),
    ("GET", "/api/cases/[id]", 0.20, 12.0),
    ("POST", "/api/reports", 0.10, 60.0),
    ("GET", "/api/stats", 0.08, 90.0),
    ("GET", "/api/status", 0.10, 3.0),
    ("POST", "/api/logout", 0.02, 5.0),
    ("GET", "/health", 0.03, 1.0),
]
SYNTH_RPS = 400.0
SYNTH_USERS = 200
PERCENTILE_FACTORS = (1.0, 1.2, 1.4, 1.5, 1.9, 2.4, 3.0, 3.6, 6.0, 9.0, 12.0)


def _bucket(ms: float) -> int:
    """Locust's rounding of a response time into its histogram key."""
    if ms < 100:
        return round(ms)
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


def synthesize_run_folder(folder: Path, history_rows: int, seed: int = 1) -> dict[str, Any]:
    """A run folder as `loadkit run` leaves it after a long soak test: scenario.yaml,
    locust_stats_history.csv with `history_rows` rows in Locust's exact format (one row per
    request name and one Aggregated row per second), and the matching locust_final.json."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_second = len(REQUESTS) + 1
    seconds = max(history_rows // per_second, 2)
    start = 1_780_000_000
    names = [name for _, name, _, _ in REQUESTS]
    tasks = "\n".join(
        f"      - name: task {i}\n        request: {{method: {m}, url: '{n.replace('[id]', '1')}',"
        f" name: '{n}'}}"
        for i, (m, n, _, _) in enumerate(REQUESTS)
    )
    (folder / "scenario.yaml").write_text(
        f"name: soak\nhost: http://127.0.0.1:8080\n"
        f"load: {{users: {SYNTH_USERS}, spawn_rate: 10, duration: {seconds}s}}\n"
        f"users:\n  - name: citizen\n    tasks:\n{tasks}\n"
        'thresholds:\n  - p95 < 500ms\n  - error_rate < 1%\n  - "/api/cases: p99 < 1s"\n'
        "  - rps > 100\n"
    )
    # Per request: totals so far, per-second counts, the response-time histogram.
    totals = {n: [0, 0, 0.0, math.inf, 0.0] for n in [*names, "Aggregated"]}
    per_sec: dict[str, dict[str, int]] = {n: {} for n in [*names, "Aggregated"]}
    fail_sec: dict[str, dict[str, int]] = {n: {} for n in [*names, "Aggregated"]}
    hist: dict[str, dict[int, int]] = {n: {} for n in [*names, "Aggregated"]}
    rows = 0
    with open(folder / "locust_stats_history.csv", "w", encoding="utf-8") as out:
        out.write(HISTORY_HEADER + "\n")
        lines: list[str] = []
        for s in range(seconds):
            ts = start + s
            users = min(SYNTH_USERS, 10 * (s + 1))
            wave = 1.0 + 0.2 * math.sin(s / 600.0)
            agg_reqs = agg_fails = 0
            agg_time = 0.0
            for method, name, share, typical in REQUESTS:
                reqs = max(0, int(SYNTH_RPS * share * users / SYNTH_USERS * rng.uniform(0.8, 1.2)))
                fails = 1 if rng.random() < 0.002 else 0
                t = totals[name]
                ms = typical * wave * rng.uniform(0.8, 1.25)
                t[0] += reqs
                t[1] += fails
                t[2] += ms * reqs
                t[3] = min(t[3], ms * 0.3)
                t[4] = max(t[4], ms * 12)
                agg_reqs, agg_fails, agg_time = (
                    agg_reqs + reqs,
                    agg_fails + fails,
                    agg_time + ms * reqs,
                )
                if reqs:
                    per_sec[name][str(ts)] = reqs
                    key = _bucket(ms)
                    hist[name][key] = hist[name].get(key, 0) + reqs
                if fails:
                    fail_sec[name][str(ts)] = fails
                pct = ",".join(str(_bucket(ms * f)) for f in PERCENTILE_FACTORS)
                avg = t[2] / t[0] if t[0] else 0.0
                lines.append(
                    f"{ts},{users},{method},{name},{reqs * 0.98:.6f},{fails * 0.1:.6f},{pct},"
                    f"{t[0]},{t[1]},{_bucket(avg)},{avg},{t[3]},{t[4]},44.0\n"
                )
            a = totals["Aggregated"]
            a[0] += agg_reqs
            a[1] += agg_fails
            a[2] += agg_time
            a[3] = min(totals[n][3] for n in names)
            a[4] = max(totals[n][4] for n in names)
            if agg_reqs:
                per_sec["Aggregated"][str(ts)] = agg_reqs
            if agg_fails:
                fail_sec["Aggregated"][str(ts)] = agg_fails
            mean = agg_time / agg_reqs if agg_reqs else 0.0
            pct = ",".join(str(_bucket(mean * f)) for f in PERCENTILE_FACTORS)
            avg = a[2] / a[0] if a[0] else 0.0
            lines.append(
                f"{ts},{users},,Aggregated,{agg_reqs * 0.98:.6f},{agg_fails * 0.1:.6f},{pct},"
                f"{a[0]},{a[1]},{_bucket(avg)},{avg},{a[3]},{a[4]},44.0\n"
            )
            if len(lines) >= 50_000:
                out.writelines(lines)
                rows += len(lines)
                lines = []
        out.writelines(lines)
        rows += len(lines)
    for name in names:
        for key, count in hist[name].items():
            hist["Aggregated"][key] = hist["Aggregated"].get(key, 0) + count

    def entry(method: str, name: str) -> dict[str, Any]:
        t = totals[name]
        return {
            "name": name,
            "method": method,
            "last_request_timestamp": start + seconds - 0.01,
            "start_time": start + 0.05,
            "num_requests": t[0],
            "num_none_requests": 0,
            "num_failures": t[1],
            "total_response_time": t[2],
            "max_response_time": t[4],
            "min_response_time": t[3] if t[0] else None,
            "total_content_length": 44 * t[0],
            "response_times": {str(k): v for k, v in sorted(hist[name].items())},
            "num_reqs_per_sec": per_sec[name],
            "num_fail_per_sec": fail_sec[name],
        }

    final = {
        "schema": 1,
        "locust_version": "2.47.0",
        "started_at": start + 0.0,
        "stopped_at": start + seconds + 0.0,
        "written_at": start + seconds + 0.5,
        "locust_exit_code": 0,
        "peak_users": SYNTH_USERS,
        "entries": [entry(m, n) for m, n, _, _ in REQUESTS],
        "total": entry("", "Aggregated"),
        "errors": [
            {
                "method": m,
                "name": n,
                "error": "CatchResponseError('expected status 200, got 503')",
                "occurrences": totals[n][1],
            }
            for m, n, _, _ in REQUESTS
            if totals[n][1]
        ],
        "exceptions": [],
    }
    (folder / "locust_final.json").write_text(json.dumps(final))
    return {"rows": rows, "seconds": seconds, "requests": totals["Aggregated"][0]}
