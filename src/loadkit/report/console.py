"""What a person sees in the terminal: a live status line and the end-of-run summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from loadkit import formatting
from loadkit.histogram import busiest_order
from loadkit.report import telemetry_view
from loadkit.summary_types import (
    SERVICE,
    ArrivalsInfo,
    RequestRow,
    Summary,
    ThresholdRow,
    TransactionRow,
)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    )


def progress_text(line: Mapping[str, Any], planned_s: float, planned_users: int) -> str:
    """The last complete second (req/s, p95 of its successful requests), then the totals."""
    requests = int(line.get("requests") or 0)
    failures = int(line.get("failures") or 0)
    rate = formatting.percent(failures / requests if requests else 0.0)
    p95 = line.get("p95_ms")
    p95_text = formatting.ms_unit(p95) if isinstance(p95, int | float) else "-"
    failing = [formatting.printable(t) for t in line.get("failing") or []]
    return (
        f"[{_clock(float(line.get('elapsed') or 0))} / {_clock(planned_s)}] "
        f"users {line.get('users', 0)}/{planned_users} | "
        f"{formatting.rps(float(line.get('rps') or 0))} req/s | "
        f"p95 {p95_text} | failures {failures} ({rate})"
        + (f" | FAILING: {'; '.join(failing)}" if failing else "")
    )


class ProgressLine:
    """One line rewritten in place; only used when stdout is a terminal."""

    def __init__(self, stream: TextIO, planned_s: float, planned_users: int) -> None:
        self.stream = stream
        self.planned_s = planned_s
        self.planned_users = planned_users
        self.shown = False

    def update(self, line: Mapping[str, Any]) -> None:
        self.stream.write("\r\x1b[2K" + progress_text(line, self.planned_s, self.planned_users))
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i >= right_from else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


TERMINAL_NAMES = 30
"""Request rows the terminal shows at most (the busiest); the rest on one line."""
REPORT_NAMES = 100
"""...and summary.md and report.html. summary.json keeps every name."""


def shown_requests(summary: Summary, limit: int) -> tuple[list[RequestRow], str | None]:
    """The request rows to show: all of them up to `limit`, else the `limit` busiest (most
    requests first) and a line for the rest: "… and K more names (M requests)"."""
    rows = list(summary.get("requests") or [])
    if len(rows) <= limit:
        return rows, None
    order = sorted(
        range(len(rows)),
        key=lambda i: busiest_order(
            str(rows[i].get("method") or ""),
            str(rows[i].get("name") or ""),
            int(rows[i].get("requests") or 0),
        ),
    )
    hidden = [rows[i] for i in order[limit:]]
    more = sum(int(r.get("requests") or 0) for r in hidden)
    return [rows[i] for i in order[:limit]], (
        f"… and {formatting.count(len(hidden))} more names ({formatting.count(more)} requests)"
    )


def request_table(summary: Summary) -> list[str]:
    """Times are the successful requests' (ms); Apdex with its rating."""
    headers = ["Request", "Reqs", "Fails", "Req/s", "Avg", "p50", "p95", "p99", "Max (ms)", "Apdex"]
    rows = []
    total: RequestRow = {**summary["totals"], "method": "", "name": "Total"}
    shown, more = shown_requests(summary, TERMINAL_NAMES)
    for row in shown:
        label = formatting.printable(formatting.request_label(row["method"], row["name"]))
        rows.append(_row_cells(label, row["requests"], row["rps"], row))
    if more:
        rows.append([more, *([""] * (len(headers) - 1))])
    rows.append(_row_cells("Total", total["requests"], total["rps"], total))
    return table(headers, rows)


def _row_cells(
    label: str, count: int, rate: float | None, row: RequestRow | TransactionRow
) -> list[str]:
    """One table row: count, failures, rate, times (ms), Apdex with its rating."""
    apdex = row.get("apdex")
    score, rating = (apdex.get("score"), apdex.get("rating")) if apdex else (None, None)
    return [
        label,
        formatting.count(count),
        formatting.count(row["failures"]),
        formatting.rps(rate),
        *(formatting.ms(row[key]) for key in ("avg_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")),
        f"{formatting.score(score)} {rating or ''}".rstrip(),
    ]


