"""The capacity search's decisions: which arrival rate to try next, and what the steps found.

Pure (no Locust, no clock): `Search` is handed each step's `StepResult` and says what to try
next (`Search.next_step`), so the policy is tested on synthetic results and the same code
drives `loadkit capacity` (`capacity_run`).

The search, on the offered arrival rate (the open model):

1. **Ramp**: from ``start_rate``, each step ``growth`` times the last (the last clamped to
   ``max_rate``), until a step breaks the SLO. A ramp that holds at ``max_rate`` ends the search:
   *not reached*. When the first step already breaks, the ramp goes down by the same factor
   until one holds (or ``min_rate`` breaks too: *breaks at the lowest rate*).
2. **Bisection** between the highest rate that held and the lowest that broke (arithmetic
   midpoints) until ``breaking / holding - 1 <= precision``.
3. **Confirmation**: a hold of ``confirm_s`` at the highest holding rate, which must hold; then
   a short step at the lowest breaking rate, which must break (the bracket). A confirmation
   that breaks makes its rate the new breaking rate; an upper step that holds makes its rate
   the new holding rate; either way the bisection goes on. After ``max_confirmations``
   attempts the result is *unstable* (the bracket so far, said to be unconfirmed).

Every step is judged on its steady window only (see `capacity_run`); a step that broke while
the load generator's CPU passed ``CPU_LIMIT_PCT`` did not measure the target: the search stops
there with *generator-limited*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from loadkit.delivery import BUSY_CPU_PERCENT
from loadkit.errors import UsageError
from loadkit.scenario.thresholds import (
    COUNT_METRICS,
    SERVER_METRIC,
    THROUGHPUT_METRICS,
    Threshold,
    parse_threshold,
)

__all__ = [
    "CPU_LIMIT_PCT",
    "MIN_STEP_REQUESTS",
    "Outcome",
    "Phase",
    "PlannedStep",
    "Search",
    "SearchPolicy",
    "SearchResult",
    "StepResult",
    "bracket",
    "service_levels",
    "slo_thresholds",
]

MIN_STEP_REQUESTS = 100
"""Requests a step's steady window must complete to be judged (p95 of fewer is noise)."""
CPU_LIMIT_PCT = BUSY_CPU_PERCENT  # the one rule for a busy generator (delivery)
"""Generator CPU (% of one core) above which a step measured the generator, not the target."""


class Phase(StrEnum):
    RAMP = "ramp"
    BISECT = "bisect"
    CONFIRM = "confirm"
    ABOVE = "above"
    """The short step at the breaking rate after a confirmation: it must break."""


class Outcome(StrEnum):
    FOUND = "found"
    """A bracket: confirmed holding at the sustained rate, breaking at the breaking rate."""
    NOT_REACHED = "not reached"
    """The SLO held at ``max_rate``: the capacity is above it."""
    GENERATOR_LIMITED = "generator-limited"
    """A breaking step had the load generator's CPU above ``CPU_LIMIT_PCT``."""
    BREAKS_AT_LOWEST = "breaks at the lowest rate"
    """Even ``min_rate`` broke the SLO."""
    UNSTABLE = "unstable"
    """Confirmations kept contradicting the bisection (a noisy target or machine)."""
    INCOMPLETE = "incomplete"
    """Stopped early (the time budget, or Ctrl-C): what was found so far."""


