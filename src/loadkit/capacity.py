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
    ``X(N) = λN / (1 + σ(N-1) + κN(N-1))`` (`usl_scaling`, the one copy of the formula) is
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
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from loadkit.apdex import DEFAULT_APDEX_T_MS, apdex
from loadkit.histogram import RequestHistogram, RunHistograms, load_histograms
from loadkit.run_folder import RunFolder

__all__ = [
    "CapacityReport",
    "LoadLevel",
    "UslFit",
    "analyze_capacity",
    "find_knee",
    "find_levels",
    "fit_usl",
    "read_user_counts",
    "usl_scaling",
]

RAMP_MIN_S = 2
RAMP_FRACTION = 0.2
MIN_STEADY_S = 1
KNEE_SLOPE_FRACTION = 0.25
KNEE_LATENCY_RISE = 1.10
MIN_LEVELS = 3
MIN_R_SQUARED = 0.8


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


def usl_scaling(
    users: npt.ArrayLike, sigma: npt.ArrayLike, kappa: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """``N / (1 + σ(N-1) + κN(N-1))``: the Universal Scalability Law's throughput for λ = 1.
    The one copy of the formula; broadcasts like numpy (the fit evaluates a whole grid)."""
    n = np.asarray(users, dtype=float)
    s = np.asarray(sigma, dtype=float)
    k = np.asarray(kappa, dtype=float)
    result: npt.NDArray[np.float64] = n / (1 + s * (n - 1) + k * n * (n - 1))
    return result


@dataclass(frozen=True)
class UslFit:
    sigma: float
    """Contention (serial fraction)."""
    kappa: float
    """Coherency (crosstalk) cost."""
    lambda_rps: float
    """Single-user throughput."""
    r_squared: float
    peak_users: float | None
    """N* = sqrt((1 - sigma) / kappa); None when kappa is 0 (no peak)."""
    peak_rps: float | None

    def throughput(self, users: float) -> float:
        """The model's throughput (req/s) at ``users``: ``λN / (1 + σ(N-1) + κN(N-1))``."""
        return self.lambda_rps * float(usl_scaling(users, self.sigma, self.kappa))


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

    @property
    def saturated(self) -> bool:
        """The run found its saturation point (``knee_users``)."""
        return self.knee_users is not None

    def headline(self) -> str:
        if self.insufficient is not None:
            return f"Insufficient data for a capacity estimate: {self.insufficient}."
        assert self.capacity_rps is not None and self.usl is not None
        model = f"USL fit R²={self.usl.r_squared:.2f}"
        unit = self.throughput_unit
        what = ", in completed transactions" if unit == TXN_UNIT else ""
        measured = f"{_rps(self.capacity_rps)} {unit} (the highest throughput measured{what})"
        if self.knee_users is not None:
            text = f"Capacity: about {measured}; saturates at {self.knee_users} users ({model})"
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


def _rps(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


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


TXN_UNIT = "txn/s"


def _split(run: RunHistograms) -> tuple[RunHistograms, RunHistograms | None]:
    """The requests, and the transactions when there are any (then the throughput)."""
    transactions = run.transactions_only()
    return run.requests_only(), (transactions if transactions.series else None)


def _completed(transactions: RunHistograms | None, start: float, end: float) -> int | None:
    return None if transactions is None else transactions.select(start=start, end=end).requests


def _pool(levels: Iterable[LoadLevel], run: RunHistograms, apdex_t_ms: float) -> list[LoadLevel]:
    """One level per distinct user count (spans with equal counts pooled), by users."""
    by_users: dict[int, list[LoadLevel]] = {}
    for level in levels:
        by_users.setdefault(level.users, []).append(level)
    requests, transactions = _split(run)
    pooled = []
    for users, group in sorted(by_users.items()):
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
        first = _level(users, 0, seconds, hist, apdex_t_ms, completed)
        pooled.append(replace(first, start=group[0].start, end=group[-1].end))
    return pooled


# -- knee and USL ----------------------------------------------------------------------------


def find_knee(levels: Sequence[LoadLevel]) -> int | None:
    """The knee's user count (rule in the module docstring); ``levels`` one per user count."""
    ordered = sorted(levels, key=lambda level: level.users)
    if len(ordered) < 2 or ordered[0].throughput_rps <= 0:
        return None
    initial_slope = ordered[0].throughput_rps / ordered[0].users
    for low, high in pairwise(ordered):
        marginal = (high.throughput_rps - low.throughput_rps) / (high.users - low.users)
        if marginal >= KNEE_SLOPE_FRACTION * initial_slope:
            continue
        if low.p50_ms is None or high.p50_ms is None:
            continue
        if high.p50_ms >= KNEE_LATENCY_RISE * low.p50_ms:
            return low.users
    return None


def fit_usl(users: Sequence[float], throughput: Sequence[float]) -> UslFit | None:
    """Least-squares USL fit; None with fewer than 3 distinct user counts or no throughput."""
    n = np.asarray(users, dtype=float)
    x = np.asarray(throughput, dtype=float)
    if len(set(n.tolist())) < MIN_LEVELS or not np.any(x > 0) or np.any(n <= 0):
        return None

    def cost(sigma: float, kappa: float) -> tuple[float, float]:
        g = usl_scaling(n, sigma, kappa)
        lam = float(g @ x / (g @ g))
        return float(((lam * g - x) ** 2).sum()), lam

    # Coarse: every (σ, κ) on a log grid, λ in closed form for each.
    sigmas = np.concatenate([[0.0], np.logspace(-4, 0, 81)])
    kappas = np.concatenate([[0.0], np.logspace(-7, 0, 141)])
    g = usl_scaling(n[None, None, :], sigmas[:, None, None], kappas[None, :, None])
    lams = (g * x).sum(axis=-1) / (g * g).sum(axis=-1)
    sse = ((lams[..., None] * g - x) ** 2).sum(axis=-1)
    i, j = np.unravel_index(int(np.argmin(sse)), sse.shape)
    sigma, kappa = float(sigmas[i]), float(kappas[j])
    best, lam = cost(sigma, kappa)
    # Fine: a pattern search around the best grid point, within the bounds.
    step_s, step_k = max(sigma, 1e-4) / 2, max(kappa, 1e-7) / 2
    while step_s > 1e-10 or step_k > 1e-13:
        improved = False
        for ds, dk in ((step_s, 0.0), (-step_s, 0.0), (0.0, step_k), (0.0, -step_k)):
            s2, k2 = min(max(sigma + ds, 0.0), 1.0), min(max(kappa + dk, 0.0), 1.0)
            c2, lam2 = cost(s2, k2)
            if c2 < best:
                best, sigma, kappa, lam, improved = c2, s2, k2, lam2, True
        if not improved:
            step_s, step_k = step_s / 2, step_k / 2
    total = float(((x - x.mean()) ** 2).sum())
    r_squared = 1 - best / total if total > 0 else 0.0
    fit = UslFit(sigma, kappa, lam, r_squared, None, None)
    if kappa > 0:
        peak = math.sqrt((1 - sigma) / kappa)
        fit = replace(fit, peak_users=peak, peak_rps=fit.throughput(peak))
    return fit


# -- the report ------------------------------------------------------------------------------


def analyze_capacity(
    run_folder: Path,
    *,
    slo: Callable[[LoadLevel], bool] | None = None,
    apdex_t_ms: float = DEFAULT_APDEX_T_MS,
) -> CapacityReport:
    """Levels, knee, USL fit, capacity and SLO limit of the run in ``run_folder``."""
    folder = RunFolder(Path(run_folder))
    histograms_path = folder.histograms
    missing = [p.name for p in (folder.history_csv, histograms_path) if not p.is_file()]
    if missing:
        return _insufficient([], f"the run folder has no {' and no '.join(missing)}", slo)
    try:
        samples = read_user_counts(folder.history_csv)
    except (ValueError, KeyError) as exc:
        return _insufficient([], f"{folder.history_csv.name} is unreadable ({exc})", slo)
    run = load_histograms(histograms_path)
    levels = find_levels(samples, run, apdex_t_ms=apdex_t_ms)
    return capacity_report(levels, run, slo=slo, apdex_t_ms=apdex_t_ms)


def capacity_report(
    levels: list[LoadLevel],
    run: RunHistograms,
    *,
    slo: Callable[[LoadLevel], bool] | None = None,
    apdex_t_ms: float = DEFAULT_APDEX_T_MS,
) -> CapacityReport:
    """The report for levels already found (``find_levels``) in ``run``."""
    pooled = _pool(levels, run, apdex_t_ms)
    slo_users, slo_rps = _within_slo(pooled, slo)
    base = CapacityReport(
        levels=levels,
        knee_users=find_knee(pooled),
        usl=fit_usl([lv.users for lv in pooled], [lv.throughput_rps for lv in pooled]),
        max_users_within_slo=slo_users,
        max_rps_within_slo=slo_rps,
        insufficient=None,
        slo_given=slo is not None,
        throughput_unit=TXN_UNIT if _split(run)[1] is not None else "req/s",
    )
    reason = _why_insufficient(pooled, base.usl)
    if reason is not None:
        # No estimate, so no saturation point either: a knee between two levels alone is
        # not one to plan with, and the headline must not contradict the details.
        return replace(base, knee_users=None, insufficient=reason)
    return replace(base, capacity_rps=max(level.throughput_rps for level in pooled))


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
) -> tuple[int | None, float | None]:
    if slo is None:
        return None, None
    users: int | None = None
    rps: float | None = None
    for level in pooled:
        if not slo(level):
            break
        users = level.users
        rps = max(rps or 0.0, level.throughput_rps)
    return users, rps


def _insufficient(
    levels: list[LoadLevel], reason: str, slo: Callable[[LoadLevel], bool] | None
) -> CapacityReport:
    return CapacityReport(
        levels=levels,
        knee_users=None,
        usl=None,
        max_users_within_slo=None,
        max_rps_within_slo=None,
        insufficient=reason,
        slo_given=slo is not None,
    )
