"""The report of a run folder: `report.html`, `junit.xml` and `charts/*.png`, written next to
the files they are made from.

`write_report` only reads the run folder (summary.json, locust_stats_history.csv,
locust_final.json) and never fails because one of them is missing, empty or cut short: an
aborted run with no requests still gets a report that says so. What could not be drawn is named
in the report instead.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
from matplotlib.figure import Figure

from loadkit.exit_codes import Verdict
from loadkit.report import charts
from loadkit.report.capacity_view import CapacityReportLike, has_capacity_charts
from loadkit.report.html import CHART_CAPTIONS, RUN_FILES, render_html
from loadkit.report.junit import render_junit
from loadkit.run_folder import RunFolder, write_atomic
from loadkit.summary_types import Summary

if TYPE_CHECKING:  # mypy checks that the real report fits; nothing is imported at run time
    from loadkit.capacity import CapacityReport

    def _fits(report: CapacityReport) -> CapacityReportLike:
        return report


REPORT_HTML = RunFolder.REPORT_HTML
JUNIT_XML = RunFolder.JUNIT_XML
CHARTS_DIR = RunFolder.CHARTS_DIR
SUMMARY_JSON = RunFolder.SUMMARY_JSON
HISTORY_CSV = RunFolder.HISTORY_CSV
FINAL_JSON = RunFolder.FINAL_STATS


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    junit: Path
    charts: dict[str, Path] = field(default_factory=dict)
    """Chart name -> PNG file, in the order the report shows them."""
    notes: tuple[str, ...] = ()
    """Why a file could not be read or a chart was left out."""


def write_report(
    run_folder: Path,
    *,
    capacity: CapacityReportLike | None = None,
    slo_p95_ms: float | None = None,
    final: Mapping[str, Any] | None = None,
) -> ReportFiles:
    """Write report.html, junit.xml and charts/*.png into `run_folder` (replacing earlier
    ones). `slo_p95_ms` is the line drawn on the capacity latency chart; by default the limit
    of the scenario's `p95 < …` threshold on all requests, if it has one. `final` is the
    folder's locust_final.json already parsed (the runner has it: 18 MB after a day's run
    take half a second to parse again); None reads it. Raises FileNotFoundError only when
    `run_folder` is not a directory, and OSError (naming the file) when one of the report's
    files cannot be written; missing, empty or broken files in it are named in the report
    instead."""
    folder = Path(run_folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a run folder (no such directory)")
    notes: list[str] = []
    summary = load_summary(folder, notes)
    final_parts = _final_parts(folder, notes, final)
    final = final_parts.final
    series = charts.time_series(load_history(folder, notes), final_parts.counts)
    if len(series) < 2:
        notes.append("Less than two seconds were recorded: no charts over time.")
    histogram = final_parts.histogram
    if slo_p95_ms is None:
        slo_p95_ms = slo_from_thresholds(summary)

    figures = build_figures(summary, series, histogram, capacity, slo_p95_ms, notes)
    if summary.get("transactions"):
        counts = charts.per_second_counts(final, transactions=True)
        figures.update(_draw({"transactions": lambda: charts.transactions_chart(counts)}, notes))
    images = {name: charts.to_png(figure) for name, figure in figures.items()}
    # junit.xml first: what a CI gate reads, and the smallest file (a nearly full disk).
    junit = folder / JUNIT_XML
    _write_bytes(junit, render_junit(summary).encode("utf-8"))
    chart_dir = folder / CHARTS_DIR
    chart_files: dict[str, Path] = {}
    if images:
        chart_dir.mkdir(exist_ok=True)
    for name in CHART_CAPTIONS:
        path = chart_dir / f"{name}.png"
        if name in images:
            _write_bytes(path, images[name])
            chart_files[name] = path
        elif path.exists():
            path.unlink()  # from an earlier report of this folder; no longer true

    links = [name for name, _ in RUN_FILES if (folder / name).is_file()]
    links += [f"{CHARTS_DIR}/{path.name}" for path in chart_files.values()]
    html = folder / REPORT_HTML
    text = render_html(summary, images, capacity, links=links, notes=notes)
    _write_bytes(html, text.encode("utf-8"))
    return ReportFiles(html=html, junit=junit, charts=chart_files, notes=tuple(notes))


# --- reading the run folder -------------------------------------------------------------------


def load_summary(folder: Path, notes: list[str]) -> Summary:
    """summary.json, or a stand-in with verdict "error" saying why it could not be read.

    Checked here, where it enters: a JSON object with a verdict string is a summary. It may be
    older or partial (keys missing), which the renderers allow for by reading every key with
    .get; a part written as null that is never null (scenario, run, totals) is dropped, so it
    reads as missing."""
    path = folder / SUMMARY_JSON
    problem = ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("verdict"), str):
            return _as_summary(data)
        problem = f"{SUMMARY_JSON} is not a loadkit summary"
    except FileNotFoundError:
        problem = f"{SUMMARY_JSON} is missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        problem = f"{SUMMARY_JSON} could not be read ({error})"
    notes.append(problem)
    stand_in: dict[str, object] = {  # partial, as an older summary.json may be; file unknown
        "scenario": {"name": folder.name, "file": None},
        "run": {},
        "totals": {},
        "requests": [],
        "failures": [],
        "exceptions": [],
        "thresholds": [],
        "verdict": Verdict.ERROR,
        "reasons": [f"{problem}; the run did not finish normally, see locust.log"],
        "exit_code": int(Verdict.ERROR.exit_status),
    }
    return cast(Summary, stand_in)


def _as_summary(data: dict[str, Any]) -> Summary:
    for part in ("scenario", "run", "totals"):
        if part in data and data[part] is None:
            del data[part]
    # A verdict this loadkit does not know stays a string: shown as an error, under its name.
    with contextlib.suppress(ValueError):
        data["verdict"] = Verdict(data["verdict"])
    return cast(Summary, data)


def load_history(folder: Path, notes: list[str]) -> pd.DataFrame:
    """The per-second Aggregated rows (see `charts.read_history`); empty when unreadable."""
    path = folder / HISTORY_CSV
    try:
        return charts.read_history(path)
    except FileNotFoundError:
        notes.append(f"{HISTORY_CSV} is missing: no users or percentiles over time.")
    except (OSError, ValueError, KeyError, pd.errors.ParserError) as error:
        notes.append(f"{HISTORY_CSV} could not be read ({_first_line(error)}).")
    return charts.empty_history()


def load_final(folder: Path, notes: list[str]) -> Mapping[str, Any]:
    """locust_final.json, or {} (and a note) when it is missing or unreadable."""
    return _final_parts(folder, notes).final


@dataclass(frozen=True)
class _FinalParts:
    """locust_final.json and what the charts take from it, each computed once."""

    final: Mapping[str, Any]
    counts: pd.DataFrame
    histogram: dict[float, int]


def _final_parts(
    folder: Path, notes: list[str], final: Mapping[str, Any] | None = None
) -> _FinalParts:
    """`final` (or locust_final.json read from `folder`) with its per-second counts and its
    response time histogram; all empty (and a note) when it is missing or malformed."""
    path = folder / FINAL_JSON
    try:
        if final is None:
            final = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(final, Mapping):
            raise ValueError("not a JSON object")
        # Computing them is what checks that the parts the charts read are well-formed.
        histogram = charts.response_time_histogram(final)
        return _FinalParts(final, charts.per_second_counts(final), histogram)
    except FileNotFoundError:
        notes.append(
            f"{FINAL_JSON} is missing: no response time distribution, and req/s and "
            "failures/s over time are Locust's 10-second moving averages."
        )
    except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError) as error:
        notes.append(f"{FINAL_JSON} could not be read ({_first_line(error)}).")
    return _FinalParts({}, charts.per_second_counts({}), {})


def slo_from_thresholds(summary: Summary) -> float | None:
    """The limit of the first `p95 < X` / `p95 <= X` threshold on all requests, in ms."""
    for t in summary.get("thresholds") or []:
        if (
            t.get("metric") == "p95"
            and not t.get("scope")
            and not t.get("transaction")
            and t.get("op") in ("<", "<=")
            and isinstance(t.get("limit"), int | float)
        ):
            return float(t["limit"])
    return None


# --- charts -----------------------------------------------------------------------------------


def build_figures(
    summary: Summary,
    series: pd.DataFrame,
    histogram: Mapping[float, int],
    capacity: CapacityReportLike | None,
    slo_p95_ms: float | None,
    notes: list[str],
) -> dict[str, Figure]:
    """The charts there is data for, by name (see html_report.CHART_CAPTIONS)."""
    totals = summary.get("totals", {})
    planned: dict[str, Callable[[], Figure]] = {}
    if len(series) >= 2:
        planned["users_throughput"] = lambda: charts.users_throughput_chart(series)
        if series[["p50_ms", "p95_ms", "p99_ms"]].notna().any().any():
            planned["response_times"] = lambda: charts.response_times_chart(series)
        planned["failures"] = lambda: charts.failures_chart(series)
    load = summary.get("load")
    arrivals = load.get("arrivals") if load else None
    if arrivals and arrivals.get("per_second"):
        planned["arrivals"] = lambda: charts.arrivals_chart(arrivals)
    if histogram:
        planned["distribution"] = lambda: charts.distribution_chart(
            histogram,
            p50_ms=_float(totals.get("p50_ms")),
            p95_ms=_float(totals.get("p95_ms")),
            p99_ms=_float(totals.get("p99_ms")),
        )
    if capacity is not None and has_capacity_charts(capacity):
        planned["capacity_throughput"] = lambda: charts.capacity_throughput_chart(capacity)
        planned["capacity_latency"] = lambda: charts.capacity_latency_chart(
            capacity, slo_p95_ms=slo_p95_ms
        )
    return _draw(planned, notes)


def _draw(planned: Mapping[str, Callable[[], Figure]], notes: list[str]) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}
    for name, draw in planned.items():
        try:
            figures[name] = draw()
        except Exception as error:  # a report must never turn a finished run into a traceback
            notes.append(f"The chart '{name}' could not be drawn: {_first_line(error)}")
    return figures


def _float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _write_bytes(path: Path, data: bytes) -> None:
    """Raises OSError naming `path` (the file the person looks for, not its temporary twin)."""
    try:
        write_atomic(path, data)
    except OSError as error:
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error
