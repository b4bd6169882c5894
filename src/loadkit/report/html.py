"""report.html: the run for people, one self-contained file.

Charts are embedded as data: URIs, the styles are inline and there is no JavaScript at all, so
the file reads the same offline, attached to a CI job or mailed around. A Content-Security-Policy
forbids scripts and any fetch outright; on top of that every value that came from the scenario,
the target or Locust goes through `html.escape`, so a request named `<script>…</script>` is text.

`render_html` is pure: a summary (`loadkit.summary_types.Summary`, also an older or partial one
read from disk: every key is read with .get) + chart images + optional capacity report in, HTML
text out.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from loadkit import formatting
from loadkit.exit_codes import Verdict
from loadkit.report.capacity_view import (
    ARRIVALS_AXIS,
    CapacityReportLike,
    has_capacity_charts,
    level_load,
    load_axis,
    load_text,
    saturation_load,
    slo_load,
    tested_users_note,
)
from loadkit.report.console import (
    CORRECTED_TIMES,
    REPORT_NAMES,
    arrivals_line,
    arrivals_of,
    format_threshold_actual,
    load_line,
    shown_requests,
)
from loadkit.run_folder import RunFolder
from loadkit.summary_types import SERVICE, RequestRow, Summary, TransactionRow

LOCUST_TIMES_CHART = "response_times_locust"
"""The response times chart drawn from Locust's history when histograms.json is missing."""
HISTORY_CHART = "history"
"""The History section's chart (`report.history_charts`)."""
CHART_CAPTIONS: dict[str, tuple[str, str]] = {
    "users_throughput": (
        "Users and throughput over time",
        "Running users (dashed, left axis) and requests completed per second (right axis).",
    ),
    "response_times": (
        "Response times over time",
        "Each second's own p50, p95 and p99 of all requests completed in it (loadkit's "
        "histograms, within 0.25 %), so a spike shows in the second it happened; when starts "
        "are scheduled, the corrected times are dashed beside the service times.",
    ),
    LOCUST_TIMES_CHART: (
        "Response times over time",
        "p50, p95 and p99 of all requests as Locust computes them, over about the last 10 s "
        "(loadkit's own per-second histograms were missing): a spike shows for ten seconds.",
    ),
    "response_times_by_request": (
        "Response times over time, per request",
        "The same for each of the requests made most often, each on its own time scale: "
        "which request a spike came from (the others are in the Requests table).",
    ),
    "failures": ("Failures over time", "Failed requests per second."),
    "arrivals": (
        "Arrivals over time",
        "The open model: planned arrivals per second (dashed) and iterations started per "
        "second (left axis); users busy in an iteration and arrivals waiting for a free one "
        "(right axis).",
    ),
    "transactions": (
        "Transactions over time",
        "Successful and failed transactions completed per second.",
    ),
    "distribution": (
        "Response time distribution",
        "How many requests took how long over the whole run; the lines mark the percentiles.",
    ),
    "capacity_throughput": (
        "Throughput vs load",
        "Throughput at each load level (req/s, or txn/s when the flow has transactions, as the"
        " axis says) and the saturation point; for users (a closed model) also the Universal"
        " Scalability Law fitted to it, dotted where it extrapolates (an open model's levels are"
        " by offered arrival rate, with no curve: none is fitted).",
    ),
    "capacity_latency": (
        "Response time vs users",
        "Response-time percentiles at each load level against the p95 objective, and the"
        " saturation point.",
    ),
    HISTORY_CHART: (
        "This run among the earlier runs of its scenario",
        "One panel per metric, runs in the order they were recorded, this run last (red). "
        "Runs of the same host and load: blue, joined; other loads: hollow grey; runs that did "
        "not pass: x. Dashed: the pinned baseline; red line: the whole-run threshold.",
    ),
}
"""Known chart names -> (title, how to read it). Charts are shown in this order."""
CAPACITY_CHARTS = ("capacity_throughput", "capacity_latency")
SECTION_CHARTS = (*CAPACITY_CHARTS, "transactions", HISTORY_CHART)
"""Charts shown in their own section, not under Charts."""
"""Shown in the capacity section, next to the numbers they illustrate."""

