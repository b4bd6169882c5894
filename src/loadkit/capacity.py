"""Capacity analysis of a run folder: load levels, the knee, a USL fit and a one-line verdict.

Pure functions over two files of the run folder: Locust's per-second history
(``locust_stats_history.csv``, only its ``Timestamp`` and ``User Count`` columns are read) for
how many users were running, and ``histograms.json`` (`loadkit.histogram`) for throughput,
latency, errors and Apdex per second.

Load levels
    A *span* is a maximal run of history rows with the same non-zero user count; its seconds
    ``t_first .. t_last`` are the rows' timestamps. Locust writes a row about once a second and
    the count can change at any moment between two rows, so the span's last second is dropped
    (the count may have changed during it), and so is the ramp: the first
    ``max(2 s, 20 % of the span)`` seconds, rounded up, in which new users start and queues
    fill. What is left, ``[t_first + ramp, t_last)``, is the level's steady window; a span
    whose window is shorter than 1 s is no level. Throughput is the requests that completed in
    the window's seconds divided by its length; percentiles, error rate and Apdex are over the
    same requests. Spans with the same user count (a shape that steps down again) are pooled
    for the analysis below, but listed separately in ``CapacityReport.levels``.

Transactions
    When the run completed transactions (request type ``histogram.TRANSACTION_TYPE``), the
    throughput is completed transactions per second — what a capacity plan is written in —
    and ``CapacityReport.throughput_unit`` is "txn/s" (the headline says so); a level's times,
    error rate and Apdex stay the requests', so the scenario's request SLO judges it as before.
    Transactions are never counted as requests here.

Knee
    With the levels sorted by users (``N_0 < N_1 < ...``, throughput ``X_i``), the initial
    slope is the lowest level's throughput per user ``X_0 / N_0``. The knee is the first
    ``N_i`` after which adding users stops paying: the marginal throughput
    ``(X_{i+1} - X_i) / (N_{i+1} - N_i)`` falls below 25 % of the initial slope *and* the
    median response time at ``N_{i+1}`` is at least 10 % above the one at ``N_i`` (latency bends
    up, so the flat throughput is saturation, not a client-side limit). No such pair: no knee.

Universal Scalability Law
    ``X(N) = λN / (1 + σ(N-1) + κN(N-1))`` (`usl.usl_scaling`, the one copy of the formula) is
    fitted to the levels' throughput by least squares (numpy only: for each (σ, κ) the best λ
    is closed-form; σ in [0, 1] and κ in [0, 1] are searched on a log grid, then refined by a
    pattern search). ``R²`` is over the throughput. With κ > 0 the model peaks at
    ``N* = sqrt((1 - σ) / κ)`` (``UslFit.peak_users``, kept in summary.json as a model
    parameter). The model describes the tested range; renderers draw its curve there and label
    any stretch of it beyond the highest tested user count as an extrapolation. They never show
    ``N*`` as a user count: it is not the saturation point, and outside the tested range it is
    a guess.

Saturation point and capacity
    There is one *saturation point*: ``CapacityReport.knee_users``, the knee found by the rule
    above, and nothing else. The headline's "saturates at N users", the levels table's marked
    row and the charts' vertical line all read that field; no renderer computes a user count
    of its own. It is None when no knee was found (the run is *not saturated*: the headline
    says "at least", and that no saturation was found up to the highest tested level) and
    when the data is insufficient (below). Why the knee: it is measured (two adjacent levels,
    not a model), it needs throughput to flatten *and* latency to rise, which tells saturation
    from a client-side limit, and it never lies outside the tested users.
    ``capacity_rps`` is the highest steady throughput measured at any level: a measurement,
    reported as "about" when saturated and "at least" when not; it carries no user count.
    The estimate is *insufficient* (``CapacityReport.insufficient`` gives the reason in plain
    words, the headline says so, and there is no saturation point) with fewer than 3 distinct
    user counts, or when the USL fit is poor (R² < 0.8): a curve that does not look like a
    scalability curve is not one to plan with.

SLO
    ``slo`` judges a level; scanning the levels by increasing users, the last one before the
    first that fails the SLO gives ``max_users_within_slo`` (its users) and
    ``max_rps_within_slo`` (the highest throughput up to it).

Open model
    A run whose load is arrival rates (``locust_final.json`` has an ``arrivals`` section) holds
    one pool of users for the whole run, so its user count says nothing about the load: its
    load axis is the *offered arrival rate* (``CapacityReport.load_axis`` "arrivals/s", where
    a closed run has "users"). Its levels are the planned arrival stages (``arrivals.stages``,
    ``[rate per second, seconds]`` for every user type together, from the test's start,
    ``started_at``); a stage covering ``s .. e`` gives the span of seconds ``ceil(s) ..
    floor(e)``, and ``steady_window`` takes the ramp and the last second off it as above.
    Stages with the same rate are pooled, and a stage of rate 0 (a pause) is no level. Each
    level keeps its rate (``LoadLevel.arrival_rate``) and, as ``users``, the pool held.
    Throughput is counted as above; the times, error rate and Apdex come from the *corrected*
    histograms (``histograms-corrected.json``: service time plus how late the iteration
    started), what a user arriving at that rate experiences: past saturation the service times
    stay flat while the queue of late arrivals grows, and only the corrected times show it
    (the service times when a run folder has no corrected histograms). The knee is the same
    rule with the arrival rate ``R_i`` as the load: initial slope ``X_0 / R_0``, marginal
    ``(X_{i+1} - X_i) / (R_{i+1} - R_i)`` below 25 % of it and p50 up by 10 %; the saturation
    point is then a rate, ``CapacityReport.knee_rate`` ("saturates at 60 arrivals/s"), never a
    user count (``knee_users`` stays None), and the SLO limit is ``max_rate_within_slo``.
    ``capacity_rps`` is unchanged: the highest steady throughput measured. The USL describes
    throughput against concurrency (a closed model); it is not fitted on arrival rates, so an
    open estimate is insufficient only with fewer than 3 distinct arrival rates or no
    requests completed in them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from loadkit.apdex import DEFAULT_APDEX_T_MS, apdex
from loadkit.histogram import RequestHistogram, RunHistograms, load_histograms
from loadkit.run_folder import RunFolder, read_final_snapshot
from loadkit.usl import MIN_POINTS, UslFit, fit_usl, usl_scaling

if TYPE_CHECKING:
    from loadkit.capacity_judge import StepJudge
    from loadkit.capacity_search import StepResult

__all__ = [
    "CapacityReport",
    "LoadLevel",
    "UslFit",
    "analyze_capacity",
    "find_arrival_levels",
    "find_knee",
    "find_levels",
    "find_rate_knee",
    "fit_usl",
    "read_user_counts",
    "usl_scaling",
]

RAMP_MIN_S = 2
RAMP_FRACTION = 0.2
MIN_STEADY_S = 1
KNEE_SLOPE_FRACTION = 0.25
KNEE_LATENCY_RISE = 1.10
MIN_LEVELS = MIN_POINTS  # the fit needs as many levels as a capacity estimate
MIN_R_SQUARED = 0.8
USERS_AXIS = "users"
ARRIVALS_AXIS = "arrivals/s"


@dataclass(frozen=True)
class LoadLevel:
    users: int
    start: float
    """Unix seconds: the steady window is [start, end). For levels pooled from several spans
    with the same user count (what the knee, the fit and ``slo`` see), the first span's start
    and the last one's end; throughput is over the steady seconds only."""
    end: float
    requests: int
    throughput_rps: float
    """Per second, in the report's ``throughput_unit``: requests, or completed transactions
    when the run had any (its times, error rate and Apdex are the requests' either way)."""
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float
    apdex: float | None
    arrival_rate: float | None = None
    """Open model: the stage's offered arrivals per second, the level's load; ``users`` is
    then the pool held for the whole run. None for a closed model's level."""


