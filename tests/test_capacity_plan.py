"""The capacity plan: the scale-out fitted to searches at several --instances counts
(`loadkit.capacity_plan`), `--scale-from` and `loadkit plan`."""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import CliResult, run_loadkit

from loadkit.capacity_answer import read_scale_point
from loadkit.capacity_plan import (
    Forecast,
    PlanMethod,
    ScalePoint,
    fit_scale_out,
    make_plan,
    plan_text,
)
from loadkit.errors import UsageError
from loadkit.exit_codes import ExitStatus
from loadkit.usl import usl_scaling

# Searches' capacities are rates the machine must deliver alone (conftest: `exclusive`).
pytestmark = pytest.mark.exclusive


def points(*pairs: tuple[int, float]) -> list[ScalePoint]:
    return [ScalePoint(n, rate, f"search-{n}") for n, rate in pairs]


def brute_force(fit: Any, rate: float, up_to: int = 10_000) -> int | None:
    return next((n for n in range(1, up_to) if fit.rate(n) >= rate * (1 - 1e-9)), None)


def test_one_instance_count_plans_linearly() -> None:
    plan = make_plan(Forecast(1000, 0.3), points((2, 200)))
    assert plan["method"] == "linear" and plan["fit"]["lambda_rate"] == 100
    assert plan["instances_needed"] == 13  # 1300/s at 100/s per instance
    assert plan["planned_rate"] == pytest.approx(1300)
    assert "linear scale-out: each instance sustains 100 arrivals/s" in plan["assumption"]
    assert "--scale-from" in plan["assumption"]


def test_two_instance_counts_fit_contention_through_both_points() -> None:
    fit = fit_scale_out(points((1, 100), (2, 180)))
    assert fit.method is PlanMethod.USL and fit.kappa == 0 and fit.r_squared is None
    assert fit.sigma == pytest.approx(20 / 180)
    assert fit.rate(1) == pytest.approx(100) and fit.rate(2) == pytest.approx(180)
    assert fit.instances_for(500) == brute_force(fit, 500) == 10
    # Contention alone caps the scale-out at λ/σ = 900/s: no instance count reaches it.
    assert fit.instances_for(900) is None and brute_force(fit, 900) is None
    assert "two instance counts (1 and 2)" in fit.assumption
    assert "may be optimistic" in fit.assumption and "third --instances count" in fit.assumption


def test_two_points_at_any_counts_and_the_edges() -> None:
    fit = fit_scale_out(points((2, 180), (4, 300)))  # not starting at 1 instance
    assert fit.rate(2) == pytest.approx(180) and fit.rate(4) == pytest.approx(300)
    better = fit_scale_out(points((1, 100), (2, 230)))  # better than linear: planned linear
    assert better.sigma == 0 and better.lambda_rate == 100
    assert "linear" in better.assumption
    flat = fit_scale_out(points((1, 100), (2, 95)))  # a second instance gained nothing
    assert flat.sigma == 1 and flat.instances_for(95) == 1 and flat.instances_for(96) is None
    assert "gains nothing" in flat.assumption


def test_three_counts_fit_the_whole_law() -> None:
    sigma, kappa, lam = 0.05, 0.002, 100.0
    counts = [1, 2, 4, 8]
    rates = [lam * float(usl_scaling(n, sigma, kappa)) for n in counts]
    fit = fit_scale_out(points(*zip(counts, rates, strict=True)))
    assert fit.method is PlanMethod.USL and fit.r_squared == pytest.approx(1, abs=1e-6)
    assert fit.sigma == pytest.approx(sigma, rel=0.02)
    assert fit.kappa == pytest.approx(kappa, rel=0.05)
    peak = math.sqrt((1 - sigma) / kappa)
    top = lam * float(usl_scaling(math.floor(peak), sigma, kappa))
    assert fit.instances_for(0.9 * top) == brute_force(fit, 0.9 * top)
    assert fit.instances_for(1.01 * top) is None  # beyond the model's peak
    assert "fitted to 4 instance counts" in fit.assumption


def test_repeated_counts_plan_by_the_lowest_rate() -> None:
    plan = make_plan(Forecast(500), points((1, 110), (1, 100), (2, 180)))
    assert plan["fit"]["lambda_rate"] == pytest.approx(100)
    assert [p["instances"] for p in plan["points"]] == [1, 1, 2]
    assert plan_text(plan).startswith(
        "For a forecast peak of 500 arrivals/s with 0% headroom: 10 instances of what was tested"
    )
    unreachable = make_plan(Forecast(1000), points((1, 100), (2, 180)))
    assert unreachable["instances_needed"] is None and unreachable["planned_rate"] is None
    assert "no number of instances reaches it" in plan_text(unreachable)


