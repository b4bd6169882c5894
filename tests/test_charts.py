"""Charts: reading Locust's history, and figures a person can read (title, units, legend)."""

from __future__ import annotations

import dataclasses
import json
import re
import struct
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import run_loadkit
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from loadkit.capacity import UslFit
from loadkit.histogram import HistogramRecorder, RunHistograms, load_histograms
from loadkit.report import capacity_view, charts

FIXTURES = Path(__file__).parent / "fixtures" / "report"
HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size"
)
UNITS = ("s", "min", "h", "ms", "req/s", "users", "count", "failures/s")


def history_row(
    t: int, users: int, kind: str, name: str, rps: float, fps: float, p50: str, p95: str, p99: str
) -> str:
    return (
        f"{t},{users},{kind},{name},{rps},{fps},{p50},{p50},{p50},{p50},{p95},{p95},{p99},{p99},"
        f"{p99},{p99},{p99},100,0,2,2.5,1.0,20.0,100"
    )


def write_history(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def assert_legible(figure: Figure) -> None:
    """What a reader needs: a title, both axes labelled with a unit, a legend, ~900 px wide."""
    width, height = figure.get_size_inches() * figure.dpi
    assert 850 <= width <= 1000 and 350 <= height <= 600, (width, height)
    main = figure.axes[0]
    assert main.get_title(loc="left").strip(), "chart has no title"
    legends = [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None]
    assert legends, "chart has no legend"
    assert all(t.get_text().strip() for lg in legends for t in lg.get_texts())
    for ax in figure.axes:
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            if ax is not main and not label:
                continue  # a twin axis shares the x axis
            unit = re.search(r"\(([^)]+)\)\s*$", label)
            assert unit and unit.group(1) in UNITS, f"axis label {label!r} names no unit"
        for tick in ax.get_xticklabels() + ax.get_yticklabels():
            assert tick.get_fontsize() >= 9


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def labels(figure: Figure) -> list[str]:
    return [str(line.get_label()) for ax in figure.axes for line in ax.get_lines()]


# --- reading ------------------------------------------------------------------------------------


def demo_final() -> dict[str, Any]:
    return json.loads((FIXTURES / "demo" / "locust_final.json").read_text())


def test_read_history_keeps_only_aggregated_rows_of_a_real_run() -> None:
    history = charts.read_history(FIXTURES / "demo" / "locust_stats_history.csv")
    raw = pd.read_csv(FIXTURES / "demo" / "locust_stats_history.csv")
    assert len(history) == (raw["Name"] == "Aggregated").sum() == 10
    assert list(history.columns) == list(charts.HISTORY_COLUMNS)
    assert history["timestamp"].tolist() == list(range(1795673094, 1795673104))
    assert history["users"].max() == 40
    # "N/A" (first second) and all-zero percentiles (nothing in Locust's window yet) are gaps.
    assert history.loc[0:1, ["p50_ms", "p95_ms", "p99_ms"]].isna().all().all()
    assert history.loc[9, ["p50_ms", "p95_ms", "p99_ms"]].tolist() == [2.0, 7.0, 13.0]


def test_per_second_counts_are_exact() -> None:
    final = demo_final()
    counts = charts.per_second_counts(final)
    assert counts["requests"].sum() == final["total"]["num_requests"] == 733
    assert counts["timestamp"].tolist() == list(range(1795673094, 1795673105))
    assert counts["failures"].sum() == 0
    entries_only = charts.per_second_counts({**final, "total": None})
    assert entries_only.equals(counts)
    failing = {"total": {"num_reqs_per_sec": {"10": 5, "12": 7}, "num_fail_per_sec": {"12": 2}}}
    assert charts.per_second_counts(failing).to_dict("list") == {
        "timestamp": [10.0, 12.0],
        "requests": [5.0, 7.0],
        "failures": [0.0, 2.0],
    }


def test_time_series_uses_exact_rates_and_every_second() -> None:
    history = charts.read_history(FIXTURES / "demo" / "locust_stats_history.csv")
    # Locust's own req/s is a moving average that reads 0 for the first seconds.
    assert history["rps"].tolist()[:3] == [0, 0, 0]
    series = charts.time_series(history, charts.per_second_counts(demo_final()))
    assert list(series.columns) == list(charts.SERIES_COLUMNS)
    assert series["elapsed_s"].tolist() == list(range(11))
    assert series["rps"].tolist()[:4] == [11, 33, 54, 79] and series["rps"].sum() == 733
    assert series["users"].tolist()[-2:] == [40, 40]  # carried over the last second
    gappy = pd.DataFrame(
        {"timestamp": [100.0, 103.0], "requests": [4.0, 6.0], "failures": [1.0, 0.0]}
    )
    series = charts.time_series(charts.empty_history(), gappy)
    assert series["rps"].tolist() == [4, 0, 0, 6] and series["users"].isna().all()
    moving = charts.time_series(history)
    assert moving["rps"].tolist() == history["rps"].tolist()
    assert charts.time_series(charts.empty_history()).empty


def test_read_history_is_not_fooled_by_request_names(tmp_path: Path) -> None:
    path = write_history(
        tmp_path / "h.csv",
        [
            history_row(100, 5, "GET", "Aggregated", 99, 99, "900", "900", "900"),
            history_row(100, 5, "GET", "N/A", 99, 99, "900", "900", "900"),
            history_row(100, 5, "", "Aggregated", 10, 1, "5", "8", "9"),
            history_row(101, 5, "", "Aggregated", 12, 0, "6", "9", "12"),
            "102,5,,Aggregated,13.0,0.0,7,7,",  # the run was killed mid-write
        ],
    )
    history = charts.read_history(path)
    assert history["rps"].tolist() == [10, 12, 13]
    assert history["p95_ms"].tolist()[:2] == [8, 9] and np.isnan(history["p95_ms"].iloc[2])


@pytest.mark.parametrize("text", ["", HEADER + "\n"], ids=["empty", "header-only"])
def test_read_history_of_an_empty_file_is_empty(tmp_path: Path, text: str) -> None:
    path = tmp_path / "h.csv"
    path.write_text(text)
    history = charts.read_history(path)
    assert history.empty and list(history.columns) == list(charts.HISTORY_COLUMNS)


def test_read_history_rejects_a_file_that_is_not_locust_history(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError):
        charts.read_history(path)


def test_downsample_keeps_spikes_and_bounds_points() -> None:
    n = 10_000
    series = pd.DataFrame(
        {
            "elapsed_s": np.arange(n, dtype=float),
            "users": np.full(n, 50.0),
            "rps": np.full(n, 100.0),
            "failures_per_s": np.zeros(n),
            "p50_ms": np.full(n, 5.0),
            "p95_ms": np.full(n, 20.0),
            "p99_ms": np.full(n, 30.0),
        }
    )
    series.loc[4321, "p99_ms"] = 5000.0
    small, bucket = charts.downsample(series, max_points=500)
    assert len(small) <= 500 and bucket == 20
    assert small["p99_ms"].max() == 5000.0 and small["rps"].mean() == 100.0
    same, one = charts.downsample(series.head(100), max_points=500)
    assert one == 1 and same.equals(series.head(100))


def test_histogram_from_final_json_total_or_entries() -> None:
    final = demo_final()
    histogram = charts.response_time_histogram(final)
    assert sum(histogram.values()) == final["total"]["num_requests"] == 733
    assert list(histogram) == sorted(histogram)
    without_total = {**final, "total": None}
    assert charts.response_time_histogram(without_total) == histogram
    assert charts.response_time_histogram({}) == {}


# --- figures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_series() -> pd.DataFrame:
    history = charts.read_history(FIXTURES / "demo" / "locust_stats_history.csv")
    return charts.time_series(history, charts.per_second_counts(demo_final()))


def test_time_series_charts_are_legible(demo_series: pd.DataFrame) -> None:
    users = charts.users_throughput_chart(demo_series)
    assert_legible(users)
    assert users.axes[0].get_title(loc="left") == "Users and throughput over time"
    assert {ax.get_ylabel() for ax in users.axes} == {"Load (users)", "Throughput (req/s)"}
    assert labels(users) == ["users", "req/s"]
    assert users.axes[1].get_legend() is not None  # one legend for both axes

    times = charts.response_times_chart(demo_series)
    assert_legible(times)
    assert times.axes[0].get_ylabel() == "Response time (ms)"
    assert labels(times) == ["p99", "p95", "p50"]

    failures = charts.failures_chart(demo_series)
    assert_legible(failures)
    assert "failures/s" in labels(failures)
    assert any(t.get_text() == "No failures" for t in failures.axes[0].texts)


def test_same_metric_same_colour_everywhere(demo_series: pd.DataFrame) -> None:
    def colour_of(figure: Figure, label: str) -> str:
        (line,) = [ln for ax in figure.axes for ln in ax.get_lines() if ln.get_label() == label]
        return str(line.get_color())

    times = charts.response_times_chart(demo_series)
    dist = charts.distribution_chart({2.0: 10, 7.0: 3}, p95_ms=7.0)
    (p95_line,) = [ln for ln in dist.axes[0].get_lines() if str(ln.get_label()).startswith("p95")]
    assert colour_of(times, "p95") == p95_line.get_color() == charts.COLORS["p95"]
    assert colour_of(charts.users_throughput_chart(demo_series), "req/s") == charts.COLORS["rps"]


def test_long_runs_use_minutes_and_say_points_are_buckets() -> None:
    n = 7200
    series = pd.DataFrame(
        {
            "elapsed_s": np.arange(n, dtype=float),
            "users": np.full(n, 10.0),
            "rps": np.full(n, 5.0),
            "failures_per_s": np.zeros(n),
            "p50_ms": np.full(n, 5.0),
            "p95_ms": np.full(n, 9.0),
            "p99_ms": np.full(n, 12.0),
        }
    )
    figure = charts.response_times_chart(series)
    assert_legible(figure)
    assert figure.axes[0].get_xlabel() == "Time since start (min)"
    assert max(len(line.get_xdata()) for line in figure.axes[0].get_lines()) <= charts.MAX_POINTS
    assert any("each point: maximum over 6 s" in t.get_text() for t in figure.texts)


def test_distribution_chart_marks_percentiles() -> None:
    final = demo_final()
    figure = charts.distribution_chart(
        charts.response_time_histogram(final), p50_ms=2.0, p95_ms=7.0, p99_ms=13.0
    )
    assert_legible(figure)
    assert figure.axes[0].get_xscale() == "linear"
    texts = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert texts == ["requests", "p50 = 2 ms", "p95 = 7 ms", "p99 = 13 ms"]
    heights = sum(bar.get_height() for bar in figure.axes[0].patches)
    assert heights == 733  # every request is in a bar


def test_wide_distribution_uses_a_log_axis() -> None:
    figure = charts.distribution_chart({1.0: 50, 40.0: 10, 2500.0: 2, 12000.0: 1}, p99_ms=2500.0)
    assert_legible(figure)
    assert figure.axes[0].get_xscale() == "log"
    assert sum(bar.get_height() for bar in figure.axes[0].patches) == 63


def test_charts_of_no_data_say_so_instead_of_failing() -> None:
    empty = charts.empty_series()
    for figure in (
        charts.users_throughput_chart(empty),
        charts.response_times_chart(empty),
        charts.failures_chart(empty),
        charts.distribution_chart({}),
    ):
        assert_legible(figure)
        assert any(t.get_text().startswith("No ") for t in figure.axes[0].texts)
        png_size(charts.to_png(figure))


def test_png_is_900_pixels_wide(demo_series: pd.DataFrame) -> None:
    data = charts.to_png(charts.users_throughput_chart(demo_series))
    assert png_size(data) == (900, 430)


# --- each second's own percentiles, from loadkit's histograms ------------------------------------

T0 = 1_800_000_000


def fixture_recorder(*, delayed: bool = False, t0: int = T0) -> HistogramRecorder:
    """10 s of two requests: GET /fast answers in 2-4 ms throughout; GET /slow in 10 ms, but
    the 20 that complete in second 5 waited 900 ms (a stall); with `delayed`, the corrected
    times of a schedule that fell 300 ms behind in second 6. Also a transaction, which is not
    a request and must not move the requests' percentiles."""
    recorder = HistogramRecorder()
    noted = []
    for second in range(10):
        at = t0 + second + 0.5
        for i in range(100):
            noted.append((at, "GET", "/fast", 2.0 + (i % 3), None, "U", 0, 0.0))
        slow_ms = 900.0 if second == 5 else 10.0
        delay = 300.0 if second == 6 else 0.0
        for _ in range(20):
            noted.append((at, "GET", "/slow", slow_ms, None, "U", 0, delay))
        noted.append((at, "TXN", "flow", 60_000.0, None, "U", 0, 0.0))
    recorder.count(noted, delayed=delayed)
    return recorder


def fixture_histograms(*, delayed: bool = False) -> RunHistograms:
    return RunHistograms.from_json(fixture_recorder(delayed=delayed).to_json())


def test_each_second_has_its_own_percentiles() -> None:
    times = charts.request_times(fixture_histograms())
    assert list(times.columns) == list(charts.TIMES_COLUMNS)
    assert times["timestamp"].tolist() == [float(T0 + s) for s in range(10)]
    assert times["requests"].tolist() == [120.0] * 10  # the transaction is not a request
    p99 = times["p99_ms"].to_numpy()
    # The stall is in second 5 and nowhere else (Locust's 10 s window smeared it over ten).
    assert 900 * 0.9975 <= p99[5] <= 900 * 1.0025
    assert all(value < 11 for i, value in enumerate(p99) if i != 5), p99
    assert times["p50_ms"].tolist()[5] == pytest.approx(3.0, rel=0.003)
    slow = charts.request_times(fixture_histograms(), ("GET", "/slow"))
    assert slow["p50_ms"].tolist()[5] == pytest.approx(900, rel=0.003)
    assert slow["p50_ms"].tolist()[4] == pytest.approx(10, rel=0.003)
    fast = charts.request_times(fixture_histograms(), ("GET", "/fast"))
    assert fast["p99_ms"].max() < 4.1
    assert charts.request_times(RunHistograms({})).empty


def test_the_series_takes_percentiles_from_the_histograms() -> None:
    times = charts.request_times(fixture_histograms())
    corrected = charts.request_times(fixture_histograms(delayed=True))
    history = charts.empty_history()
    counts = pd.DataFrame(
        {"timestamp": times["timestamp"], "requests": times["requests"], "failures": 0.0}
    )
    series = charts.time_series(history, counts, times, corrected)
    assert list(series.columns) == [*charts.SERIES_COLUMNS, *charts.CORRECTED_COLUMNS]
    assert series["elapsed_s"].tolist() == list(range(10))
    assert series["p99_ms"].idxmax() == 5
    assert series["p99_corrected_ms"].idxmax() == 5
    assert series["p99_corrected_ms"].tolist()[6] == pytest.approx(310, rel=0.003)
    assert series["p99_ms"].tolist()[6] < 11  # the service time did not see the delay
    # A Locust history still gives the users; its windowed percentiles are not used.
    history = pd.DataFrame(
        {
            "timestamp": [float(T0 + 1)],
            "users": [7.0],
            "rps": [1.0],
            "failures_per_s": [0.0],
            "p50_ms": [999.0],
            "p95_ms": [999.0],
            "p99_ms": [999.0],
        }
    )
    series = charts.time_series(history, counts, times)
    assert series["p99_ms"].max() < 1000 and series["users"].tolist()[1:3] == [7, 7]
    assert history["p99_ms"].tolist() == [999.0]  # the caller's frame is left alone


def test_the_requests_made_most_often_get_a_panel_each() -> None:
    histograms = fixture_histograms()
    assert charts.top_requests(histograms) == [("GET", "/fast"), ("GET", "/slow")]
    assert charts.top_requests(histograms, 1) == [("GET", "/fast")]
    panels = charts.per_request_series(
        histograms, charts.top_requests(histograms), fixture_histograms(delayed=True), origin=T0 - 2
    )
    assert list(panels) == ["GET /fast", "GET /slow"]
    slow = panels["GET /slow"]
    # On the run's time axis: the run began 2 s before these requests.
    assert slow["elapsed_s"].tolist() == [float(s + 2) for s in range(10)]
    assert slow.loc[slow["p99_ms"].idxmax(), "elapsed_s"] == 7.0
    assert slow.loc[slow["p99_corrected_ms"].idxmax(), "elapsed_s"] == 7.0
    figure = charts.response_times_by_request_chart(panels, more=3)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title(loc="left") for ax in visible] == ["GET /fast", "GET /slow"]
    assert all(ax.get_ylabel() == "Response time (ms)" for ax in visible[::2])
    assert all(ax.get_xlabel() == "Time since start (s)" for ax in visible)
    assert {str(line.get_label()) for line in visible[1].get_lines()} == {
        "p50", "p95", "p99", "p50 corrected", "p95 corrected", "p99 corrected",
    }  # fmt: skip
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()][:3] == ["p99", "p95", "p50"]
    assert any(t.get_text() == "3 less frequent requests not shown" for t in figure.texts)
    width, _ = png_size(charts.to_png(figure))
    assert width == 900
    empty = charts.response_times_by_request_chart({})
    assert any(t.get_text().startswith("No ") for ax in empty.axes for t in ax.texts)


