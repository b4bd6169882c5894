"""Charts of a run: pure functions from data to matplotlib Figures and PNG bytes.

The run's charts are here: users and throughput, response times (overall, per request, their
distribution), failures, transactions and the open model's arrivals. Their data is read by
`chart_data`, what they share (colours, size, legend, time axis, PNG) is `chart_style`'s, and the
capacity charts are `capacity_charts`'; this module exports them all, so a renderer draws every
chart through `charts`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from loadkit.report.capacity_charts import (
    USL_EXTRAPOLATION,
    capacity_latency_chart,
    capacity_throughput_chart,
)
from loadkit.report.chart_data import (
    _PERCENTILES,
    CORRECTED_COLUMNS,
    CORRECTED_SUFFIX,
    HISTORY_COLUMNS,
    MAX_POINTS,
    PER_REQUEST_CHARTS,
    SERIES_COLUMNS,
    TIMES_COLUMNS,
    RequestKey,
    downsample,
    empty_history,
    empty_series,
    per_request_series,
    per_second_counts,
    read_history,
    request_times,
    response_time_histogram,
    second_percentiles,
    time_series,
    top_requests,
)
from loadkit.report.chart_style import (
    COLORS,
    DPI,
    HEIGHT_IN,
    WIDTH_IN,
    LegendLoc,
    _bucket_note,
    _figure,
    _legend,
    _no_data,
    _peak,
    _time_axis,
    to_png,
)
from loadkit.summary_types import ArrivalsInfo

# What a renderer or a chart module beside this one (search_charts) reads through `charts`.
__all__ = [
    "COLORS",
    "CORRECTED_COLUMNS",
    "CORRECTED_SUFFIX",
    "DPI",
    "HEIGHT_IN",
    "HISTORY_COLUMNS",
    "MAX_POINTS",
    "PER_REQUEST_CHARTS",
    "SERIES_COLUMNS",
    "TIMES_COLUMNS",
    "USL_EXTRAPOLATION",
    "WIDTH_IN",
    "LegendLoc",
    "RequestKey",
    "_bucket_note",
    "_figure",
    "_legend",
    "_no_data",
    "_peak",
    "_time_axis",
    "arrivals_chart",
    "capacity_latency_chart",
    "capacity_throughput_chart",
    "distribution_chart",
    "downsample",
    "empty_history",
    "empty_series",
    "failures_chart",
    "per_request_series",
    "per_second_counts",
    "read_history",
    "request_times",
    "response_time_histogram",
    "response_times_by_request_chart",
    "response_times_chart",
    "second_percentiles",
    "time_series",
    "to_png",
    "top_requests",
    "transactions_chart",
    "users_throughput_chart",
]


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
