"""Capacity analysis of an open model (arrival rates): levels by arrival stage, the knee on the
offered arrival rate, times from the corrected histograms; on synthetic run folders, and one
real run against a target of known capacity (4 slots x 50 ms = 80 req/s)."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, run_loadkit

from loadkit import histogram
from loadkit.capacity import (
    ARRIVALS_AXIS,
    LoadLevel,
    analyze_capacity,
    find_arrival_levels,
    find_knee,
    find_rate_knee,
)
from loadkit.histogram import HistogramRecorder, load_histograms
from loadkit.report import charts
from loadkit.report.capacity_view import has_capacity_charts
from loadkit.report.html import render_html
from loadkit.report.markdown import render_markdown
from loadkit.summary_sections import capacity_dict

# Saturation rates the machine must deliver alone (conftest: `exclusive`).
pytestmark = pytest.mark.exclusive

T0 = 1_700_000_000
SERVICE_MS = 50.0
FIXTURES = REPO / "tests" / "fixtures" / "report"


def write_open_run(
    folder: Path,
    stages: list[tuple[float, int]],
    capacity: float,
    *,
    started_at: float = T0,
    corrected: bool = True,
) -> Path:
    """A synthetic open-model run folder: per stage (arrivals/s, seconds) on a server that
    completes at most `capacity` requests a second in SERVICE_MS each. Arrivals beyond it wait
    in a backlog: the service times stay flat, the corrected times grow with the wait."""
    folder.mkdir(parents=True, exist_ok=True)
    service, fixed = HistogramRecorder(), HistogramRecorder()
    clock = [float(started_at)]
    original = histogram._time
    histogram._time = lambda: clock[0]
    backlog = 0.0
    second = math.floor(started_at)
    try:
        for rate, seconds in stages:
            for _ in range(seconds):
                backlog += rate
                served = int(min(backlog, capacity))
                backlog -= served
                wait_ms = 1000.0 * backlog / capacity  # how long the last ones waited
                clock[0] = second + 0.5
                for i in range(served):
                    jitter = 1 + i % 7 / 100
                    service.record("GET", "/x", SERVICE_MS * jitter, i % 50 == 49)
                    fixed.record("GET", "/x", (SERVICE_MS + wait_ms) * jitter, i % 50 == 49)
                second += 1
    finally:
        histogram._time = original
    service.write(folder / "histograms.json")
    if corrected:
        fixed.write(folder / "histograms-corrected.json")
    final = {
        "started_at": started_at,
        "peak_users": 400,
        "arrivals": {
            "columns": ["time", "arrived", "started", "delayed", "dropped", "waiting", "busy"],
            "series": [],
            "final": {},
            "stages": [[rate, seconds] for rate, seconds in stages],
        },
    }
    (folder / "locust_final.json").write_text(json.dumps(final))
    return folder


STAGES = [(20.0, 6), (40.0, 6), (60.0, 6), (80.0, 6), (100.0, 6)]


def test_levels_are_the_arrival_stages(tmp_path: Path) -> None:
    report = analyze_capacity(write_open_run(tmp_path, STAGES, capacity=60))
    assert report.load_axis == ARRIVALS_AXIS
    assert [lv.arrival_rate for lv in report.levels] == [20, 40, 60, 80, 100]
    assert {lv.users for lv in report.levels} == {400}  # the pool, held throughout
    # Each stage of 6 s: seconds T0 .. T0+6 (the 7th, partly the next stage, dropped), 2 s ramp.
    first = report.levels[0]
    assert (first.start, first.end) == (T0 + 2, T0 + 6)
    assert [lv.throughput_rps for lv in report.levels] == [20, 40, 60, 60, 60]
    assert first.requests == 4 * 20 and first.error_rate == pytest.approx(0.0)
    # Times are the corrected ones: flat below capacity, growing with the backlog above.
    p50s = [lv.p50_ms or 0 for lv in report.levels]
    assert p50s[0] == pytest.approx(SERVICE_MS * 1.03, rel=0.05)
    assert p50s[2] == pytest.approx(p50s[0], rel=0.02)
    assert p50s[4] > 2 * p50s[3] > 10 * p50s[2]


def test_the_knee_is_an_arrival_rate(tmp_path: Path) -> None:
    report = analyze_capacity(
        write_open_run(tmp_path, STAGES, capacity=60), slo=lambda lv: (lv.p95_ms or 0) < 200
    )
    assert report.insufficient is None and report.saturated
    assert report.knee_rate == 60 and report.knee_users is None  # never a user count
    assert report.usl is None  # the USL is a law of concurrency, not fitted on rates
    assert report.capacity_rps == 60
    assert (report.max_rate_within_slo, report.max_rps_within_slo) == (60, 60)
    assert report.max_users_within_slo is None
    assert report.headline() == (
        "Capacity: about 60 req/s (the highest throughput measured); saturates at"
        " 60 arrivals/s; the last level meeting the SLO had 60 arrivals/s / 60 req/s."
        " Run `loadkit capacity` for a bracketed figure."
    )
    # The one rule, on the load axis: the same levels by users would give the same knee.
    pooled = [lv for lv in report.levels]
    assert find_rate_knee(pooled) == 60
    as_users = [LoadLevel(int(lv.arrival_rate or 0), *_rest(lv)) for lv in pooled]
    assert find_knee(as_users) == 60


def test_stages_judged_as_search_steps_give_a_bracket(tmp_path: Path) -> None:
    """With a judge (the scenario's service levels, `loadkit run`'s), each stage is judged as
    a capacity step: the 20/s stage completes too few requests to be judged (80 < 100), 60/s
    holds, 80/s breaks (its late arrivals' corrected p95)."""
    from loadkit.capacity_judge import StepJudge
    from loadkit.measurements import ApdexTargets
    from loadkit.scenario.thresholds import parse_threshold

    judge = StepJudge((parse_threshold("p95 < 200ms"),), ApdexTargets(500.0, {}, {}), {})
    folder = write_open_run(tmp_path, STAGES, capacity=60)
    report = analyze_capacity(folder, judge=judge)
    assert report.sustained is not None and report.breaking is not None
    assert (report.sustained.rate, report.breaking.rate) == (60, 80)
    assert report.sustained.requests_per_s == 60 and report.sustained.transactions_per_s is None
    assert report.breaking.reasons[0].startswith("p95 < 200ms: ")
    # The levels' SLO is the bracket: one definition of "holds".
    assert (report.max_rate_within_slo, report.max_rps_within_slo) == (60, 60)
    headline = report.headline()
    assert "; the SLO held up to 60 arrivals/s (60 req/s), broke at 80 arrivals/s (p95" in headline
    assert headline.endswith(". Run `loadkit capacity` for a bracketed figure.")
    data = capacity_dict(report)
    assert data is not None
    assert (data["sustained_rate"], data["breaking_rate"]) == (60, 80)
    assert data["sustained"] == {
        "rate": 60.0, "requests_per_s": 60.0, "transactions_per_s": None,
        "p95_ms": report.sustained.p95_ms, "reasons": [],
    }  # fmt: skip
    # Every stage below capacity holds: no bracket's upper end, and it says so.
    below = analyze_capacity(write_open_run(tmp_path / "b", STAGES[:3], capacity=200), judge=judge)
    assert below.sustained is not None and below.sustained.rate == 60 and below.breaking is None
    assert (
        "the SLO held up to 60 arrivals/s (60 req/s), no stage above it broke" in below.headline()
    )


def _rest(level: LoadLevel) -> list[Any]:
    return [level.start, level.end, level.requests, level.throughput_rps, level.p50_ms,
            level.p95_ms, level.p99_ms, level.error_rate, level.apdex]  # fmt: skip


def test_service_times_alone_hide_the_saturation(tmp_path: Path) -> None:
    """Without the corrected times the queue of late arrivals is invisible: throughput flat,
    service times flat, a client-side limit by the knee's rule."""
    report = analyze_capacity(write_open_run(tmp_path, STAGES, capacity=60, corrected=False))
    assert report.insufficient is None and report.knee_rate is None
    assert report.headline() == (
        "Capacity: at least 60 req/s (the highest throughput measured); no saturation up to"
        " the highest tested level, 100 arrivals/s. Run `loadkit capacity` for a bracketed"
        " figure."
    )


def test_a_run_below_capacity_gives_a_lower_bound(tmp_path: Path) -> None:
    folder = write_open_run(tmp_path, STAGES[:4], capacity=200, started_at=T0 + 0.3)
    report = analyze_capacity(folder)
    assert report.knee_rate is None and report.capacity_rps == 80
    # A start between two seconds: the stage's first whole second is the span's first.
    assert (report.levels[0].start, report.levels[0].end) == (T0 + 3, T0 + 6)
    assert "no saturation up to the highest tested level, 80 arrivals/s" in report.headline()


def test_too_few_arrival_rates_are_insufficient(tmp_path: Path) -> None:
    two = analyze_capacity(write_open_run(tmp_path / "two", STAGES[:2], capacity=60))
    assert two.insufficient == "the run had 2 arrival rates; at least 3 are needed"
    assert two.knee_rate is None and two.capacity_rps is None
    assert two.headline() == (
        "Insufficient data for a capacity estimate: the run had 2 arrival rates;"
        " at least 3 are needed."
    )
    one = analyze_capacity(write_open_run(tmp_path / "one", [(50.0, 30)], capacity=60))
    assert one.insufficient == "the run had a single arrival rate"
    # Stages of one rate are pooled; a pause (rate 0) is no level.
    again = [(20.0, 6), (0.0, 6), (40.0, 6), (20.0, 6)]
    pooled = analyze_capacity(write_open_run(tmp_path / "again", again, capacity=60))
    assert [lv.arrival_rate for lv in pooled.levels] == [20, 40, 20]
    assert pooled.insufficient == "the run had 2 arrival rates; at least 3 are needed"
    short = analyze_capacity(write_open_run(tmp_path / "short", [(20.0, 2), (40.0, 2)], 60))
    assert short.levels == [] and "no arrival stage lasted long enough" in (
        short.insufficient or ""
    )


def test_a_run_without_arrival_stages_says_so(tmp_path: Path) -> None:
    folder = write_open_run(tmp_path, STAGES, capacity=60)
    final = json.loads((folder / "locust_final.json").read_text())
    del final["arrivals"]["stages"]
    (folder / "locust_final.json").write_text(json.dumps(final))
    report = analyze_capacity(folder)
    assert report.insufficient is not None and "no arrival stages" in report.insufficient


def test_find_arrival_levels_directly(tmp_path: Path) -> None:
    folder = write_open_run(tmp_path, [(10.0, 20)], capacity=100)
    run = load_histograms(folder / "histograms-corrected.json")
    levels = find_arrival_levels([[10, 10], [0, 3], [20, 7]], T0, run, users=5)
    # 10 s: seconds T0 .. T0+10, a 3 s ramp (20 % of 11), the last second dropped; the pause
    # is no level; 7 s from T0+13: seconds T0+13 .. T0+20, 2 s ramp.
    assert [(lv.arrival_rate, lv.users, lv.start, lv.end) for lv in levels] == [
        (10, 5, T0 + 3, T0 + 10),
        (20, 5, T0 + 15, T0 + 20),
    ]
    assert levels[0].throughput_rps == 10 and levels[1].requests == 50


def test_every_renderer_reads_the_rate(tmp_path: Path) -> None:
    report = analyze_capacity(write_open_run(tmp_path, STAGES, capacity=60))
    data = capacity_dict(report)
    assert data is not None
    assert (data["load_axis"], data["knee_rate"], data["knee_users"]) == ("arrivals/s", 60, None)
    assert [lv["arrival_rate"] for lv in data["levels"]] == [20, 40, 60, 80, 100]
    summary = json.loads((FIXTURES / "demo" / "summary.json").read_text(encoding="utf-8"))
    markdown = render_markdown({**summary, "capacity": data})
    assert "| Arrivals/s | Req/s |" in markdown
    assert _row_of(markdown, "saturation point").startswith("| 60 | 60.0 |")
    html = render_html(summary, {}, report)
    assert "<th" in html and ">Arrivals/s</th>" in html and ">Users</th>" not in html
    assert "60 arrivals/s" in html and "USL" not in html
    assert has_capacity_charts(report)
    figure = charts.capacity_throughput_chart(report)
    ax = figure.axes[0]
    assert ax.get_xlabel() == "Offered load (arrivals/s)"
    lines = [(str(line.get_label()), list(line.get_xdata())) for line in ax.get_lines()]  # type: ignore[arg-type]
    assert ("saturation point: 60 arrivals/s", [60, 60]) in lines
    measured = next(x for label, x in lines if label == "measured")
    assert measured == [20, 40, 60, 80, 100]
    latency = charts.capacity_latency_chart(report, slo_p95_ms=None).axes[0]
    assert latency.get_xlabel() == "Offered load (arrivals/s)"
    assert latency.get_ylabel() == "Corrected response time (ms)"


def _row_of(text: str, word: str) -> str:
    return next(line for line in text.splitlines() if word in line)


# -- end to end -------------------------------------------------------------------------------

SLOTS, SLOT_MS = 4, 50  # the target serves 4 requests at a time, each for 50 ms: 80/s
CAPACITY = SLOTS * 1000 / SLOT_MS


@pytest.mark.e2e
def test_an_open_run_saturates_at_an_arrival_rate(target_factory: Any, tmp_path: Path) -> None:
    target = target_factory("--max-concurrency", str(SLOTS), "--service-ms", str(SLOT_MS))
    stages = ", ".join(f"{{arrival_rate: {rate}/s, duration: 5s}}" for rate in range(20, 121, 20))
    path = tmp_path / "open.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: open-capacity
            host: {target.url}
            load: {{max_concurrency: {SLOTS}, stages: [{stages}]}}
            defaults: {{timeout: 30s}}
            thresholds: [p95 < 300ms]
            users:
              - name: citizen
                tasks:
                  - name: work
                    request: {{url: /api/work}}
            """
        ),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    result = run_loadkit("run", str(path), "--out", str(out), timeout=150)
    final = json.loads((out / "locust_final.json").read_text(encoding="utf-8"))
    assert final["arrivals"]["stages"] == [[float(r), 5.0] for r in range(20, 121, 20)]
    capacity = json.loads((out / "summary.json").read_text(encoding="utf-8"))["capacity"]
    print("\n" + capacity["headline"])
    for level in capacity["levels"]:
        print(level["arrival_rate"], round(level["throughput_rps"], 1), level["p50_ms"])
    assert capacity["load_axis"] == "arrivals/s" and capacity["insufficient"] is None
    assert [lv["arrival_rate"] for lv in capacity["levels"]] == list(range(20, 121, 20))
    assert abs(capacity["capacity_rps"] - CAPACITY) <= 0.15 * CAPACITY, capacity
    assert capacity["knee_users"] is None and capacity["knee_rate"] in (60, 80, 100), capacity
    assert "saturates at" in capacity["headline"] and "arrivals/s" in capacity["headline"]
    # The stages judged by the threshold as capacity steps are: 20/s and 40/s complete too
    # few requests in their 2 s steady windows to be judged, 60/s holds (below 80 req/s),
    # 100/s and 120/s break; 80/s, at the capacity, may go either way.
    held, broke = capacity["sustained_rate"], capacity["breaking_rate"]
    assert held in (60, 80) and broke == held + 20, capacity
    assert capacity["sustained"]["requests_per_s"] == pytest.approx(held, rel=0.1)
    assert capacity["breaking"]["reasons"], capacity
    assert f"the SLO held up to {held:g} arrivals/s (" in capacity["headline"]
    assert capacity["headline"].endswith("Run `loadkit capacity` for a bracketed figure.")
    assert capacity["headline"] in result.stdout
    html = (out / "report.html").read_text(encoding="utf-8")
    assert ">Arrivals/s</th>" in html and f"{capacity['knee_rate']:g} arrivals/s" in html
    assert (out / "charts" / "capacity_throughput.png").is_file()