RUN_FILES: tuple[tuple[str, str], ...] = (
    (RunFolder.SUMMARY_JSON, "the verdict as data"),
    (RunFolder.SUMMARY_MD, "the verdict as Markdown"),
    (RunFolder.JUNIT_XML, "thresholds as JUnit test cases"),
    (RunFolder.SCENARIO, "the scenario as given"),
    (RunFolder.LOCUSTFILE, "the generated locustfile"),
    (RunFolder.LOCUST_HTML, "Locust's own report"),
    (RunFolder.LOCUST_LOG, "Locust's output"),
    (RunFolder.STATS_CSV, "final statistics per request"),
    (RunFolder.HISTORY_CSV, "statistics per second"),
    (RunFolder.FAILURES_CSV, "failures"),
    (RunFolder.EXCEPTIONS_CSV, "exceptions in test code"),
    (RunFolder.FINAL_STATS, "final statistics with histograms"),
)
"""The run folder's files and what they hold, in the order the report lists them."""

_VERDICTS: dict[str, tuple[str, str, str]] = {
    Verdict.PASS: ("✓", "PASS", "The run completed and every threshold held."),
    Verdict.FAIL: ("✗", "FAIL", "The run completed, but it did not meet its thresholds."),
    Verdict.ABORTED: ("■", "ABORTED", "The run was interrupted before its planned end."),
    Verdict.ERROR: ("!", "ERROR", "Locust or loadkit failed; see locust.log."),
}
"""Icon, label and meaning of each verdict; a verdict this loadkit does not know (a file from
a newer one) is shown as an error."""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'"

_STYLE = """
:root { --pass: #116329; --fail: #b3261e; --aborted: #8a5a00; --error: #6e40c9;
        --line: #d0d7de; --muted: #57606a; --bg-soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       color: #1f2328; background: #fff; }
main { max-width: 1000px; margin: 0 auto; padding: 0 20px 40px; }
header.verdict { color: #fff; padding: 18px 20px; margin: 0 -20px 24px; }
header.pass { background: var(--pass); } header.fail { background: var(--fail); }
header.aborted { background: var(--aborted); } header.error { background: var(--error); }
header .badge { display: inline-block; font-weight: 700; font-size: 22px; letter-spacing: .04em;
                border: 2px solid #fff; border-radius: 6px; padding: 0 10px; margin-right: 12px; }
header h1 { display: inline; font-size: 24px; margin: 0; vertical-align: middle; }
header p { margin: 8px 0 0; }
header ul { margin: 6px 0 0; padding-left: 22px; }
h2 { font-size: 19px; border-bottom: 1px solid var(--line); padding-bottom: 4px; margin-top: 32px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left;
         vertical-align: top; }
th { background: var(--bg-soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
tr.saturation td { font-weight: 600; background: #fff4e5; }
td.name, td.error { word-break: break-word; }
.status { font-weight: 700; white-space: nowrap; }
.status.pass { color: var(--pass); } .status.fail { color: var(--fail); }
table.facts, table.thresholds { width: auto; min-width: 60%; }
table.facts th { background: none; padding-right: 24px; }
figure { margin: 20px 0; } figure img { display: block; max-width: 100%; height: auto;
         border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.headline { font-size: 17px; font-weight: 600; background: var(--bg-soft);
            border-left: 4px solid #0072b2; padding: 10px 14px; }
.note { color: var(--muted); }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
"""


