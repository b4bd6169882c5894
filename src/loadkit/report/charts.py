"""Charts of a run: pure functions from data to matplotlib Figures and PNG bytes.

Data comes from the run folder (read here with pandas, only the columns needed):
- `histograms.json` (and `histograms-corrected.json` when starts are scheduled): loadkit's own
  per-second histograms give each second's true p50/p95/p99 (of the requests completed in that
  second, within 0.25 %), overall and per request, so a spike shows in the second it happened;
- `locust_stats_history.csv` (written with `--csv-full-history`): its Aggregated rows, one per
  second, give the running users (and, only when the histograms are missing, Locust's p50/p95/
  p99 of roughly the last 10 s, which smear a one-second spike over ten);
- `locust_final.json`: the exact number of requests and failures completed in every second
  (the history only has a 10-second moving average of those, which reads 0 for the first
  seconds of a run) and the final response-time histogram of all requests, transactions (request
  type "TXN") kept apart: they are not requests;
- a capacity report (see `CapacityReportLike`): one point per load level. The capacity charts
  show what `loadkit.capacity` decided and compute nothing of their own: the saturation point is
  its `knee_users`, the curve is its `UslFit.throughput`. They are drawn only when there is a
  curve over users to show (`has_capacity_charts`).

Figures are built with `matplotlib.figure.Figure` and the Agg canvas, never pyplot: no global
figure registry, no GUI backend, safe to call from any process. Every chart has a title, axis
labels that name their unit, a legend, and uses the same colour for the same metric.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from loadkit import formatting
from loadkit.histogram import TRANSACTION_TYPE, RequestHistogram, RunHistograms
from loadkit.report.capacity_view import (
    ARRIVALS_AXIS,
    CapacityReportLike,
    level_load,
    load_axis,
    load_text,
    saturation_load,
    slo_load,
    tested_users_note,
)
from loadkit.summary_types import ArrivalsInfo

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
COLORS = {
    "users": "#555555",
    "rps": "#0072B2",
    "p50": "#009E73",
    "p95": "#E69F00",
    "p99": "#CC79A7",
    "failures": "#D55E00",
    "usl": "#56B4E9",
    "slo": "#000000",
    "saturation": "#D55E00",
}
WIDTH_IN, HEIGHT_IN, DPI = 9.0, 4.3, 100
"""900 x 430 px: readable at the width the HTML report shows them."""
_MARGINS = {"left": 0.1, "right": 0.91, "top": 0.88, "bottom": 0.13}
"""Of the figure, around the axes; tick labels, axis labels and the title go into them."""
MAX_POINTS = 1200
"""Time series longer than this are shown as buckets of several seconds."""

_HISTORY_COLUMNS = {
    "Timestamp": "float64",
    "User Count": "float64",
    "Type": "category",
    "Name": "category",
    "Requests/s": "float64",
    "Failures/s": "float64",
    "50%": "float64",
    "95%": "float64",
    "99%": "float64",
}
_RENAME = {
    "Timestamp": "timestamp",
    "User Count": "users",
    "Requests/s": "rps",
    "Failures/s": "failures_per_s",
    "50%": "p50_ms",
    "95%": "p95_ms",
    "99%": "p99_ms",
}
HISTORY_COLUMNS = ("timestamp", "users", "rps", "failures_per_s", "p50_ms", "p95_ms", "p99_ms")
SERIES_COLUMNS = ("elapsed_s", "users", "rps", "failures_per_s", "p50_ms", "p95_ms", "p99_ms")
_PERCENTILES = ["p50_ms", "p95_ms", "p99_ms"]
_QUANTILES = (0.50, 0.95, 0.99)
"""The quantiles of `_PERCENTILES`, in the same order."""
CORRECTED_SUFFIX = "_corrected"
CORRECTED_COLUMNS = tuple(c.replace("_ms", f"{CORRECTED_SUFFIX}_ms") for c in _PERCENTILES)
"""A series' corrected percentiles (scheduled starts only): beside the service times."""
TIMES_COLUMNS = ("timestamp", "requests", *_PERCENTILES)
PER_REQUEST_CHARTS = 6
"""The per-request drill-down shows the requests made most often, at most this many."""


# --- reading ----------------------------------------------------------------------------------


