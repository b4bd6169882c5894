"""The capacity search's charts (`loadkit capacity`): pure functions of capacity.json's
document (`capacity_run.capacity_document`), drawn as the run charts are (`charts`).

Every step is a point at its offered arrival rate: filled where it held the SLO, a cross
where it broke; the bracket (the sustained and the breaking rate) as two vertical lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from loadkit.report.charts import COLORS, _figure, _legend, to_png

__all__ = ["search_latency_chart", "search_throughput_chart", "write_search_charts"]

LATENCY_CHART = "capacity-search-latency.png"
THROUGHPUT_CHART = "capacity-search-throughput.png"
OFFERED = "Offered load (arrivals/s)"


def _steps(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    searches: Sequence[Sequence[Mapping[str, Any]]] = document.get("searches") or []
    return [step for search in searches for step in search]


def _bracket(ax: Axes, document: Mapping[str, Any]) -> list[Any]:
    handles = []
    if document.get("sustained_rate") is not None:
        handles.append(
            ax.axvline(
                document["sustained_rate"], color="#009E73", linestyle="--", linewidth=1.5,
                label=f"sustained {document['sustained_rate']:g} arrivals/s",
            )
        )  # fmt: skip
    if document.get("breaking_rate") is not None:
        handles.append(
            ax.axvline(
                document["breaking_rate"], color=COLORS["saturation"], linestyle=":",
                linewidth=1.5, label=f"breaks at {document['breaking_rate']:g} arrivals/s",
            )
        )  # fmt: skip
    return handles


def _points(
    ax: Axes, steps: Sequence[Mapping[str, Any]], key: str, color: str, what: str
) -> list[Any]:
    handles = []
    for holds, marker, word in ((True, "o", "holds"), (False, "x", "breaks")):
        points = [
            (s["rate"], s[key]) for s in steps if s["holds"] is holds and s.get(key) is not None
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            handles += ax.plot(
                xs, ys, linestyle="none", marker=marker, markersize=8, color=color,
                label=f"{what}, step {word}",
            )  # fmt: skip
    return handles


def search_latency_chart(document: Mapping[str, Any]) -> Figure:
    """Each step's corrected p95 (its steady window) against its offered rate, the SLO's
    time limits and the bracket."""
    figure, ax = _figure("Capacity search: p95 per step", "corrected times, steady windows")
    ax.set_xlabel(OFFERED, fontsize=11)
    ax.set_ylabel("Corrected p95 (ms)", fontsize=11)
    steps = _steps(document)
    handles = _points(ax, steps, "p95_ms", COLORS["p95"], "p95")
    for expression, limit in document.get("slo_time_limits_ms", {}).items():
        handles.append(
            ax.axhline(
                limit, color=COLORS["slo"], linestyle="--", linewidth=1.2, label=f"SLO {expression}"
            )
        )
    handles += _bracket(ax, document)
    if any(s.get("p95_ms") for s in steps):
        ax.set_yscale("log")
    ax.set_xlim(left=0)
    _legend(ax, handles, loc="upper left")
    return figure


def search_throughput_chart(document: Mapping[str, Any]) -> Figure:
    """Each step's measured throughput (req/s, and txn/s when the flow has transactions)
    against its offered rate, and the bracket."""
    figure, ax = _figure("Capacity search: throughput per step", "steady windows")
    ax.set_xlabel(OFFERED, fontsize=11)
    steps = _steps(document)
    txn = any(s.get("transactions_per_s") is not None for s in steps)
    ax.set_ylabel("Throughput (req/s" + (", txn/s)" if txn else ")"), fontsize=11)
    handles = _points(ax, steps, "requests_per_s", COLORS["rps"], "req/s")
    if txn:
        handles += _points(ax, steps, "transactions_per_s", COLORS["p50"], "txn/s")
    handles += _bracket(ax, document)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    _legend(ax, handles, loc="upper left")
    return figure


def write_search_charts(document: Mapping[str, Any], folder: Path) -> list[Path]:
    """Both charts as PNGs in ``folder/charts``; their paths."""
    charts = folder / "charts"
    charts.mkdir(exist_ok=True)
    written = []
    for name, chart in (
        (LATENCY_CHART, search_latency_chart),
        (THROUGHPUT_CHART, search_throughput_chart),
    ):
        path = charts / name
        path.write_bytes(to_png(chart(document)))
        written.append(path)
    return written