def esc(value: object) -> str:
    """Any value as HTML text, quotes included (safe in attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def _number(value: object, digits: int = 0, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return esc(value)
    return f"{value:,.{digits}f}{suffix}"


def _percent(value: object) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "–"
    return formatting.percent(value)


def _time_cells(row: Mapping[str, object]) -> list[tuple[str, str]]:
    """avg, p50, p90, p95, p99 and max of a request or transaction row, as table cells."""
    keys = ("avg_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")
    return [(_ms(row.get(key)), "num") for key in keys]


def _ms(value: object) -> str:
    """A time as every renderer writes it (`loadkit.formatting`)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "–"
    return formatting.ms(value)


def _time(epoch: object) -> str:
    if not isinstance(epoch, int | float) or isinstance(epoch, bool):
        return "–"
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _status(passed: bool) -> str:
    cls, text = ("pass", "✓ pass") if passed else ("fail", "✗ fail")
    return f'<span class="status {cls}">{text}</span>'


def _table(
    headers: Sequence[tuple[str, bool]], rows: Iterable[str], empty: str = "", cls: str = ""
) -> str:
    num_attr = ' class="num"'
    head = "".join(f"<th{num_attr if num else ''}>{esc(h)}</th>" for h, num in headers)
    body = "".join(rows)
    if not body and empty:
        return f'<p class="note">{esc(empty)}</p>'
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _row(cells: Iterable[tuple[str, str]], cls: str = "") -> str:
    """cells: (already escaped HTML, css class)."""
    attr = f' class="{cls}"' if cls else ""
    return f"<tr{attr}>" + "".join(f'<td class="{c}">{h}</td>' for h, c in cells) + "</tr>"


def _verdict(summary: Summary) -> str:
    return str(summary.get("verdict") or Verdict.ERROR)


def _header(summary: Summary) -> str:
    verdict = _verdict(summary)
    icon, label, meaning = _VERDICTS.get(verdict, _VERDICTS[Verdict.ERROR])
    name = summary.get("scenario", {}).get("name") or "unnamed scenario"
    reasons = [str(r) for r in summary.get("reasons") or []]
    items = "".join(f"<li>{esc(r)}</li>" for r in reasons) + "".join(
        f'<li class="warning">⚠ {esc(w)}</li>' for w in summary.get("warnings") or []
    )
    exit_code = summary.get("exit_code")
    code = f" Exit code {esc(exit_code)}." if exit_code is not None else ""
    return (
        f'<header class="verdict {esc(verdict)}" id="verdict">'
        f'<span class="badge">{icon} {label}</span><h1>{esc(name)}</h1>'
        f"<p>{esc(meaning)}{code}</p>" + (f"<ul>{items}</ul>" if items else "") + "</header>"
    )


def _facts(summary: Summary) -> str:
    run = summary.get("run", {})
    totals = summary.get("totals", {})
    scenario = summary.get("scenario", {})
    users = run.get("users")
    peak = run.get("peak_users")
    arrivals = arrivals_of(summary)
    load = (
        f"{_number(arrivals['target_rate'], 1)} arrivals/s ({esc(arrivals['spacing'])}) on up to "
        f"{_number(arrivals['max_concurrency'])} users (the open model)"
        if arrivals
        else f"{_number(users)} users, started at {_number(run.get('spawn_rate'), 1)}/s"
        + (f"; peak {_number(peak)} running" if peak is not None else "")
    )
    rows = [
        ("Scenario", f"{esc(scenario.get('name'))} (<code>{esc(scenario.get('file'))}</code>)"),
        ("Target", f"<code>{esc(run.get('host'))}</code>"),
        ("Load", load),
        ("Delivered", esc(load_line(summary) or "–")),
        *([("Arrivals", esc(arrivals_line(summary) or "–"))] if arrivals else []),
        (
            "Duration",
            f"{_number(run.get('elapsed_s'), 1)} s measured, "
            f"{_number(run.get('duration_s'))} s planned",
        ),
        ("Started", _time(run.get("started_at"))),
        ("Stopped", _time(run.get("stopped_at"))),
        ("Requests", _requests_fact(totals)),
        ("Throughput", _number(totals.get("rps"), 1, " req/s")),
        ("Response time", _times_fact(totals)),
        ("Locust", esc(run.get("locust_version") or "–")),
    ]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<section id="run"><h2>Run</h2><table class="facts">{body}</table></section>'


