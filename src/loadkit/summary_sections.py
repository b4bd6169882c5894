"""summary.json's sections that come from beside Locust's statistics, built apart from the
verdict (`summary`): the capacity analysis as data (`capacity_dict`) and the SLO it judges load
levels by (`slo_of`), the slowest traced requests (`trace: true`), and the system under test's
telemetry (`observe:`) with what it warns about."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from loadkit.run_folder import RunFolder
from loadkit.scenario import Scenario
from loadkit.scenario.thresholds import OPERATORS, Threshold
from loadkit.summary_types import (
    CapacityDict,
    JudgedStageDict,
    SlowestRequests,
    TelemetrySummary,
    TracedRequest,
)
from loadkit.telemetry import Telemetry, knee_window
from loadkit.telemetry import summarize as summarize_telemetry

if TYPE_CHECKING:  # capacity needs pandas/numpy: imported by the runner only when used
    from loadkit.capacity import CapacityReport, LoadLevel
    from loadkit.capacity_search import StepResult


def slowest_requests(final: Mapping[str, Any] | None) -> list[SlowestRequests]:
    """The final snapshot's slowest traced requests, grouped by request (method, name)."""
    grouped: dict[tuple[str, str], list[TracedRequest]] = defaultdict(list)
    for row in (final or {}).get("slowest") or []:
        grouped[(row["name"], row["method"])].append(
            {
                "trace_id": row["trace_id"],
                "span_id": row["span_id"],
                "response_time_ms": round(row["response_time_ms"], 3),
                "started_at": row["started_at"],
                "failed": row["failed"],
            }
        )
    return [
        {
            "method": method,
            "name": name,
            "slowest": sorted(rows, key=lambda r: -r["response_time_ms"]),
        }
        for (name, method), rows in sorted(grouped.items())
    ]


def telemetry_section(
    telemetry: Telemetry | None, capacity: CapacityDict | None
) -> TelemetrySummary | None:
    return None if telemetry is None else summarize_telemetry(telemetry, knee_window(capacity))


def telemetry_warnings(summary: TelemetrySummary | None, telemetry: Telemetry | None) -> list[str]:
    if telemetry is None:
        return [f"observe: no {TELEMETRY_FILE}: Prometheus was not asked for the system's metrics"]
    return [
        f"observe: query {name}: {row['error']}"
        for name, row in (summary or {"queries": {}})["queries"].items()
        if "error" in row
    ]


TELEMETRY_FILE = RunFolder.TELEMETRY_JSON


def capacity_dict(capacity: CapacityReport | None) -> CapacityDict | None:
    if capacity is None:
        return None
    # The dataclasses' fields in their order (as dataclasses.asdict gives them), typed; the
    # open model's only for an open model (a closed model's capacity stays as it was).
    usl = capacity.usl
    data: CapacityDict = {
        "headline": capacity.headline(),
        "levels": [
            {
                "users": level.users,
                "start": level.start,
                "end": level.end,
                "requests": level.requests,
                "throughput_rps": level.throughput_rps,
                "p50_ms": level.p50_ms,
                "p95_ms": level.p95_ms,
                "p99_ms": level.p99_ms,
                "error_rate": level.error_rate,
                "apdex": level.apdex,
            }
            for level in capacity.levels
        ],
        "knee_users": capacity.knee_users,
        "usl": None
        if usl is None
        else {
            "sigma": usl.sigma,
            "kappa": usl.kappa,
            "lambda_rps": usl.lambda_rps,
            "r_squared": usl.r_squared,
            "peak_users": usl.peak_users,
            "peak_rps": usl.peak_rps,
        },
        "max_users_within_slo": capacity.max_users_within_slo,
        "max_rps_within_slo": capacity.max_rps_within_slo,
        "insufficient": capacity.insufficient,
        "capacity_rps": capacity.capacity_rps,
        "slo_given": capacity.slo_given,
        "throughput_unit": capacity.throughput_unit,
        "saturated_at_lowest": capacity.saturated_at_lowest,
    }
    if capacity.load_axis != "users":
        for row, level in zip(data["levels"], capacity.levels, strict=True):
            row["arrival_rate"] = level.arrival_rate
        data["load_axis"] = capacity.load_axis
        data["knee_rate"] = capacity.knee_rate
        data["max_rate_within_slo"] = capacity.max_rate_within_slo
        if capacity.judged:
            held, broke = capacity.sustained, capacity.breaking
            data["sustained_rate"] = capacity.sustained_rate
            data["breaking_rate"] = capacity.breaking_rate
            data["sustained"] = None if held is None else _judged_stage(held)
            data["breaking"] = None if broke is None else _judged_stage(broke)
    return data


def _judged_stage(step: StepResult) -> JudgedStageDict:
    return {
        "rate": step.rate,
        "requests_per_s": step.requests_per_s,
        "transactions_per_s": step.transactions_per_s,
        "p95_ms": step.p95_ms,
        "reasons": list(step.reasons),
    }


def slo_of(scenario: Scenario) -> Callable[[LoadLevel], bool] | None:
    """The scenario's whole-run thresholds that a load level can be judged by (p50, p95, p99,
    error rate, Apdex), as one SLO for the capacity analysis; None if there are none."""
    checks: list[Callable[[LoadLevel], float | None]] = []
    limits: list[Threshold] = []
    fields: dict[str, Callable[[LoadLevel], float | None]] = {
        "p50": lambda lv: lv.p50_ms,
        "median": lambda lv: lv.p50_ms,
        "p95": lambda lv: lv.p95_ms,
        "p99": lambda lv: lv.p99_ms,
        "error_rate": lambda lv: lv.error_rate,
        "apdex": lambda lv: lv.apdex,
    }
    for t in scenario.thresholds:
        if (
            t.scope is None
            and t.user is None
            and t.window_s is None
            and not t.on_transactions  # a level is measured on requests
            and t.metric in fields
        ):
            if t.metric == "apdex" and t.apdex_t_ms is not None:
                continue  # a level's Apdex is computed with the scenario's T only
            checks.append(fields[t.metric])
            limits.append(t)
    if not checks:
        return None

    def slo(level: LoadLevel) -> bool:
        for value_of, t in zip(checks, limits, strict=True):
            value = value_of(level)
            if value is None or not OPERATORS[t.op](value, t.limit):
                return False
        return True

    return slo
