"""The run's verdict as data: final stats + thresholds -> `summary.json`.

Pure functions: the same inputs always give the same summary, so the verdict can be rebuilt
from a run folder and tested on fixtures. summary.json's structure, field by field, is stated
once, in `loadkit.summary_types` (`Summary` and its parts); the verdict is a `Verdict`, whose
exit status sits next to `ExitStatus` in `loadkit.exit_codes`.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loadkit import __version__
from loadkit.apdex import DEFAULT_APDEX_T_MS, apdex
from loadkit.compiler import user_class_names
from loadkit.delivery import load_delivered
from loadkit.exit_codes import Verdict
from loadkit.histogram import (
    MAX_NAMED_SERIES,
    OTHER_NAMES,
    TRANSACTION_TYPE,
    RequestHistogram,
    RunHistograms,
    busiest_order,
)
from loadkit.measurements import ApdexTargets, RunMeasurements
from loadkit.request_stats import RequestStats
from loadkit.scenario import Scenario
from loadkit.scenario.durations import format_duration
from loadkit.scenario.thresholds import (
    Threshold,
    ThresholdResult,
    evaluate,
    judge,
    parse_threshold,
)
from loadkit.settings import RunSettings
from loadkit.summary_sections import (
    capacity_dict,
    slowest_requests,
    telemetry_section,
    telemetry_warnings,
)
from loadkit.summary_types import (
    CORRECTED,
    SERVICE,
    AbortedBy,
    ExceptionRow,
    FailureRow,
    RequestRow,
    Summary,
    ThresholdRow,
    Timing,
    TransactionRow,
    UserTypeInfo,
)
from loadkit.telemetry import Telemetry, judge_server

if TYPE_CHECKING:  # capacity needs pandas/numpy: imported by the runner only when used
    from loadkit.capacity import CapacityReport
    from loadkit.scenario.tasks import ThinkTime

SCHEMA = "loadkit.summary/1"
DEFAULT_THRESHOLDS = ("error_rate < 1%",)
"""Applied when a scenario lists none, so that a dead target never passes."""


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def request_row(
    stats: RequestStats,
    elapsed_s: float,
    fine: RequestHistogram | None = None,
    apdex_t_ms: float = DEFAULT_APDEX_T_MS,
    corrected: RequestHistogram | None = None,
) -> RequestRow:
    """One row of the table. Times come from loadkit's fine histogram when there is one
    (0.25 % resolution), else from Locust's (rounded to 10 ms above 100 ms); `corrected`
    adds the corrected times (from the intended start) next to them."""
    row = _locust_row(stats, elapsed_s)
    if corrected is not None and corrected.requests:
        ok = corrected.ok
        c50, c90, c95, c99 = ok.percentiles([0.50, 0.90, 0.95, 0.99])
        corrected_score = apdex(corrected, apdex_t_ms).score
        row["corrected"] = {
            "avg_ms": _rounded(ok.mean_ms),
            "p50_ms": _rounded(c50),
            "p90_ms": _rounded(c90),
            "p95_ms": _rounded(c95),
            "p99_ms": _rounded(c99),
            "max_ms": _rounded(ok.max_ms),
            "apdex": None if corrected_score is None else round(corrected_score, 4),
        }
    if fine is not None and fine.requests:
        ok = fine.ok
        p50, p90, p95, p99 = ok.percentiles([0.50, 0.90, 0.95, 0.99])
        row["avg_ms"] = _rounded(ok.mean_ms)
        row["min_ms"] = _rounded(ok.min_ms)
        row["max_ms"] = _rounded(ok.max_ms)
        row["p50_ms"] = _rounded(p50)
        row["p90_ms"] = _rounded(p90)
        row["p95_ms"] = _rounded(p95)
        row["p99_ms"] = _rounded(p99)
        failed = fine.failed
        if failed.timed:
            f50, f95 = failed.percentiles([0.50, 0.95])
            row["failed_ms"] = {
                "requests": failed.total,
                "avg_ms": _rounded(failed.mean_ms),
                "p50_ms": _rounded(f50),
                "p95_ms": _rounded(f95),
                "max_ms": _rounded(failed.max_ms),
            }
        score = apdex(fine, apdex_t_ms)
        row["apdex"] = {
            "t_ms": apdex_t_ms,
            "score": None if score.score is None else round(score.score, 4),
            "rating": score.rating,
            "max_error": round(score.max_error, 4),
        }
    return row


def _locust_row(stats: RequestStats, elapsed_s: float) -> RequestRow:
    """From Locust's statistics, whose times mix successful and failed requests; when every
    request failed there is no successful time to show. No Apdex: it needs loadkit's
    histograms."""
    rounded = _rounded
    all_failed = bool(stats.requests) and stats.failures >= stats.requests
    return {
        "method": stats.method,
        "name": stats.name,
        "requests": stats.requests,
        "failures": stats.failures,
        "error_rate": rounded(stats.error_rate),
        "rps": round(stats.requests / elapsed_s, 2) if elapsed_s > 0 else None,
        "avg_ms": None if all_failed else rounded(stats.avg_ms),
        "min_ms": None if all_failed else rounded(stats.min_ms),
        "max_ms": None if all_failed or not stats.timed_requests else rounded(stats.max_ms),
        "p50_ms": None if all_failed else stats.percentile(0.50),
        "p90_ms": None if all_failed else stats.percentile(0.90),
        "p95_ms": None if all_failed else stats.percentile(0.95),
        "p99_ms": None if all_failed else stats.percentile(0.99),
        "avg_bytes": round(stats.content_bytes / stats.requests) if stats.requests else None,
        "failed_ms": None,
        "apdex": None,
        "corrected": None,
    }


def transaction_row(
    stats: RequestStats,
    elapsed_s: float,
    fine: RequestHistogram | None = None,
    apdex_t_ms: float = DEFAULT_APDEX_T_MS,
    corrected: RequestHistogram | None = None,
) -> TransactionRow:
    """One transaction (all user types together), or all of them: measured as a request row
    is (the times of the successful ones, Apdex counting failures as frustrated)."""
    row = request_row(stats, elapsed_s, fine, apdex_t_ms, corrected)
    return {
        "name": row["name"],
        "transactions": row["requests"],
        "failures": row["failures"],
        "error_rate": row["error_rate"],
        "tps": row["rps"],
        "avg_ms": row["avg_ms"],
        "min_ms": row["min_ms"],
        "max_ms": row["max_ms"],
        "p50_ms": row["p50_ms"],
        "p90_ms": row["p90_ms"],
        "p95_ms": row["p95_ms"],
        "p99_ms": row["p99_ms"],
        "failed_ms": row["failed_ms"],
        "apdex": row["apdex"],
        "corrected": row["corrected"],
    }


def default_timing(settings: RunSettings) -> Timing:
    """What a time threshold that names neither judges: an open model's arrivals come whether
    or not the target keeps up, so what a user waits is the corrected time; a closed model's
    users wait for each response, and its times are service times."""
    return CORRECTED if settings.arrivals is not None else SERVICE


def thresholds_of(scenario: Scenario) -> tuple[list[Threshold], bool]:
    """The scenario's thresholds, or the defaults (and True) when it lists none."""
    if scenario.thresholds:
        return list(scenario.thresholds), False
    return [parse_threshold(t) for t in DEFAULT_THRESHOLDS], True