def _requests_fact(totals: RequestRow) -> str:
    text = f"{_number(totals.get('requests'))} ({_number(totals.get('failures'))} failed"
    if isinstance(totals.get("error_rate"), int | float):
        text += f", {_percent(totals['error_rate'])}"
    return text + ")"


def _times_fact(totals: RequestRow) -> str:
    parts = [
        f"{label} {_ms(totals.get(key))} ms"
        for label, key in (
            ("p50", "p50_ms"),
            ("p95", "p95_ms"),
            ("p99", "p99_ms"),
            ("max", "max_ms"),
        )
        if totals.get(key) is not None
    ]
    return ", ".join(parts) or "–"


def _thresholds(summary: Summary) -> str:
    rows = []
    for t in summary.get("thresholds") or []:
        expression = f"<code>{esc(t.get('expression'))}</code>"
        if t.get("default"):
            expression += ' <span class="note">(default)</span>'
        try:
            actual = esc(format_threshold_actual(t))
        except (KeyError, TypeError, ValueError):
            actual = esc(t.get("actual"))
        if t.get("note"):
            actual += f' <span class="note">({esc(t["note"])})</span>'
        rows.append(_row([(expression, ""), (actual, "num"), (_status(bool(t.get("passed"))), "")]))
    table = _table(
        [("Threshold", False), ("Actual", True), ("Result", False)],
        rows,
        "No thresholds.",
        cls="thresholds",
    )
    return f'<section id="thresholds"><h2>Thresholds</h2>{table}</section>'


def _history(summary: Summary, charts: Mapping[str, bytes]) -> str:
    """This run against the earlier runs of its scenario (`loadkit.history`)."""
    view = summary.get("history")
    if not view:
        return ""
    parts = [
        f'<p class="note">Run <code>{esc(view["run_id"])}</code> recorded in '
        f"<code>{esc(view['store'])}</code>. {esc(view['trend'])}.</p>"
    ]
    parts += [f'<p class="warning">⚠ {esc(d["message"])}</p>' for d in view["drift"]]
    baseline = view["baseline"]
    if baseline is not None:
        parts.append(
            f"<p>Pinned baseline: run <code>{esc(baseline['run_id'])}</code> "
            f"(p95 {esc(_ms(baseline['p95_ms']))}).</p>"
        )
    if HISTORY_CHART in charts:
        parts.append(_figure(HISTORY_CHART, charts[HISTORY_CHART]))
    recent = view["runs"][-10:]
    if recent:
        headers = [("Recorded", False), ("Run", False), ("Verdict", False),
                   ("Same host and load", False), ("p95 (ms)", True), ("Errors", True),
                   ("Report", False)]  # fmt: skip
        rows = [
            _row(
                [
                    (esc(_time(p["recorded_at"])), ""),
                    (f"<code>{esc(p['run_id'])}</code>", ""),
                    (esc(p["verdict"].upper()), ""),
                    ("yes" if p["same_load"] else "no", ""),
                    (esc(_ms(p["p95_ms"])), "num"),
                    (esc(_percent(p["error_rate"])), "num"),
                    (_report_link(p["folder"]), ""),
                ]
            )
            for p in reversed(recent)
        ]
        parts.append(_table(headers, rows, ""))
    return f'<section id="history"><h2>History</h2>{"".join(parts)}</section>'


def _report_link(folder: str) -> str:
    if "://" in folder:
        return f'<a href="{esc(folder)}">report</a>'
    return f'<a href="{esc(quote(folder.rstrip("/") + "/" + RunFolder.REPORT_HTML))}">report</a>'