def _load(level: LoadLevel) -> float:
    """A level's position on the load axis: its arrival rate (open model), else its users."""
    return level.users if level.arrival_rate is None else level.arrival_rate


@dataclass(frozen=True)
class CapacityReport:
    levels: list[LoadLevel]
    """Every level found, in time order."""
    knee_users: int | None
    """The saturation point: the one user count at which the system saturates (the knee, see
    the module docstring). None when no knee was found or the data is insufficient."""
    usl: UslFit | None
    max_users_within_slo: int | None
    max_rps_within_slo: float | None
    insufficient: str | None
    """Why the data cannot support a capacity estimate, in plain words; None if it can."""
    capacity_rps: float | None = None
    """The highest steady throughput measured at any level (a measurement, no user count)."""
    slo_given: bool = False
    throughput_unit: str = "req/s"
    """"txn/s" when the run completed transactions: completed business actions per second are
    what a capacity plan is written in, so they are the throughput; else "req/s"."""
    load_axis: str = USERS_AXIS
    """What the levels' load is: "users" (a closed model, levels by user count) or
    "arrivals/s" (an open model, levels by offered arrival rate; see the module docstring)."""
    knee_rate: float | None = None
    """The open model's saturation point: the offered arrival rate of the knee (then
    ``knee_users`` is None). None for a closed model, when not saturated or insufficient."""
    max_rate_within_slo: float | None = None
    """Open model: the arrival rate of the last level meeting the SLO (as
    ``max_users_within_slo`` for users)."""
    sustained_rate: float | None = None
    """``sustained``'s offered arrival rate (arrivals/s), or None."""
    breaking_rate: float | None = None
    """``breaking``'s offered arrival rate (arrivals/s), or None."""
    sustained: StepResult | None = None
    """Open model judged by the SLO (`capacity_judge`): the highest stage rate that held it,
    below every stage that broke it (`capacity_search.bracket`, the search's own rule)."""
    breaking: StepResult | None = None
    """Open model judged by the SLO: the lowest stage rate above ``sustained`` that broke it."""
    saturated_at_lowest: bool = False
    """Closed model: the throughput was highest at the lowest tested user count and no level
    above it gained: saturated at or below that many users (no USL fit is needed to say so)."""

    @property
    def saturated(self) -> bool:
        """The run found its saturation point (``knee_users``, or ``knee_rate``)."""
        return self.knee_users is not None or self.knee_rate is not None

    def headline(self) -> str:
        if self.insufficient is not None:
            return f"Insufficient data for a capacity estimate: {self.insufficient}."
        assert self.capacity_rps is not None
        unit = self.throughput_unit
        what = ", in completed transactions" if unit == TXN_UNIT else ""
        measured = f"{_rps(self.capacity_rps)} {unit} (the highest throughput measured{what})"
        if self.load_axis == ARRIVALS_AXIS:
            return self._open_headline(measured)
        if self.saturated_at_lowest:
            lowest = min(level.users for level in self.levels)
            users = "user" if lowest == 1 else "users"
            return (
                f"Saturated at or below {lowest} {users}: {_rps(self.capacity_rps)} {unit}, the"
                f" highest throughput{what}, was measured at the lowest tested level; more users"
                " did not raise it."
            )
        assert self.usl is not None
        model = f"USL fit R²={self.usl.r_squared:.2f}"
        if self.knee_users is not None:
            users = "user" if self.knee_users == 1 else "users"
            text = f"Capacity: about {measured}; saturates at {self.knee_users} {users} ({model})"
        else:
            top = max(level.users for level in self.levels)
            text = (
                f"Capacity: at least {measured}; no saturation up to the highest tested level,"
                f" {top} users ({model})"
            )
        if self.slo_given:
            if self.max_users_within_slo is None or self.max_rps_within_slo is None:
                text += "; no level met the SLO"
            else:
                text += (
                    f"; the last level meeting the SLO had {self.max_users_within_slo} users"
                    f" / {_rps(self.max_rps_within_slo)} {unit}"
                )
        return text + "."

    def _open_headline(self, measured: str) -> str:
        """The headline of an open model: its saturation point and SLO limit are rates."""
        if self.knee_rate is not None:
            text = f"Capacity: about {measured}; saturates at {rate_text(self.knee_rate)}"
        else:
            top = max(_load(level) for level in self.levels)
            text = (
                f"Capacity: at least {measured}; no saturation up to the highest tested level,"
                f" {rate_text(top)}"
            )
        if self.judged:
            text += "; " + self._stage_bracket()
        elif self.slo_given:
            if self.max_rate_within_slo is None or self.max_rps_within_slo is None:
                text += "; no level met the SLO"
            else:
                text += (
                    f"; the last level meeting the SLO had {rate_text(self.max_rate_within_slo)}"
                    f" / {_rps(self.max_rps_within_slo)} {self.throughput_unit}"
                )
        # The stages are a grid the user chose: the real limit lies between two of them.
        return text + f". {BRACKET_HINT}"

    @property
    def judged(self) -> bool:
        """An open run whose stages were judged by the SLO as the search judges its steps."""
        return self.sustained is not None or self.breaking is not None

    def _stage_bracket(self) -> str:
        """Held at X (its req/s, txn/s), broke at Y: the stages' answer, in every unit."""
        held, broke = self.sustained, self.breaking
        parts = []
        if held is None:
            parts.append("no stage held the SLO")
        else:
            parts.append(f"the SLO held up to {rate_text(held.rate)}{_units(held)}")
        if broke is not None:
            parts.append(f"broke at {rate_text(broke.rate)} ({'; '.join(broke.reasons)})")
        elif held is not None:
            parts.append("no stage above it broke")
        return ", ".join(parts)


