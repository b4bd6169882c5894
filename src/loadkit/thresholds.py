"""Thresholds: `[NAME:] METRIC OP VALUE`, e.g. `p95 < 500ms`, `error_rate < 1%`, `rps > 20`,
`"/api/cases: p99 < 1s"`. Parsed at load time (errors before any load is sent), evaluated on
final stats after the run.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from loadkit.durations import parse_duration
from loadkit.request_stats import RequestStats

_PERCENTILES = {
    "p50": 0.50, "median": 0.50, "p66": 0.66, "p75": 0.75, "p80": 0.80, "p90": 0.90,
    "p95": 0.95, "p98": 0.98, "p99": 0.99, "p99.9": 0.999, "p99.99": 0.9999, "p100": 1.0,
}  # fmt: skip
TIME_METRICS = frozenset([*_PERCENTILES, "avg", "min", "max"])
RATE_METRICS = frozenset(["error_rate"])
COUNT_METRICS = frozenset(["failures", "requests"])
THROUGHPUT_METRICS = frozenset(["rps"])
METRICS = TIME_METRICS | RATE_METRICS | COUNT_METRICS | THROUGHPUT_METRICS

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq,
}  # fmt: skip
_SYNTAX = re.compile(
    r"^\s*(?:(?P<scope>.+):\s+)?(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)\s*"
    r"(?P<op><=|>=|==|<|>)\s*(?P<value>\S.*?)\s*$"
)
EXAMPLE = "write it like 'p95 < 500ms', 'error_rate < 1%', 'rps > 20' or '/api/x: p99 < 1s'"


@dataclass(frozen=True)
class Threshold:
    expression: str
    metric: str
    op: str
    limit: float
    """In the metric's unit: ms for times, a fraction for rates, req/s for rps, a count."""
    scope: str | None = None
    """A request name (Locust's stats name), or None for all requests."""

    @property
    def unit(self) -> str:
        if self.metric in TIME_METRICS:
            return "ms"
        if self.metric in RATE_METRICS:
            return "%"
        if self.metric in THROUGHPUT_METRICS:
            return "req/s"
        return ""

    def format_value(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if self.metric in RATE_METRICS:
            return f"{value * 100:.2f}%"
        if self.metric in TIME_METRICS:
            return f"{value:g}ms"
        if self.metric in THROUGHPUT_METRICS:
            return f"{value:.1f} req/s"
        return f"{value:g}"


@dataclass(frozen=True)
class ThresholdResult:
    threshold: Threshold
    actual: float | None
    passed: bool
    note: str = ""


def parse_threshold(text: str) -> Threshold:
    """Raises ValueError with a message fit for the user."""
    match = _SYNTAX.match(text)
    if not match:
        raise ValueError(f"cannot read threshold {text!r}; {EXAMPLE}")
    metric = match.group("metric").lower()
    if metric not in METRICS:
        from difflib import get_close_matches

        close = get_close_matches(metric, sorted(METRICS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(
            f"unknown metric '{metric}' in {text!r}{hint} (metrics: {', '.join(sorted(METRICS))})"
        )
    raw = match.group("value").strip()
    limit = _parse_limit(metric, raw, text)
    scope = match.group("scope")
    return Threshold(
        expression=text.strip(),
        metric=metric,
        op=match.group("op"),
        limit=limit,
        scope=scope.strip() if scope else None,
    )


def _parse_limit(metric: str, raw: str, text: str) -> float:
    try:
        if metric in TIME_METRICS:
            if re.fullmatch(r"\d+(\.\d+)?", raw):
                return float(raw)  # a bare number is milliseconds, as in k6
            # Rounded: 0.009 s * 1000 is 9.000000000000002, and `p95 < 9ms` must fail at 9 ms.
            return round(parse_duration(raw) * 1000.0, 6)
        if metric in RATE_METRICS:
            # Rounded: 0.7 / 100 is 0.006999999999999999, and 7 failures in 1000 must pass <= 0.7%.
            value = round(float(raw[:-1]) / 100.0, 12) if raw.endswith("%") else float(raw)
            if not 0 <= value <= 1:
                raise ValueError
            return value
        value = float(raw.removesuffix("/s")) if metric in THROUGHPUT_METRICS else float(int(raw))
        if not 0 <= value < math.inf:
            raise ValueError
        return value
    except ValueError:
        kinds = {
            **dict.fromkeys(TIME_METRICS, "a time like 500ms or 1s"),
            **dict.fromkeys(RATE_METRICS, "a percentage like 1% or a fraction like 0.01"),
            **dict.fromkeys(THROUGHPUT_METRICS, "requests per second like 20"),
            **dict.fromkeys(COUNT_METRICS, "a whole number like 0"),
        }
        raise ValueError(
            f"invalid value '{raw}' in {text!r}; {metric} takes {kinds[metric]}"
        ) from None


def measure(metric: str, stats: RequestStats, duration_s: float) -> float | None:
    if metric in _PERCENTILES:
        return stats.percentile(_PERCENTILES[metric])
    if metric == "avg":
        return stats.avg_ms
    if metric == "min":
        return stats.min_ms
    if metric == "max":
        return stats.max_ms if stats.timed_requests else None
    if metric == "error_rate":
        return stats.error_rate
    if metric == "failures":
        return float(stats.failures)
    if metric == "requests":
        return float(stats.requests)
    if metric == "rps":
        return stats.requests / duration_s if duration_s > 0 else None
    raise ValueError(f"unknown metric {metric}")


def evaluate(
    threshold: Threshold, total: RequestStats, by_name: dict[str, RequestStats], duration_s: float
) -> ThresholdResult:
    if threshold.scope is None:
        stats = total
    elif threshold.scope in by_name:
        stats = by_name[threshold.scope]
    else:
        return ThresholdResult(
            threshold, None, False, f"no request named {threshold.scope!r} was made"
        )
    actual = measure(threshold.metric, stats, duration_s)
    if actual is None:
        return ThresholdResult(threshold, None, False, "no data: no request completed")
    return ThresholdResult(threshold, actual, _OPS[threshold.op](actual, threshold.limit))