def _capacity(capacity: CapacityReportLike, charts: Mapping[str, bytes]) -> str:
    """The headline, the details behind it, the levels and the capacity charts. Every user
    count of saturation shown here is `capacity.knee_users` (the saturation point; for an open
    model, an arrival rate: `knee_rate`); an insufficient estimate is said once, by the
    headline, and has no details or charts."""
    parts = [f'<p class="headline">{esc(capacity.headline())}</p>']
    if capacity.insufficient is None:
        parts.append(_capacity_facts(capacity))
    parts.append("<h3>Load levels</h3>" + _capacity_levels(capacity))
    if load_axis(capacity) == ARRIVALS_AXIS:
        parts.append(
            '<p class="note">An open model: each level is an arrival stage, by its offered '
            "arrival rate; its times, errors and Apdex are the corrected times' (from when each "
            "iteration was due), what a user arriving at that rate experiences.</p>"
        )
    if has_capacity_charts(capacity):
        parts += [_figure(name, charts[name]) for name in CAPACITY_CHARTS if name in charts]
    return f'<section id="capacity"><h2>Capacity</h2>{"".join(parts)}</section>'


def _capacity_facts(capacity: CapacityReportLike) -> str:
    if load_axis(capacity) == ARRIVALS_AXIS:
        return _open_capacity_facts(capacity)
    top = max((level.users for level in capacity.levels), default=None)
    if capacity.knee_users is not None:
        saturation = _number(capacity.knee_users, 0, " users")
    else:
        saturation = f"none up to the highest tested level, {_number(top, 0, ' users')}"
    unit = _throughput_unit(capacity)
    facts = [
        ("Saturation point", saturation),
        ("Highest throughput measured", _number(capacity.capacity_rps, 1, f" {unit}")),
        ("Most users within the SLO", _number(capacity.max_users_within_slo, 0, " users")),
        ("Most throughput within the SLO", _number(capacity.max_rps_within_slo, 1, f" {unit}")),
    ]
    fit = capacity.usl
    if fit is not None and capacity.levels:
        facts.append(
            (
                "USL fit",
                f"σ = {fit.sigma:.4g}, κ = {fit.kappa:.4g}, λ = {fit.lambda_rps:.4g} {unit}, "
                f"R² = {fit.r_squared:.3f}"
                ' <span class="note">(a model fitted to the tested users; its dotted stretch'
                f" on the chart is a {esc(tested_users_note(capacity))})</span>",
            )
        )
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in facts)
    return f'<table class="facts">{body}</table>'


def _open_capacity_facts(capacity: CapacityReportLike) -> str:
    """An open model's facts: its saturation point and SLO limit are arrival rates; no USL
    (a law of concurrency, not fitted on arrival rates)."""
    axis = load_axis(capacity)
    knee = saturation_load(capacity)
    if knee is not None:
        saturation = _load_cell(knee, axis)
    else:
        top = max(level_load(level, axis) for level in capacity.levels)
        saturation = f"none up to the highest tested level, {esc(load_text(top, axis))}"
    unit = _throughput_unit(capacity)
    facts = [
        ("Saturation point", saturation),
        ("Highest throughput measured", _number(capacity.capacity_rps, 1, f" {unit}")),
        ("Highest arrival rate within the SLO", _load_cell(slo_load(capacity), axis)),
        ("Most throughput within the SLO", _number(capacity.max_rps_within_slo, 1, f" {unit}")),
    ]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in facts)
    return f'<table class="facts">{body}</table>'


def _load_cell(value: float | None, axis: str) -> str:
    return "–" if value is None else esc(load_text(value, axis))


def _throughput_unit(capacity: CapacityReportLike) -> str:
    """req/s, or txn/s when the capacity analysis counted transactions."""
    return str(getattr(capacity, "throughput_unit", "req/s"))