def read_history(path: Path) -> pd.DataFrame:
    """The Aggregated rows of a `locust_stats_history.csv` as columns `HISTORY_COLUMNS`, one
    row per second (`timestamp`: Unix seconds). Empty when the file has no rows.

    Reads only the needed columns with explicit dtypes (1,000,000 rows in well under a second).
    Percentiles Locust could not compute yet ("N/A", or 0 before any response in its window)
    become NaN so that lines show a gap instead of a false zero. A last line cut short (the
    process was killed while writing) is kept with what it has. Raises OSError when the file
    cannot be read and ValueError when it is not a Locust history CSV.
    """
    try:
        frame = pd.read_csv(
            path,
            usecols=list(_HISTORY_COLUMNS),
            dtype=_HISTORY_COLUMNS,
            na_values={c: ["N/A", ""] for c, t in _HISTORY_COLUMNS.items() if t == "float64"},
            keep_default_na=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        return empty_history()
    aggregated = frame[(frame["Name"] == "Aggregated") & (frame["Type"] == "")]
    history = aggregated.rename(columns=_RENAME).dropna(subset=["timestamp"])
    history = history.drop_duplicates("timestamp", keep="last").sort_values("timestamp")
    history = history[list(HISTORY_COLUMNS)].reset_index(drop=True)
    no_window = history[_PERCENTILES].fillna(0).eq(0).all(axis=1)
    history.loc[no_window, _PERCENTILES] = np.nan
    return history


def _sources(final: Mapping[str, Any], *, transactions: bool = False) -> list[Mapping[str, Any]]:
    """The entries of a `locust_final.json` to add up: its `total` when the run had no
    transactions (Locust's total counts them), else the requests' (or the transactions')
    entries."""
    entries = [e for e in final.get("entries") or [] if isinstance(e, Mapping)]
    timed = [e for e in entries if e.get("method") == TRANSACTION_TYPE]
    if transactions:
        return timed
    total = final.get("total")
    if isinstance(total, Mapping) and not timed:
        return [total]
    return [e for e in entries if e.get("method") != TRANSACTION_TYPE]


def per_second_counts(final: Mapping[str, Any], *, transactions: bool = False) -> pd.DataFrame:
    """Requests and failures completed in each second of the run (columns timestamp,
    requests, failures), exact, from a `locust_final.json` document (its `total` entry, or the
    entries added up); with `transactions`, the transactions' instead. Locust's history CSV
    only has a 10-second moving average of these, which reads 0 for the first seconds of a run."""
    sources = _sources(final, transactions=transactions)
    parts = []
    for entry in sources:
        for column, key in (("requests", "num_reqs_per_sec"), ("failures", "num_fail_per_sec")):
            counts = entry.get(key) or {}
            parts.append(
                pd.DataFrame(
                    {
                        "timestamp": np.fromiter(
                            map(int, counts.keys()), dtype="float64", count=len(counts)
                        ),
                        column: np.fromiter(counts.values(), dtype="float64", count=len(counts)),
                    }
                )
            )
    if not parts:
        return _empty(("timestamp", "requests", "failures"))
    frame = pd.concat(parts, ignore_index=True).groupby("timestamp", sort=True).sum()
    frame = frame.reindex(columns=["requests", "failures"], fill_value=0.0).fillna(0.0)
    return frame.reset_index()


def time_series(
    history: pd.DataFrame,
    counts: pd.DataFrame | None = None,
    times: pd.DataFrame | None = None,
    corrected: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The run second by second as columns `SERIES_COLUMNS` (and `CORRECTED_COLUMNS` when
    `corrected` is given), `elapsed_s` counted from its first second. Users come from the
    history; req/s and failures/s are the exact `counts` when given (seconds without any
    request count 0), else the history's moving averages; the percentiles are each second's
    own from `times` (see `request_times`; a second without a response is a gap) when given,
    else Locust's 10-second windows from the history."""
    merged = history.copy()
    if times is not None:
        merged = merged.drop(columns=_PERCENTILES).merge(
            times[["timestamp", *_PERCENTILES]], on="timestamp", how="outer"
        )
    if corrected is not None:
        renamed = corrected[["timestamp", *_PERCENTILES]].rename(
            columns=dict(zip(_PERCENTILES, CORRECTED_COLUMNS, strict=True))
        )
        merged = merged.merge(renamed, on="timestamp", how="outer")
    exact = counts is not None and not counts.empty
    if exact:
        assert counts is not None
        merged = merged.drop(columns=["rps", "failures_per_s"]).merge(
            counts, on="timestamp", how="outer"
        )
    if merged.empty:
        return empty_series()
    if exact or times is not None or corrected is not None:
        first, last = merged["timestamp"].min(), merged["timestamp"].max()
        every = pd.DataFrame({"timestamp": np.arange(first, last + 1, dtype="float64")})
        merged = every.merge(merged, on="timestamp", how="left")
        merged["users"] = merged["users"].ffill()
    series = merged
    if exact:
        series["rps"] = series["requests"].fillna(0)
        series["failures_per_s"] = series["failures"].fillna(0)
    series["elapsed_s"] = series["timestamp"] - series["timestamp"].min()
    columns = list(SERIES_COLUMNS) + (list(CORRECTED_COLUMNS) if corrected is not None else [])
    return series[columns].reset_index(drop=True)


def second_percentiles(per_second: Mapping[int, RequestHistogram]) -> pd.DataFrame:
    """Each second's own p50, p95 and p99 (ms) as columns `TIMES_COLUMNS`: of every request
    completed in that second, failed ones too (as Locust's percentiles are), from loadkit's
    fine histograms, so within 0.25 % of the exact values. A second whose requests all came
    without a time has NaN percentiles."""
    rows = []
    for second, hist in sorted(per_second.items()):
        values = hist.all().percentiles(_QUANTILES)
        rows.append(
            (float(second), float(hist.requests), *(np.nan if v is None else v for v in values))
        )
    if not rows:
        return _empty(TIMES_COLUMNS)
    return pd.DataFrame(rows, columns=list(TIMES_COLUMNS))


RequestKey = tuple[str, str]
"""A request as the statistics name it: (method, name)."""


def request_times(histograms: RunHistograms, request: RequestKey | None = None) -> pd.DataFrame:
    """Each second's p50/p95/p99 (`second_percentiles`) of all requests (transactions left
    out: they are not requests), or of one `request` (method, name; every user type)."""
    requests = histograms.requests_only()
    if request is None:
        return second_percentiles(requests.per_second())
    method, name = request
    return second_percentiles(requests.per_second(name=name, request_type=method))


def top_requests(
    histograms: RunHistograms, limit: int | None = PER_REQUEST_CHARTS
) -> list[RequestKey]:
    """The requests made most often (method, name), most first (ties by name), at most
    `limit` (None: all); transactions left out."""
    totals: dict[RequestKey, int] = {}
    for key, per_second in histograms.requests_only().series.items():
        request = (key.request_type, key.name)
        totals[request] = totals.get(request, 0) + sum(h.requests for h in per_second.values())
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0][1], item[0][0]))
    return [request for request, count in ranked if count > 0][:limit]


