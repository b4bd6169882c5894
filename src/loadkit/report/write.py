"""The report of a run folder: `report.html`, `junit.xml` and `charts/*.png`, written next to
the files they are made from.

`write_report` only reads the run folder (summary.json, locust_stats_history.csv,
locust_final.json, histograms.json, histograms-corrected.json) and never fails because one of
them is missing, empty or cut short: an aborted run with no requests still gets a report that
says so. What could not be drawn is named
in the report instead.
"""

from __future__ import annotations

import contextlib
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
from matplotlib.figure import Figure

from loadkit.exit_codes import Verdict
from loadkit.histogram import RunHistograms, load_histograms
from loadkit.report import charts
from loadkit.report.capacity_view import CapacityReportLike, has_capacity_charts
from loadkit.report.html import RUN_FILES, render_html
from loadkit.report.html_parts import CHART_CAPTIONS, HISTORY_CHART, LOCUST_TIMES_CHART
from loadkit.report.junit import render_junit
from loadkit.run_folder import RunFolder, write_atomic
from loadkit.summary_types import Summary
from loadkit.telemetry import knee_window
from loadkit.telemetry import read as read_telemetry

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
HISTOGRAMS_JSON = RunFolder.HISTOGRAMS
CORRECTED_JSON = RunFolder.CORRECTED_HISTOGRAMS


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    junit: Path
    charts: dict[str, Path] = field(default_factory=dict)
    """Chart name -> PNG file, in the order the report shows them."""
    notes: tuple[str, ...] = ()
    """Why a file could not be read or a chart was left out."""
    damaged: tuple[str, ...] = ()
    """The notes about files of the run that are there but cut short or unreadable (also in
    `notes`): worth a warning, as a person may not know the folder was damaged."""


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
    damaged: list[str] = []  # the fine histograms, there but unreadable
    final_parts = _final_parts(folder, notes, final)
    final = final_parts.final
    history = load_history(folder, notes)
    times = _histogram_parts(folder, summary, damaged)
    notes += damaged
    series = charts.time_series(history, final_parts.counts, times.overall, times.corrected)
    first_second = _first_second(history, final_parts.counts, times)
    per_request = times.per_request(first_second)
    if len(series) < 2:
        notes.append("Less than two seconds were recorded: no charts over time.")
    histogram = final_parts.histogram
    if slo_p95_ms is None:
        slo_p95_ms = slo_from_thresholds(summary)

    figures = build_figures(summary, series, histogram, capacity, slo_p95_ms, notes)
    if times.overall is None and "response_times" in figures:  # named for what it shows
        figures[LOCUST_TIMES_CHART] = figures.pop("response_times")
        if not (folder / HISTOGRAMS_JSON).exists():
            notes.append(HISTOGRAMS_MISSING)
    if len(series) >= 2 and per_request:
        more = times.request_count - len(per_request)
        drill_down = {
            "response_times_by_request": lambda: charts.response_times_by_request_chart(
                per_request, more=more
            )
        }
        figures.update(_draw(drill_down, notes))
    view = summary.get("history")
    if view:
        from loadkit.report.history_charts import history_chart

        figures.update(_draw({HISTORY_CHART: lambda: history_chart(summary, view)}, notes))
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
    system = _system_section(folder, summary, series, first_second, notes)
    text = render_html(summary, images, capacity, links=links, notes=notes, system=system)
    _write_bytes(html, text.encode("utf-8"))
    return ReportFiles(
        html=html, junit=junit, charts=chart_files, notes=tuple(notes), damaged=tuple(damaged)
    )


def _system_section(
    folder: Path, summary: Summary, series: pd.DataFrame, origin: float | None, notes: list[str]
) -> str:
    """The system under test's section (`observe:`): its numbers, levels and chart."""
    if summary.get("telemetry") is None:
        return ""
    from loadkit.report.telemetry_charts import system_chart
    from loadkit.report.telemetry_html import system_section

    telemetry = read_telemetry(folder / RunFolder.TELEMETRY_JSON)
    chart = None
    if telemetry is not None:
        saturation = knee_window(summary.get("capacity"))
        plan = {"system": lambda: system_chart(telemetry, series, origin, saturation)}
        drawn = _draw(plan, notes)
        chart = charts.to_png(drawn["system"]) if "system" in drawn else None
    return system_section(summary, telemetry, chart)


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
            wrong = _type_problem(data, Summary, "")
            if wrong is not None:
                raise BadSummary(f"{path}: {wrong}; this is not what loadkit wrote")
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


class BadSummary(ValueError):
    """summary.json holds a field of the wrong type (edited by hand, or damaged): the message
    names the file and the field; rendering it would tell something it does not say."""