def _capacity_levels(capacity: CapacityReportLike) -> str:
    axis = load_axis(capacity)
    arrivals = axis == ARRIVALS_AXIS
    knee = saturation_load(capacity)
    # With txn/s as the throughput the times and errors are still the requests': say so.
    of = "request " if _throughput_unit(capacity) == "txn/s" else ""
    headers = [
        ("Arrivals/s" if arrivals else "Users", True),
        ("Requests", True),
        (_throughput_unit(capacity).capitalize(), True),
        (f"{of}p50 ms", True),
        (f"{of}p95 ms", True),
        (f"{of}p99 ms", True),
        (f"{of}errors".capitalize(), True),
        (f"{of}Apdex", True),
        ("", False),
    ]
    rows = []
    for level in capacity.levels:
        load = level_load(level, axis)
        at_saturation = knee is not None and load == knee
        rows.append(
            _row(
                [
                    (esc(f"{load:g}") if arrivals else _number(level.users), "num"),
                    (_number(level.requests), "num"),
                    (_number(level.throughput_rps, 1), "num"),
                    (_ms(level.p50_ms), "num"),
                    (_ms(level.p95_ms), "num"),
                    (_ms(level.p99_ms), "num"),
                    (_percent(level.error_rate), "num"),
                    (_number(level.apdex, 2), "num"),
                    ("saturation point" if at_saturation else "", ""),
                ],
                "saturation" if at_saturation else "",
            )
        )
    return _table(headers, rows, "No load levels were measured.")


def _image_uri(data: bytes) -> str:
    mime = "image/png" if data.startswith(b"\x89PNG") else "image/svg+xml"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _figure(name: str, data: bytes) -> str:
    title, how = CHART_CAPTIONS.get(name, (name, ""))
    return (
        f'<figure id="chart-{esc(name)}"><img src="{_image_uri(data)}" '
        f'alt="{esc(title)}" width="900"><figcaption>{esc(how)}</figcaption></figure>'
    )


def _charts(charts: Mapping[str, bytes], notes: Sequence[str]) -> str:
    names = [n for n in CHART_CAPTIONS if n in charts and n not in SECTION_CHARTS]
    names += [n for n in charts if n not in CHART_CAPTIONS]
    figures = "".join(_figure(name, charts[name]) for name in names)
    notes_html = "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    if not figures and not notes_html:
        notes_html = '<p class="note">No charts: nothing was recorded.</p>'
    return f'<section id="charts"><h2>Charts</h2>{notes_html}{figures}</section>'


def _requests(summary: Summary) -> str:
    headers = [
        ("Request", False),
        ("Requests", True),
        ("Failures", True),
        ("Errors", True),
        ("Req/s", True),
        ("Avg ms", True),
        ("p50", True),
        ("p90", True),
        ("p95", True),
        ("p99", True),
        ("Max ms", True),
    ]
    requests, more = shown_requests(summary, REPORT_NAMES)
    rows = []
    totals = summary.get("totals")
    entries: list[tuple[RequestRow, str]] = [(r, "") for r in requests]
    if totals and requests:
        entries.append(({**totals, "method": "", "name": "Total"}, "total"))
    for row, cls in entries:
        label = formatting.request_label(row.get("method"), row.get("name"))
        rows.append(
            _row(
                [
                    (f"<code>{esc(label)}</code>" if not cls else esc(label), "name"),
                    (_number(row.get("requests")), "num"),
                    (_number(row.get("failures")), "num"),
                    (_percent(row.get("error_rate")), "num"),
                    (_number(row.get("rps"), 1), "num"),
                    *_time_cells(row),
                ],
                cls,
            )
        )
    if more:  # before the Total row
        rest = _row([(esc(more), "name"), *[("", "num")] * (len(headers) - 1)], "more")
        rows.insert(len(requests), rest)
    table = _table(headers, rows, "No requests were made.")
    return f'<section id="requests"><h2>Requests</h2>{table}</section>'