def per_request_series(
    histograms: RunHistograms,
    requests: Sequence[RequestKey],
    corrected: RunHistograms | None = None,
    *,
    origin: float | None = None,
) -> dict[str, pd.DataFrame]:
    """Request label -> its per-second percentiles (service, and corrected beside them when
    given) as a series with `elapsed_s` from `origin` (the whole run's first second, so every
    request shares the time axis; default the request's own first second)."""
    result: dict[str, pd.DataFrame] = {}
    for request in requests:
        times = request_times(histograms, request)
        fixed = request_times(corrected, request) if corrected is not None else None
        series = time_series(empty_history(), None, times, fixed)
        if origin is not None and not series.empty:
            first = float(times["timestamp"].min()) if not times.empty else origin
            if fixed is not None and not fixed.empty:
                first = min(first, float(fixed["timestamp"].min()))
            series["elapsed_s"] += first - origin
        result[formatting.request_label(*request)] = series
    return result


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})


def empty_series() -> pd.DataFrame:
    return _empty(SERIES_COLUMNS)


def empty_history() -> pd.DataFrame:
    return _empty(HISTORY_COLUMNS)


def downsample(series: pd.DataFrame, max_points: int = MAX_POINTS) -> tuple[pd.DataFrame, int]:
    """At most `max_points` rows: buckets of whole seconds (users and percentiles keep the
    bucket's maximum, so spikes stay visible; rates keep its mean). Returns the frame and the
    bucket width in seconds (1 when nothing was merged)."""
    if len(series) <= max_points:
        return series, 1
    span = float(series["elapsed_s"].max()) + 1
    bucket = max(2, math.ceil(span / max_points))
    keys = (series["elapsed_s"] // bucket) * bucket
    grouped = series.groupby(keys, sort=True)
    result = pd.DataFrame(
        {
            "elapsed_s": grouped["elapsed_s"].min(),
            "users": grouped["users"].max(),
            "rps": grouped["rps"].mean(),
            "failures_per_s": grouped["failures_per_s"].mean(),
            **{c: grouped[c].max() for c in (*_PERCENTILES, *CORRECTED_COLUMNS) if c in series},
        }
    )
    return result.reset_index(drop=True), bucket


def response_time_histogram(final: Mapping[str, Any]) -> dict[float, int]:
    """Response time (ms, Locust's rounded buckets) -> number of requests, for all requests,
    from a `locust_final.json` document: its `total` entry, or the entries added up."""
    sources = _sources(final)
    histogram: dict[float, int] = {}
    for entry in sources:
        for key, count in (entry.get("response_times") or {}).items():
            ms = float(key)
            histogram[ms] = histogram.get(ms, 0) + int(count)
    return {k: v for k, v in sorted(histogram.items()) if v > 0}


# --- figures ---------------------------------------------------------------------------------


def to_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _figure(title: str, subtitle: str = "") -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(figure)
    # Fixed margins, no layout engine: "constrained" measured every tick label (making the
    # minor ticks too) before drawing, 40 % of the time the charts took. These fit the labels
    # of every chart here, a right-hand axis included, at this size (checked by eye).
    figure.subplots_adjust(**_MARGINS)
    ax = figure.add_subplot()
    ax.set_title(title, loc="left", fontsize=14, fontweight="bold", pad=10)
    if subtitle:
        figure.text(0.995, 0.005, subtitle, ha="right", va="bottom", fontsize=9, color="#555555")
    ax.grid(True, color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return figure, ax


LegendLoc = Literal["upper left", "upper right", "lower right", "above"]


def _legend(
    ax: Axes, handles: Sequence[Any] | None = None, *, loc: LegendLoc = "upper left"
) -> None:
    """In the axes at `loc`, or "above": in one row over the top right corner of the axes,
    beside the title, where it never hides data."""
    if handles is None:
        handles = [line for line in ax.get_lines() if not str(line.get_label()).startswith("_")]
    if loc == "above":
        ax.legend(
            handles=list(handles),
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncols=len(handles),
            fontsize=10,
            frameon=False,
            borderaxespad=0.3,
        )
    else:
        ax.legend(handles=list(handles), loc=loc, fontsize=10, framealpha=0.9)


def _no_data(ax: Axes, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=12,
        color="#555555",
    )


def _peak(values: Any) -> float:
    """The largest finite value, 0 when there is none."""
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    return float(finite.max()) if finite.size else 0.0


def _time_axis(ax: Axes, series: pd.DataFrame) -> tuple[np.ndarray, str]:
    """x values and label: seconds; minutes for runs over 10 minutes; hours over 10 hours."""
    elapsed = series["elapsed_s"].to_numpy(dtype=float)
    longest = float(elapsed.max()) if len(elapsed) else 0.0
    unit, scale = (
        ("h", 3600.0) if longest > 36_000 else ("min", 60.0) if longest > 600 else ("s", 1.0)
    )
    label = f"Time since start ({unit})"
    x = elapsed / scale
    ax.set_xlabel(label, fontsize=11)
    if len(x):
        ax.set_xlim(0, max(float(x.max()), 1e-9))
    return x, label


def _bucket_note(bucket_s: int, how: str) -> str:
    return f"each point: {how} over {bucket_s} s" if bucket_s > 1 else ""


def users_throughput_chart(series: pd.DataFrame) -> Figure:
    """Users (left axis) and requests per second (right axis) over time."""
    plotted, bucket = downsample(series)
    figure, ax = _figure("Users and throughput over time", _bucket_note(bucket, "mean req/s"))
    x, _ = _time_axis(ax, plotted)
    ax.set_ylabel("Load (users)", fontsize=11, color=COLORS["users"])
    rps_ax = ax.twinx()
    rps_ax.set_ylabel("Throughput (req/s)", fontsize=11, color=COLORS["rps"])
    rps_ax.tick_params(labelsize=10)
    rps_ax.spines["top"].set_visible(False)
    if plotted.empty:
        _no_data(ax, "No requests were recorded")
    users = ax.step(
        x,
        plotted["users"],
        where="post",
        color=COLORS["users"],
        linewidth=1.8,
        linestyle="--",
        label="users",
    )
    rps = rps_ax.plot(x, plotted["rps"], color=COLORS["rps"], linewidth=2, label="req/s")
    # Different headroom, so that steady users and steady req/s do not draw one line.
    ax.set_ylim(0, max(1.0, _peak(plotted["users"]) * 1.1))
    rps_ax.set_ylim(0, max(1.0, _peak(plotted["rps"]) * 1.35))
    _legend(rps_ax, [*users, *rps], loc="above")
    return figure


def _percentile_lines(ax: Axes, x: np.ndarray, plotted: pd.DataFrame, *, width: float) -> None:
    """p99, p95, p50 (solid) and, when the series has them, the corrected ones beside them
    (dashed, same colours)."""
    markers = len(x) <= 30
    for column, label in (("p99_ms", "p99"), ("p95_ms", "p95"), ("p50_ms", "p50")):
        ax.plot(
            x,
            plotted[column],
            color=COLORS[label],
            linewidth=width,
            label=label,
            marker="o" if markers else None,
            markersize=width * 2.5,
        )
    for column, label in zip(CORRECTED_COLUMNS, ("p50", "p95", "p99"), strict=True):
        if column in plotted and plotted[column].notna().any():
            ax.plot(
                x,
                plotted[column],
                color=COLORS[label],
                linewidth=width * 0.8,
                linestyle="--",
                label=f"{label} corrected",
            )


def _time_columns(series: pd.DataFrame) -> list[str]:
    return [c for c in (*_PERCENTILES, *CORRECTED_COLUMNS) if c in series]


def response_times_chart(series: pd.DataFrame) -> Figure:
    """p50, p95 and p99 of all requests over time: each second's own (from the histograms,
    see `time_series`), with the corrected times dashed beside them when the series has them."""
    plotted, bucket = downsample(series)
    figure, ax = _figure("Response times over time (all requests)", _bucket_note(bucket, "maximum"))
    x, _ = _time_axis(ax, plotted)
    ax.set_ylabel("Response time (ms)", fontsize=11)
    columns = _time_columns(plotted)
    if plotted[columns].isna().all().all():
        _no_data(ax, "No response times were recorded")
    _percentile_lines(ax, x, plotted, width=2)
    top = _peak(plotted[columns].to_numpy())
    if len(ax.get_lines()) > 3:  # corrected beside service: six entries, two rows inside
        ax.set_ylim(0, max(1.0, top * 1.4))
        handles = [line for line in ax.get_lines() if not str(line.get_label()).startswith("_")]
        ax.legend(handles=handles, loc="upper left", ncols=3, fontsize=10, framealpha=0.9)
    else:
        ax.set_ylim(0, max(1.0, top * 1.15))
        _legend(ax, loc="above")
    return figure


PANEL_HEIGHT_IN = 2.3
"""Of one row of the per-request small multiples."""


def response_times_by_request_chart(panels: Mapping[str, pd.DataFrame], *, more: int = 0) -> Figure:
    """Small multiples: one panel per request (label -> its `per_request_series`), two to a
    row, on one time axis; each panel its own time scale, so a fast request's spike is not
    flattened by a slow one. `more`: how many requests are not shown (said under the chart)."""
    rows = max(1, math.ceil(len(panels) / 2))
    height = 1.5 + PANEL_HEIGHT_IN * rows
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(figure)
    # Title, then the one legend on a line of its own, then the panels.
    figure.subplots_adjust(
        left=0.09,
        right=0.98,
        top=1 - 1.05 / height,
        bottom=0.55 / height,
        hspace=0.6,
        wspace=0.18,
    )
    figure.suptitle(
        "Response times over time, per request",
        x=0.01,
        y=1 - 0.08 / height,
        ha="left",
        va="top",
        fontsize=14,
        fontweight="bold",
    )
    note = f"{more} less frequent request{'s' if more != 1 else ''} not shown" if more else ""
    longest = max((float(p["elapsed_s"].max()) for p in panels.values() if len(p)), default=0.0)
    unit, scale = (
        ("h", 3600.0) if longest > 36_000 else ("min", 60.0) if longest > 600 else ("s", 1.0)
    )
    axes = figure.subplots(rows, 2, squeeze=False, sharex=True)
    bucket = 1
    for index, ax in enumerate(axes.flat):
        if index >= len(panels):
            ax.set_visible(False)
            continue
        label, series = list(panels.items())[index]
        plotted, width = downsample(series)
        bucket = max(bucket, width)
        x = plotted["elapsed_s"].to_numpy(dtype=float) / scale
        ax.set_title(_shorten(label), loc="left", fontsize=11, fontfamily="monospace")
        ax.grid(True, color="#dddddd", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        columns = _time_columns(plotted)
        if plotted.empty or plotted[columns].isna().all().all():
            _no_data(ax, "No response times were recorded")
        else:
            _percentile_lines(ax, x, plotted, width=1.5)
        ax.set_ylim(0, max(1.0, _peak(plotted[columns].to_numpy()) * 1.15))
        ax.set_xlim(0, max(longest / scale, 1e-9))
        if index % 2 == 0:
            ax.set_ylabel("Response time (ms)", fontsize=10)
        if index >= len(panels) - 2:
            ax.set_xlabel(f"Time since start ({unit})", fontsize=10)
            ax.xaxis.set_tick_params(labelbottom=True)
    if not panels:
        _no_data(axes.flat[0], "No requests were recorded")
        axes.flat[0].set_visible(True)
    first = axes.flat[0]
    handles = [line for line in first.get_lines() if not str(line.get_label()).startswith("_")]
    if handles:
        figure.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(0.005, 1 - 0.45 / height),
            ncols=len(handles),
            fontsize=10,
            frameon=False,
        )
    footer = "; ".join(t for t in (note, _bucket_note(bucket, "maximum")) if t)
    if footer:
        figure.text(0.995, 0.005, footer, ha="right", va="bottom", fontsize=9, color="#555555")
    return figure


def _shorten(label: str, limit: int = 48) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def failures_chart(series: pd.DataFrame) -> Figure:
    """Failed requests per second over time."""
    plotted, bucket = downsample(series)
    figure, ax = _figure("Failures over time", _bucket_note(bucket, "mean"))
    x, _ = _time_axis(ax, plotted)
    ax.set_ylabel("Failures (failures/s)", fontsize=11)
    values = plotted["failures_per_s"].fillna(0).to_numpy(dtype=float)
    ax.fill_between(x, values, step=None, color=COLORS["failures"], alpha=0.25, linewidth=0)
    ax.plot(x, values, color=COLORS["failures"], linewidth=2, label="failures/s")
    peak = float(values.max()) if len(values) else 0.0
    ax.set_ylim(0, max(1.0, peak * 1.15))
    if plotted.empty:
        _no_data(ax, "No requests were recorded")
    elif peak == 0:
        _no_data(ax, "No failures")
    _legend(ax, loc="above")
    return figure


def transactions_chart(counts: pd.DataFrame) -> Figure:
    """Completed transactions per second over time: successful and failed ones (`counts`
    from `per_second_counts(final, transactions=True)`)."""
    figure, ax = _figure("Transactions over time")
    ax.set_ylabel("Transactions (txn/s)", fontsize=11)
    ax.set_xlabel("Time since start (s)", fontsize=11)
    if counts.empty:
        _no_data(ax, "No transactions were completed")
        return figure
    first, last = float(counts["timestamp"].min()), float(counts["timestamp"].max())
    every = pd.DataFrame({"timestamp": np.arange(first, last + 1, dtype="float64")})
    frame = every.merge(counts, on="timestamp", how="left").fillna(0.0)
    x = (frame["timestamp"] - first).to_numpy(dtype=float)
    failed = frame["failures"].to_numpy(dtype=float)
    ok = frame["requests"].to_numpy(dtype=float) - failed
    ax.plot(x, ok, color=COLORS["rps"], linewidth=2, label="successful txn/s")
    ax.plot(x, failed, color=COLORS["failures"], linewidth=2, label="failed txn/s")
    ax.set_ylim(0, max(1.0, float(max(ok.max(), failed.max())) * 1.2))
    _legend(ax, loc="above")
    return figure


def distribution_chart(
    histogram: Mapping[float, int],
    *,
    p50_ms: float | None = None,
    p95_ms: float | None = None,
    p99_ms: float | None = None,
) -> Figure:
    """How many requests took how long (all requests), with the percentiles marked. A
    logarithmic time axis when times span more than two orders of magnitude."""
    figure, ax = _figure("Response time distribution (all requests)")
    ax.set_ylabel("Requests (count)", fontsize=11)
    ax.set_xlabel("Response time (ms)", fontsize=11)
    times = np.array(list(histogram), dtype=float)
    counts = np.array(list(histogram.values()), dtype=float)
    handles: list[Any] = []
    if counts.sum() <= 0:
        _no_data(ax, "No response times were recorded")
    else:
        low, high = max(float(times.min()), 0.5), max(float(times.max()), 1.0)
        if high / low > 100:
            edges = np.geomspace(low * 0.9, high * 1.1, 41)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        else:
            start = math.floor(float(times.min())) - 0.5
            step = max(1.0, math.ceil((high - start) / 60))
            edges = np.arange(start, high + step + 0.5, step)
        binned, _ = np.histogram(np.clip(times, edges[0], edges[-1]), bins=edges, weights=counts)
        bars = ax.bar(
            edges[:-1],
            binned,
            width=np.diff(edges),
            align="edge",
            color=COLORS["rps"],
            alpha=0.75,
            edgecolor="white",
            linewidth=0.5,
            label="requests",
        )
        handles.append(bars)
        for value, name, style in (
            (p50_ms, "p50", ":"),
            (p95_ms, "p95", "--"),
            (p99_ms, "p99", "-."),
        ):
            if value is not None:
                line = ax.axvline(
                    max(value, edges[0]),
                    color=COLORS[name],
                    linewidth=2,
                    linestyle=style,
                    label=f"{name} = {value:g} ms",
                )
                handles.append(line)
    if not handles:
        handles.append(Line2D([], [], color=COLORS["rps"], linewidth=6, label="requests"))
    _legend(ax, handles, loc="upper right")
    return figure


# --- capacity --------------------------------------------------------------------------------


USL_EXTRAPOLATION = 0.25
"""The USL curve is drawn up to this fraction beyond the highest tested user count, dotted and
labelled as an extrapolation; never further."""


def _saturation_line(ax: Axes, capacity: CapacityReportLike) -> list[Any]:
    """The saturation point as a vertical line, on every capacity chart alike (at the knee's
    users, or for an open model at its arrival rate)."""
    knee = saturation_load(capacity)
    if knee is None:
        return []
    return [
        ax.axvline(
            knee,
            color=COLORS["saturation"],
            linestyle=":",
            linewidth=2,
            label=f"saturation point: {load_text(knee, load_axis(capacity))}",
        )
    ]


def _load_words(capacity: CapacityReportLike) -> tuple[str, str]:
    """The x axis's title word and label: users, or an open model's offered arrival rate."""
    if load_axis(capacity) == ARRIVALS_AXIS:
        return "arrival rate", "Offered load (arrivals/s)"
    return "users", "Load (users)"


def capacity_throughput_chart(capacity: CapacityReportLike) -> Figure:
    """Throughput per load level, the fitted USL curve over the tested users (and a short,
    labelled extrapolation beyond them) and the saturation point. No model peak is marked: it
    is not the saturation point, and it often lies outside the data. An open model's levels
    are drawn by offered arrival rate, without a USL curve (none is fitted)."""
    axis = load_axis(capacity)
    word, xlabel = _load_words(capacity)
    figure, ax = _figure(f"Throughput vs {word}")
    ax.set_xlabel(xlabel, fontsize=11)
    # What the levels' throughput counts: completed transactions when the flow has them.
    unit = str(getattr(capacity, "throughput_unit", "req/s"))
    ax.set_ylabel(f"Throughput ({unit})", fontsize=11)
    levels = sorted(capacity.levels, key=lambda level: level_load(level, axis))
    users = np.array([level_load(lv, axis) for lv in levels], dtype=float)
    rps = np.array([lv.throughput_rps for lv in levels], dtype=float)
    handles: list[Any] = []
    if not levels:
        _no_data(ax, capacity.insufficient or "No load levels were measured")
    else:
        handles += ax.plot(
            users,
            rps,
            color=COLORS["rps"],
            marker="o",
            markersize=7,
            linewidth=1.5,
            label="measured",
        )
    fit = capacity.usl
    if fit is not None and capacity.insufficient is None and len(users):
        low, top = float(users.min()), float(users.max())
        tested = np.linspace(low, top, 200)
        handles += ax.plot(
            tested,
            [fit.throughput(n) for n in tested],
            color=COLORS["usl"],
            linewidth=2,
            linestyle="--",
            label=f"USL fit (R² = {fit.r_squared:.2f})",
        )
        beyond = np.linspace(top, top * (1 + USL_EXTRAPOLATION), 50)
        handles += ax.plot(
            beyond,
            [fit.throughput(n) for n in beyond],
            color=COLORS["usl"],
            linewidth=1.5,
            linestyle=":",
            alpha=0.8,
            label=tested_users_note(capacity),
        )
    handles += _saturation_line(ax, capacity)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1] * 1.1))
    if not handles:
        handles.append(Line2D([], [], color=COLORS["rps"], marker="o", label="measured"))
    _legend(ax, handles, loc="lower right")
    return figure


