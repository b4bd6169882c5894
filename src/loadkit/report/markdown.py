"""summary.md: the verdict as Markdown, fit for a CI job summary or a pull-request comment."""

from __future__ import annotations

import html

from loadkit import formatting
from loadkit.exit_codes import Verdict
from loadkit.report import telemetry_view
from loadkit.report.console import (
    CORRECTED_TIMES,
    REPORT_NAMES,
    arrivals_line,
    arrivals_of,
    format_threshold_actual,
    load_line,
    shown_requests,
    transaction_rows,
)
from loadkit.summary_types import CapacityDict, RequestRow, Summary

_ICONS = {Verdict.PASS: "✅", Verdict.FAIL: "❌", Verdict.ABORTED: "⚠️", Verdict.ERROR: "💥"}


def _cell(value: object, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    # Text from the scenario or a response: one line, no HTML a Markdown renderer would obey.
    return html.escape(formatting.printable(value), quote=False).replace("|", "\\|")


def render_markdown(summary: Summary) -> str:
    run = summary["run"]
    icon = _ICONS[summary["verdict"]]
    arrivals = arrivals_of(summary)
    what = (
        f"{formatting.rps(arrivals['target_rate'])} arrivals/s on up to "
        f"{arrivals['max_concurrency']} users"
        if arrivals
        else f"{run['users']} users at {run['spawn_rate']:g}/s"
    )
    lines = [
        f"## {icon} loadkit: {_cell(summary['scenario']['name'])} — {summary['verdict'].upper()}",
        "",
        f"{what} for {run['elapsed_s']:.1f} s "
        f"against `{run['host']}` (exit code {summary['exit_code']}).",
        "",
    ]
    load = load_line(summary)
    if load:
        lines += [f"Load: {load}", ""]
    arrival = arrivals_line(summary)
    if arrival:
        lines += [f"Arrivals: {arrival}", ""]
    history = summary.get("history")
    if history:
        lines += [f"Trend: {history['trend']} (run `{history['run_id']}`)", ""]
    for reason in summary["reasons"]:
        lines.append(f"- {reason}")
    for warning in summary.get("warnings", []):
        lines.append(f"- ⚠️ {warning}")
    if summary["reasons"] or summary.get("warnings"):
        lines.append("")
    lines += ["### Thresholds", "", "| | Threshold | Actual |", "|---|---|---|"]
    for t in summary["thresholds"]:
        mark = "✅" if t["passed"] else "❌"
        note = f" ({t['note']})" if t["note"] else ""
        default = " *(default)*" if t["default"] else ""
        lines.append(
            f"| {mark} | `{t['expression']}`{default} | {format_threshold_actual(t)}{_cell(note)} |"
        )
    lines += _capacity(summary.get("capacity"))
    system = telemetry_view.summary_lines(summary)
    if system:
        lines += ["", "### System under test", "", _cell(system[0]), ""]
        lines += [f"- {_cell(line.strip())}" for line in system[1:]]
    lines += [
        "",
        "### Requests",
        "",
        "| Request | Requests | Failures | Req/s | Avg ms | p50 | p90 | p95 | p99 | Max ms "
        "| Apdex |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    f = formatting
    total: RequestRow = {**summary["totals"], "method": "", "name": "**Total**"}
    shown, more = shown_requests(summary, REPORT_NAMES)
    for row in [*shown, total]:
        if row is total and more:
            lines.append(f"| {_cell(more)} |" + " |" * 10)
        label = formatting.request_label(row["method"], _cell(row["name"]))
        lines.append(
            f"| {label} | {f.count(row['requests'])} | {f.count(row['failures'])} | "
            f"{f.rps(row['rps'])} | {f.ms(row['avg_ms'])} | {f.ms(row['p50_ms'])} | "
            f"{f.ms(row['p90_ms'])} | {f.ms(row['p95_ms'])} | {f.ms(row['p99_ms'])} | "
            f"{f.ms(row['max_ms'])} | {f.apdex(row.get('apdex'))} |"
        )
    lines += _timing(summary)
    transactions, transactions_total = transaction_rows(summary)
    if transactions:
        lines += [
            "",
            "### Transactions",
            "",
            "Each flow timed end to end, think time excluded; a transaction fails when any of "
            "its requests or checks fails.",
            "",
            "| Transaction | Count | Failures | Txn/s | Avg ms | p50 | p90 | p95 | p99 | Max ms "
            "| Apdex |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
        ]
    labelled = [(_cell(t["name"]), t) for t in transactions]
    if transactions_total:
        labelled.append(("**Total**", transactions_total))
    for label, txn in labelled:
        lines.append(
            f"| {label} | {f.count(txn['transactions'])} | "
            f"{f.count(txn['failures'])} | {f.rps(txn['tps'])} | {f.ms(txn['avg_ms'])} | "
            f"{f.ms(txn['p50_ms'])} | {f.ms(txn['p90_ms'])} | {f.ms(txn['p95_ms'])} | "
            f"{f.ms(txn['p99_ms'])} | {f.ms(txn['max_ms'])} | {f.apdex(txn.get('apdex'))} |"
        )
    if summary["failures"]:
        lines += ["", "### Failures", "", "| Occurrences | Request | Error |", "|--:|---|---|"]
        for failure in summary["failures"]:
            lines.append(
                f"| {failure['occurrences']} | "
                f"{formatting.request_label(failure['method'], _cell(failure['name']))} | "
                f"{_cell(failure['error'])} |"
            )
    return "\n".join(lines) + "\n"


def _timing(summary: Summary) -> list[str]:
    """Service and corrected times side by side, when some iterations started on a schedule."""
    f = formatting
    total: RequestRow = {**summary["totals"], "method": "", "name": "**Total**"}
    rows = [r for r in [*summary["requests"], total] if r.get("corrected")]
    if not rows:
        return []
    lines = [
        "",
        "### Service and corrected times",
        "",
        _cell(CORRECTED_TIMES),
        "",
        "| Request | p50 ms | corrected | p95 ms | corrected | p99 ms | corrected | Max ms "
        "| corrected |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        fixed = row["corrected"]
        assert fixed is not None
        label = formatting.request_label(row["method"], _cell(row["name"]))
        lines.append(
            f"| {label} | {f.ms(row['p50_ms'])} | {f.ms(fixed['p50_ms'])} | "
            f"{f.ms(row['p95_ms'])} | {f.ms(fixed['p95_ms'])} | {f.ms(row['p99_ms'])} | "
            f"{f.ms(fixed['p99_ms'])} | {f.ms(row['max_ms'])} | {f.ms(fixed['max_ms'])} |"
        )
    return lines


def _capacity(capacity: CapacityDict | None) -> list[str]:
    """The capacity headline and the load levels, the saturation point's row marked; both read
    the summary's one saturation field, ``knee_users`` (see loadkit.capacity), or for an open
    model (``load_axis`` "arrivals/s": levels by offered arrival rate) ``knee_rate``."""
    if not capacity:
        return []
    lines = ["", "### Capacity", "", _cell(capacity["headline"])]
    levels = capacity.get("levels") or []
    arrivals = capacity.get("load_axis") == "arrivals/s"
    knee = capacity.get("knee_rate") if arrivals else capacity.get("knee_users")
    unit = capacity.get("throughput_unit", "req/s")
    of = "request " if unit == "txn/s" else ""  # the times stay the requests' with txn/s
    if levels:
        lines += [
            "",
            f"| {'Arrivals/s' if arrivals else 'Users'} | {unit.capitalize()} | {of}p50 ms "
            f"| {of}p95 ms | {of}p99 ms | {of}errors |".replace("| errors", "| Errors") + " |",
            "|--:|--:|--:|--:|--:|--:|---|",
        ]
    for level in levels:
        load = level.get("arrival_rate") if arrivals else level["users"]
        mark = "**saturation point**" if knee is not None and load == knee else ""
        shown = f"{load:g}" if arrivals and load is not None else str(level["users"])
        lines.append(
            f"| {shown} | {formatting.rps(level['throughput_rps'])}"
            f" | {formatting.ms(level['p50_ms'])} | {formatting.ms(level['p95_ms'])}"
            f" | {formatting.ms(level['p99_ms'])} | {formatting.percent(level['error_rate'])}"
            f" | {mark} |"
        )
    return lines
