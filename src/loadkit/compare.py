"""Baseline gate: is the current run a real regression of the baseline run, beyond noise?

`loadkit compare BASELINE CURRENT --max-regression p95:10% --max-regression rps:-5%`

Each metric is measured on the steady part of each run (the first max(1 s, 10 %) and the last
second are left out) from loadkit's per-second histograms (histograms.json). Run-to-run noise
is estimated from the same per-second samples: the seconds of each run are resampled with
replacement (a bootstrap, 400 rounds, a fixed seed per metric) and the spread of the metric
gives its standard error. A metric regresses only when it is worse than the baseline by more
than its limit *and* by more than the noise (1.96 combined standard errors), so two runs of the
same build do not fail each other while a real slowdown does. A run history keeps each run's
values and errors (`run_points`), so a baseline from the history compares the same way when
its folder is on another machine (`compare_points`).

Limits: `METRIC:X%`. For times (p50, p90, p95, p99, avg) the current value may be at most X %
above the baseline; for rps and apdex at most X % below it (the sign may be written `-5%` or
`5%`: what counts is the direction in which the metric gets worse); for error_rate, X is in
percentage points (`error_rate:1%` lets it rise from 0.2 % to 1.2 %).

Without limits (no --max-regression, no max_regression:) `regressions.DEFAULT_LIMITS` are
judged, and the output says so. A change smaller than the floor never regresses, whatever its
percentage (`regressions.Floor`: 1 ms for times, or 2 % of the metric's threshold in the current
run's summary.json, whichever is larger): a few milliseconds on a 300 ms objective is no
regression even when it is +50 %.

Times are those the runs' thresholds judge by default (summary.json `timing`): the corrected
times (histograms-corrected.json) of an open model, else the service times.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadkit import formatting
from loadkit.apdex import DEFAULT_APDEX_T_MS
from loadkit.compare_facts import CompareError, read_summary
from loadkit.errors import ScenarioError
from loadkit.histogram import UNTIMED, bucket_index, bucket_value, load_histograms
from loadkit.run_folder import RunFolder
from loadkit.scenario import regressions
from loadkit.scenario.regressions import (
    ABSOLUTE,
    DEFAULT_LIMITS,
    LOWER_IS_WORSE,
    TIME_METRICS,
    Floor,
    Limit,
    Regressions,
)
from loadkit.summary_types import CORRECTED, SERVICE, Summary, ThresholdRow, Timing

if TYPE_CHECKING:  # numpy is imported where it is used: only once two runs are compared
    import numpy as np
    import numpy.typing as npt

RESAMPLES = 400
Z = 1.96


@dataclass(frozen=True)
class Comparison:
    limit: Limit
    baseline: float | None
    current: float | None
    worse_by: float | None
    """How much worse current is (relative, or points for error_rate); negative is better."""
    noise: float | None
    """Half-width of the 95 % interval of worse_by, from per-second resampling."""
    regressed: bool
    note: str = ""
    floor: float | None = None
    """The smallest change (in the metric's unit: ms, a fraction, req/s, a score) that can
    regress; None: no floor applied."""


def parse_limit(text: str) -> Limit:
    try:
        return regressions.parse_limit(text)
    except ValueError as exc:
        raise CompareError(str(exc)) from None


@dataclass(frozen=True)
class _Run:
    """A run's steady seconds as dense arrays: requests, failures and bucket counts."""

    requests: npt.NDArray[np.float64]  # per second
    failures: npt.NDArray[np.float64]
    counts: npt.NDArray[np.float64]  # seconds x buckets, timed requests
    ok_counts: npt.NDArray[np.float64]  # the same, successful requests only (for Apdex)
    values: npt.NDArray[np.float64]  # the value reported for each bucket, ms
    apdex_t_ms: float


def _load_run(folder: Path) -> _Run:
    import numpy as np

    files = RunFolder(folder)
    path = files.histograms
    if _timing(folder) == CORRECTED and files.corrected_histograms.is_file():
        path = files.corrected_histograms
    if not path.is_file():
        raise CompareError(f"{folder} has no {RunFolder.HISTOGRAMS}; is it a loadkit run folder?")
    try:
        # Requests only: a transaction is not a request (see loadkit.histogram).
        per_second = load_histograms(path).requests_only().per_second()
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise CompareError(f"{path} is not a readable loadkit histograms file ({exc})") from None
    seconds = sorted(per_second)
    if seconds:
        first, last = seconds[0], seconds[-1]
        skip = max(1, int((last - first + 1) * 0.1))
        seconds = [s for s in seconds if first + skip <= s < last]
    if len(seconds) < 3:
        raise CompareError(f"{folder} has fewer than 3 steady seconds of data to compare")
    indices = sorted(
        {
            i
            for s in seconds
            for h in (per_second[s].ok, per_second[s].failed)
            for i in h.counts
            if i != UNTIMED
        }
    )
    column = {index: n for n, index in enumerate(indices)}
    counts = np.zeros((len(seconds), len(indices)))
    ok_counts = np.zeros((len(seconds), len(indices)))
    for row, second in enumerate(seconds):
        hist = per_second[second]
        for part, targets in ((hist.ok, (counts, ok_counts)), (hist.failed, (counts,))):
            for index, count in part.counts.items():
                if index != UNTIMED:
                    for target in targets:
                        target[row, column[index]] += count
    return _Run(
        requests=np.array([per_second[s].requests for s in seconds], dtype=float),
        failures=np.array([per_second[s].failures for s in seconds], dtype=float),
        counts=counts,
        ok_counts=ok_counts,
        values=np.array([bucket_value(i) for i in indices], dtype=float),
        apdex_t_ms=_apdex_t(folder),
    )


def _timing(folder: Path) -> Timing:
    """"corrected" when the run's thresholds judge corrected times by default (summary.json)."""
    try:
        timing = read_summary(folder).get("timing")
    except CompareError:
        return SERVICE
    return CORRECTED if timing == CORRECTED else SERVICE


def _apdex_t(folder: Path) -> float:
    """The run's Apdex T, read defensively: any summary.json that lacks it gives the default."""
    try:
        summary: Summary = json.loads(RunFolder(folder).summary_json.read_text(encoding="utf-8"))
        apdex = summary["totals"]["apdex"]
        return DEFAULT_APDEX_T_MS if apdex is None else float(apdex["t_ms"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_APDEX_T_MS


def _metric(name: str, run: _Run) -> Callable[[npt.NDArray[np.float64]], float | None]:
    """The metric as a function of per-second weights (how often each second is counted)."""
    import numpy as np

    def percentile(q: float) -> Callable[[npt.NDArray[np.float64]], float | None]:
        def value(w: npt.NDArray[np.float64]) -> float | None:
            counts = w @ run.counts
            total = counts.sum()
            if total <= 0:
                return None
            rank = max(np.ceil(q * total), 1.0)  # nearest rank, as loadkit.histogram does
            return float(run.values[int(np.searchsorted(np.cumsum(counts), rank))])

        return value

    if name in TIME_METRICS:
        return percentile(TIME_METRICS[name])
    if name == "avg":
        return lambda w: _ratio(float((w @ run.counts) @ run.values), float((w @ run.counts).sum()))
    if name == "rps":
        return lambda w: _ratio(float(w @ run.requests), float(w.sum()))
    if name == "error_rate":
        return lambda w: _ratio(float(w @ run.failures), float(w @ run.requests))
    t = run.apdex_t_ms
    edge = bucket_index(t)
    satisfied = run.values <= t if bucket_value(edge) <= t else run.values < t
    tolerating = (run.values <= 4 * t) & ~satisfied

    def apdex(w: npt.NDArray[np.float64]) -> float | None:
        # Failed requests count as frustrated, as in loadkit.apdex.
        ok = w @ run.ok_counts
        total = float(w @ run.requests)
        if total <= 0:
            return None
        return float((ok[satisfied].sum() + ok[tolerating].sum() / 2) / total)

    return apdex


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def _bootstrap(
    fn: Callable[[npt.NDArray[np.float64]], float | None], n: int, rng: np.random.Generator
) -> tuple[float | None, float]:
    import numpy as np

    point = fn(np.ones(n))
    draws = [fn(rng.multinomial(n, np.full(n, 1.0 / n)).astype(float)) for _ in range(RESAMPLES)]
    values = [d for d in draws if d is not None]
    return point, float(np.std(values)) if len(values) > 1 else 0.0


Points = dict[str, tuple[float | None, float]]
"""Per metric, a run's value on its steady seconds and its standard error by resampling them:
all `compare` needs of a run, so that a run history can keep it (`history.record`) and a
baseline whose folder is elsewhere is still compared by the same model."""


def run_points(
    folder: Path, metrics: Sequence[str] = regressions.METRICS, *, seed: int = 0
) -> Points:
    """`Points` of the run in `folder` (CompareError when it has too few steady seconds).
    Each metric resamples with its own stream of `seed`, so a metric's error is the same
    whichever others are asked with it: a recorded run compares as its folder does."""
    import numpy as np

    run = _load_run(folder)
    return {
        m: _bootstrap(
            _metric(m, run),
            len(run.requests),
            np.random.default_rng([seed, regressions.METRICS.index(m)]),
        )
        for m in metrics
    }


def compare_points(
    baseline: Mapping[str, Sequence[float | None]],
    current: Mapping[str, Sequence[float | None]],
    limits: Sequence[Limit],
    *,
    floors: Mapping[str, float] | None = None,
) -> list[Comparison]:
    """Each limit judged on the two runs' `Points` (a recorded baseline's as JSON lists).
    `floors`: per metric, the smallest change that can regress (`floors_for`); none: no floor."""
    out = []
    for limit in limits:
        b, b_se = baseline[limit.metric]
        c, c_se = current[limit.metric]
        result = _judge(limit, b, b_se or 0.0, c, c_se or 0.0)
        if floors is not None and limit.metric in floors:
            result = apply_floor(result, floors[limit.metric])
        out.append(result)
    return out


def compare_runs(
    baseline: Path,
    current: Path,
    limits: Sequence[Limit],
    *,
    seed: int = 0,
    floors: Mapping[str, float] | None = None,
) -> list[Comparison]:
    """The two runs' folders compared (`compare_points`)."""
    metrics = [limit.metric for limit in limits]
    return compare_points(
        run_points(baseline, metrics, seed=seed),
        run_points(current, metrics, seed=seed),
        limits,
        floors=floors,
    )


def apply_floor(result: Comparison, floor: float) -> Comparison:
    """`result` with its floor: a regression whose change is smaller than `floor` (in the
    metric's unit) is none."""
    small = (
        result.baseline is not None
        and result.current is not None
        and abs(result.current - result.baseline) < floor
    )
    if result.regressed and small:
        note = f"below the floor of {format_value(result.limit.metric, floor)}"
        return replace(result, regressed=False, note=note, floor=floor)
    return replace(result, floor=floor)


_THRESHOLD_METRICS = {"median": "p50"}
"""A threshold's metric spelled otherwise than `max_regression:` spells it."""


def threshold_limit(metric: str, thresholds: Sequence[ThresholdRow]) -> float | None:
    """The limit of the metric's threshold over all requests (the strictest: the smallest,
    which gives the smallest floor), or None when the run has none. Thresholds scoped to a
    request, a user or a transaction are left out: compare judges all requests together."""
    limits = [
        float(row["limit"])
        for row in thresholds
        if _THRESHOLD_METRICS.get(row.get("metric", ""), row.get("metric")) == metric
        and row.get("scope") is None
        and row.get("user") is None
        and row.get("transaction") is None
        and isinstance(row.get("limit"), int | float)
    ]
    return min(limits) if limits else None


def floors_for(
    limits: Sequence[Limit], floor: Floor, thresholds: Sequence[ThresholdRow]
) -> dict[str, float]:
    """Per limited metric, the smallest change that can regress, in the metric's unit: the
    larger of `floor.ms` (times only) and `floor.of_threshold` of its threshold."""
    out = {}
    for limit in limits:
        metric = limit.metric
        of_threshold = threshold_limit(metric, thresholds)
        parts = [floor.ms] if metric in TIME_METRICS or metric == "avg" else []
        if of_threshold is not None:
            parts.append(floor.of_threshold * abs(of_threshold))
        out[metric] = max(parts, default=0.0)
    return out


def _judge(limit: Limit, b: float | None, b_se: float, c: float | None, c_se: float) -> Comparison:
    if b is None or c is None:
        return Comparison(limit, b, c, None, None, False, "no data in one of the runs")
    sign = -1.0 if limit.metric in LOWER_IS_WORSE else 1.0
    spread = Z * math.hypot(b_se, c_se)
    if limit.metric in ABSOLUTE:
        worse_by, noise = sign * (c - b), spread
    elif b == 0:
        return Comparison(limit, b, c, None, None, False, "baseline is 0: no relative change")
    else:
        worse_by, noise = sign * (c - b) / abs(b), spread / abs(b)
    regressed = worse_by > limit.allowed and worse_by > noise
    note = ""
    if worse_by > limit.allowed and not regressed:
        note = "within noise"
    return Comparison(limit, b, c, worse_by, noise, regressed, note)


def limits_from_scenario(folder: Path) -> list[Limit]:
    """The limits of `max_regression:` in the run folder's scenario.yaml (see
    `regressions_from_scenario`)."""
    return regressions_from_scenario(folder).limits


def regressions_from_scenario(folder: Path) -> Regressions:
    """`max_regression: {p95: 10%, rps: -5%, floor: 1ms}` in the run folder's scenario.yaml,
    read as `loadkit run` reads a scenario (positions, `${VAR}`, the scenario model's
    validation)."""
    from loadkit.scenario import validate_source
    from loadkit.scenario.source import load_yaml

    path = RunFolder(folder).scenario
    if not path.is_file():
        return Regressions()
    try:
        source = load_yaml(path)
    except ScenarioError as exc:
        raise _unreadable_limits(exc) from None
    try:
        spec = validate_source(source).max_regression
    except ScenarioError as exc:
        if any(p.key_path.split(".")[0] == "max_regression" for p in exc.problems):
            raise _unreadable_limits(exc) from None
        # Something else does not hold in the run folder (a data file or an included
        # locustfile next to the original scenario); the model accepted max_regression.
        data = source.data if isinstance(source.data, dict) else {}
        spec = data.get("max_regression") or {}
    try:
        return regressions.parse_regressions(spec)
    except ValueError as exc:
        raise CompareError(str(exc)) from None


class LimitsSource(StrEnum):
    """Where the limits a comparison judges came from."""

    COMMAND_LINE = "command line"
    SCENARIO = "scenario"
    DEFAULTS = "defaults"


@dataclass(frozen=True)
class Gate:
    """What a comparison judges: its limits (and where they came from) and its floor."""

    limits: list[Limit]
    source: LimitsSource
    floor: Floor

    def describe_limits(self) -> str:
        shown = ", ".join(f"{limit.metric} {limit.describe()}" for limit in self.limits)
        if self.source is LimitsSource.DEFAULTS:
            return (
                f"Limits: loadkit's defaults ({shown}): none given (--max-regression, or "
                "max_regression: in the scenario)"
            )
        if self.source is LimitsSource.SCENARIO:
            return f"Limits: max_regression: in the current run's scenario ({shown})"
        return f"Limits: --max-regression ({shown})"

    def describe_floor(self) -> str:
        return f"Floor: {self.floor.describe()}"


def choose_gate(
    given: Sequence[Limit],
    scenario: Regressions,
    *,
    floor_ms: float | None = None,
    floor_of_threshold: float | None = None,
) -> Gate:
    """The limits given on the command line, else the scenario's, else `DEFAULT_LIMITS`; each
    part of the floor from the command line, else the scenario, else `Floor`'s default."""
    if given:
        limits, source = list(given), LimitsSource.COMMAND_LINE
    elif scenario.limits:
        limits, source = scenario.limits, LimitsSource.SCENARIO
    else:
        limits = [regressions.parse_limit(text) for text in DEFAULT_LIMITS]
        source = LimitsSource.DEFAULTS
    default = Floor()
    floor = Floor(
        ms=_first(floor_ms, scenario.floor_ms, default.ms),
        of_threshold=_first(floor_of_threshold, scenario.floor_of_threshold, default.of_threshold),
    )
    return Gate(limits, source, floor)


def _first(given: float | None, scenario: float | None, default: float) -> float:
    if given is not None:
        return given
    return default if scenario is None else scenario


def _unreadable_limits(exc: ScenarioError) -> CompareError:
    ours = [p for p in exc.problems if p.key_path.split(".")[0] == "max_regression"]
    return CompareError(
        f"cannot read max_regression: {(ours or exc.problems)[0]}; "
        "fix it, or give the limits with --max-regression"
    )


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    unit = {"rps": "req/s", "error_rate": "%", "apdex": ""}.get(metric, "ms")
    return formatting.metric_value(unit, value, metric=metric)


def comparison_rows(results: Sequence[Comparison]) -> list[list[str]]:
    rows = []
    for r in results:
        metric = r.limit.metric
        unit = " pts" if metric in ABSOLUTE else "%"
        scale = 100.0
        worse = "-" if r.worse_by is None else f"{r.worse_by * scale:+.1f}{unit}"
        noise = "-" if r.noise is None else f"±{r.noise * scale:.1f}{unit}"
        verdict = "REGRESSED" if r.regressed else "ok"
        if r.note:
            verdict += f" ({r.note})"
        rows.append(
            [
                metric,
                format_value(metric, r.baseline),
                format_value(metric, r.current),
                worse,
                noise,
                r.limit.describe(),
                "-" if not r.floor else format_value(metric, r.floor),
                verdict,
            ]
        )
    return rows


def comparison_json(results: Sequence[Comparison]) -> list[dict[str, Any]]:
    return [
        {
            "metric": r.limit.metric,
            "allowed": r.limit.allowed,
            "baseline": r.baseline,
            "current": r.current,
            "worse_by": r.worse_by,
            "noise": r.noise,
            "regressed": r.regressed,
            "note": r.note,
            "floor": r.floor,
        }
        for r in results
    ]
