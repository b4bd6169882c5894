"""Calibration, judged against no target: `wrk` (how far nginx is from being the bottleneck,
and how this machine compares with others) and `sweep` (users needed to saturate one core)."""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import Any

from ..errors import BenchmarkError
from ..measure import Generator, measure_together, run_seconds
from ..processes import GENERATOR_CPU, pinned
from ..procfs import cpu_seconds
from ..workspace import HANDWRITTEN, Workspace


def case_wrk(ws: Workspace) -> dict[str, Any] | None:
    """What nginx can serve to a client that costs almost nothing: how far the target is
    from being the bottleneck, and how this machine compares with others."""
    if shutil.which("wrk") is None:
        print("  skipped: wrk is not installed (apt-get install -y wrk)", flush=True)
        return None
    seconds = max(1, round(ws.options.seconds))
    workers = ws.nginx.worker_pids()
    w1, t1 = cpu_seconds(workers), time.monotonic()
    proc = subprocess.run(
        pinned(
            GENERATOR_CPU, ["wrk", "-t1", "-c32", f"-d{seconds}s", ws.nginx.url + "/get"], ws.pin
        ),
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    nginx_cpu = (cpu_seconds(workers) - w1) / (time.monotonic() - t1)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("Requests/sec:")), None)
    if proc.returncode != 0 or line is None:
        raise BenchmarkError(f"wrk failed: {proc.stdout[-300:]}{proc.stderr[-300:]}")
    rps = float(line.split()[1])
    print(f"  wrk: {rps:,.0f} req/s, nginx CPU {nginx_cpu:.0%}", flush=True)
    return {"rps": round(rps, 1), "nginx_cpu": round(nginx_cpu, 3), "seconds": seconds}


def case_sweep(ws: Workspace) -> dict[str, Any]:
    seconds = run_seconds(ws.options)
    found: dict[str, Any] = {}
    for users in (1, 2, 5, 10, 20, 32, 50, 100):
        command = ws.locust(HANDWRITTEN / "fast_get.py", seconds, users, ws.nginx.url)
        (t,) = measure_together(ws, [Generator(command, ws.nginx, f"sweep-{users}")])
        found[str(users)] = {
            "rps": round(t.rps, 1),
            "generator_cpu": round(t.generator_cpu, 3),
            "nginx_cpu": round(t.nginx_cpu, 3),
        }
        print(f"  {users:3d} users: {t.line()}", flush=True)
    return found