def transaction_rows(summary: Summary) -> tuple[list[TransactionRow], TransactionRow | None]:
    """The transactions, and all of them together when there are several (none in a summary
    from before loadkit timed transactions)."""
    rows = list(summary.get("transactions") or [])
    totals = summary.get("transaction_totals")
    return rows, (totals if totals and len(rows) > 1 else None)


def transaction_table(summary: Summary) -> list[str]:
    """Each flow timed as one unit: think time excluded, times of the successful ones."""
    named, total = transaction_rows(summary)
    if not named:
        return []
    rows: list[TransactionRow] = list(named)
    if total:
        rows.append({**total, "name": "Total"})
    headers = ["Transaction", "Count", "Fails", "Txn/s", "Avg", "p50", "p95", "p99", "Max (ms)",
               "Apdex"]  # fmt: skip
    cells = [
        _row_cells(formatting.printable(row["name"]), row["transactions"], row["tps"], row)
        for row in rows
    ]
    return table(headers, cells)


def threshold_lines(summary: Summary) -> list[str]:
    lines = []
    for t in summary["thresholds"]:
        mark = "PASS" if t["passed"] else "FAIL"
        actual = format_threshold_actual(t)
        note = f" - {t['note']}" if t["note"] else ""
        default = " (default)" if t["default"] else ""
        lines.append(f"  {mark}  {t['expression']}{default}   actual {actual}{note}")
    return lines


def format_threshold_actual(t: ThresholdRow) -> str:
    return formatting.metric_value(t["unit"], t["actual"], metric=t["metric"])


def load_line(summary: Summary) -> str | None:
    """Planned against delivered load, in one line (none in a summary from before loadkit
    recorded it)."""
    load = summary.get("load")
    if not load:
        return None
    stages = load["stages"]
    if len(stages) == 1 and stages[0]["reached_users"] is not None:
        users = f"users planned {load['planned_users']}, reached {stages[0]['reached_users']}"
    else:
        users = f"users planned up to {load['planned_users']}, peak {load['peak_users']}"
        short = [
            str(n)
            for n, s in enumerate(stages, start=1)
            if s["reached_users"] is not None and s["reached_users"] < s["planned_users"]
        ]
        if short:
            users += f" (fewer than planned in stage {', '.join(short)})"
    delivered = load.get("delivered_s")
    seconds = "" if delivered is None else f"; load for {delivered:.1f} of {load['planned_s']:g} s"
    cpu = load.get("generator_cpu") or []
    busiest = max((p["max_percent"] for p in cpu), default=None)
    generator = "" if busiest is None else f"; generator CPU max {busiest:.0f}%"
    return f"{users}{seconds}{generator}"


CORRECTED_TIMES = (
    "Service time runs from the moment a request was actually sent; corrected time from the "
    "moment it should have been sent, by its schedule (arrival rates, pacing): the service "
    "time plus how late its iteration started. When the target stalls, the users are stuck "
    "waiting and the requests that would have measured the stall are sent late or not at all, "
    "so service times stay low while the people arriving meanwhile wait (coordinated "
    "omission). The corrected time counts that wait; with an open model it is what thresholds "
    "judge unless they say `service`."
)
"""The one explanation of the two times, for every renderer."""


def arrivals_of(summary: Summary) -> ArrivalsInfo | None:
    """The open model's arrivals (None for a closed model, or a summary from before them)."""
    load = summary.get("load")
    return load.get("arrivals") if load else None


def arrivals_line(summary: Summary) -> str | None:
    """The open model's target against achieved arrivals, in one line."""
    arrivals = arrivals_of(summary)
    if arrivals is None:
        return None
    achieved = arrivals["achieved_rate"]
    achieved_text = "-" if achieved is None else f"{formatting.rps(achieved)}/s"
    return (
        f"target {formatting.rps(arrivals['target_rate'])}/s ({arrivals['spacing']}), "
        f"achieved {achieved_text}; {formatting.count(arrivals['arrived'])} arrived, "
        f"{formatting.count(arrivals['started'])} started "
        f"({formatting.count(arrivals['delayed'])} delayed), "
        f"{formatting.count(arrivals['dropped'])} dropped, "
        f"{formatting.count(arrivals['waiting'])} waiting at the end; "
        f"users busy at most {arrivals['peak_busy']} of {arrivals['max_concurrency']}"
    )


