"""What a person sees in the terminal: a live status line and the end-of-run summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TextIO


def _clock(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    )


def progress_text(line: Mapping[str, Any], planned_s: float, planned_users: int) -> str:
    requests = int(line.get("requests") or 0)
    failures = int(line.get("failures") or 0)
    rate = f"{failures / requests * 100:.2f}%" if requests else "0.00%"
    p95 = line.get("p95_ms")
    p95_text = f"{p95:.0f} ms" if isinstance(p95, int | float) and requests else "-"
    return (
        f"[{_clock(float(line.get('elapsed') or 0))} / {_clock(planned_s)}] "
        f"users {line.get('users', 0)}/{planned_users} | {float(line.get('rps') or 0):.1f} req/s | "
        f"p95 {p95_text} | failures {failures} ({rate})"
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


def _fmt(value: object, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


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


def request_table(summary: Mapping[str, Any]) -> list[str]:
    headers = ["Request", "Reqs", "Fails", "Req/s", "Avg", "p50", "p95", "p99", "Max (ms)"]
    rows = []
    for row in [*summary["requests"], {**summary["totals"], "method": "", "name": "Total"}]:
        label = f"{row['method']} {row['name']}".strip()
        rows.append(
            [
                label,
                str(row["requests"]),
                str(row["failures"]),
                _fmt(row["rps"], 1),
                _fmt(row["avg_ms"], 1),
                _fmt(row["p50_ms"]),
                _fmt(row["p95_ms"]),
                _fmt(row["p99_ms"]),
                _fmt(row["max_ms"]),
            ]
        )
    return table(headers, rows)


def threshold_lines(summary: Mapping[str, Any]) -> list[str]:
    lines = []
    for t in summary["thresholds"]:
        mark = "PASS" if t["passed"] else "FAIL"
        actual = format_threshold_actual(t)
        note = f" - {t['note']}" if t["note"] else ""
        default = " (default)" if t["default"] else ""
        lines.append(f"  {mark}  {t['expression']}{default}   actual {actual}{note}")
    return lines


def format_threshold_actual(t: Mapping[str, Any]) -> str:
    actual = t["actual"]
    if actual is None:
        return "n/a"
    if t["unit"] == "%":
        return f"{actual * 100:.2f}%"
    if t["unit"] == "ms":
        return f"{actual:g} ms"
    if t["unit"] == "req/s":
        return f"{actual:.1f} req/s"
    return f"{actual:g}"


def final_report(summary: Mapping[str, Any], run_folder: str) -> str:
    run = summary["run"]
    lines = [
        f"Scenario {summary['scenario']['name']}: {run['users']} users at {run['spawn_rate']:g}/s "
        f"for {run['elapsed_s']:.1f}s against {run['host']}",
        "",
        *request_table(summary),
    ]
    if summary["failures"]:
        lines += ["", "Failures:"]
        for f in summary["failures"][:10]:
            lines.append(f"  {f['occurrences']:>6}  {f['method']} {f['name']}: {f['error']}")
    lines += ["", "Thresholds:", *threshold_lines(summary), ""]
    verdict = summary["verdict"].upper()
    lines.append(f"Verdict: {verdict} (exit code {summary['exit_code']})")
    for reason in summary["reasons"]:
        lines.append(f"  - {reason}")
    lines.append(f"Run folder: {run_folder}")
    return "\n".join(lines)