def capacity_latency_chart(capacity: CapacityReportLike, *, slo_p95_ms: float | None) -> Figure:
    """p95 (with p50 and p99 for context) per load level, and the SLO as a horizontal line.
    An open model's levels are by offered arrival rate, their times the corrected times."""
    axis = load_axis(capacity)
    word, xlabel = _load_words(capacity)
    figure, ax = _figure(f"Response time vs {word}")
    ax.set_xlabel(xlabel, fontsize=11)
    corrected = "Corrected response" if axis == ARRIVALS_AXIS else "Response"
    ax.set_ylabel(f"{corrected} time (ms)", fontsize=11)
    levels = list(capacity.levels)
    handles: list[Any] = []
    for name, width, size in (("p99", 1.2, 4), ("p95", 2.5, 7), ("p50", 1.2, 4)):
        points = [(level_load(lv, axis), getattr(lv, f"{name}_ms")) for lv in levels]
        points = [(u, v) for u, v in points if v is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            handles += ax.plot(
                xs, ys, color=COLORS[name], linewidth=width, marker="o", markersize=size, label=name
            )
    if not handles:
        _no_data(ax, capacity.insufficient or "No response times were measured")
    if slo_p95_ms is not None:
        handles.append(
            ax.axhline(
                slo_p95_ms,
                color=COLORS["slo"],
                linestyle="--",
                linewidth=1.5,
                label=f"SLO: p95 < {slo_p95_ms:g} ms",
            )
        )
    within = slo_load(capacity)
    if within is not None:
        handles.append(
            ax.axvline(
                within,
                color=COLORS["p50"],
                linestyle=":",
                linewidth=2,
                label=f"max within SLO: {load_text(within, axis)}",
            )
        )
    handles += _saturation_line(ax, capacity)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1] * 1.1))
    if not handles:
        handles.append(Line2D([], [], color=COLORS["p95"], marker="o", label="p95"))
    _legend(ax, handles)
    return figure