def test_the_overall_chart_draws_corrected_times_beside_service() -> None:
    times = charts.request_times(fixture_histograms())
    corrected = charts.request_times(fixture_histograms(delayed=True))
    series = charts.time_series(charts.empty_history(), None, times, corrected)
    figure = charts.response_times_chart(series)
    assert_legible(figure)
    assert labels(figure) == [
        "p99", "p95", "p50", "p50 corrected", "p95 corrected", "p99 corrected",
    ]  # fmt: skip
    dashed = [ln for ln in figure.axes[0].get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 3


STALL_MS, STALL_EVERY_S = 1200, 4


@pytest.mark.exclusive
@pytest.mark.e2e
def test_a_stall_shows_in_the_second_it_happened(target_factory: Any, tmp_path: Path) -> None:
    """The bundled target stalls /api/work for 1.2 s every 4 s; 4 users with a 100 ms think
    time. Each stall's waiting requests all complete as it ends: that second's p99 is about
    the stall, the next second's is a few ms again, and /health never stalls."""
    target = target_factory("--stall", str(STALL_MS), str(STALL_EVERY_S))
    started = time.time()  # the target's stall clock began just before it listened
    scenario = tmp_path / "stall.yaml"
    scenario.write_text(
        textwrap.dedent(
            f"""\
            name: stall
            host: {target.url}
            load: {{users: 4, spawn_rate: 4, duration: 7s}}
            defaults: {{think_time: {{constant: 100ms}}, timeout: 30s}}
            users:
              - name: clerk
                tasks:
                  - name: work
                    request: {{url: /api/work}}
                  - name: health
                    request: {{url: /health}}
            """
        ),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out), timeout=90)
    assert result.returncode == 0, result
    histograms = load_histograms(out / "histograms.json")
    work = charts.request_times(histograms, ("GET", "/api/work"))
    spikes = work[work["p99_ms"] >= STALL_MS / 2]["timestamp"].astype(int).tolist()
    assert spikes, work
    seconds = set(work["timestamp"].astype(int))
    for spike in spikes:
        # Within the 0.1 s the stall clock can differ from `started`: the stall's own second.
        ends = [started + k * STALL_EVERY_S + STALL_MS / 1000 for k in range(4)]
        assert any(int(end - 0.1) <= spike <= int(end + 0.05) for end in ends), (spike, ends)
        if spike + 1 in seconds:  # the second after is fast again
            after = work.loc[work["timestamp"] == spike + 1, "p99_ms"].item()
            assert after < 100, work
    # Overall, in the series the report draws, the spike is in the same second.
    overall = charts.request_times(histograms)
    series = charts.time_series(charts.empty_history(), None, overall)
    first = overall["timestamp"].min()
    assert series.loc[series["p99_ms"] >= STALL_MS / 2, "elapsed_s"].tolist() == [
        s - first for s in spikes
    ]
    health = charts.request_times(histograms, ("GET", "/health"))
    assert health["p99_ms"].max() < 200, health
    # The report draws these, per request too.
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="chart-response_times_by_request"' in html
    assert 'id="chart-response_times"' in html and "chart-response_times_locust" not in html
    assert "Each second&#x27;s own p50, p95 and p99" in html
    assert (out / "charts" / "response_times_by_request.png").is_file()


