"""The system under test's metrics (`observe:`) as data: telemetry.json's typed structure, one
reader, the statistics summary.json keeps (min, mean, max, the value at the saturation point)
and the judgement of `server NAME < X` thresholds.

Pure and standard-library only: the live judgement inside Locust (`live`) judges server
thresholds with the same code as the verdict, on the file the CLI's poller rewrites while the
run lasts (`observe.LivePoller`); the summary on telemetry.json, asked once the run is over.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NotRequired, TypedDict, cast

from loadkit.scenario.thresholds import OPERATORS, Threshold, ThresholdResult
from loadkit.summary_types import CapacityDict, QueryStats, TelemetrySummary

SCHEMA = "loadkit.telemetry/1"
SATURATED_SHARE = 0.9
"""A resource is saturated when it is used at 90 % of its limit or more."""
CORES = "cores"
"""The unit of a CPU query (`rate(process_cpu_seconds_total[...])`): CPU-seconds per second."""


class Series(TypedDict):
    labels: dict[str, str]
    points: list[tuple[float, float]]
    """(unix seconds, value), in time order (NaN and infinite values dropped)."""


class QueryTelemetry(TypedDict):
    query: str
    unit: str
    limit: float | None
    series: list[Series]
    error: NotRequired[str]
    """Why there is no series (Prometheus unreachable, or its answer), when it failed."""


class Telemetry(TypedDict):
    """telemetry.json (and, while the run lasts, the live file)."""

    schema: str
    prometheus: str
    step_s: float
    start: float
    end: float
    queries: dict[str, QueryTelemetry]


def read(path: Path) -> Telemetry | None:
    """The one reader of telemetry.json (and the live file): None when absent or unreadable
    (the live file is replaced atomically; telemetry.json may not have been written)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None
    for query in data["queries"].values():
        for series in query["series"]:
            series["points"] = [(float(t), float(v)) for t, v in series["points"]]
    return cast("Telemetry", data)  # written by `observe` in this shape


def points(
    query: QueryTelemetry, start: float | None = None, end: float | None = None
) -> list[list[tuple[float, float]]]:
    """Each series' points in [start, end)."""
    return [
        [
            (t, v)
            for t, v in s["points"]
            if (start is None or t >= start) and (end is None or t < end)
        ]
        for s in query["series"]
    ]


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def window_mean(query: QueryTelemetry, start: float, end: float) -> float | None:
    """The mean of every sample of every series in [start, end) (one series: its mean)."""
    return mean(v for series in points(query, start, end) for _, v in series)


def level_value(query: QueryTelemetry, start: float, end: float) -> float | None:
    """A load level's value: the median of the samples in its steady window [start, end), so
    that one scrape landing between two requests (a gauge caught low) does not move it."""
    values = [v for series in points(query, start, end) for _, v in series]
    return statistics.median(values) if values else None


def stats(query: QueryTelemetry, saturation: tuple[float, float] | None) -> QueryStats:
    values = [v for s in query["series"] for _, v in s["points"]]
    row: QueryStats = {
        "query": query["query"],
        "unit": query["unit"],
        "limit": query["limit"],
        "series": len(query["series"]),
        "min": min(values) if values else None,
        "mean": mean(values),
        "max": max(values) if values else None,
        "at_saturation": None if saturation is None else level_value(query, *saturation),
    }
    if "error" in query:
        row["error"] = query["error"]
    return row


def summarize(telemetry: Telemetry, saturation: tuple[float, float] | None) -> TelemetrySummary:
    """summary.json's `telemetry`: per query min, mean, max and (with `saturation`, the
    saturation point's steady window [start, end) in unix seconds) the value there."""
    return {
        "prometheus": telemetry["prometheus"],
        "step_s": telemetry["step_s"],
        "queries": {name: stats(q, saturation) for name, q in telemetry["queries"].items()},
    }


def judge_server(threshold: Threshold, telemetry: Telemetry | None) -> ThresholdResult:
    """`server NAME OP X [over W]`: the mean of the query's samples over the run, or the worst
    W-second window's mean; of its worst series when it has several (module
    `scenario.thresholds`)."""
    name = threshold.server or ""
    query = None if telemetry is None else telemetry["queries"].get(name)
    if query is None:
        return ThresholdResult(threshold, None, False, "no data: Prometheus was not asked")
    if not any(s["points"] for s in query["series"]):
        why = query.get("error") or "the query returned no samples"
        return ThresholdResult(threshold, None, False, f"no data: {why}")
    values = [
        v
        for series in query["series"]
        if (v := _series_value(threshold, series["points"])) is not None
    ]
    worst = max(values) if threshold.op in ("<", "<=") else min(values)
    return ThresholdResult(threshold, worst, OPERATORS[threshold.op](worst, threshold.limit))


def _series_value(threshold: Threshold, samples: Sequence[tuple[float, float]]) -> float | None:
    if not samples:
        return None
    if threshold.window_s is None:
        return mean(v for _, v in samples)
    window = threshold.window_s
    step = samples[1][0] - samples[0][0] if len(samples) > 1 else 0.0
    last = samples[-1][0] + step
    # Whole windows only (a window cut by the run's end is not one); a run shorter than the
    # window is one window, the whole run.
    starts = [t for t, _ in samples if t + window <= last + 1e-6] or [samples[0][0]]
    means = [
        m
        for start in starts
        if (m := mean(v for t, v in samples if start <= t < start + window)) is not None
    ]
    return max(means) if threshold.op in ("<", "<=") else min(means)


def knee_window(capacity: CapacityDict | None) -> tuple[float, float] | None:
    """The saturation point's steady window [start, end) in unix seconds: the level at the
    knee (`knee_users`, or an open model's `knee_rate`); None when the run found none."""
    if not capacity:
        return None
    arrivals = capacity.get("load_axis") == "arrivals/s"
    knee = capacity.get("knee_rate") if arrivals else capacity.get("knee_users")
    for level in capacity["levels"] if knee is not None else []:
        if (level.get("arrival_rate") if arrivals else level["users"]) == knee:
            return level["start"], level["end"]
    return None