def user_types(scenario: Scenario, settings: RunSettings) -> list[UserTypeInfo]:
    """The scenario's users as they shape the load: weight and think time (see `UserTypeInfo`)."""
    open_model = settings.arrivals is not None
    return [
        {
            "name": user.name,
            "weight": user.weight,
            "think_time": None
            if open_model
            else think_time_text(user.think_time or scenario.defaults.think_time),
        }
        for user in scenario.users
    ]


def think_time_text(think: ThinkTime) -> str:
    """How a user waits, as a person compares two runs: "pacing 2s", "between 1s and 3s"."""
    if think.between is not None:
        low, high = think.between
        return f"between {format_duration(low)} and {format_duration(high)}"
    if think.pacing is not None:
        return f"pacing {format_duration(think.pacing)}"
    return f"constant {format_duration(think.constant or 0.0)}"


def build_summary(
    final: Mapping[str, Any] | None,
    scenario: Scenario,
    settings: RunSettings,
    *,
    source_file: str,
    aborted: bool,
    histograms: RunHistograms | None = None,
    capacity: CapacityReport | None = None,
    killed: str | None = None,
    partial: str | None = None,
    corrected: RunHistograms | None = None,
    telemetry: Telemetry | None = None,
) -> Summary:
    """`histograms` (histograms.json) gives exact-to-0.25 % times, Apdex, per-user and windowed
    thresholds; without it the summary falls back to Locust's own histograms. `killed` says
    why the Locust process had to be killed; `partial` where the numbers came from when Locust
    wrote no final snapshot (they may miss the last second or so of the run)."""
    # Transactions are Locust entries of their own type: kept apart, so that the request
    # counts (totals, thresholds, verdict) stay equal to what the target served.
    everything = [RequestStats.from_locust(e) for e in (final or {}).get("entries", [])]
    everything.sort(key=lambda s: (s.name, s.method))
    entries = [e for e in everything if e.method != TRANSACTION_TYPE]
    txn_entries = [e for e in everything if e.method == TRANSACTION_TYPE]
    total = RequestStats.merge("Aggregated", entries)
    txn_by_name = {
        name: RequestStats.merge(name, [e for e in txn_entries if e.name == name])
        for name in sorted({e.name for e in txn_entries})
    }
    started = (final or {}).get("started_at")
    stopped = (final or {}).get("stopped_at")
    elapsed = max(0.0, stopped - started) if started and stopped else 0.0
    by_name: dict[str, list[RequestStats]] = defaultdict(list)
    for entry in entries:
        by_name[entry.name].append(entry)
    named = {name: RequestStats.merge(name, parts) for name, parts in by_name.items()}

    targets = apdex_targets(scenario)
    thresholds, defaulted = thresholds_of(scenario)
    timing = default_timing(settings)
    if histograms is not None:
        run = RunMeasurements(
            histograms,
            elapsed,
            user_class_names(scenario),
            targets,
            corrected=corrected,
            default_timing=timing,
        )
        results = [
            judge_server(t, telemetry) if t.server is not None else judge(t, run)
            for t in thresholds
        ]
    else:
        results = [
            judge_server(t, telemetry)
            if t.server is not None
            else evaluate(t, total, named, elapsed, txn_by_name)
            for t in thresholds
        ]
    requests_fine = histograms.requests_only() if histograms is not None else None
    txn_fine = histograms.transactions_only() if histograms is not None else None
    requests_corrected = corrected.requests_only() if corrected is not None else None
    txn_corrected = corrected.transactions_only() if corrected is not None else None

    def fine(name: str | None = None, method: str | None = None) -> RequestHistogram | None:
        if requests_fine is None:
            return None
        return requests_fine.select(name=name, request_type=method)

    def fine_txn(name: str | None = None) -> RequestHistogram | None:
        return None if txn_fine is None else txn_fine.select(name=name)

    def fixed(name: str | None = None, method: str | None = None) -> RequestHistogram | None:
        if requests_corrected is None:
            return None
        return requests_corrected.select(name=name, request_type=method)

    def fixed_txn(name: str | None = None) -> RequestHistogram | None:
        return None if txn_corrected is None else txn_corrected.select(name=name)

    delivered = (
        load_delivered(
            settings,
            final,
            distributed=settings.distribution.distributed,
            requests_per_second=None
            if requests_fine is None
            else {s: n for s, (n, _) in requests_fine.requests_per_second().items()},
        )
        if final is not None and partial is None
        else None
    )
    exceptions: list[ExceptionRow] = [
        {"count": e["count"], "message": e["message"]} for e in (final or {}).get("exceptions", [])
    ]
    aborted_by = _aborted_by(final)
    never_sent = (
        delivered.missing_workers(settings.distribution.max_wait_s)
        if delivered is not None
        else None
    )
    verdict, reasons = _verdict(
        have_stats=final is not None,
        aborted=aborted,
        killed=killed,
        partial=partial,
        total=total,
        results=results,
        exceptions=exceptions,
        shortfall=(
            [
                *delivered.worker_losses(),
                *delivered.shortfall(),
                *(delivered.generator_warnings() if settings.strict_generator else []),
            ]
            if delivered is not None and not aborted
            else []
        ),
        never_sent=never_sent,
        aborted_by=aborted_by,
    )
    many = _many_names(entries, requests_fine, scenario)
    warnings = ([many] if many else []) + (
        [
            *delivered.worker_warnings(),
            *([] if settings.strict_generator else delivered.generator_warnings()),
        ]
        if delivered is not None
        else []
    )
    failures: list[FailureRow] = [
        {
            "method": f.get("method"),
            "name": f.get("name"),
            "error": clean_error(str(f.get("error"))),
            "occurrences": f.get("occurrences"),
        }
        for f in sorted(
            (final or {}).get("errors", []), key=lambda f: -int(f.get("occurrences", 0))
        )
    ]
    summary: Summary = {
        "schema": SCHEMA,
        "scenario": {"name": scenario.name, "file": source_file},
        "run": {
            "host": settings.host,
            "users": settings.users,
            "spawn_rate": settings.spawn_rate,
            "duration_s": settings.duration_s,
            "started_at": started,
            "stopped_at": stopped,
            "elapsed_s": round(elapsed, 3),
            "aborted": aborted,
            "killed": killed,
            "partial": partial,
            "not_started": never_sent,
            "aborted_by": aborted_by,
            "peak_users": (final or {}).get("peak_users"),
            "locust_version": (final or {}).get("locust_version"),
            "loadkit_version": __version__,
            "processes": settings.distribution.processes,
            "workers": settings.distribution.expect_workers,
            "user_types": user_types(scenario, settings),
        },
        "load": delivered.to_dict() if delivered is not None else None,
        "times_from": "loadkit histograms (0.25% resolution)"
        if histograms is not None
        else "locust histograms",
        "timing": timing,
        "totals": request_row(total, elapsed, fine(), targets.t_ms, fixed()),
        "requests": [
            request_row(
                e,
                elapsed,
                fine(e.name, e.method),
                targets.for_request(e.name),
                fixed(e.name, e.method),
            )
            for e in entries
        ],
        "transactions": [
            transaction_row(
                s, elapsed, fine_txn(name), targets.for_transaction(name), fixed_txn(name)
            )
            for name, s in txn_by_name.items()
        ],
        "transaction_totals": transaction_row(
            RequestStats.merge("All transactions", txn_entries),
            elapsed,
            fine_txn(),
            targets.t_ms,
            fixed_txn(),
        )
        if txn_entries
        else None,
        "failures": failures,
        "slowest": slowest_requests(final),
        "exceptions": exceptions,
        "thresholds": [_threshold_row(r, defaulted) for r in results],
        "capacity": capacity_dict(capacity),
        "verdict": verdict,
        "reasons": reasons,
        "warnings": warnings,
        "exit_code": int(verdict.exit_status),
        "telemetry": None,
    }
    if scenario.observe is not None:  # the system's own metrics (`telemetry`)
        summary["telemetry"] = telemetry_section(telemetry, summary["capacity"])
        warnings += telemetry_warnings(summary["telemetry"], telemetry)
    return summary


