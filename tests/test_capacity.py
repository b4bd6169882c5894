"""Capacity analysis: the rules on synthetic data, a kept real run, and real stepped runs
against a target of known capacity (4 slots x 50 ms = 80 req/s)."""

from __future__ import annotations

import dataclasses
import random
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import REPO, run_scenario

from loadkit import histogram
from loadkit.capacity import (
    CapacityReport,
    LoadLevel,
    UslFit,
    analyze_capacity,
    capacity_report,
    find_knee,
    fit_usl,
    read_user_counts,
    steady_window,
    usl_scaling,
)
from loadkit.demo_target.process import TargetProcess
from loadkit.histogram import HistogramRecorder, RunHistograms
from loadkit.summary_sections import capacity_dict

FIXTURES = REPO / "tests" / "fixtures" / "capacity"
HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size"
)
T0 = 1_700_000_000


def usl(n: float, lam: float, sigma: float, kappa: float) -> float:
    return UslFit(sigma, kappa, lam, 1.0, None, None).throughput(n)


def level(users: int, rps: float, p50: float | None = 50.0) -> LoadLevel:
    return LoadLevel(users, 0.0, 10.0, int(rps * 10), rps, p50, p50, p50, 0.0, 1.0)


# Three reports that gave several user counts for one saturation, rebuilt as levels
# (users, req/s, p50 ms). What they said, by the rules they had: "reached at ~" (the fewest
# users within 95 % of the highest throughput), "Knee:" and "model peak at ~" (the USL's N*).
INCONSISTENT_CASES: dict[str, list[tuple[int, float, float]]] = {
    # "reached at ~10 users", "Knee: 10", "model peak at ~15 users"
    "10-10-15": [(2, 20, 50), (4, 40, 50), (6, 60, 50), (8, 79, 52), (10, 95, 55),
                 (12, 97, 70), (14, 94, 90), (16, 89, 110)],
    # "~8", "12" and "14"
    "8-12-14": [(2, 20, 50), (4, 40, 50), (6, 60, 50), (8, 76, 52), (10, 78, 54),
                (12, 80, 56), (14, 80, 80), (16, 80, 110), (18, 79, 140)],
    # a model peak at 232 users extrapolated from data up to 20 users
    "peak-232": [(n, usl(n, 10, 0, 1 / 232**2), 50) for n in (1, 2, 4, 8, 12, 16, 20)],
}  # fmt: skip
SATURATION_POINT = {"10-10-15": 10, "8-12-14": 12, "peak-232": None}
"""The one saturation point each case has now."""


def case_report(name: str, slo: bool = False) -> CapacityReport:
    levels = [
        LoadLevel(u, 0.0, 10.0, int(r * 10), r, p, p * 1.5, p * 2, 0.0, 0.9)
        for u, r, p in INCONSISTENT_CASES[name]
    ]
    return capacity_report(
        levels, RunHistograms({}), slo=(lambda lv: (lv.p95_ms or 0) < 100) if slo else None
    )


# -- rules on synthetic data -----------------------------------------------------------------


def test_usl_fit_recovers_known_parameters() -> None:
    users = [1, 2, 4, 8, 16, 32, 64]
    fit = fit_usl(users, [usl(n, 10, 0.05, 0.001) for n in users])
    assert fit is not None
    assert fit.lambda_rps == pytest.approx(10, rel=1e-3)
    assert fit.sigma == pytest.approx(0.05, rel=1e-2)
    assert fit.kappa == pytest.approx(0.001, rel=1e-2)
    assert fit.r_squared == pytest.approx(1.0, abs=1e-6)
    assert fit.peak_users == pytest.approx((0.95 / 0.001) ** 0.5, rel=1e-2)
    assert fit.peak_rps == pytest.approx(usl(fit.peak_users or 0, 10, 0.05, 0.001), rel=1e-3)


