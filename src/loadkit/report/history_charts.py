"""Charts of the run history: this run among the earlier runs of its scenario (report.html's
History section) and one metric over the last runs (`loadkit history trend`).

Runs with the same host and load as this one are drawn filled and joined; the others hollow
and grey (their figures are not comparable). The pinned baseline is a dashed line, the
scenario's whole-run threshold a red one.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from loadkit.report.charts import to_png
from loadkit.summary import judged_time
from loadkit.summary_types import HistoryPoint, HistoryView, Summary

PANELS: tuple[tuple[str, str, str, str], ...] = (
    # (title, HistoryPoint field, threshold metric, unit)
    ("p95 (ms)", "p95_ms", "p95", "ms"),
    ("Error rate (%)", "error_rate", "error_rate", "%"),
    ("Throughput (req/s)", "throughput_rps", "rps", "req/s"),
    ("Apdex", "apdex", "apdex", ""),
    ("Capacity (req/s)", "capacity_rps", "", "req/s"),
)
_THIS = "#d62728"
_SAME = "#1f77b4"
_OTHER = "#aaaaaa"


def current_point(summary: Summary, view: HistoryView) -> HistoryPoint:
    """This run as a point among the others (it is the last one recorded)."""
    totals = summary["totals"]
    apdex = totals.get("apdex")
    capacity = summary.get("capacity")
    return {
        "run_id": view["run_id"],
        "recorded_at": summary["run"].get("stopped_at") or 0.0,
        "verdict": str(summary["verdict"]),
        "same_load": True,
        "git_commit": None,
        "git_branch": None,
        "p95_ms": judged_time(totals, summary, "p95_ms"),
        "error_rate": totals.get("error_rate"),
        "throughput_rps": totals.get("rps"),
        "apdex": apdex.get("score") if apdex else None,
        "capacity_rps": capacity.get("capacity_rps") if capacity else None,
        "folder": "",
    }


def history_chart(summary: Summary, view: HistoryView) -> Figure:
    """Small multiples, one per metric, runs in order (this run last)."""
    this = current_point(summary, view)
    points = [*view["runs"], this]
    panels = [p for p in PANELS if any(_value(q, p[1]) is not None for q in points)]
    figure = Figure(figsize=(9.0, 1.9 * max(1, len(panels)) + 0.6), dpi=100)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=0.1, right=0.98, top=0.93, bottom=0.08, hspace=0.55)
    figure.suptitle(
        f"This run (red) and the {len(view['runs'])} runs of the scenario before it",
        x=0.01, ha="left", fontsize=12, fontweight="bold",
    )  # fmt: skip
    baseline = view["baseline"]
    for n, (title, field, threshold, _unit) in enumerate(panels, start=1):
        ax = figure.add_subplot(len(panels), 1, n)
        _panel(ax, points, field, title)
        if baseline is not None and _value(baseline, field) is not None:
            ax.axhline(_scaled(field, _value(baseline, field)), color="#555555",
                       linestyle="--", linewidth=1, label="baseline (pinned)")  # fmt: skip
        limit = view["thresholds"].get(threshold) if threshold else None
        if limit is not None:
            _threshold(ax, points, field, limit)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", fontsize=8, frameon=False)
    return figure


def _panel(ax: Axes, points: Sequence[HistoryPoint], field: str, title: str) -> None:
    ax.set_title(title, loc="left", fontsize=10)
    ax.grid(True, color="#dddddd", linewidth=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    same = [(i, _value(p, field)) for i, p in enumerate(points) if p["same_load"]]
    same = [(i, v) for i, v in same if v is not None]
    if same:
        ax.plot([i for i, _ in same], [_scaled(field, v) for _, v in same], color=_SAME,
                marker="o", markersize=4, linewidth=1)  # fmt: skip
    other = [(i, _value(p, field)) for i, p in enumerate(points) if not p["same_load"]]
    other = [(i, v) for i, v in other if v is not None]
    if other:
        ax.plot([i for i, _ in other], [_scaled(field, v) for _, v in other], linestyle="none",
                marker="o", markerfacecolor="none", color=_OTHER, markersize=5)  # fmt: skip
    failed = [(i, _value(p, field)) for i, p in enumerate(points) if p["verdict"] != "pass"]
    failed = [(i, v) for i, v in failed if v is not None]
    if failed:
        ax.plot([i for i, _ in failed], [_scaled(field, v) for _, v in failed], linestyle="none",
                marker="x", color="#000000", markersize=6)  # fmt: skip
    last = _value(points[-1], field)
    if last is not None:
        ax.plot([len(points) - 1], [_scaled(field, last)], marker="o", color=_THIS, markersize=7)
    ax.set_xlim(-0.5, len(points) - 0.5)
    ax.set_xticks([])


def _threshold(ax: Axes, points: Sequence[HistoryPoint], field: str, limit: float) -> None:
    """The threshold as a line, or, far from the runs' values (a 300 ms limit over 20 ms
    runs would flatten them), named in a corner instead."""
    values = [_scaled(field, v) for p in points if (v := _value(p, field)) is not None]
    line = _scaled(field, limit)
    top = max(values, default=0.0)
    if top > 0 and not 0.2 * top <= line <= 3 * top:
        where = "above" if line > top else "below"
        ax.set_title(f"{ax.get_title(loc='left')}: threshold {line:g}, far {where}", loc="left",
                     fontsize=10)  # fmt: skip
        return
    ax.axhline(line, color=_THIS, linewidth=1, alpha=0.6, label="threshold")


def _value(point: HistoryPoint, field: str) -> float | None:
    value = point.get(field)
    return float(value) if isinstance(value, int | float) else None


def _scaled(field: str, value: float | None) -> float:
    return 100.0 * (value or 0.0) if field == "error_rate" else (value or 0.0)


def history_png(summary: Summary, view: HistoryView) -> bytes:
    return to_png(history_chart(summary, view))


def trend_chart(
    path: Path,
    metric: str,
    unit: str,
    times: Sequence[float],
    values: Sequence[float | None],
    verdicts: Sequence[str],
) -> None:
    """`loadkit history trend`'s chart: the metric of each run by when it was recorded,
    failed runs marked with a cross."""
    figure = Figure(figsize=(9.0, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=0.09, right=0.98, top=0.88, bottom=0.16)
    ax = figure.add_subplot()
    scale = 100.0 if unit == "%" else 1.0
    label = f"{metric} ({unit})" if unit else metric
    ax.set_title(f"{label} over the last {len(values)} runs", loc="left", fontsize=12,
                 fontweight="bold")  # fmt: skip
    ax.grid(True, color="#dddddd", linewidth=0.8)
    when = [datetime.datetime.fromtimestamp(t, datetime.UTC) for t in times]
    # matplotlib plots datetimes on a date axis; its stubs want numbers.
    shown = [(w, v * scale) for w, v in zip(when, values, strict=True) if v is not None]
    if shown:
        ax.plot([w for w, _ in shown], [v for _, v in shown], color=_SAME, marker="o",  # type: ignore[arg-type]
                markersize=4, linewidth=1)  # fmt: skip
    failed = [
        (w, v * scale)
        for w, v, verdict in zip(when, values, verdicts, strict=True)
        if v is not None and verdict != "pass"
    ]
    if failed:
        ax.plot([w for w, _ in failed], [v for _, v in failed], linestyle="none", marker="x",  # type: ignore[arg-type]
                color="#000000", markersize=7, label="not passed")  # fmt: skip
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_ylabel(label)
    ax.set_xlabel("recorded (UTC)")
    figure.autofmt_xdate()
    path.write_bytes(to_png(figure))