_WRAPPED = re.compile(r"^CatchResponseError\((['\"])(.*)\1\)$", re.S)


def clean_error(error: str) -> str:
    """Locust keeps a failure as the repr of its exception; a message set by a check
    (`CatchResponseError('expected status 200, got 503')`) reads better as the message."""
    match = _WRAPPED.match(error)
    if not match:
        return error
    try:
        text = ast.literal_eval(match.group(1) + match.group(2) + match.group(1))
    except (ValueError, SyntaxError):
        return error
    return str(text)


def apdex_targets(scenario: Scenario) -> ApdexTargets:
    config = scenario.apdex
    return ApdexTargets(
        t_ms=round(config.t * 1000, 6),
        per_request={name: round(t * 1000, 6) for name, t in config.requests.items()},
        per_transaction={name: round(t * 1000, 6) for name, t in config.transactions.items()},
    )


def _threshold_row(result: ThresholdResult, defaulted: bool) -> ThresholdRow:
    t = result.threshold
    return {
        "expression": t.expression,
        "scope": t.scope,
        "transaction": t.transaction,
        "metric": t.metric,
        "op": t.op,
        "limit": t.limit,
        "unit": t.unit,
        "user": t.user,
        "window_s": t.window_s,
        "actual": None if result.actual is None else round(result.actual, 6),
        "passed": result.passed,
        "note": result.note,
        "default": defaulted,
    }


