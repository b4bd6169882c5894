"""What every chart of loadkit shares: its colours, size and margins, its title and legend, the
time axis, and the PNG it is written as.

Figures are built with `matplotlib.figure.Figure` and the Agg canvas, never pyplot: no global
figure registry, no GUI backend, safe to call from any process. Every chart has a title, axis
labels that name their unit, a legend, and uses the same colour for the same metric.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

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
