"""The capacity search's decisions on synthetic step results (fast tier)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, CliResult, run_loadkit

from loadkit.capacity_search import (
    Outcome,
    Phase,
    Search,
    SearchPolicy,
    SearchResult,
    StepResult,
    repeatability,
)
from loadkit.exit_codes import ExitStatus

# A search's capacity is a rate the machine must deliver alone (conftest: `exclusive`).
pytestmark = pytest.mark.exclusive


def simulate(
    policy: SearchPolicy,
    holds: Callable[[float, Phase], bool],
    cpu: Callable[[float], float] = lambda rate: 20.0,
    max_steps: int = 60,
) -> SearchResult:
    search = Search(policy)
    for _ in range(max_steps):
        step = search.next_step()
        if step is None:
            return search.result()
        assert policy.min_rate <= step.rate <= policy.max_rate
        search.record(
            StepResult(
                step.phase,
                step.rate,
                holds(step.rate, step.phase),
                generator_cpu_pct=cpu(step.rate),
            )
        )
    raise AssertionError(f"no end after {max_steps} steps: {search.steps}")


@pytest.mark.parametrize("capacity", [7.3, 81.0, 400.0, 381.0, 2900.0])
def test_the_bracket_holds_the_capacity_within_the_precision(capacity: float) -> None:
    policy = SearchPolicy(start_rate=10, max_rate=5000, precision=0.05)
    result = simulate(policy, lambda rate, phase: rate <= capacity)
    assert result.outcome is Outcome.FOUND and result.confirmed
    assert result.sustained is not None and result.breaking is not None
    assert result.sustained.rate <= capacity < result.breaking.rate
    assert result.breaking.rate / result.sustained.rate - 1 <= 0.05 + 1e-9
    assert capacity * 0.95 <= result.sustained.rate
    phases = [s.phase for s in result.steps]
    assert phases[-2:] == [Phase.CONFIRM, Phase.ABOVE]
    assert phases[0] is Phase.RAMP and Phase.BISECT in phases


def test_ramp_stops_at_the_first_breach_and_clamps_to_max_rate() -> None:
    result = simulate(SearchPolicy(start_rate=50, max_rate=300), lambda rate, phase: True)
    assert result.outcome is Outcome.NOT_REACHED
    assert [s.rate for s in result.steps] == [50, 100, 200, 300]
    assert result.sustained is not None and result.sustained.rate == 300
    assert result.breaking is None


def test_a_first_step_that_breaks_ramps_down() -> None:
    result = simulate(SearchPolicy(start_rate=100, precision=0.05), lambda rate, phase: rate <= 20)
    rates = [s.rate for s in result.steps]
    assert rates[:4] == [100, 50, 25, 12.5]
    assert result.outcome is Outcome.FOUND
    assert result.sustained is not None and 19 <= result.sustained.rate <= 20


def test_breaks_at_the_lowest_rate() -> None:
    result = simulate(SearchPolicy(start_rate=4, min_rate=1), lambda rate, phase: False)
    assert result.outcome is Outcome.BREAKS_AT_LOWEST
    assert result.sustained is None and [s.rate for s in result.steps] == [4, 2, 1]


def test_a_breach_with_the_generator_saturated_is_generator_limited() -> None:
    result = simulate(
        SearchPolicy(start_rate=100),
        lambda rate, phase: rate < 300,
        cpu=lambda rate: 95.0 if rate >= 300 else 50.0,
    )
    assert result.outcome is Outcome.GENERATOR_LIMITED
    assert result.breaking is not None and result.breaking.generator_limited


def test_a_confirmation_that_breaks_moves_the_bracket_down() -> None:
    # Short steps hold up to 100/s, but a long hold only up to 90/s (a slowly filling queue).
    def holds(rate: float, phase: Phase) -> bool:
        return rate <= (90 if phase is Phase.CONFIRM else 100)

    result = simulate(SearchPolicy(start_rate=10, precision=0.05), holds)
    assert result.outcome is Outcome.FOUND
    assert result.sustained is not None and result.sustained.phase is Phase.CONFIRM
    assert 85.5 <= result.sustained.rate <= 90
    assert [s.phase for s in result.steps].count(Phase.CONFIRM) >= 2


def test_an_upper_step_that_holds_moves_the_bracket_up() -> None:
    # The first breach at 160/s was noise: later steps hold up to 170.
    seen: set[float] = set()

    def holds(rate: float, phase: Phase) -> bool:
        first = rate not in seen
        seen.add(rate)
        return rate <= 170 and not (rate == 160 and first)

    result = simulate(SearchPolicy(start_rate=10, precision=0.05), holds)
    assert result.outcome is Outcome.FOUND
    assert result.sustained is not None and result.breaking is not None
    assert result.sustained.rate <= 170 < result.breaking.rate


def test_confirmations_that_keep_failing_end_unstable() -> None:
    def holds(rate: float, phase: Phase) -> bool:
        return phase is not Phase.CONFIRM and rate <= 100

    result = simulate(SearchPolicy(start_rate=10, max_confirmations=2), holds)
    assert result.outcome is Outcome.UNSTABLE and not result.confirmed


def test_stopping_early_keeps_what_was_found() -> None:
    search = Search(SearchPolicy(start_rate=10))
    for holds in (True, True, False):
        step = search.next_step()
        assert step is not None
        search.record(StepResult(step.phase, step.rate, holds))
    result = search.stop("the time budget ran out")
    assert result.outcome is Outcome.INCOMPLETE and result.note == "the time budget ran out"
    assert result.sustained is not None and result.sustained.rate == 20
    assert result.breaking is not None and result.breaking.rate == 40


def test_policy_checks_and_repeatability() -> None:
    with pytest.raises(ValueError, match="--max-rate"):
        SearchPolicy(start_rate=100, max_rate=50).check()
    assert repeatability([100.0]) is None
    assert repeatability([96.0, 104.0]) == pytest.approx(0.04)


# -- end to end: the bundled target with a capacity known by construction --------------------

SLOTS, SERVICE_MS = 8, 20  # 8 requests at a time, 20 ms each: at most 400 req/s
BY_CONSTRUCTION = SLOTS * 1000 / SERVICE_MS


def capacity_search(tmp_path: Path, host: str, *args: str) -> tuple[CliResult, dict[str, Any]]:
    path = tmp_path / "work.yaml"
    path.write_text(
        # The host a run stage sets (unset here): --host suffices, as for `loadkit run`.
        "name: work\nhost: ${LK_CAPACITY_HOST}\nload: {users: 1, spawn_rate: 1, duration: 5s}\n"
        "users:\n  - name: u\n    tasks:\n      - request: {url: /api/work}\n",
        encoding="utf-8",
    )
    out = tmp_path / "search"
    result = run_loadkit(
        "capacity", str(path), "--host", host, "--slo", "p95 < 100ms", "--step", "6s",
        "--confirm", "8s", "--out", str(out), *args, timeout=240,
    )  # fmt: skip
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr, result.stderr
    return result, json.loads((out / "capacity.json").read_text(encoding="utf-8"))


@pytest.mark.e2e
def test_the_search_brackets_a_known_capacity(target_factory: Any, tmp_path: Path) -> None:
    target = target_factory("--max-concurrency", str(SLOTS), "--service-ms", str(SERVICE_MS))
    result, found = capacity_search(
        tmp_path, target.url, "--start-rate", "200/s", "--forecast", "1000/s", "--headroom", "20%"
    )
    assert result.returncode == ExitStatus.PASS, result
    assert found["outcome"] == "found" and found["confirmed"], found
    sustained, breaking = found["sustained_rate"], found["breaking_rate"]
    # The true capacity: 400 req/s by construction, less the target's own overhead per
    # request, which the saturated throughput of the breaking step measures.
    saturated = max(s["requests_per_s"] for s in found["searches"][0] if not s["holds"])
    assert saturated <= BY_CONSTRUCTION
    assert 0.95 * saturated <= sustained <= BY_CONSTRUCTION, found
    assert sustained >= 0.85 * BY_CONSTRUCTION  # the overhead is a few %, plus a busy machine
    assert breaking > sustained and breaking / sustained - 1 <= 0.05 + 1e-9
    assert found["held"]["phase"] == "confirm" and found["held"]["steady_s"] >= 4
    assert found["plan"]["instances_needed"] == math.ceil(1200 / sustained)
    assert found["plan"]["method"] == "linear" and found["bracketed"]
    steps = found["searches"][0]
    # Bracketed: a confirmation held at the sustained rate, and the breaking rate broke in a
    # short step above it or, when a confirmation there had broken before, in that long hold.
    held = [s for s in steps if s["phase"] == "confirm" and s["holds"]]
    assert held and held[-1]["rate"] == sustained
    broke = [s for s in steps if not s["holds"] and s["rate"] == breaking]
    assert broke and broke[-1]["phase"] in ("above", "confirm"), steps
    assert all(s["requests"] >= 100 for s in steps if s["holds"])
    assert f"Sustains {sustained:g} arrivals/s" in result.stdout
    assert "instances of what was tested" in result.stdout
    assert (tmp_path / "search" / "charts" / "capacity-search-latency.png").is_file()


@pytest.mark.e2e
def test_the_search_says_not_reached_below_capacity(target_factory: Any, tmp_path: Path) -> None:
    target = target_factory("--max-concurrency", str(SLOTS), "--service-ms", str(SERVICE_MS))
    result, found = capacity_search(
        tmp_path, target.url, "--start-rate", "80/s", "--max-rate", "150/s"
    )
    assert result.returncode == ExitStatus.PASS, result
    assert found["outcome"] == "not reached" and found["breaking_rate"] is None, found
    # Held at the top, never broke: a lower bound, not a bracket to plan with.
    assert found["sustained_rate"] is None and found["highest_rate_held"] == 150
    assert [s["rate"] for s in found["searches"][0]] == [80, 150]
    assert (
        "Not reached: the SLO (p95 < 100ms) held up to --max-rate, 150 arrivals/s" in result.stdout
    )


def test_bad_slo_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nhost: http://127.0.0.1:1\nload: {users: 1, spawn_rate: 1, duration: 5s}\n"
        "users:\n  - name: u\n    tasks:\n      - request: {url: /}\n",
        encoding="utf-8",
    )
    result = run_loadkit("capacity", str(path), "--slo", "p95 < fast", "--out", str(tmp_path / "o"))
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert result.stderr.startswith("loadkit: error: --slo:") and "Traceback" not in result.stderr
    result = run_loadkit("capacity", str(path), "--out", str(tmp_path / "o2"))
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert "has no thresholds on times, errors or Apdex to hold; give one with --slo" in (
        result.stderr
    )
    result = run_loadkit("capacity", str(path), "--slo", "rps > 5", "--out", str(tmp_path / "o3"))
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert "rps is set by the search's load, not a service level" in result.stderr


BURN = """\
import time