# --- capacity (a stand-in of loadkit.capacity's report, matched structurally) -----------------


@dataclass(frozen=True)
class LoadLevel:
    users: int
    start: float
    end: float
    requests: int
    throughput_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float
    apdex: float | None


@dataclass(frozen=True)
class CapacityReport:
    levels: list[LoadLevel]
    knee_users: int | None
    usl: UslFit | None
    max_users_within_slo: int | None
    max_rps_within_slo: float | None
    insufficient: str | None
    capacity_rps: float | None = None

    def headline(self) -> str:
        return f"Saturates at {self.knee_users} users; at most {self.max_users_within_slo} in SLO"


def sample_capacity(*, usl: bool = True) -> CapacityReport:
    fit = UslFit(sigma=0.05, kappa=0.001, lambda_rps=50.0, r_squared=0.97, peak_users=30.8,
                 peak_rps=None)  # fmt: skip
    fit = dataclasses.replace(fit, peak_rps=fit.throughput(30.8))
    levels = []
    for users, p95 in ((5, 12.0), (10, 15.0), (20, 40.0), (30, 180.0), (40, 650.0)):
        rps = fit.throughput(users)
        levels.append(
            LoadLevel(users, 0, 60, int(rps * 60), rps, p95 / 3, p95, p95 * 1.5, 0.0, 0.95)
        )
    top = max(level.throughput_rps for level in levels)
    return CapacityReport(
        levels, 20, fit if usl else None, 30, levels[3].throughput_rps, None, capacity_rps=top
    )


