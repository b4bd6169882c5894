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

from collections.abc import Mapping, Sequence
from urllib.parse import quote

from loadkit import formatting
from loadkit.exit_codes import Verdict
from loadkit.report.capacity_view import CapacityReportLike
from loadkit.report.console import (
    CORRECTED_TIMES,
    REPORT_NAMES,
    arrivals_line,
    arrivals_of,
    format_threshold_actual,
    load_line,
    shown_requests,
)
from loadkit.report.html_parts import (
    CHART_CAPTIONS,
    SECTION_CHARTS,
    _figure,
    _ms,
    _number,
    _percent,
    _row,
    _status,
    _table,
    _time,
    _time_cells,
    esc,
)
from loadkit.report.html_sections import _capacity, _history, _slowest
from loadkit.run_folder import RunFolder
from loadkit.summary_types import SERVICE, RequestRow, Summary, TransactionRow

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