def test_an_earlier_search_must_hold_a_bracket(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no capacity\.json there"):
        read_scale_point(tmp_path, "--scale-from")
    (tmp_path / "capacity.json").write_text(
        json.dumps({"outcome": "incomplete", "sustained_rate": None, "instances": 1})
    )
    with pytest.raises(UsageError, match="ended 'incomplete' without a confirmed bracket"):
        read_scale_point(tmp_path, "--scale-from")
    (tmp_path / "capacity.json").write_text(
        json.dumps({"outcome": "found", "sustained_rate": 90.0, "instances": 3})
    )
    assert read_scale_point(tmp_path, "--scale-from") == ScalePoint(3, 90.0, str(tmp_path))


def test_plan_without_a_search_folder_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_loadkit("plan", str(tmp_path / "nope"), "--forecast", "100/s")
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert "no capacity.json there" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- end to end: one and two real replicas behind nginx ---------------------------------------

REPLICA_SLOTS, SERVICE_MS = 4, 20  # each replica: 4 requests at a time, 20 ms: <= 200 req/s

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream one {{ server {r1}; keepalive 16; }}
    upstream two {{ server {r1}; server {r2}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{p1};
        location / {{ proxy_pass http://one; proxy_http_version 1.1;
                     proxy_set_header Connection ""; }}
    }}
    server {{
        listen 127.0.0.1:{p2};
        location / {{ proxy_pass http://two; proxy_http_version 1.1;
                     proxy_set_header Connection ""; }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def replicas(target_factory: Any, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(URL of 1 replica, URL of 2 replicas): the bundled target twice, round-robin by nginx
    (the same proxy in front of both, so only the replicas differ)."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.skip("nginx is not installed")
    args = ("--max-concurrency", str(REPLICA_SLOTS), "--service-ms", str(SERVICE_MS))
    r1, r2 = target_factory(*args), target_factory(*args)
    work = tmp_path / "nginx"
    work.mkdir()
    p1, p2 = _free_port(), _free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(
        dir=work, r1=r1.url.removeprefix("http://"), r2=r2.url.removeprefix("http://"),
        p1=p1, p2=p2,
    ))  # fmt: skip
    proc = subprocess.Popen(
        [binary, "-p", str(work), "-c", str(conf), "-e", str(work / "error.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", p2), 0.2):
                break
            assert proc.poll() is None and time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{p1}", f"http://127.0.0.1:{p2}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def search(tmp_path: Path, name: str, host: str, *args: str) -> tuple[CliResult, dict[str, Any]]:
    path = tmp_path / "work.yaml"
    path.write_text(
        "name: work\nhost: http://127.0.0.1:1\nload: {users: 1, spawn_rate: 1, duration: 5s}\n"
        "users:\n  - name: u\n    tasks:\n      - request: {url: /api/work}\n",
        encoding="utf-8",
    )
    # Short and coarse (the ramp's two steps, the confirmation, the step above): the scale-out
    # plumbing is what this tests; the fit's arithmetic is tested above.
    result = run_loadkit(
        "capacity", str(path), "--host", host, "--slo", "p95 < 100ms", "--step", "4s",
        "--confirm", "4s", "--precision", "95%", "--out", str(tmp_path / name), *args,
        timeout=120,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result, json.loads((tmp_path / name / "capacity.json").read_text(encoding="utf-8"))


@pytest.mark.e2e
def test_two_searches_at_one_and_two_replicas_plan_the_scale_out(
    replicas: tuple[str, str], tmp_path: Path
) -> None:
    one, two = replicas
    # Each bracket in 4 steps: the ramp's two (within the 95 % precision of each other, so no
    # bisection), the confirmation and the step above. One replica saturates near 188 req/s
    # (200 less the target's overhead), two near 376: 230/s and 425/s break clearly.
    result, first = search(tmp_path, "one", one, "--start-rate", "120/s", "--max-rate", "230/s")
    assert result.returncode == ExitStatus.PASS, result
    assert first["outcome"] == "found" and first["instances"] == 1, first
    assert first["sustained_rate"] == 120 and first["breaking_rate"] == 230
    result, second = search(
        tmp_path, "two", two, "--start-rate", "220/s", "--max-rate", "425/s", "--instances", "2",
        "--scale-from", str(tmp_path / "one"), "--forecast", "800/s", "--headroom", "25%",
    )  # fmt: skip
    assert result.returncode == ExitStatus.PASS, result
    assert second["outcome"] == "found" and second["sustained_rate"] == 220, second
    assert len(second["searches"][0]) == 4
    plan = second["plan"]
    assert plan["method"] == "usl" and plan["target_rate"] == pytest.approx(1000)
    assert [(p["instances"], p["sustained_rate"]) for p in plan["points"]] == [(1, 120), (2, 220)]
    assert plan["points"][0]["search"] == str(tmp_path / "one")
    # Through (1, 120) and (2, 220) with κ = 0: σ = (2·120 - 220) / 220 = 1/11, so
    # X(N) = 120 N / (1 + (N-1)/11) tends to 1320/s; 1000/s needs N ≥ 10·1000/(1320-1000):
    # 32 instances (linear would have said 1000/120: 9).
    assert plan["fit"]["sigma"] == pytest.approx(1 / 11) and plan["fit"]["kappa"] == 0
    assert plan["instances_needed"] == 32, plan
    assert "32 instances of what was tested" in result.stdout
    assert "two instance counts (1 and 2)" in result.stdout
    # `loadkit plan` reads the same two folders (sends no load) and plans another peak:
    # 480/s needs N ≥ 10·480/(1320-480) = 5.7: 6; a peak past 1320/s no count reaches.
    planned = run_loadkit(
        "plan", str(tmp_path / "one"), str(tmp_path / "two"), "--forecast", "400/s",
        "--headroom", "20%",
    )  # fmt: skip
    assert planned.returncode == ExitStatus.PASS, planned
    document = json.loads(planned.stdout[planned.stdout.index("{") :])
    assert document["instances_needed"] == 6 and document["points"] == plan["points"]
    assert planned.stdout.startswith(
        "For a forecast peak of 400 arrivals/s with 20% headroom: 6 instances"
    )
    beyond = run_loadkit(
        "plan", str(tmp_path / "one"), str(tmp_path / "two"), "--forecast", "2000/s"
    )
    assert beyond.returncode == ExitStatus.THRESHOLDS_FAILED, beyond
    assert "no number of instances reaches it" in beyond.stdout
