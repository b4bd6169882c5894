"""The system under test's metrics (`observe:`) drawn on the run's time axis: users and
throughput on top, then one small chart per query below it (same x axis, seconds since the
run's first second), the saturation point's steady window shaded and a query's `limit:` as a
dashed line."""

from __future__ import annotations

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from loadkit import formatting
from loadkit.report.charts import COLORS, DPI, WIDTH_IN
from loadkit.telemetry import Telemetry

_ROW_IN = 1.9
"""Height of each small chart (inches): six queries still fit a screen or two."""


def system_chart(
    telemetry: Telemetry,
    series: pd.DataFrame,
    origin: float | None,
    saturation: tuple[float, float] | None,
) -> Figure:
    """`series`: the run second by second (`charts.time_series`: `elapsed_s`, `users`, `rps`)
    counted from `origin` (unix seconds; None: the telemetry's start); `saturation`: the
    knee level's steady window [start, end) in unix seconds, or None."""
    names = list(telemetry["queries"])
    origin = telemetry["start"] if origin is None else origin
    rows = len(names) + 1
    figure = Figure(figsize=(WIDTH_IN, _ROW_IN * rows + 0.6), dpi=DPI)
    FigureCanvasAgg(figure)
    height = _ROW_IN * rows + 0.6
    figure.subplots_adjust(left=0.1, right=0.91, top=1 - 0.75 / height,
                           bottom=0.55 / height, hspace=0.5)  # fmt: skip
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    figure.suptitle(
        "The system under test beside the load", x=0.01, y=0.995, ha="left", va="top",
        fontsize=14, fontweight="bold",
    )  # fmt: skip
    top = axes[0]
    if len(series):
        x = series["elapsed_s"].to_numpy(dtype=float)
        top.step(x, series["users"], where="post", color=COLORS["users"], linestyle="--")
        top.set_ylabel("users", fontsize=9, color=COLORS["users"])
        rps = top.twinx()
        rps.plot(x, series["rps"], color=COLORS["rps"], linewidth=1.6)
        rps.set_ylabel("req/s", fontsize=9, color=COLORS["rps"])
        rps.tick_params(labelsize=8)
    top.set_title("Users and throughput", loc="left", fontsize=10)
    for ax, name in zip(axes[1:], names, strict=True):
        query = telemetry["queries"][name]
        for s in query["series"]:
            xs = [t - origin for t, _ in s["points"]]
            label = ",".join(f"{k}={v}" for k, v in s["labels"].items()) or name
            ax.plot(xs, [v for _, v in s["points"]], linewidth=1.4, label=label)
        if query["limit"] is not None:
            ax.axhline(query["limit"], color=COLORS["slo"], linestyle=":", linewidth=1.2)
        unit = f" ({query['unit']})" if query["unit"] else ""
        title = f"{name}{unit}"
        if query["limit"] is not None:
            title += f", limit {formatting.measured(query['limit'], query['unit'])}"
        if not any(s["points"] for s in query["series"]):
            title += ": no data" + (f" ({query['error']})" if "error" in query else "")
        ax.set_title(title, loc="left", fontsize=10)
        if 1 < len(query["series"]) <= 6:
            ax.legend(fontsize=7, loc="upper left", frameon=False)
    for ax in axes:
        ax.grid(True, color="#dddddd", linewidth=0.8)
        ax.tick_params(labelsize=8)
        ax.set_ylim(bottom=0)
        if saturation is not None:
            ax.axvspan(
                saturation[0] - origin, saturation[1] - origin,
                color=COLORS["saturation"], alpha=0.18, linewidth=0,
            )  # fmt: skip
    if saturation is not None:
        axes[0].annotate(
            "saturation point", xy=((saturation[0] + saturation[1]) / 2 - origin, 1.0),
            xycoords=("data", "axes fraction"), ha="center", va="bottom", fontsize=8,
            color=COLORS["saturation"],
        )  # fmt: skip
    axes[-1].set_xlabel("Time since start (s)", fontsize=10)
    axes[-1].set_xlim(left=0)
    return figure