BRACKET_HINT = "Run `loadkit capacity` for a bracketed figure."


def _units(step: StepResult) -> str:
    """A judged stage's measured throughput: req/s, and txn/s when the flow has them."""
    parts = [] if step.requests_per_s is None else [f"{_rps(step.requests_per_s)} req/s"]
    if step.transactions_per_s is not None:
        parts.append(f"{_rps(step.transactions_per_s)} {TXN_UNIT}")
    return f" ({', '.join(parts)})" if parts else ""


def _rps(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def rate_text(rate: float) -> str:
    """An offered arrival rate as every capacity text writes it: "60 arrivals/s"."""
    return f"{rate:.4g} {ARRIVALS_AXIS}"


# -- reading -------------------------------------------------------------------------------


def read_user_counts(history_csv: str | os.PathLike[str]) -> list[tuple[int, int]]:
    """``(unix second, user count)`` per history row, ascending, one per second (the last row
    of a second wins). Reads only those two columns, so long full-history files stay fast."""
    frame = pd.read_csv(
        history_csv,
        usecols=["Timestamp", "User Count"],
        dtype={"Timestamp": "int64", "User Count": "int64"},
        engine="c",
    )
    frame = frame.drop_duplicates(subset="Timestamp", keep="last").sort_values("Timestamp")
    seconds = frame["Timestamp"].to_numpy()
    users = frame["User Count"].to_numpy()
    return [(int(s), int(u)) for s, u in zip(seconds, users, strict=True)]


# -- levels --------------------------------------------------------------------------------


def _spans(samples: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Maximal runs of equal non-zero user counts: (users, first second, last second)."""
    spans: list[tuple[int, int, int]] = []
    for second, users in samples:
        if spans and spans[-1][0] == users:
            spans[-1] = (users, spans[-1][1], second)
        else:
            spans.append((users, second, second))
    return [span for span in spans if span[0] > 0]


def steady_window(first: int, last: int) -> tuple[int, int] | None:
    """The steady part ``[start, end)`` of a span whose rows cover ``first .. last``."""
    length = last - first + 1
    ramp = max(RAMP_MIN_S, math.ceil(RAMP_FRACTION * length))
    start, end = first + ramp, last
    return (start, end) if end - start >= MIN_STEADY_S else None


def _level(
    users: int,
    start: float,
    end: float,
    hist: RequestHistogram,
    apdex_t_ms: float,
    completed: int | None = None,
    arrival_rate: float | None = None,
) -> LoadLevel:
    """`completed`: the transactions completed in the window, the throughput when given."""
    p50, p95, p99 = hist.all().percentiles([0.5, 0.95, 0.99])
    requests = hist.requests
    return LoadLevel(
        users=users,
        start=float(start),
        end=float(end),
        requests=requests,
        throughput_rps=(requests if completed is None else completed) / (end - start),
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        error_rate=hist.failures / requests if requests else 0.0,
        apdex=apdex(hist, apdex_t_ms).score,
        arrival_rate=arrival_rate,
    )


def find_levels(
    samples: Sequence[tuple[int, int]],
    run: RunHistograms,
    *,
    apdex_t_ms: float = DEFAULT_APDEX_T_MS,
) -> list[LoadLevel]:
    """The load levels (see the module docstring) in time order. Throughput is transactions
    per second when `run` has transactions, else requests per second."""
    requests, transactions = _split(run)
    levels = []
    for users, first, last in _spans(samples):
        window = steady_window(first, last)
        if window is None:
            continue
        start, end = window
        hist = requests.select(start=start, end=end)
        completed = _completed(transactions, start, end)
        levels.append(_level(users, start, end, hist, apdex_t_ms, completed))
    return levels


def find_arrival_levels(
    stages: Sequence[Sequence[float]],
    started_at: float,
    run: RunHistograms,
    *,
    users: int = 0,
    apdex_t_ms: float = DEFAULT_APDEX_T_MS,
) -> list[LoadLevel]:
    """The open model's levels (see the module docstring), one per arrival stage that has a
    steady window, in time order. ``stages``: ``(arrivals per second, seconds)`` from
    ``started_at`` (unix seconds); ``run``: the corrected histograms for what a user
    experiences; ``users``: the pool held, kept on each level."""
    requests, transactions = _split(run)
    levels = []
    offset = 0.0
    for rate, seconds in stages:
        stage_start = started_at + offset
        offset += float(seconds)
        if rate <= 0:
            continue  # a pause offers no load
        window = steady_window(math.ceil(stage_start), math.floor(started_at + offset))
        if window is None:
            continue
        start, end = window
        hist = requests.select(start=start, end=end)
        completed = _completed(transactions, start, end)
        levels.append(
            _level(users, start, end, hist, apdex_t_ms, completed, arrival_rate=float(rate))
        )
    return levels


TXN_UNIT = "txn/s"


def _split(run: RunHistograms) -> tuple[RunHistograms, RunHistograms | None]:
    """The requests, and the transactions when there are any (then the throughput)."""
    transactions = run.transactions_only()
    return run.requests_only(), (transactions if transactions.series else None)


def _completed(transactions: RunHistograms | None, start: float, end: float) -> int | None:
    return None if transactions is None else transactions.select(start=start, end=end).requests


def _pool(levels: Iterable[LoadLevel], run: RunHistograms, apdex_t_ms: float) -> list[LoadLevel]:
    """One level per distinct load (user count, or arrival rate: equal ones pooled), by load."""
    by_load: dict[float, list[LoadLevel]] = {}
    for level in levels:
        by_load.setdefault(_load(level), []).append(level)
    requests, transactions = _split(run)
    pooled = []
    for _, group in sorted(by_load.items()):
        if len(group) == 1:
            pooled.append(group[0])
            continue
        hist = RequestHistogram()
        completed: int | None = None if transactions is None else 0
        for level in group:
            hist.merge(requests.select(start=level.start, end=level.end))
            if completed is not None:
                completed += _completed(transactions, level.start, level.end) or 0
        seconds = sum(level.end - level.start for level in group)
        users, rate = group[0].users, group[0].arrival_rate
        first = _level(users, 0, seconds, hist, apdex_t_ms, completed, arrival_rate=rate)
        pooled.append(replace(first, start=group[0].start, end=group[-1].end))
    return pooled


# -- knee and USL ----------------------------------------------------------------------------


def find_knee(levels: Sequence[LoadLevel]) -> int | None:
    """The knee's user count (rule in the module docstring); ``levels`` one per user count."""
    knee = _knee(levels, lambda level: level.users)
    return None if knee is None else knee.users


def find_rate_knee(levels: Sequence[LoadLevel]) -> float | None:
    """The open model's knee: the same rule with the offered arrival rate as the load;
    ``levels`` one per rate (``find_arrival_levels``)."""
    knee = _knee(levels, _load)
    return None if knee is None else _load(knee)


def _knee(levels: Sequence[LoadLevel], load: Callable[[LoadLevel], float]) -> LoadLevel | None:
    """The one knee rule (module docstring) along the load axis ``load``: the level at it."""
    ordered = sorted(levels, key=load)
    if len(ordered) < 2 or ordered[0].throughput_rps <= 0 or load(ordered[0]) <= 0:
        return None
    initial_slope = ordered[0].throughput_rps / load(ordered[0])
    for low, high in pairwise(ordered):
        marginal = (high.throughput_rps - low.throughput_rps) / (load(high) - load(low))
        if marginal >= KNEE_SLOPE_FRACTION * initial_slope:
            continue
        if low.p50_ms is None or high.p50_ms is None:
            continue
        if high.p50_ms >= KNEE_LATENCY_RISE * low.p50_ms:
            return low
    return None


# -- the report ------------------------------------------------------------------------------


def analyze_capacity(
    run_folder: Path,
    *,
    slo: Callable[[LoadLevel], bool] | None = None,
    apdex_t_ms: float = DEFAULT_APDEX_T_MS,
    final: Mapping[str, Any] | None = None,
    histograms: RunHistograms | None = None,
    corrected: RunHistograms | None = None,
    judge: StepJudge | None = None,
) -> CapacityReport:
    """Levels, knee, USL fit, capacity and SLO limit of the run in ``run_folder``. An open
    model's run (arrival rates) is analysed by arrival stage, its times from the corrected
    histograms (what a user experiences; see the module docstring). `final`, `histograms`
    and `corrected`: the folder's locust_final.json and histograms when the caller has read
    them already (a long run's are tens of MB); else they are read here. `judge`: an open
    model's stages are judged by it (`StepJudge.bracket_report`) and ``slo`` is then theirs."""
    folder = RunFolder(Path(run_folder))
    if final is None:
        final = read_final_snapshot(folder.final_stats)
    if final is not None and isinstance(final.get("arrivals"), dict):
        report = _analyze_open(
            folder, final, slo=slo, apdex_t_ms=apdex_t_ms, run=corrected or histograms
        )
        if judge is None or report.insufficient is not None:
            return report
        return judge.bracket_report(report, final, folder, histograms, corrected)
    histograms_path = folder.histograms
    needed = [folder.history_csv] + ([histograms_path] if histograms is None else [])
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        return _insufficient([], f"the run folder has no {' and no '.join(missing)}", slo)
    try:
        samples = read_user_counts(folder.history_csv)
    except (ValueError, KeyError) as exc:
        return _insufficient([], f"{folder.history_csv.name} is unreadable ({exc})", slo)
    run = histograms if histograms is not None else load_histograms(histograms_path)
    levels = find_levels(samples, run, apdex_t_ms=apdex_t_ms)
    return capacity_report(levels, run, slo=slo, apdex_t_ms=apdex_t_ms)


def _analyze_open(
    folder: RunFolder,
    final: Mapping[str, Any],
    *,
    slo: Callable[[LoadLevel], bool] | None,
    apdex_t_ms: float,
    run: RunHistograms | None = None,
) -> CapacityReport:
    """The open model: levels by arrival stage, times from the corrected histograms."""
    stages = final["arrivals"].get("stages")
    started_at = final.get("started_at")
    if not stages or not isinstance(started_at, int | float):
        reason = f"{folder.final_stats.name} records no arrival stages (an older loadkit's run)"
        return _insufficient([], reason, slo, ARRIVALS_AXIS)
    if run is None:
        path = folder.corrected_histograms
        if not path.is_file():
            path = folder.histograms  # no corrected times: the service times are all there is
        if not path.is_file():
            return _insufficient([], f"the run folder has no {path.name}", slo, ARRIVALS_AXIS)
        run = load_histograms(path)
    users = int(final.get("peak_users") or 0)
    levels = find_arrival_levels(stages, started_at, run, users=users, apdex_t_ms=apdex_t_ms)
    return capacity_report(levels, run, slo=slo, apdex_t_ms=apdex_t_ms, load_axis=ARRIVALS_AXIS)


def capacity_report(
    levels: list[LoadLevel],
    run: RunHistograms,
    *,
    slo: Callable[[LoadLevel], bool] | None = None,
    apdex_t_ms: float = DEFAULT_APDEX_T_MS,
    load_axis: str = USERS_AXIS,
) -> CapacityReport:
    """The report for levels already found (``find_levels``, or ``find_arrival_levels`` with
    ``load_axis`` "arrivals/s") in ``run``."""
    pooled = _pool(levels, run, apdex_t_ms)
    last_within, slo_rps = _within_slo(pooled, slo)
    open_model = load_axis == ARRIVALS_AXIS
    knee = _knee(pooled, _load)
    base = CapacityReport(
        levels=levels,
        knee_users=None if knee is None or open_model else knee.users,
        usl=None
        if open_model  # the USL is a law of concurrency, not of arrival rates
        else fit_usl([lv.users for lv in pooled], [lv.throughput_rps for lv in pooled]),
        max_users_within_slo=None if last_within is None or open_model else last_within.users,
        max_rps_within_slo=slo_rps,
        insufficient=None,
        slo_given=slo is not None,
        throughput_unit=TXN_UNIT if _split(run)[1] is not None else "req/s",
        load_axis=load_axis,
        knee_rate=knee.arrival_rate if knee is not None and open_model else None,
        max_rate_within_slo=last_within.arrival_rate
        if last_within is not None and open_model
        else None,
    )
    if not open_model and _peaks_at_lowest(pooled):
        return replace(
            base, saturated_at_lowest=True, capacity_rps=pooled[0].throughput_rps, knee_users=None
        )
    reason = _why_insufficient_open(pooled) if open_model else _why_insufficient(pooled, base.usl)
    if reason is not None:
        # No estimate, so no saturation point either: a knee between two levels alone is
        # not one to plan with, and the headline must not contradict the details.
        return replace(base, knee_users=None, knee_rate=None, insufficient=reason)
    return replace(base, capacity_rps=max(level.throughput_rps for level in pooled))


def _peaks_at_lowest(pooled: Sequence[LoadLevel]) -> bool:
    """Two or more user counts, the lowest with the highest throughput (none above it gaining
    more than the 0.5 % a histogram bucket blurs) while the median time rose by the knee's
    10 % (more users only waited longer): saturated from the start, whatever the USL says."""
    if len(pooled) < 2 or pooled[0].throughput_rps <= 0:
        return False
    first, last = pooled[0], pooled[-1]
    if (
        first.p50_ms is None
        or last.p50_ms is None
        or last.p50_ms < KNEE_LATENCY_RISE * first.p50_ms
    ):
        return False
    return all(level.throughput_rps < first.throughput_rps * 1.005 for level in pooled[1:])


def _why_insufficient_open(pooled: Sequence[LoadLevel]) -> str | None:
    if not pooled:
        return "no arrival stage lasted long enough (an arrival rate held for at least 4 s)"
    if len(pooled) == 1:
        return "the run had a single arrival rate"
    if len(pooled) < MIN_LEVELS:
        return f"the run had {len(pooled)} arrival rates; at least {MIN_LEVELS} are needed"
    if not any(level.throughput_rps > 0 for level in pooled):
        return "no requests completed during the arrival stages"
    return None


def _why_insufficient(pooled: Sequence[LoadLevel], usl: UslFit | None) -> str | None:
    if not pooled:
        return "no load level lasted long enough (a constant user count for at least 4 s)"
    if len(pooled) == 1:
        return "the run had a single load level"
    if len(pooled) < MIN_LEVELS:
        return f"the run had {len(pooled)} load levels; at least {MIN_LEVELS} are needed"
    if usl is None:
        return "no requests completed during the load levels"
    if usl.r_squared < MIN_R_SQUARED:
        return (
            "the throughput does not follow a scalability curve"
            f" (USL fit R²={usl.r_squared:.2f}, below {MIN_R_SQUARED})"
        )
    return None


def _within_slo(
    pooled: Sequence[LoadLevel], slo: Callable[[LoadLevel], bool] | None
) -> tuple[LoadLevel | None, float | None]:
    """The last level (by load) before the first that fails the SLO, and the highest
    throughput up to it."""
    if slo is None:
        return None, None
    last: LoadLevel | None = None
    rps: float | None = None
    for level in pooled:
        if not slo(level):
            break
        last = level
        rps = max(rps or 0.0, level.throughput_rps)
    return last, rps


def _insufficient(
    levels: list[LoadLevel],
    reason: str,
    slo: Callable[[LoadLevel], bool] | None,
    load_axis: str = USERS_AXIS,
) -> CapacityReport:
    return CapacityReport(
        levels=levels,
        knee_users=None,
        usl=None,
        max_users_within_slo=None,
        max_rps_within_slo=None,
        insufficient=reason,
        slo_given=slo is not None,
        load_axis=load_axis,
    )