def case_capacity(name: str) -> Any:
    """The real report of one of test_capacity's reconstructed inconsistent cases."""
    from test_capacity import case_report

    return case_report(name, slo=True)


def single_level_capacity() -> Any:
    """The real report of a constant-load run: one level, 3 users."""
    from loadkit import capacity
    from loadkit.histogram import RunHistograms

    level = capacity.LoadLevel(3, 0, 60, 600, 10.0, 5.0, 9.0, 12.0, 0.0, 1.0)
    return capacity.capacity_report([level], RunHistograms({}))


def saturation_lines(figure: Figure) -> list[tuple[str, list[float]]]:
    return [
        (str(line.get_label()), list(line.get_xdata()))  # type: ignore[arg-type]
        for line in figure.axes[0].get_lines()
        if str(line.get_label()).startswith("saturation point")
    ]


def test_stand_in_matches_the_protocol_without_importing_capacity() -> None:
    assert isinstance(sample_capacity(), capacity_view.CapacityReportLike)
    code = (
        "import sys, loadkit.report.charts, loadkit.report.html, loadkit.report.write, "
        "loadkit.report.junit; "
        "print('loadkit.capacity' in sys.modules, 'matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]  # no capacity.py, and never pyplot


def test_capacity_throughput_chart_shows_fit_and_saturation_point() -> None:
    figure = charts.capacity_throughput_chart(sample_capacity())
    assert_legible(figure)
    ax = figure.axes[0]
    assert ax.get_title(loc="left") == "Throughput vs users"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Load (users)", "Throughput (req/s)")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == [
        "measured",
        "USL fit (R² = 0.97)",
        "model extrapolation beyond the tested 40 users",
        "saturation point: 20 users",
    ]  # no model peak: it is not the saturation point
    assert saturation_lines(figure) == [("saturation point: 20 users", [20, 20])]
    (curve,) = [ln for ln in ax.get_lines() if str(ln.get_label()).startswith("USL")]
    assert (min(curve.get_xdata()), max(curve.get_xdata())) == (5, 40)  # the tested users
    (beyond,) = [ln for ln in ax.get_lines() if str(ln.get_label()).startswith("model extra")]
    assert (min(beyond.get_xdata()), max(beyond.get_xdata())) == (40, 50)  # 25 % past, labelled
    assert beyond.get_linestyle() != curve.get_linestyle()


