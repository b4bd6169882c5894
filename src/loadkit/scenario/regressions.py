"""`max_regression:` limits, `METRIC:X%` — part of the scenario language (a scenario may carry
them) and read by `loadkit compare`, which judges them.

For times (p50, p90, p95, p99, avg) the current value may be at most X % above the baseline;
for rps and apdex at most X % below it (the sign may be written `-5%` or `5%`: what counts is
the direction in which the metric gets worse); for error_rate, X is in percentage points
(`error_rate:1%` lets it rise from 0.2 % to 1.2 %).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TIME_METRICS = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
METRICS = (*TIME_METRICS, "avg", "rps", "error_rate", "apdex")
LOWER_IS_WORSE = frozenset({"rps", "apdex"})
ABSOLUTE = frozenset({"error_rate"})
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