def _timing(summary: Summary) -> str:
    """Service and corrected times side by side, with what each one means."""
    totals = summary.get("totals")
    requests = list(summary.get("requests") or [])
    entries: list[tuple[RequestRow, str]] = [(r, "") for r in requests]
    if totals:
        entries.append(({**totals, "method": "", "name": "Total"}, "total"))
    rows = []
    for row, cls in entries:
        fixed = row.get("corrected")
        if not fixed:
            continue
        label = formatting.request_label(row.get("method"), row.get("name"))
        cells = [(f"<code>{esc(label)}</code>" if not cls else esc(label), "name")]
        for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
            cells += [(_ms(row.get(key)), "num"), (f"<b>{_ms(fixed.get(key))}</b>", "num")]
        rows.append(_row(cells, cls))
    if not rows:
        return ""
    headers = [("Request", False)] + [
        (f"{label}{which}", True)
        for label in ("p50", "p95", "p99", "Max")
        for which in (" service", " corrected")
    ]
    default = summary.get("timing", SERVICE)  # an older summary.json has none
    note = (
        f'<p class="note">{esc(CORRECTED_TIMES)} Thresholds that name neither judge the '
        f"{esc(default)} time here.</p>"
    )
    return (
        '<section id="timing"><h2>Corrected and service times</h2>'
        f"{note}{_table(headers, rows)}</section>"
    )


def _transactions(summary: Summary, charts: Mapping[str, bytes]) -> str:
    """Each flow timed end to end (think time excluded): its rate over time, success rate,
    duration percentiles and Apdex. Nothing for a run without transactions."""
    named = list(summary.get("transactions") or [])
    if not named:
        return ""
    headers = [
        ("Transaction", False),
        ("Count", True),
        ("Failures", True),
        ("Success", True),
        ("Txn/s", True),
        ("Avg ms", True),
        ("p50", True),
        ("p90", True),
        ("p95", True),
        ("p99", True),
        ("Max ms", True),
        ("Apdex", False),
    ]
    entries: list[tuple[TransactionRow, str]] = [(t, "") for t in named]
    totals = summary.get("transaction_totals")
    if totals and len(named) > 1:
        entries.append(({**totals, "name": "Total"}, "total"))
    rows = []
    for row, cls in entries:
        rate = row.get("error_rate")
        success = None if rate is None else 1.0 - float(rate)
        name = esc(row.get("name"))
        rows.append(
            _row(
                [
                    (name if cls else f"<code>{name}</code>", "name"),
                    (_number(row.get("transactions")), "num"),
                    (_number(row.get("failures")), "num"),
                    (_percent(success), "num"),
                    (_number(row.get("tps"), 1), "num"),
                    *_time_cells(row),
                    (esc(formatting.apdex(row.get("apdex"))), ""),
                ],
                cls,
            )
        )
    note = (
        '<p class="note">A transaction is a flow timed as one unit: from its first request to '
        "its last response, think time excluded. It fails when any of its requests or checks "
        "fails; its requests are counted under Requests too, the transactions never.</p>"
    )
    figure = _figure("transactions", charts["transactions"]) if "transactions" in charts else ""
    table = _table(headers, rows)
    return f'<section id="transactions"><h2>Transactions</h2>{note}{table}{figure}</section>'


def _failures(summary: Summary) -> str:
    rows = []
    for f in summary.get("failures") or []:
        label = formatting.request_label(f.get("method"), f.get("name"))
        rows.append(
            _row(
                [
                    (_number(f.get("occurrences")), "num"),
                    (f"<code>{esc(label)}</code>", "name"),
                    (esc(f.get("error")), "error"),
                ]
            )
        )
    table = _table(
        [("Occurrences", True), ("Request", False), ("Error", False)], rows, "No failures."
    )
    section = f'<section id="failures"><h2>Failures</h2>{table}'
    exceptions = [
        _row([(_number(e.get("count")), "num"), (f"<code>{esc(e.get('message'))}</code>", "error")])
        for e in summary.get("exceptions") or []
    ]
    if exceptions:
        section += "<h3>Exceptions in test code</h3>" + _table(
            [("Count", True), ("Message", False)], exceptions
        )
    return section + "</section>"