def test_capacity_latency_chart_draws_the_slo() -> None:
    figure = charts.capacity_latency_chart(sample_capacity(), slo_p95_ms=500)
    assert_legible(figure)
    ax = figure.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Load (users)", "Response time (ms)")
    (slo,) = [ln for ln in ax.get_lines() if ln.get_label() == "SLO: p95 < 500 ms"]
    assert list(slo.get_ydata()) == [500, 500]
    assert "max within SLO: 30 users" in labels(figure)
    assert saturation_lines(figure) == [("saturation point: 20 users", [20, 20])]
    (p95,) = [ln for ln in ax.get_lines() if ln.get_label() == "p95"]
    assert list(p95.get_ydata()) == [12.0, 15.0, 40.0, 180.0, 650.0]
    without = charts.capacity_latency_chart(sample_capacity(), slo_p95_ms=None)
    assert not [ln for ln in without.axes[0].get_lines() if str(ln.get_label()).startswith("SLO")]


def test_capacity_charts_without_fit_or_levels() -> None:
    assert_legible(charts.capacity_throughput_chart(sample_capacity(usl=False)))
    nothing = CapacityReport([], None, None, None, None, "needs at least 3 load levels")
    assert not capacity_view.has_capacity_charts(nothing)
    for figure in (
        charts.capacity_throughput_chart(nothing),
        charts.capacity_latency_chart(nothing, slo_p95_ms=200),
    ):
        assert_legible(figure)
        assert [t.get_text() for t in figure.axes[0].texts] == ["needs at least 3 load levels"]
        assert all(isinstance(h, Line2D) for h in figure.axes[0].get_lines())