def _type_problem(value: object, hint: object, where: str) -> str | None:
    """The first field of `value` that does not fit `hint` (a type of `summary_types`), as
    "field: expected …, got …"; None when it fits. Keys that are missing are allowed (an
    older or partial summary), keys it does not know are ignored."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.NotRequired:
        return _type_problem(value, args[0], where)
    if origin in (types.UnionType, typing.Union):
        fits = [_type_problem(value, arg, where) for arg in args]
        if None in fits:
            return None
        others = [arg for arg in args if arg is not type(None)]
        # `X | None` with a value that is no None: what is wrong inside it (the deepest field)
        inner = fits[args.index(others[0])] if len(others) == 1 else None
        deeper = inner is not None and not inner.startswith(f"{where or 'the file'}: ")
        return inner if deeper else _wrong(value, hint, where)
    if hint is type(None):
        return None if value is None else _wrong(value, hint, where)
    if hint is typing.Any or hint is object:
        return None
    if isinstance(hint, type) and typing.is_typeddict(hint):
        if not isinstance(value, dict):
            return _wrong(value, hint, where)
        fields = typing.get_type_hints(hint)
        for key, item in value.items():
            if key in fields:
                found = _type_problem(item, fields[key], f"{where}.{key}" if where else key)
                if found is not None:
                    return found
        return None
    if origin in (list, tuple):
        if not isinstance(value, list):
            return _wrong(value, hint, where)
        return next(
            (
                found
                for n, item in enumerate(value)
                if (found := _type_problem(item, args[0], f"{where}[{n}]")) is not None
            ),
            None,
        )
    if origin is dict:
        if not isinstance(value, dict):
            return _wrong(value, hint, where)
        return next(
            (
                found
                for key, item in value.items()
                if (found := _type_problem(item, args[1], f"{where}.{key}")) is not None
            ),
            None,
        )
    if origin is typing.Literal:
        return None if value in args else _wrong(value, hint, where)
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else _wrong(value, hint, where)
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else _wrong(value, hint, where)
    if isinstance(hint, type) and issubclass(hint, str):  # str, Verdict (a StrEnum)
        return None if isinstance(value, str) else _wrong(value, hint, where)
    if isinstance(hint, type):
        return None if isinstance(value, hint) else _wrong(value, hint, where)
    return None  # a hint this check does not know: the renderers read with .get


_EXPECTED = {float: "a number", int: "a whole number", str: "a string", bool: "true or false"}


def _wrong(value: object, hint: object, where: str) -> str:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        kinds = [_EXPECTED.get(a, "null" if a is type(None) else "an object")
                 for a in typing.get_args(hint)]  # fmt: skip
        expected = " or ".join(dict.fromkeys(kinds))
    elif typing.get_origin(hint) in (list, tuple):
        expected = "a list"
    else:
        expected = _EXPECTED.get(hint, "an object")  # type: ignore[call-overload]
    return f"{where or 'the file'}: expected {expected}, got {json.dumps(value)[:40]}"


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


@dataclass(frozen=True)
class _HistogramParts:
    """What the charts take from histograms.json (and histograms-corrected.json): each
    second's percentiles overall, and the histograms for the per-request ones."""

    service: RunHistograms | None = None
    corrected_histograms: RunHistograms | None = None
    overall: pd.DataFrame | None = None
    corrected: pd.DataFrame | None = None

    @property
    def request_count(self) -> int:
        """How many different requests (method, name) were made."""
        return len(charts.top_requests(self.service, None)) if self.service else 0

    def per_request(self, origin: float | None) -> dict[str, pd.DataFrame]:
        """The requests made most often, each second's percentiles, on the run's time axis."""
        if self.service is None or self.overall is None:
            return {}
        shown = charts.top_requests(self.service)
        return charts.per_request_series(
            self.service, shown, self.corrected_histograms, origin=origin
        )


def _histogram_parts(folder: Path, summary: Summary, damaged: list[str]) -> _HistogramParts:
    """Per-second percentiles from the fine histograms; without them (an older run folder, a
    run that died before writing them) the charts fall back on Locust's 10-second windows,
    and a note says so. A file that is there but unreadable goes to `damaged`."""
    service = _read_histograms(folder / HISTOGRAMS_JSON, summary, damaged)
    if service is None:
        return _HistogramParts()
    corrected = _read_histograms(folder / CORRECTED_JSON, summary, damaged)
    overall = charts.request_times(service)
    if overall.empty:
        return _HistogramParts()
    fixed = charts.request_times(corrected) if corrected is not None else None
    return _HistogramParts(service, corrected, overall, fixed)


def _first_second(
    history: pd.DataFrame, counts: pd.DataFrame, times: _HistogramParts
) -> float | None:
    """The first second of the run's time series (`charts.time_series` counts from it)."""
    frames = [history, counts, times.overall, times.corrected]
    firsts = [float(f["timestamp"].min()) for f in frames if f is not None and not f.empty]
    return min(firsts) if firsts else None


HISTOGRAMS_MISSING = (
    f"{HISTOGRAMS_JSON} is missing: response times over time are Locust's, over about the "
    "last 10 s, and there is no chart per request."
)


def _read_histograms(path: Path, summary: Summary, damaged: list[str]) -> RunHistograms | None:
    """None when missing (said where it matters: `HISTOGRAMS_MISSING`) or when it is there but
    cannot be read (cut short by a full disk or a kill: said in `damaged`)."""
    try:
        return load_histograms(path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        used = str(summary.get("times_from", "")).startswith("loadkit")
        damaged.append(
            f"{path.name} is damaged or cut short ({_first_line(error)}); "
            + (
                "summary.json's times were computed from it when the run ended, when it was whole"
                if used
                else "summary.json's times are Locust's coarser ones"
            )
        )
    return None


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
    """The charts there is data for, by name (see html_parts.CHART_CAPTIONS)."""
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