@dataclass(frozen=True)
class SearchPolicy:
    start_rate: float = 10.0
    """Arrivals per second of the first ramp step."""
    max_rate: float = 10_000.0
    min_rate: float = 0.5
    growth: float = 2.0
    """Each ramp step's rate is the last one's times this."""
    precision: float = 0.05
    """The bisection stops when breaking / holding - 1 is at most this."""
    step_s: float = 10.0
    """Seconds of a ramp or bisection step (its steady window is shorter, see `capacity_run`)."""
    confirm_s: float = 60.0
    above_s: float | None = None
    """The upper step after a confirmation; None: ``step_s``."""
    max_confirmations: int = 4

    def check(self) -> None:
        """Raises ValueError with a message for the user when the policy cannot search."""
        if not 0 < self.min_rate <= self.start_rate <= self.max_rate:
            raise ValueError(
                f"the rates must satisfy 0 < lowest ({self.min_rate:g}/s) <= start "
                f"({self.start_rate:g}/s) <= --max-rate ({self.max_rate:g}/s)"
            )
        if self.growth <= 1:
            raise ValueError(f"the ramp's growth must be above 1, got {self.growth:g}")
        if not 0 < self.precision < 1:
            raise ValueError(f"--precision must be between 0 and 100 %, got {self.precision:.0%}")


@dataclass(frozen=True)
class PlannedStep:
    phase: Phase
    rate: float
    """Offered arrivals per second."""
    seconds: float


@dataclass(frozen=True)
class StepResult:
    """One step as judged on its steady window (`capacity_run.judge_step`)."""

    phase: Phase
    rate: float
    holds: bool
    reasons: tuple[str, ...] = ()
    """Why it broke, in plain words (an SLO threshold, dropped or waiting arrivals)."""
    generator_cpu_pct: float | None = None
    """The load generator's highest CPU (% of one core) in the steady window."""
    p95_ms: float | None = None
    """Corrected p95 of the steady window (what an arriving user waits)."""
    requests_per_s: float | None = None
    transactions_per_s: float | None = None
    arrivals_per_s: float | None = None
    """Iterations started per second in the steady window (what was delivered)."""
    requests: int = 0
    steady_s: float = 0.0
    folder: str = ""
    spread: float | None = None
    """The confirmation's own spread: half the range of its per-window throughputs over their
    mean (None for other steps, or a confirmation too short to split)."""

    @property
    def generator_limited(self) -> bool:
        return self.generator_cpu_pct is not None and self.generator_cpu_pct > CPU_LIMIT_PCT


@dataclass(frozen=True)
class SearchResult:
    outcome: Outcome
    sustained: StepResult | None
    """The highest rate that held (the confirmation's step when there was one)."""
    breaking: StepResult | None
    """The lowest rate that broke above ``sustained``."""
    confirmed: bool
    """The sustained rate held for the confirmation and the breaking rate broke after it."""
    steps: tuple[StepResult, ...]
    note: str = ""
    """Why it ended as it did, when that is not plain from the outcome (budget, Ctrl-C)."""