@pytest.mark.parametrize("name", ["10-10-15", "8-12-14", "peak-232"])
def test_charts_show_the_one_saturation_point_and_no_model_peak(name: str) -> None:
    capacity = case_capacity(name)
    throughput = charts.capacity_throughput_chart(capacity)
    latency = charts.capacity_latency_chart(capacity, slo_p95_ms=None)
    n = capacity.knee_users
    expected = [] if n is None else [(f"saturation point: {n} users", [n, n])]
    assert saturation_lines(throughput) == saturation_lines(latency) == expected
    texts = [*labels(throughput), *labels(latency)]
    assert not [t for t in texts if "peak" in t or "232" in t], texts
    # The model is drawn up to the tested 20 (16, 18) users, then at most 25 % further,
    # labelled: never out to a model peak far beyond the data.
    top = max(level.users for level in capacity.levels)
    reach = max(max(line.get_xdata()) for line in throughput.axes[0].get_lines())
    assert reach == pytest.approx(top * 1.25)
    assert f"model extrapolation beyond the tested {top} users" in texts
    assert throughput.axes[0].get_xlim()[1] < top * 1.5


def test_a_single_level_run_has_no_capacity_charts() -> None:
    from loadkit.report import write as report

    single = single_level_capacity()
    assert single.insufficient == "the run had a single load level"
    assert not capacity_view.has_capacity_charts(single)
    assert capacity_view.has_capacity_charts(sample_capacity())
    figures = report.build_figures({}, charts.empty_series(), {}, single, 200.0, [])
    assert figures == {}


