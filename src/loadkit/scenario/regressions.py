"""`max_regression:` limits, `METRIC:X%` — part of the scenario language (a scenario may carry
them) and read by `loadkit compare`, which judges them.

For times (p50, p90, p95, p99, avg) the current value may be at most X % above the baseline;
for rps and apdex at most X % below it (the sign may be written `-5%` or `5%`: what counts is
the direction in which the metric gets worse); for error_rate, X is in percentage points
(`error_rate:1%` lets it rise from 0.2 % to 1.2 %).

Two more keys set the floor (`Floor`): `floor: 1ms` and `floor_of_threshold: 2%`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from loadkit.scenario.durations import parse_duration

TIME_METRICS = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
METRICS = (*TIME_METRICS, "avg", "rps", "error_rate", "apdex")
LOWER_IS_WORSE = frozenset({"rps", "apdex"})
ABSOLUTE = frozenset({"error_rate"})
DEFAULT_LIMITS = ("p95:10%", "error_rate:1%", "rps:-10%")
"""Judged when no limit is given (neither --max-regression nor max_regression:)."""
FLOOR_KEY = "floor"
FLOOR_OF_THRESHOLD_KEY = "floor_of_threshold"
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_LIMIT = re.compile(r"^\s*([a-z0-9_]+)\s*:\s*([-+]?\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Limit:
    metric: str
    allowed: float
    """How much worse the metric may get: a fraction of the baseline (points for error_rate)."""

    def describe(self) -> str:
        if self.metric in ABSOLUTE:
            return f"+{self.allowed * 100:g} points"
        sign = "-" if self.metric in LOWER_IS_WORSE else "+"
        return f"{sign}{self.allowed * 100:g}%"


def parse_limit(text: str) -> Limit:
    """Raises ValueError with a message fit for the user."""
    match = _LIMIT.match(text)
    if not match:
        raise ValueError(f"cannot read {text!r}; write METRIC:PERCENT, e.g. p95:10% or rps:-5%")
    metric, value = match.group(1), abs(float(match.group(2))) / 100.0
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}' in {text!r} (metrics: {', '.join(METRICS)})")
    return Limit(metric, value)


@dataclass(frozen=True)
class Floor:
    """The smallest change that can regress. A change smaller than `ms` (a time metric) or than
    `of_threshold` of the metric's threshold (any metric that has one) never regresses,
    whatever its percentage: on a 300 ms objective, 6.7 -> 10.5 ms is +57 % but 4 ms."""

    ms: float = 1.0
    of_threshold: float = 0.02
    """A fraction of the threshold's limit (0.02: 2 %)."""

    def describe(self) -> str:
        if self.ms == 0 and self.of_threshold == 0:
            return "none: any change beyond its limit and the noise regresses"
        return (
            f"a change smaller than {self.ms:g} ms or {self.of_threshold * 100:g}% of the "
            "metric's threshold never regresses"
        )


@dataclass(frozen=True)
class Regressions:
    """A `max_regression:` block: its limits, and the floor's parts it sets (None: not set)."""

    limits: list[Limit] = field(default_factory=list)
    floor_ms: float | None = None
    floor_of_threshold: float | None = None


def parse_regressions(spec: Mapping[str, object]) -> Regressions:
    """`max_regression: {p95: 10%, floor: 2ms, floor_of_threshold: 5%}`. Raises ValueError
    with a message fit for the user."""
    limits, floor_ms, of_threshold = [], None, None
    for key, value in spec.items():
        if key == FLOOR_KEY:
            floor_ms = parse_floor_ms(value)
        elif key == FLOOR_OF_THRESHOLD_KEY:
            of_threshold = parse_share(value, key)
        else:
            limits.append(parse_limit(f"{key}:{value}"))
    return Regressions(limits, floor_ms, of_threshold)


def parse_floor_ms(value: object) -> float:
    """`floor: 1ms` (a duration; a bare number is seconds, as everywhere in a scenario) in ms."""
    try:
        return parse_duration(value) * 1000.0
    except ValueError as exc:
        raise ValueError(f"{FLOOR_KEY}: {exc}") from None


def parse_share(value: object, key: str) -> float:
    match = _PERCENT.match(str(value))
    if not match:
        raise ValueError(f"{key}: cannot read {str(value)!r}; write a percentage, e.g. 2%")
    return float(match.group(1)) / 100.0