def test_usl_fit_amdahl_has_no_peak_and_noise_lowers_r_squared() -> None:
    users = [1, 2, 3, 5, 8, 13]
    amdahl = fit_usl(users, [usl(n, 20, 0.1, 0) for n in users])
    assert amdahl is not None and amdahl.kappa == pytest.approx(0, abs=1e-6)
    assert amdahl.peak_users is None or amdahl.peak_users > 100
    rng = random.Random(7)
    noisy = fit_usl(users, [rng.uniform(10, 100) for _ in users])
    assert noisy is not None and noisy.r_squared < 0.8
    assert fit_usl([1, 2, 2], [1, 2, 2]) is None  # fewer than 3 distinct user counts
    assert fit_usl([1, 2, 3], [0, 0, 0]) is None


def test_a_fit_far_from_its_grid_point_ends_at_the_data() -> None:
    # A service saturated at its first level (a real run's levels: 1, 4 and 7 users at 45, 46
    # and 46 req/s): the optimum's κ is far from the grid's, and a search whose step never
    # grew took minutes, so the run's verdict waited on it (and a test timed out).
    fit = fit_usl([1, 4, 7], [45.0, 46.0, 46.0])
    assert fit is not None and fit.r_squared > 0.99
    for users, measured in ((1, 45.0), (4, 46.0), (7, 46.0)):
        assert fit.throughput(users) == pytest.approx(measured, rel=0.01)


def test_knee_is_where_throughput_flattens_and_latency_rises() -> None:
    saturating = [level(1, 20, 50), level(2, 40, 50), level(4, 78, 51), level(6, 80, 75),
                  level(8, 80, 100), level(16, 80, 200)]  # fmt: skip
    assert find_knee(saturating) == 4
    assert find_knee(list(reversed(saturating))) == 4  # order does not matter
    linear = [level(n, 20 * n) for n in (1, 2, 4, 8)]
    assert find_knee(linear) is None
    # Flat throughput without rising latency is a client-side limit, not a knee.
    client_bound = [level(1, 20, 50), level(2, 40, 50), level(4, 41, 50), level(8, 41, 50)]
    assert find_knee(client_bound) is None
    assert find_knee([level(4, 80)]) is None


def test_steady_window_drops_the_ramp_and_the_last_second() -> None:
    assert steady_window(100, 104) == (102, 104)  # 5 rows: 2 s ramp, last second dropped
    assert steady_window(100, 103) == (102, 103)
    assert steady_window(100, 102) is None  # too short to have a steady part
    assert steady_window(100, 149) == (110, 149)  # 50 s: 20 % ramp


def write_run(folder: Path, steps: list[tuple[int, int, float, float]]) -> Path:
    """A synthetic run folder: per step (users, seconds, req/s, latency ms), a history row per
    second (with per-name rows, as --csv-full-history writes) and that many requests."""
    folder.mkdir(parents=True, exist_ok=True)
    clock = [float(T0)]
    recorder = HistogramRecorder()
    rows = [HISTORY_HEADER, f"{T0 - 1},0,,Aggregated,0,0" + ",N/A" * 11 + ",0,0,0,0,0,0,0"]
    original = histogram._time
    histogram._time = lambda: clock[0]
    try:
        second = T0
        for users, seconds, rps, latency in steps:
            for _ in range(seconds):
                for name in ("GET,/x", ",Aggregated"):
                    rows.append(f"{second},{users},{name},1,0" + ",1" * 11 + ",1,0,1,1,1,1,1")
                clock[0] = second + 0.5
                for i in range(int(rps)):
                    recorder.record("GET", "/x", latency * (1 + i % 7 / 100), i % 50 == 49)
                second += 1
    finally:
        histogram._time = original
    (folder / "locust_stats_history.csv").write_text("\n".join(rows) + "\n")
    recorder.write(folder / "histograms.json")
    return folder