def test_insufficient_data_draws_measurements_only() -> None:
    from loadkit import capacity as analysis
    from loadkit.histogram import RunHistograms

    two = [analysis.LoadLevel(1, 0, 60, 1200, 20.0, 50, 60, 70, 0.0, 1.0),
           analysis.LoadLevel(2, 0, 60, 1260, 21.0, 80, 90, 99, 0.0, 1.0)]  # fmt: skip
    capacity = analysis.capacity_report(two, RunHistograms({}))
    assert capacity.insufficient is not None and capacity_view.has_capacity_charts(capacity)
    figure = charts.capacity_throughput_chart(capacity)
    assert labels(figure) == ["measured"]  # no model, no saturation point, no second headline
    assert len(figure.axes[0].texts) == 0


def test_real_capacity_report_is_charted() -> None:
    from loadkit import capacity

    stand_in = sample_capacity()
    levels = [capacity.LoadLevel(**vars(level)) for level in stand_in.levels]
    real = capacity.CapacityReport(
        levels,
        20,
        stand_in.usl,
        30,
        levels[3].throughput_rps,
        None,
        capacity_rps=stand_in.capacity_rps,
        slo_given=True,
    )
    assert isinstance(real, capacity_view.CapacityReportLike)
    assert real.headline().startswith("Capacity: about ")
    throughput = charts.capacity_throughput_chart(real)
    latency = charts.capacity_latency_chart(real, slo_p95_ms=500)
    for figure in (throughput, latency):
        assert_legible(figure)
    assert labels(throughput) == labels(charts.capacity_throughput_chart(stand_in))
