"""The harness's fine histograms in real Locust runs against the real target on 127.0.0.1:
every request counted once, in the right place, from every worker."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import SRC, TargetFactory, run_loadkit

from loadkit.apdex import apdex
from loadkit.demo_target.process import TargetProcess
from loadkit.harness_protocol import HISTOGRAMS_FILE, RUN_DIR_ENV
from loadkit.histogram import RELATIVE_ERROR, load_histograms

pytestmark = pytest.mark.e2e  # real Locust runs against real servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_harness(run_dir: Path, locustfile: Path, *args: str, timeout: float = 90) -> str:
    """`python -m loadkit.harness` (Locust's CLI plus the harness) writing into ``run_dir``;
    returns Locust's output. A distributed run gets a master port of its own (Locust's default
    5557 would meet any other distributed run on this machine)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if "--processes" in args:
        port = str(free_port())
        args = (*args, "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                "--master-host", "127.0.0.1", "--master-port", port)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADKIT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH", "")) if p)
    env[RUN_DIR_ENV] = str(run_dir)
    command = [
        sys.executable, "-m", "loadkit.harness", "-f", str(locustfile), "--headless",
        "--csv", str(run_dir / "locust"), "--csv-full-history", "--only-summary",
        "--exit-code-on-error", "0", *args,
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output
    return output


def locust_entries(run_dir: Path) -> dict[str, dict[str, Any]]:
    final = json.loads((run_dir / "locust_final.json").read_text())
    return {entry["name"]: entry for entry in final["entries"]}


SCENARIO = """\
name: apdex
host: {host}
load: {{users: 6, spawn_rate: 6, duration: 4s}}
defaults:
  timeout: 5s
users:
  - name: citizen
    tasks:
      - name: fast
        weight: 3
        request: {{url: /api/delay, params: {{ms: "50"}}, name: fast}}
      - name: slow
        request: {{url: /api/work, name: slow}}
      - name: broken
        request: {{url: /api/status/503, name: broken}}
"""


def test_run_folder_gets_histograms_that_agree_with_locust_and_the_server(
    target_factory: TargetFactory, tmp_path: Path
) -> None:
    # /api/work sleeps 400 ms, /api/delay?ms=50 sleeps 50 ms, /api/status/503 fails at once.
    target: TargetProcess = target_factory("--service-ms", "400")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO.format(host=target.url), encoding="utf-8")
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out))
    assert "Traceback" not in result.stdout + result.stderr, result
    assert (out / HISTOGRAMS_FILE).is_file(), result

    run = load_histograms(out / HISTOGRAMS_FILE)
    summary = json.loads((out / "summary.json").read_text())
    seen = target.requests_seen()["by_route"]
    fast, slow, broken = seen["GET /api/delay"], seen["GET /api/work"], seen["GET /api/status/503"]
    everything = run.select()
    # Every request exactly once: the same totals as Locust's and as the server's.
    assert everything.requests == summary["totals"]["requests"] == fast + slow + broken
    assert everything.failures == summary["totals"]["failures"] == broken
    by_name = run.by_name()
    assert {name: h.requests for name, h in by_name.items()} == {
        "fast": fast, "slow": slow, "broken": broken,
    }  # fmt: skip
    assert by_name["broken"].failures == broken and by_name["fast"].failures == 0
    per_second = run.requests_per_second()
    assert sum(r for r, _ in per_second.values()) == everything.requests
    assert sum(f for _, f in per_second.values()) == broken
    # Locust's own per-second counts (the harness logs them in batches, each request in the
    # second it completed in) are ours, second by second.
    total = json.loads((out / "locust_final.json").read_text())["total"]
    assert {int(s): n for s, n in total["num_reqs_per_sec"].items()} == {
        s: r for s, (r, _) in per_second.items()
    }
    assert {int(s): n for s, n in total["num_fail_per_sec"].items()} == {
        s: f for s, (_, f) in per_second.items() if f
    }
    # Every series names the generated User class that made its requests.
    locustfile = (out / "locustfile.py").read_text()
    for key in run.series:
        assert key.user and f"class {key.user}(" in locustfile, key

    # Against Locust's exact min/max: within the histogram's 0.25 % (plus JSON rounding).
    entries = locust_entries(out)
    for name in ("fast", "slow", "broken"):
        hist = by_name[name].all()
        for ours, exact in (
            (hist.min_ms, entries[name]["min_response_time"]),
            (hist.max_ms, entries[name]["max_response_time"]),
        ):
            assert ours is not None
            assert abs(ours - exact) <= exact * RELATIVE_ERROR + 1e-6, (name, ours, exact)
    # Against the server: it sleeps before answering, so no client can measure less.
    assert by_name["fast"].ok.min_ms >= 50 * (1 - RELATIVE_ERROR)  # type: ignore[operator]
    assert by_name["slow"].ok.min_ms >= 400 * (1 - RELATIVE_ERROR)  # type: ignore[operator]
    # Against Locust's rounded median (1 ms steps below 100 ms, 10 ms below 1 s): within half
    # a Locust step plus our 0.25 %, plus 1 ms for the two rank rules picking neighbours.
    rows = {row["name"]: row for row in summary["requests"]}
    for name, step in (("fast", 1.0), ("slow", 10.0)):
        ours = by_name[name].percentile(0.5)
        assert ours is not None
        assert abs(ours - rows[name]["p50_ms"]) <= step / 2 + ours * RELATIVE_ERROR + 1.0

    # Apdex with T = 300 ms from the server's own counts: every 50 ms request is satisfied,
    # every 400 ms one tolerating (300 < t <= 1200), every 503 frustrated. That holds as long
    # as the client adds less than 250 ms to a 50 ms request and less than 800 ms to a 400 ms
    # one; the histogram's resolution only matters for requests within 0.5 % of 300 ms or
    # 1200 ms, and max_error (0 here unless some fall there) bounds that.
    score = apdex(everything, 300)
    expected = (fast + slow / 2) / (fast + slow + broken)
    assert score.score is not None
    assert abs(score.score - expected) <= score.max_error + 1e-12, (score, expected)
    assert (score.satisfied, score.tolerating, score.failed) == (fast, slow, broken)