def timing_table(summary: Summary) -> list[str]:
    """Service and corrected times side by side (ms), when some starts were scheduled."""
    total: RequestRow = {**summary["totals"], "method": "", "name": "Total"}
    rows = [r for r in [*summary["requests"], total] if r.get("corrected")]
    txn_rows, txn_total = transaction_rows(summary)
    txns = [
        (f"txn {r['name']}", r)
        for r in [*txn_rows, *([txn_total] if txn_total else [])]
        if r.get("corrected")
    ]
    if not rows and not txns:
        return []
    headers = ["Request", "p50", "p50 corr", "p95", "p95 corr", "p99", "p99 corr", "Max",
               "Max corr (ms)", "Apdex corr"]  # fmt: skip
    cells = []
    labelled = [(formatting.request_label(r["method"], r["name"]), r) for r in rows]
    for label, row in [*labelled, *txns]:
        fixed = row["corrected"]
        assert fixed is not None
        cells.append(
            [
                formatting.printable(label),
                *(
                    formatting.ms(value)
                    for pair in (
                        (row["p50_ms"], fixed["p50_ms"]),
                        (row["p95_ms"], fixed["p95_ms"]),
                        (row["p99_ms"], fixed["p99_ms"]),
                        (row["max_ms"], fixed["max_ms"]),
                    )
                    for value in pair
                ),
                formatting.score(fixed["apdex"]),
            ]
        )
    return table(headers, cells)


def final_report(summary: Summary, run_folder: str) -> str:
    run = summary["run"]
    arrivals = arrivals_of(summary)
    if arrivals:
        what = (
            f"{formatting.rps(arrivals['target_rate'])} arrivals/s on up to "
            f"{arrivals['max_concurrency']} users"
        )
    else:
        what = f"{run['users']} users at {run['spawn_rate']:g}/s"
    lines = [
        f"Scenario {summary['scenario']['name']}: {what} "
        f"for {run['elapsed_s']:.1f}s against {run['host']}",
    ]
    load = load_line(summary)
    if load:
        lines.append(f"Load: {load}")
    arrival = arrivals_line(summary)
    if arrival:
        lines.append(f"Arrivals: {arrival}")
    lines += ["", *request_table(summary)]
    timing = timing_table(summary)
    if timing:
        default = summary.get("timing", SERVICE)  # an older summary.json has none
        lines += [
            "",
            "Service vs corrected times (corrected: from the intended start, coordinated "
            f"omission included; thresholds judge {default} times unless they say otherwise):",
            *timing,
        ]
    transactions = transaction_table(summary)
    if transactions:
        lines += ["", "Transactions (flows timed end to end, think time excluded):", *transactions]
    if summary["failures"]:
        lines += ["", "Failures:"]
        for f in summary["failures"][:10]:
            label = formatting.request_label(f["method"], f["name"])
            what = formatting.printable(f"{label}: {f['error']}")
            lines.append(f"  {f['occurrences']:>6}  {what}")
    capacity = summary.get("capacity")
    if capacity and capacity.get("headline"):
        lines += ["", capacity["headline"]]
    system = telemetry_view.summary_lines(summary)
    if system:
        lines += ["", *system]
    lines += ["", "Thresholds:", *threshold_lines(summary), ""]
    for warning in summary.get("warnings", []):
        lines.append(f"Warning: {warning}")
    verdict = summary["verdict"].upper()
    lines.append(f"Verdict: {verdict} (exit code {summary['exit_code']})")
    for reason in summary["reasons"]:
        lines.append(f"  - {reason}")
    lines.append(f"Run folder: {run_folder}")
    return "\n".join(lines)