@dataclass
class Search:
    """The search's state: feed it results, ask it for the next step (module docstring)."""

    policy: SearchPolicy
    steps: list[StepResult] = field(default_factory=list)
    _phase: Phase = Phase.RAMP
    _confirmations: int = 0
    _done: Outcome | None = None
    _confirmed: bool = False

    # -- what is known ----------------------------------------------------------------------

    def _holding(self) -> StepResult | None:
        """The highest rate that held below every rate that broke (ties: the latest step);
        a short step's hold counts only up to the ceiling that failed confirmations set."""
        lowest_break, ceiling = self._lowest_break_rate(), self._ceiling()
        held = [
            s
            for s in self.steps
            if s.holds and s.rate < lowest_break and (s.phase is Phase.CONFIRM or s.rate <= ceiling)
        ]
        return max(held, key=lambda s: (s.rate, self.steps.index(s)), default=None)

    def _ceiling(self) -> float:
        """A confirmation that broke at X shows that short steps overestimate near X: below
        it, a short step's hold is trusted only up to X / (1 + precision)."""
        failed = [s.rate for s in self.steps if s.phase is Phase.CONFIRM and not s.holds]
        return min(failed) / (1 + self.policy.precision) if failed else math.inf

    def _lowest_break_rate(self) -> float:
        """The lowest rate that broke, ignoring any contradicted later by a step at least as
        long holding at a rate as high (the upper step of a bracket that held moves the
        bracket up; a short step never overturns a confirmation that broke)."""
        lowest = math.inf
        for i, step in enumerate(self.steps):
            overturned = any(
                s.holds
                and s.rate >= step.rate
                and (s.phase is Phase.CONFIRM or step.phase is not Phase.CONFIRM)
                for s in self.steps[i + 1 :]
            )
            if not step.holds and not overturned:
                lowest = min(lowest, step.rate)
        return lowest

    def _breaking(self) -> StepResult | None:
        rate = self._lowest_break_rate()
        broke = [s for s in self.steps if not s.holds and s.rate == rate]
        return broke[-1] if broke else None

    # -- deciding ---------------------------------------------------------------------------

    def record(self, result: StepResult) -> None:
        self.steps.append(result)
        p = self.policy
        if not result.holds and result.generator_limited:
            self._done = Outcome.GENERATOR_LIMITED
            return
        if result.phase is Phase.RAMP:
            if result.holds and result.rate >= p.max_rate:
                self._done = Outcome.NOT_REACHED
            elif not result.holds and result.rate <= p.min_rate:
                self._done = Outcome.BREAKS_AT_LOWEST
            elif self._holding() is not None and self._breaking() is not None:
                self._phase = Phase.BISECT
        elif result.phase is Phase.CONFIRM:
            self._confirmations += 1
            self._phase = Phase.ABOVE if result.holds else Phase.BISECT
            breaking = self._breaking()
            if result.holds and breaking is not None and breaking.phase is Phase.CONFIRM:
                # Broken by a hold as long as this one: the bracket needs no short step.
                self._confirmed = True
                self._done = Outcome.FOUND
                return
        elif result.phase is Phase.ABOVE:
            if not result.holds:
                self._confirmed = True
                self._done = Outcome.FOUND
            else:
                self._phase = Phase.BISECT
        if self._phase is Phase.BISECT and self._narrow_enough():
            if self._confirmations >= p.max_confirmations:
                self._done = Outcome.UNSTABLE
            else:
                self._phase = Phase.CONFIRM

    def _narrow_enough(self) -> bool:
        holding, breaking = self._holding(), self._breaking()
        if holding is None or breaking is None:
            return False
        if holding.rate >= self._ceiling() * (1 - 1e-9):
            return True  # as high as a short step is trusted: confirm it
        return breaking.rate / holding.rate - 1 <= self.policy.precision + 1e-9

    def next_step(self) -> PlannedStep | None:
        """What to run next; None when the search is over (`result`)."""
        if self._done is not None:
            return None
        p = self.policy
        holding, breaking = self._holding(), self._breaking()
        if self._phase is Phase.RAMP:
            return PlannedStep(Phase.RAMP, self._ramp_rate(), p.step_s)
        assert holding is not None
        if self._phase is Phase.CONFIRM:
            return PlannedStep(Phase.CONFIRM, holding.rate, p.confirm_s)
        if breaking is None:  # a bracket's upper step held at the top: ramp on from there
            self._phase = Phase.RAMP
            return self.next_step()
        if self._phase is Phase.ABOVE:
            return PlannedStep(Phase.ABOVE, breaking.rate, p.above_s or p.step_s)
        top = min(breaking.rate, self._ceiling())
        mid = min((holding.rate + breaking.rate) / 2, top)
        if holding.rate < _round_rate(mid) < top:
            mid = _round_rate(mid)  # a rate as people write it, unless that leaves the bracket
        return PlannedStep(Phase.BISECT, mid, p.step_s)

    def _ramp_rate(self) -> float:
        p = self.policy
        if not self.steps:
            return p.start_rate
        holding, breaking = self._holding(), self._breaking()
        if breaking is None:  # going up
            assert holding is not None
            return min(_round_rate(holding.rate * p.growth), p.max_rate)
        assert holding is None  # else the bisection would have begun
        return max(_round_rate(breaking.rate / p.growth), p.min_rate)

    def stop(self, why: str) -> SearchResult:
        """The result so far, when the search ends before it is over (budget, Ctrl-C)."""
        return self._result(Outcome.INCOMPLETE, why)

    def result(self) -> SearchResult:
        assert self._done is not None, "the search is not over"
        return self._result(self._done, "")

    def _result(self, outcome: Outcome, note: str) -> SearchResult:
        holding, breaking = self._holding(), self._breaking()
        if holding is not None:
            # Report the confirmation's measurement of the sustained rate when there is one.
            confirms = [
                s
                for s in self.steps
                if s.phase is Phase.CONFIRM and s.holds and s.rate == holding.rate
            ]
            holding = confirms[-1] if confirms else holding
        if outcome is Outcome.NOT_REACHED:
            breaking = None
        return SearchResult(
            outcome=outcome,
            sustained=holding,
            breaking=breaking,
            confirmed=self._confirmed,
            steps=tuple(self.steps),
            note=note,
        )