def _aborted_by(final: Mapping[str, Any] | None) -> AbortedBy | None:
    data = (final or {}).get("aborted_by")
    if not isinstance(data, dict):
        return None
    return {
        "threshold": str(data.get("threshold")),
        "at_s": float(data.get("at_s") or 0.0),
        "actual": str(data.get("actual")),
    }


def _many_names(
    entries: Sequence[RequestStats], fine: RunHistograms | None, scenario: Scenario
) -> str | None:
    """Past `MAX_NAMED_SERIES` request names, the names hold ids: say so once, with who made
    them and how to group them. The scenario's own requests are named by their templates, so
    only `python:`/`include:` code gets here."""
    if len(entries) <= MAX_NAMED_SERIES:
        return None
    busiest = sorted(entries, key=lambda e: busiest_order(e.method, e.name, e.requests))
    tail = busiest[MAX_NAMED_SERIES:]
    names = [e.name for e in tail]
    classes = {c: u for u, c in user_class_names(scenario).items()}
    tail_names = {*names, OTHER_NAMES}  # histograms.json folds the tail into OTHER_NAMES
    makers = sorted(
        {classes.get(k.user, k.user) for k in (fine.keys() if fine else []) if k.name in tail_names}
        - {""}
    )
    who = f"user type {', '.join(repr(m) for m in makers)}" if makers else "test code"
    # What the names share, up to where the varying part (an id) starts.
    prefix = re.sub(r"[0-9A-Za-z_-]+$", "", min(names)[: _shared_length(min(names), max(names))])
    example = f'name="{prefix}{{id}}"' if len(prefix) > 1 else 'name="/items/{id}"'
    return (
        f"{len(entries)} distinct request names (more than {MAX_NAMED_SERIES}): "
        f"{len(tail)} of them with {sum(e.requests for e in tail)} requests in all, e.g. "
        f"{names[0]!r}, come from {who} ('python:' or 'include:' code requesting a new URL "
        f"each time); group them with Locust's name=, e.g. self.client.get(url, {example}). "
        f"Only the {MAX_NAMED_SERIES} busiest names keep per-second history; the totals count "
        "every request"
    )


