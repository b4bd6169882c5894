"""report.html's sections that show more than the run's own figures: History (this run
among the earlier runs of its scenario), Capacity (the load levels and the saturation point)
and Slowest requests (trace links), as HTML text `html.render_html` places in the page."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from loadkit import formatting
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
from loadkit.report.html_parts import (
    CAPACITY_CHARTS,
    HISTORY_CHART,
    _figure,
    _ms,
    _number,
    _percent,
    _row,
    _table,
    _time,
    esc,
)
from loadkit.run_folder import RunFolder
from loadkit.summary_types import Summary


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