def arrivals_chart(arrivals: ArrivalsInfo) -> Figure:
    """The open model over time: the planned arrival rate and the iterations started per
    second (left axis), the users busy in an iteration and the arrivals waiting for one
    (right axis). Started below planned while every user is busy is the client-side queue
    that only the corrected times measure."""
    figure, ax = _figure(
        "Arrivals over time",
        f"up to {arrivals['max_concurrency']} users, {arrivals['spacing']} spacing",
    )
    ax.set_xlabel("Time since start (s)", fontsize=11)
    ax.set_ylabel("Arrivals (per second)", fontsize=11, color=COLORS["rps"])
    seconds = arrivals["per_second"]
    if not seconds:
        _no_data(ax, "No arrival was recorded")
        return figure
    edges, rates, at = [0.0], [], 0.0
    for stage in arrivals["stages"]:
        at += stage["duration_s"]
        edges.append(at)
        rates.append(stage["rate"])
    planned = ax.stairs(
        rates, edges, color=COLORS["users"], linestyle="--", linewidth=1.8, label="planned/s"
    )
    x = np.array([s["at_s"] for s in seconds], dtype=float)
    started = np.array([s["started"] for s in seconds], dtype=float)
    # Each sample counts the starts since the one before (about a second): per second.
    gaps = np.diff(x, prepend=0.0)
    per_second = np.divide(started, gaps, out=np.zeros_like(started), where=gaps > 0)
    achieved = ax.plot(x, per_second, color=COLORS["rps"], linewidth=2, label="started/s")
    users_ax = ax.twinx()
    users_ax.set_ylabel("Users / arrivals", fontsize=11, color=COLORS["p95"])
    users_ax.tick_params(labelsize=10)
    users_ax.spines["top"].set_visible(False)
    busy = users_ax.plot(
        x, [s["busy"] for s in seconds], color=COLORS["p95"], linewidth=1.6, label="users busy"
    )
    waiting = users_ax.plot(
        x,
        [s["waiting"] for s in seconds],
        color=COLORS["failures"],
        linewidth=1.6,
        linestyle=":",
        label="waiting",
    )
    top = max([*rates, _peak(per_second)])
    ax.set_ylim(0, max(1.0, top * 1.25))
    peak_users = max([s["busy"] for s in seconds] + [s["waiting"] for s in seconds])
    users_ax.set_ylim(0, max(1.0, peak_users * 1.35, arrivals["max_concurrency"] * 1.1))
    _legend(users_ax, [planned, *achieved, *busy, *waiting], loc="above")
    return figure