def burn(user):
    user.client.get("/health")
    end = time.perf_counter() + 0.01
    while time.perf_counter() < end:  # 10 ms of the load generator's own CPU per iteration
        pass
"""


@pytest.mark.e2e
def test_a_generator_that_runs_out_of_cpu_gives_no_capacity(target: Any, tmp_path: Path) -> None:
    (tmp_path / "burn.py").write_text(BURN, encoding="utf-8")
    path = tmp_path / "burn.yaml"
    path.write_text(
        f"name: burn\nhost: {target.url}\nload: {{users: 1, spawn_rate: 1, duration: 5s}}\n"
        "users:\n  - name: u\n    tasks:\n      - python: burn:burn\n",
        encoding="utf-8",
    )
    out = tmp_path / "search"
    result = run_loadkit(
        "capacity", str(path), "--slo", "p95 < 100ms", "--start-rate", "40/s", "--step", "4s",
        "--confirm", "6s", "--out", str(out), timeout=240,
    )  # fmt: skip
    assert result.returncode == ExitStatus.THRESHOLDS_FAILED, result
    found = json.loads((out / "capacity.json").read_text(encoding="utf-8"))
    assert found["outcome"] == "generator-limited", found
    assert found["broke"]["generator_cpu_pct"] > 90
    assert found["sustained_rate"] is None and found["breaking_rate"] is None  # no figure
    assert "Generator-limited: no capacity figure" in result.stdout
    assert "add --processes (one per core) or workers" in result.stdout


@pytest.mark.e2e
def test_ctrl_c_ends_the_search_with_what_was_found(target: Any, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "s.yaml"
    path.write_text(
        f"name: s\nhost: {target.url}\nload: {{users: 1, spawn_rate: 1, duration: 5s}}\n"
        "users:\n  - name: u\n    tasks:\n      - request: {url: /health}\n",
        encoding="utf-8",
    )
    out = tmp_path / "search"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADKIT_")}
    env["PYTHONPATH"] = str(REPO / "src")
    process = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "capacity", str(path), "--slo", "p95 < 1s",
         "--start-rate", "20/s", "--step", "5s", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob("steps/02-*")) and time.monotonic() < deadline:
            time.sleep(0.2)  # the first step is done, the second has begun
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == ExitStatus.ABORTED, (stdout, stderr)
    assert "Traceback" not in stderr
    found = json.loads((out / "capacity.json").read_text(encoding="utf-8"))
    assert found["outcome"] == "incomplete" and found["note"] == "interrupted (Ctrl-C)"
    # The first step held: what was found so far, which is no capacity figure.
    assert found["sustained_rate"] is None and found["highest_rate_held"] == 20
    assert "Incomplete: interrupted (Ctrl-C)" in stdout


def test_the_search_charts_label_what_they_plot(tmp_path: Path) -> None:
    from loadkit.report.search_charts import (
        search_latency_chart,
        search_throughput_chart,
        write_search_charts,
    )

    def step(rate: float, holds: bool, p95: float, rps: float) -> dict[str, Any]:
        return {"rate": rate, "holds": holds, "p95_ms": p95, "requests_per_s": rps,
                "transactions_per_s": rps / 5}  # fmt: skip

    document = {
        "sustained_rate": 375.0,
        "breaking_rate": 388.0,
        "slo_time_limits_ms": {"p95 < 100ms": 100.0},
        "searches": [
            [
                step(200, True, 23, 200),
                step(400, False, 301, 368),
                step(375, True, 24, 375),
                step(388, False, 161, 376),
            ]
        ],
    }
    latency = search_latency_chart(document).axes[0]
    assert latency.get_xlabel() == "Offered load (arrivals/s)"
    assert latency.get_ylabel() == "Corrected p95 (ms)"
    labels = [h.get_text() for h in latency.get_legend().get_texts()]
    assert "SLO p95 < 100ms" in labels and "sustained 375 arrivals/s" in labels
    assert "breaks at 388 arrivals/s" in labels and "p95, step breaks" in labels
    throughput = search_throughput_chart(document).axes[0]
    assert throughput.get_ylabel() == "Throughput (req/s, txn/s)"
    paths = write_search_charts(document, tmp_path)
    assert [p.name for p in paths] == [
        "capacity-search-latency.png",
        "capacity-search-throughput.png",
    ]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