def bracket(steps: Sequence[StepResult]) -> tuple[StepResult | None, StepResult | None]:
    """The highest rate that held below every rate that broke, and the lowest that broke
    above it, by the search's own rule (`Search`) for steps judged in this order: the one
    definition `loadkit run` also reads an open model's stages by."""
    search = Search(SearchPolicy(), list(steps))
    return search._holding(), search._breaking()


NOT_SERVICE_LEVELS = THROUGHPUT_METRICS | COUNT_METRICS | {SERVER_METRIC}
"""A throughput or a count (`rps > 20`, `requests > 100`) is the load a rate sets, not a
service level that a rate can hold; a server metric (`server api_cpu < 3.5`) is a resource
of the system under test, reported beside each step (telemetry), not a service level."""


def service_levels(thresholds: Sequence[Threshold]) -> tuple[Threshold, ...]:
    """The thresholds a rate can hold or break (times, errors, Apdex)."""
    return tuple(t for t in thresholds if t.metric not in NOT_SERVICE_LEVELS)


def slo_thresholds(
    texts: Sequence[str], scenario_thresholds: Sequence[Threshold], source_file: str
) -> tuple[Threshold, ...]:
    """--slo thresholds (parsed as the scenario's are), else the scenario's own that are
    service levels: a throughput or a count (`rps > 20`, `requests > 100`) is the load the
    search sets, not something a rate can hold, so the scenario's are left out and --slo's
    refused."""
    if not texts:
        levels = service_levels(scenario_thresholds)
        if not levels:
            raise UsageError(
                f"{source_file}: the scenario has no thresholds on times, errors or Apdex to "
                "hold; give one with --slo, e.g. --slo 'p95 < 300ms'"
            )
        return levels
    parsed = []
    for text in texts:
        try:
            threshold = parse_threshold(text)
        except ValueError as exc:
            raise UsageError(f"--slo: {exc}") from None
        if threshold.metric in NOT_SERVICE_LEVELS:
            raise UsageError(
                f"--slo {text!r}: {threshold.metric} is set by the search's load, not a "
                "service level; give times, error_rate or apdex, e.g. 'p95 < 300ms'"
            )
        parsed.append(threshold)
    return tuple(parsed)


def _round_rate(rate: float) -> float:
    """A rate as people write it: 3 significant digits (e.g. 412.5 → 413, 0.625 → 0.625)."""
    if rate <= 0:
        return rate
    return float(round(rate, 2 - math.floor(math.log10(rate))))


def repeatability(rates: Sequence[float]) -> float | None:
    """Half the range of independent searches' sustained rates over their mean (±x): None
    with fewer than two."""
    if len(rates) < 2:
        return None
    mean = sum(rates) / len(rates)
    return (max(rates) - min(rates)) / 2 / mean if mean > 0 else None
