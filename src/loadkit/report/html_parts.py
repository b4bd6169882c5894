"""report.html's building blocks, shared by the page (`html`), its sections
(`html_sections`) and the system under test's section (`telemetry_html`): the charts' names
and captions, every value written as escaped HTML text (numbers, percentages, times), tables
and figures."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from loadkit import formatting

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


def _image_uri(data: bytes) -> str:
    mime = "image/png" if data.startswith(b"\x89PNG") else "image/svg+xml"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _figure(name: str, data: bytes) -> str:
    title, how = CHART_CAPTIONS.get(name, (name, ""))
    return (
        f'<figure id="chart-{esc(name)}"><img src="{_image_uri(data)}" '
        f'alt="{esc(title)}" width="900"><figcaption>{esc(how)}</figcaption></figure>'
    )