def _slowest(summary: Summary) -> str:
    """Trace links (`trace: true`): per request, its slowest requests' trace ids, to look up
    in the APM; nothing when no request was traced."""
    groups = summary.get("slowest") or []
    if not groups:
        return ""
    started = summary.get("run", {}).get("started_at")
    parts = []
    for group in groups:
        rows = [
            _row(
                [
                    (_ms(r.get("response_time_ms")), "num"),
                    (f"<code>{esc(r.get('trace_id'))}</code>", "name"),
                    (f"<code>{esc(r.get('span_id'))}</code>", "name"),
                    (_time(r.get("started_at")), ""),
                    (_into_run(r.get("started_at"), started), "num"),
                    ("failed" if r.get("failed") else "", "error"),
                ]
            )
            for r in group.get("slowest") or []
        ]
        label = formatting.request_label(group.get("method"), group.get("name"))
        parts.append(f"<h3><code>{esc(label)}</code></h3>")
        headers = [("Time", True), ("Trace id", False), ("Span id", False), ("Started", False)]
        parts.append(_table([*headers, ("Into the run", True), ("", False)], rows))
    note = (
        '<p class="note">Each request was sent with a W3C <code>traceparent</code> header '
        "(a trace of its own); find a trace id in your APM to see what the server did.</p>"
    )
    return f'<section id="slowest"><h2>Slowest requests</h2>{note}{"".join(parts)}</section>'


def _into_run(epoch: object, started: object) -> str:
    if not isinstance(epoch, int | float) or not isinstance(started, int | float):
        return "–"
    return f"{max(0.0, epoch - started):,.1f} s"


def _links(links: Sequence[str]) -> str:
    described = dict(RUN_FILES)
    items = []
    for name in links:
        what = described.get(name, "")
        if name.startswith("charts/"):
            what = CHART_CAPTIONS.get(name.removeprefix("charts/").removesuffix(".png"), (name,))[0]
        href = esc(quote(name))
        items.append(
            f'<li><a href="{href}"><code>{esc(name)}</code></a>'
            + (f" — {esc(what)}" if what else "")
            + "</li>"
        )
    body = f"<ul>{''.join(items)}</ul>" if items else '<p class="note">No other files.</p>'
    return f'<section id="files"><h2>Files in the run folder</h2>{body}</section>'


def render_html(
    summary: Summary,
    charts: Mapping[str, bytes],
    capacity: CapacityReportLike | None,
    *,
    links: Sequence[str] | None = None,
    notes: Sequence[str] = (),
    system: str = "",
) -> str:
    """The whole report.html. `system`: the system under test's section (`telemetry_html`);
    `charts` maps a chart name (see CHART_CAPTIONS) to PNG or SVG
    bytes; `links` are paths relative to the run folder (default: every file it usually
    holds); `notes` are shown above the charts (e.g. why one is missing)."""
    label = _VERDICTS.get(_verdict(summary), _VERDICTS[Verdict.ERROR])[1]
    name = summary.get("scenario", {}).get("name") or "unnamed scenario"
    sections = [
        _header(summary),
        _facts(summary),
        _thresholds(summary),
        _history(summary, charts),
        _capacity(capacity, charts) if capacity is not None else "",
        system,
        _charts(charts, notes),
        _requests(summary),
        _timing(summary),
        _transactions(summary, charts),
        _failures(summary),
        _slowest(summary),
        _links([n for n, _ in RUN_FILES] if links is None else links),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>loadkit: {esc(name)} — {label}</title>"
        f"<style>{_STYLE}</style></head>\n"
        "<body><main>\n" + "\n".join(s for s in sections if s) + "\n"
        "<footer>Written by loadkit from this run folder's summary.json and Locust's CSV files."
        "</footer></main></body></html>\n"
    )