def test_levels_and_report_from_a_synthetic_run(tmp_path: Path) -> None:
    steps = [(n, 6, usl(n, 20, 0.02, 0.004), 50 * n / usl(n, 20, 0.02, 0.004) * 20)
             for n in (1, 2, 4, 8, 12, 16, 24)]  # fmt: skip
    report = analyze_capacity(write_run(tmp_path, steps), slo=lambda lv: (lv.p95_ms or 0) < 60)
    assert [lv.users for lv in report.levels] == [1, 2, 4, 8, 12, 16, 24]
    first = report.levels[0]
    assert (first.start, first.end) == (T0 + 2, T0 + 5)  # 6 rows: 2 s ramp, last s dropped
    for lv, (_, _, rps, _) in zip(report.levels, steps, strict=True):
        assert lv.requests == 3 * int(rps)
        assert lv.throughput_rps == int(rps)
        assert lv.error_rate == pytest.approx((int(rps) // 50) / int(rps))
        assert lv.apdex is not None and lv.p50_ms is not None
    assert report.insufficient is None
    assert report.usl is not None and report.usl.r_squared > 0.99
    assert report.usl.sigma == pytest.approx(0.02, abs=0.01)
    peak = max(lv.throughput_rps for lv in report.levels)
    assert report.capacity_rps == peak
    assert report.saturated
    assert report.max_users_within_slo is not None
    headline = report.headline()
    assert headline.startswith(
        f"Capacity: about {peak:.0f} req/s (the highest throughput measured);"
        f" saturates at {report.knee_users} users (USL fit R²="
    )
    assert "the last level meeting the SLO had" in headline


def test_a_run_that_never_saturates_gives_a_lower_bound(tmp_path: Path) -> None:
    report = analyze_capacity(write_run(tmp_path, [(n, 6, 20 * n, 50) for n in (1, 2, 4, 8)]))
    assert report.insufficient is None and report.knee_users is None and not report.saturated
    assert report.capacity_rps == 160
    assert report.headline() == (
        "Capacity: at least 160 req/s (the highest throughput measured); no saturation up to"
        " the highest tested level, 8 users (USL fit R²=1.00)."
    )


def test_insufficient_data_is_said_in_plain_words(tmp_path: Path) -> None:
    single = analyze_capacity(write_run(tmp_path / "one", [(10, 8, 100, 20)]))
    assert single.insufficient == "the run had a single load level"
    assert single.headline() == (
        "Insufficient data for a capacity estimate: the run had a single load level."
    )
    assert len(single.levels) == 1 and single.levels[0].users == 10
    two = analyze_capacity(write_run(tmp_path / "two", [(1, 6, 20, 20), (2, 6, 40, 20)]))
    assert two.insufficient == "the run had 2 load levels; at least 3 are needed"
    short = analyze_capacity(write_run(tmp_path / "short", [(1, 3, 20, 20), (2, 2, 40, 20)]))
    assert short.levels == [] and short.insufficient is not None
    assert "no load level lasted long enough" in short.insufficient
    rng = random.Random(3)
    chaotic = [(n, 6, rng.choice([15, 90, 30, 70]), 20.0) for n in (1, 2, 3, 4, 5, 6)]
    poor = analyze_capacity(write_run(tmp_path / "poor", chaotic))
    assert poor.insufficient is not None
    assert "does not follow a scalability curve" in poor.insufficient
    missing = analyze_capacity(tmp_path / "nothing-here")
    assert missing.insufficient is not None and "histograms.json" in missing.insufficient


def test_repeated_user_counts_are_pooled(tmp_path: Path) -> None:
    steps = [(1, 6, 20, 50), (2, 6, 40, 50), (4, 6, 80, 50), (2, 6, 30, 50), (8, 6, 80, 100)]
    judged: list[LoadLevel] = []
    folder = write_run(tmp_path, steps)
    report = analyze_capacity(folder, slo=lambda lv: judged.append(lv) is None)
    assert [lv.users for lv in report.levels] == [1, 2, 4, 2, 8]  # listed as they happened
    # The knee, the fit and the SLO see one level per user count, the two 2-user spans
    # pooled: (3 s x 40 + 3 s x 30) / 6 s = 35 req/s.
    assert [(lv.users, lv.throughput_rps) for lv in judged] == [(1, 20), (2, 35), (4, 80), (8, 80)]
    assert judged[1].requests == 210


def test_slo_limit_is_the_last_level_before_the_first_failure(tmp_path: Path) -> None:
    steps = [(n, 6, 20 * min(n, 4), 50 * max(1, n / 4)) for n in (1, 2, 4, 8, 16)]
    folder = write_run(tmp_path, steps)
    report = analyze_capacity(folder, slo=lambda lv: (lv.p95_ms or 0) < 80)
    assert (report.max_users_within_slo, report.max_rps_within_slo) == (4, 80)
    assert report.knee_users == 4
    nobody = analyze_capacity(folder, slo=lambda lv: False)
    assert nobody.max_users_within_slo is None
    assert nobody.headline().endswith("; no level met the SLO.")
    assert analyze_capacity(folder).max_users_within_slo is None


def test_report_is_plain_data() -> None:
    report = CapacityReport([level(1, 20)], None, None, None, None, "a reason")
    assert dataclasses.asdict(report)["levels"][0]["users"] == 1


def test_usl_formula_lives_in_one_place() -> None:
    fit = UslFit(sigma=0.1, kappa=0.01, lambda_rps=10.0, r_squared=1.0, peak_users=None,
                 peak_rps=None)  # fmt: skip
    # X(N) = λN / (1 + σ(N−1) + κN(N−1)); X(1) = λ; X(10) = 100 / (1 + 0.9 + 0.9)
    assert [fit.throughput(1), fit.throughput(10)] == pytest.approx([10.0, 100 / 2.8])
    grid = usl_scaling(np.array([1.0, 10.0])[None, :], np.array([[0.0], [0.1]]), 0.01)
    assert grid.ravel().tolist() == pytest.approx([1.0, 10 / 1.9, 1.0, 10 / 2.8])  # broadcasts
    # The κN(N−1) term is written once in src/ (capacity.usl_scaling); charts call the fit.
    term = re.compile(r"\bk\w*\s*\*\s*\w+\s*\*\s*\(\s*\w+\s*-\s*1\s*\)")
    copies = [
        path.name
        for path in sorted((REPO / "src" / "loadkit").glob("*.py"))
        for _ in term.finditer(path.read_text())
    ]
    assert copies == ["usl.py"]


@pytest.mark.parametrize("name", list(INCONSISTENT_CASES))
def test_one_saturation_point_where_reports_gave_several(name: str) -> None:
    levels = case_report(name).levels
    # The data reproduces the reports: three rules, three different answers.
    top = max(lv.throughput_rps for lv in levels)
    within_95 = next(lv.users for lv in levels if lv.throughput_rps >= 0.95 * top)
    fit = fit_usl([lv.users for lv in levels], [lv.throughput_rps for lv in levels])
    assert fit is not None and fit.peak_users is not None
    old = (within_95, find_knee(levels), round(fit.peak_users))
    assert old == {"10-10-15": (10, 10, 15), "8-12-14": (8, 12, 14),
                   "peak-232": (20, None, 232)}[name]  # fmt: skip

    report = case_report(name, slo=True)
    saturation = SATURATION_POINT[name]
    assert report.insufficient is None
    assert report.knee_users == saturation and report.saturated is (saturation is not None)
    headline = report.headline()
    user_counts = re.findall(r"(\d+) users", headline.split("; the last level meeting")[0])
    if saturation is not None:
        assert f"saturates at {saturation} users" in headline
        assert user_counts == [str(saturation)], headline
    else:
        assert "no saturation up to the highest tested level, 20 users" in headline
        assert user_counts == ["20"], headline
    assert "model peak" not in headline and str(round(fit.peak_users)) not in headline
    # summary.json: one field for the saturation point; the model's N* only inside "usl".
    data = capacity_dict(report)
    assert data is not None and data["knee_users"] == saturation
    assert set(data) == {
        *("headline", "levels", "knee_users", "usl", "max_users_within_slo"),
        *("max_rps_within_slo", "insufficient", "capacity_rps", "slo_given", "throughput_unit"),
        "saturated_at_lowest",
    }


def test_insufficient_data_has_no_saturation_point() -> None:
    two = [level(1, 20, 50), level(2, 21, 80)]  # a knee by the rule, but two levels only
    assert find_knee(two) == 1
    report = capacity_report(two, RunHistograms({}))
    assert report.insufficient == "the run had 2 load levels; at least 3 are needed"
    assert report.knee_users is None and not report.saturated
    single = capacity_report([level(10, 100)], RunHistograms({}))
    assert single.knee_users is None and single.capacity_rps is None
    assert single.headline() == (
        "Insufficient data for a capacity estimate: the run had a single load level."
    )


def test_a_long_history_is_read_per_second(tmp_path: Path) -> None:
    # The speed of reading 1,000,000 rows is measured in benchmarks/, not asserted here.
    second_rows = "".join(f"{{t}},{{u}},GET,/n{i},1,0" + ",1" * 11 + ",1,0,1,1,1,1,1\n"
                          for i in range(9))  # fmt: skip
    second_rows += "{t},{u},,Aggregated,1,0" + ",1" * 11 + ",1,0,1,1,1,1,1\n"
    path = tmp_path / "locust_stats_history.csv"
    with open(path, "w") as handle:
        handle.write(HISTORY_HEADER + "\n")
        for t in range(5_000):  # 10 rows a second
            handle.write(second_rows.format(t=T0 + t, u=1 + t // 1000))
    samples = read_user_counts(path)
    assert len(samples) == 5_000 and samples[-1] == (T0 + 4_999, 5)


# -- a kept real run and live runs -------------------------------------------------------------


def assert_capacity_about_80_with_knee_near_4(report: CapacityReport) -> None:
    users = [lv.users for lv in report.levels]
    # Every step is a level; a badly stalled machine may cost one (a span too short to keep).
    assert set(users) <= {1, 2, 4, 6, 8, 12, 16} and len(users) >= 6, report.levels
    assert users == sorted(users), report.levels
    assert report.insufficient is None, report.insufficient
    assert report.capacity_rps is not None
    assert abs(report.capacity_rps - 80) <= 0.15 * 80, report.headline()
    assert report.knee_users is not None and 3 <= report.knee_users <= 6, report.headline()
    assert report.saturated
    assert report.usl is not None and report.usl.r_squared >= 0.8
    assert report.headline().startswith("Capacity: about ")


def test_the_kept_real_run() -> None:
    report = analyze_capacity(FIXTURES / "steps-80rps")
    assert_capacity_about_80_with_knee_near_4(report)
    assert [lv.users for lv in report.levels] == [1, 2, 4, 6, 8, 12, 16]
    assert report.knee_users == 4
    assert report.headline() == (
        "Capacity: about 78 req/s (the highest throughput measured); saturates at 4 users"
        " (USL fit R²=0.95)."
    )


def test_a_run_saturated_at_its_first_level_says_so(tmp_path: Path) -> None:
    # Throughput peaks at 1 user and falls while the time per request grows: saturation, even
    # though no scalability curve fits (the trial that printed "insufficient data").
    steps = [(n, 6, 80 - 2 * n, 12.0 * n) for n in (1, 4, 7, 10, 13, 16, 19, 22)]
    report = analyze_capacity(write_run(tmp_path, steps))
    assert report.insufficient is None and report.saturated_at_lowest
    assert report.capacity_rps == pytest.approx(78, abs=1)
    assert report.headline().startswith("Saturated at or below 1 user: 78 req/s")


def test_the_usl_curve_at_zero_users_is_zero_without_a_numpy_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning fails the test
        values = usl_scaling([0.0, 1.0, 2.0], 1.0, 0.0)
    assert values.tolist() == [0.0, 1.0, 1.0]


def test_a_levels_table_in_txn_per_s_says_its_times_are_the_requests() -> None:
    from loadkit.report.markdown import _capacity

    level = {"users": 1, "throughput_rps": 16.0, "p50_ms": 10.0, "p95_ms": 20.0,
             "p99_ms": 30.0, "error_rate": 0.0}  # fmt: skip
    capacity: Any = {"headline": "h", "levels": [level], "throughput_unit": "txn/s"}
    header = next(line for line in _capacity(capacity) if line.startswith("| Users"))
    assert header == (
        "| Users | Txn/s | request p50 ms | request p95 ms | request p99 ms | request errors | |"
    )
    capacity["throughput_unit"] = "req/s"
    header = next(line for line in _capacity(capacity) if line.startswith("| Users"))
    assert header == "| Users | Req/s | p50 ms | p95 ms | p99 ms | Errors | |"


@pytest.mark.exclusive
@pytest.mark.e2e
def test_a_ramp_saturated_at_one_user(target_factory: Any, tmp_path: Path) -> None:
    # One request at a time, 20 ms each: saturated from the first user on (such a run once
    # printed "insufficient data" and a numpy RuntimeWarning).
    from helpers import run_loadkit

    target = target_factory("--max-concurrency", "1", "--service-ms", "20")
    path = tmp_path / "ramp.yaml"
    path.write_text(
        f"name: ramp\nhost: {target.url}\n"
        "load: {step: {start: 1, step: 3, every: 4s, until: 7, spawn_rate: 50}}\n"
        "users:\n  - name: u\n    tasks:\n      - request: {url: /api/work}\n",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    result = run_loadkit("run", str(path), "--out", str(out))
    assert "RuntimeWarning" not in result.stderr and "Traceback" not in result.stderr, result
    assert "Insufficient data" not in result.stdout, result.stdout
    assert re.search(r"[Ss]aturate[sd] at (or below )?1 user", result.stdout), result.stdout


@pytest.mark.exclusive
@pytest.mark.e2e
def test_capacity_of_a_service_known_by_construction(tmp_path: Path) -> None:
    # At most 4 requests in service at once, 50 ms each: at most 80 req/s, reached at 4 users.
    with TargetProcess("--max-concurrency", "4", "--service-ms", "50") as target:
        text = (
            f"""\
name: capacity
host: {target.url}
load:
  stages:
"""
            + "".join(
                f"    - {{users: {n}, spawn_rate: 50, duration: 4s}}\n"
                for n in (1, 2, 3, 4, 6, 8, 12)
            )
            + """\
users:
  - name: worker
    tasks:
      - request: {url: /api/work}
thresholds:
  - p95 < 120ms
"""
        )
        result, summary, out = run_scenario(tmp_path, text)
    assert result.returncode == 1, result  # p95 grows past 120 ms once requests queue
    capacity = summary["capacity"]
    assert capacity["insufficient"] is None, capacity
    assert [level["users"] for level in capacity["levels"]] == [1, 2, 3, 4, 6, 8, 12]
    assert abs(capacity["capacity_rps"] - 80.0) <= 0.15 * 80.0, capacity["headline"]
    assert 3 <= capacity["knee_users"] <= 6, capacity["headline"]
    assert capacity["usl"] is not None and capacity["usl"]["r_squared"] >= 0.8
    assert capacity["max_users_within_slo"] in (4, 6, 8), capacity["headline"]
    assert capacity["headline"].startswith("Capacity: about ")
    html = (out / "report.html").read_text()
    assert "Capacity: about" in html
    assert (out / "charts").is_dir() and len(list((out / "charts").glob("*.png"))) >= 5


@pytest.mark.e2e
def test_single_level_run_says_insufficient_data(tmp_path: Path) -> None:
    with TargetProcess() as target:
        text = f"""\
name: one-level
host: {target.url}
load: {{users: 3, spawn_rate: 10, duration: 7s}}
users:
  - name: u
    tasks:
      - request: {{url: /health}}
"""
        result, summary, out = run_scenario(tmp_path, text)
    assert result.returncode == 0, result
    headline = summary["capacity"]["headline"]
    assert headline.startswith("Insufficient data for a capacity estimate")
    assert "single load level" in headline
    assert "Insufficient data for a capacity estimate" in (out / "report.html").read_text()