def _shared_length(a: str, b: str) -> int:
    """How many leading characters `a` and `b` share."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def _verdict(
    *,
    have_stats: bool,
    aborted: bool,
    killed: str | None,
    partial: str | None,
    total: RequestStats,
    results: Sequence[ThresholdResult],
    exceptions: Sequence[ExceptionRow],
    shortfall: Sequence[str],
    never_sent: str | None = None,
    aborted_by: AbortedBy | None = None,
) -> tuple[Verdict, list[str]]:
    """Decided once every reason is known: any reason at all means the run does not pass."""
    reasons: list[str] = []
    if never_sent:  # e.g. the master's workers never came: nothing was tested
        return Verdict.ABORTED, [never_sent]
    if aborted_by is not None:
        reasons.append(
            f"threshold '{aborted_by['threshold']}' stopped the run {aborted_by['at_s']:.0f} s "
            f"in (actual {aborted_by['actual']}; abort: true)"
        )
    if not have_stats:
        reasons.append("Locust wrote no statistics at all; see locust.log in the run folder")
    if aborted:
        reasons.append("the run was interrupted before its planned end")
    if killed:
        reasons.append(killed)
    if partial:
        reasons.append(partial)
    if have_stats and total.requests == 0:
        reasons.append("no requests were made")
    elif total.requests and total.failures >= total.requests:
        reasons.append(f"all {total.requests} requests failed")
    reasons.extend(shortfall)
    for r in results:
        if not r.passed:
            actual = r.threshold.format_value(r.actual)
            reasons.append(
                f"threshold '{r.threshold.expression}' failed: actual {actual}"
                + (f" ({r.note})" if r.note else "")
            )
    if exceptions:
        count = sum(int(e["count"]) for e in exceptions)
        reasons.append(f"the test code raised {count} exception(s); see locust.log")
    if aborted:
        return Verdict.ABORTED, reasons
    if not have_stats or killed or partial:
        return Verdict.ERROR, reasons
    return (Verdict.FAIL if reasons else Verdict.PASS), reasons


def judged_time(row: RequestRow, summary: Summary, key: str) -> float | None:
    """The row's time that thresholds judge by default: corrected for an open model."""
    corrected = row.get("corrected")
    if summary.get("timing") == "corrected" and corrected:
        value = corrected.get(key)
        return float(value) if isinstance(value, int | float) else None
    value = row.get(key)
    return float(value) if isinstance(value, int | float) else None
