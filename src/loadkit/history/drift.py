"""Drift: a passing run significantly worse than the median of the last passing runs.

"Significantly" is `compare`'s noise model applied to a run and its history: the spread of
the earlier runs' values (1.4826 x their median absolute deviation, a standard deviation that
one odd run does not inflate) and this run's own standard error by resampling its seconds
(`compare.run_points`, which its record keeps), combined; the run drifts when it is worse
than the median by more than 1.96 times that *and* by more than a floor (`FLOOR`: a change
too small to matter).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Final

from loadkit import formatting
from loadkit.history.record import RunRecord
from loadkit.scenario.regressions import ABSOLUTE, LOWER_IS_WORSE
from loadkit.summary_types import DriftEntry

LAST_RUNS: Final = 10
"""How many passing runs the median is of (at most)."""
MIN_RUNS: Final = 5
"""Fewer comparable passing runs than this: no judgement (a median of 2 runs is noise)."""
Z: Final = 1.96
FLOOR: Final[Mapping[str, float]] = {"p95": 0.05, "error_rate": 0.005, "apdex": 0.02}
"""The smallest drift worth a warning: +5 % p95, +0.5 points of error rate, -2 % Apdex."""
FIELD: Final[Mapping[str, str]] = {"p95": "p95_ms", "error_rate": "error_rate", "apdex": "apdex"}
"""The metrics watched for drift and the record's field of each."""
_MIN_TIME_CHANGE_MS: Final = 1.0
"""A time that moved by less than a millisecond has not drifted, whatever its percentage."""


def find_drift(
    current: RunRecord,
    history: Sequence[RunRecord],
    *,
    thresholds: Mapping[str, float],
) -> list[DriftEntry]:
    """`history`: the comparable passing runs, newest first (only the first LAST_RUNS
    count). The current run's own resampling noise is its record's (`comparable`; none: the
    earlier runs' spread alone)."""
    earlier = list(history)[:LAST_RUNS]
    out = []
    for metric, field in FIELD.items():
        values = [float(v) for r in earlier if isinstance(v := r.get(field), int | float)]
        now = current.get(field)
        if len(values) < MIN_RUNS or not isinstance(now, int | float):
            continue
        entry = _judge(metric, float(now), values, _own_noise(current, metric), thresholds)
        if entry is not None:
            out.append(entry)
    return out


def _own_noise(current: RunRecord, metric: str) -> float:
    """The current run's standard error of `metric`, as `compare` measures it (0.0 when the
    run was too short to resample)."""
    comparable = current.get("comparable")
    point = comparable["points"].get(metric) if comparable else None
    return float(point[1] or 0.0) if point else 0.0


def _judge(
    metric: str,
    now: float,
    values: list[float],
    own_se: float,
    thresholds: Mapping[str, float],
) -> DriftEntry | None:
    median = statistics.median(values)
    spread = 1.4826 * statistics.median(abs(v - median) for v in values)
    sign = -1.0 if metric in LOWER_IS_WORSE else 1.0
    band = Z * math.hypot(spread, own_se)
    if metric in ABSOLUTE:
        worse_by, noise = sign * (now - median), band
    elif median == 0:
        return None
    else:
        worse_by, noise = sign * (now - median) / abs(median), band / abs(median)
    if metric == "p95" and abs(now - median) < _MIN_TIME_CHANGE_MS:
        return None
    if worse_by <= noise or worse_by <= FLOOR[metric]:
        return None
    limit = thresholds.get(metric)
    headroom = None
    if limit is not None and sign * (limit - median) > 0:
        headroom = (now - median) / (limit - median)
    return {
        "metric": metric,
        "current": now,
        "median": median,
        "worse_by": worse_by,
        "noise": noise,
        "runs": len(values),
        "headroom_used": headroom,
        "message": _message(metric, now, median, worse_by, len(values), headroom),
    }


def _message(
    metric: str, now: float, median: float, worse_by: float, runs: int, headroom: float | None
) -> str:
    change = (
        f"{worse_by * 100:+.1f} points" if metric in ABSOLUTE else f"{_signed(metric, worse_by)} %"
    )
    text = (
        f"drift: {metric} {change} against the median of the last {runs} passing runs "
        f"({_value(metric, median)} -> {_value(metric, now)})"
    )
    if headroom is not None:
        text += f"; {headroom * 100:.0f} % of its threshold's headroom used"
    return text


def _signed(metric: str, worse_by: float) -> str:
    # Apdex drifts down: say so with its sign, as the value moved.
    value = -worse_by if metric in LOWER_IS_WORSE else worse_by
    return f"{value * 100:+.0f}"


def _value(metric: str, value: float) -> str:
    unit = {"error_rate": "%", "apdex": ""}.get(metric, "ms")
    return formatting.metric_value(unit, value, metric=metric)