DISTRIBUTED_LOCUSTFILE = """\
from locust import FastHttpUser, constant, task


class Visitor(FastHttpUser):
    wait_time = constant(0.01)

    @task(4)
    def delay(self) -> None:
        self.client.get("/api/delay?ms=20", name="delay")

    @task
    def broken(self) -> None:
        self.client.get("/api/status/500", name="broken")
"""


def test_workers_histograms_reach_the_master(target: TargetProcess, tmp_path: Path) -> None:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(DISTRIBUTED_LOCUSTFILE, encoding="utf-8")
    run_dir = tmp_path / "run"
    output = run_harness(
        run_dir, locustfile, "--processes", "2", "-u", "6", "-r", "6", "-t", "4s",
        "--stop-timeout", "5", "--host", target.url,
    )  # fmt: skip
    assert "2 workers connected" in output or "workers connected: 2" in output.lower(), output

    run = load_histograms(run_dir / HISTOGRAMS_FILE)
    final = json.loads((run_dir / "locust_final.json").read_text())
    seen = target.requests_seen()
    everything = run.select()
    # The master makes no requests: everything here came from the workers' reports.
    assert everything.requests == final["total"]["num_requests"] > 0
    # In-flight requests finish (--stop-timeout), so the server saw exactly as many.
    assert everything.requests == seen["total"]
    assert everything.failures == final["total"]["num_failures"]
    assert everything.failures == seen["by_route"]["GET /api/status/500"]
    assert {key.user for key in run.series} == {"Visitor"}
    assert len(run.seconds()) >= 3
    entries = locust_entries(run_dir)
    assert run.select(name="delay").requests == entries["delay"]["num_requests"]


MANY_NAMES = """\
import itertools

_ids = itertools.count()


def fetch(user):
    user.client.get(f"/health?item={next(_ids)}")  # a new name each time: no name=
"""


def test_many_request_names_are_grouped_and_their_history_capped(
    target: TargetProcess, tmp_path: Path
) -> None:
    (tmp_path / "items.py").write_text(MANY_NAMES)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"""\
name: many-names
host: {target.url}
load: {{users: 4, spawn_rate: 50, duration: 4s}}
users:
  - name: browser
    tasks:
      - python: items:fetch
"""
    )
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out))
    assert result.returncode == 0, result
    summary = json.loads((out / "summary.json").read_text())
    seen = target.requests_seen()["total"]
    assert summary["totals"]["requests"] == seen and len(summary["requests"]) >= 1000
    # (18,000 new names in 3 s also keep the generator's event loop busy: a warning of its own.)
    (warning,) = [w for w in summary["warnings"] if "distinct request names" in w]
    assert warning.startswith(f"{len(summary['requests'])} distinct request names"), warning
    assert "user type 'browser'" in warning and 'name="/health?item={id}"' in warning
    # The terminal: the 30 busiest names, one line for the rest, the total.
    more = len(summary["requests"]) - 30
    assert f"… and {more:,} more names (" in result.stdout
    assert len(result.stdout.splitlines()) < 100
    assert f"… and {more - 70:,} more names (" in (out / "summary.md").read_text()
    assert f"{more - 70:,} more names (" in (out / "report.html").read_text()
    # Per-second history: the 300 busiest names, the rest folded; every request still counted.
    document = json.loads((out / HISTOGRAMS_FILE).read_text())
    names = {series["name"] for series in document["series"]}
    assert len(names) == 301 and "(other names)" in names
    assert document["folded_names"] == len(summary["requests"]) - 300
    assert load_histograms(out / HISTOGRAMS_FILE).select().requests == seen
    (history,) = out.glob("*_stats_history.csv")
    with history.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len({row["Name"] for row in rows}) <= 301  # the names and Aggregated
