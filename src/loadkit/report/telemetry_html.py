"""report.html's "System under test" section (`observe:`): each query over the run, the
first resource to saturate, the cost of a request in CPU, the queries per load level and the
small multiples (`telemetry_charts`), as HTML text `html.render_html` places after Capacity."""

from __future__ import annotations

import base64

from loadkit import formatting
from loadkit.report.html_parts import esc
from loadkit.report.telemetry_view import (
    LevelRow,
    cpu_cost,
    cpu_query,
    first_saturated,
    level_rows,
    share,
)
from loadkit.summary_types import Summary, TelemetrySummary
from loadkit.telemetry import SATURATED_SHARE, Telemetry

SECTION_ID = "system"


def _cells(cells: list[str], cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<tr{attr}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _head(names: list[str]) -> str:
    return "<thead><tr>" + "".join(f"<th>{esc(n)}</th>" for n in names) + "</tr></thead>"


def _queries_table(telemetry: TelemetrySummary) -> str:
    rows = []
    for name, q in telemetry["queries"].items():
        unit = q["unit"]
        rows.append(
            _cells(
                [
                    f"<code>{esc(name)}</code>",
                    esc(formatting.measured(q["mean"], unit)),
                    esc(formatting.measured(q["min"], unit)),
                    esc(formatting.measured(q["max"], unit)),
                    esc(formatting.measured(q["limit"], unit)),
                    esc(formatting.measured(q["at_saturation"], unit)),
                    esc(q.get("error", "")),
                ]
            )
        )
    head = _head(["Query", "Mean", "Min", "Max", "Limit", "At the saturation point", "Error"])
    return f'<table class="telemetry">{head}<tbody>{"".join(rows)}</tbody></table>'


def _level_cell(row: LevelRow, name: str, telemetry: TelemetrySummary) -> str:
    q = telemetry["queries"][name]
    value = row.values.get(name)
    used = share(value, q["limit"])
    if used is None:
        return esc(formatting.measured(value, q["unit"]))
    return esc(
        f"{formatting.measured(value, '')} of {formatting.measured(q['limit'], q['unit'])} "
        f"({used * 100:.0f} %)"
    )


def _levels_table(rows: list[LevelRow], telemetry: TelemetrySummary) -> str:
    names = list(telemetry["queries"])
    cpu = cpu_query(telemetry)
    head = ["Load", "Throughput (req/s)", *names]
    if cpu is not None:
        head += ["CPU per request", "req/s per core"]
    body = []
    for row in rows:
        cells = [esc(row.load), esc(formatting.rps(row.throughput_rps))]
        cells += [_level_cell(row, name, telemetry) for name in names]
        if cpu is not None:
            cost = cpu_cost(row.values.get(cpu), row.throughput_rps)
            cells += (
                ["-", "-"]
                if cost is None
                else [esc(f"{cost[0] * 1000:.3g} CPU-ms"), esc(f"{cost[1]:,.0f}")]
            )
        cells.append("saturation point" if row.knee else "")
        body.append(_cells(cells, "saturation" if row.knee else ""))
    return f'<table class="telemetry">{_head([*head, ""])}<tbody>{"".join(body)}</tbody></table>'


def _findings(rows: list[LevelRow], telemetry: TelemetrySummary) -> list[str]:
    lines = []
    limited = [n for n, q in telemetry["queries"].items() if q["limit"] is not None]
    first = first_saturated(rows, telemetry) if rows else None
    if first is not None:
        lines.append(f"First resource to saturate: {first[0]} ({first[1]}).")
    elif limited and rows:
        lines.append(
            f"No resource reached {SATURATED_SHARE * 100:.0f} % of its limit "
            f"({', '.join(limited)}) at any load level."
        )
    cpu = cpu_query(telemetry)
    knee = next((row for row in rows if row.knee), None)
    if cpu is not None and knee is not None:
        cost = cpu_cost(knee.values.get(cpu), knee.throughput_rps)
        if cost is not None:
            lines.append(
                f"Cost per request at the saturation point ({knee.load}): "
                f"{cost[0] * 1000:.3g} CPU-ms ({cpu}); one core sustains about "
                f"{cost[1]:,.0f} req/s."
            )
    return lines


def system_section(summary: Summary, telemetry: Telemetry | None, chart_png: bytes | None) -> str:
    """The section, or "" when the scenario observes nothing."""
    stats = summary.get("telemetry")
    if stats is None:
        return ""
    parts = [
        f'<p class="note">Asked of Prometheus at {esc(stats["prometheus"])} every '
        f"{stats['step_s']:g} s over the run (telemetry.json keeps every series).</p>",
        _queries_table(stats),
    ]
    rows = level_rows(summary.get("capacity"), telemetry) if telemetry is not None else []
    parts += [f'<p class="headline">{esc(line)}</p>' for line in _findings(rows, stats)]
    if rows:
        parts += [
            "<h3>By load level</h3>",
            "<p class=\"note\">Each query's median over the level's steady window.</p>",
            _levels_table(rows, stats),
        ]
    if chart_png is not None:
        uri = "data:image/png;base64," + base64.b64encode(chart_png).decode("ascii")
        parts.append(
            f'<figure id="chart-system"><img src="{uri}" alt="The system under test beside '
            'the load" width="900"><figcaption>Users and throughput, then each query on the '
            "same time axis; the saturation point's steady window shaded, a limit dotted."
            "</figcaption></figure>"
        )
    return f'<section id="{SECTION_ID}"><h2>System under test</h2>{"".join(parts)}</section>'
