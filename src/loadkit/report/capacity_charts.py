"""Capacity charts: throughput and response time per load level of a capacity report (see
`CapacityReportLike`), one point per level.

They show what `loadkit.capacity` decided and compute nothing of their own: the saturation point
is its `knee_users`, the curve is its `UslFit.throughput`. They are drawn only when there is a
curve over users to show (`has_capacity_charts`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

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
from loadkit.report.chart_style import COLORS, _figure, _legend, _no_data

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
