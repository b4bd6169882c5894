"""How a capacity step is judged: whether a stretch of a run holds the SLO or breaks it.

The one owner of "holds" and "breaks": `loadkit capacity` judges each step's steady window
with `StepJudge.judge`, and `loadkit run` each arrival stage's steady window of an open-model
run with `StepJudge.judge_window` (`capacity.analyze_capacity`), so a rate that holds in one
holds in the other.

A stretch is judged on its steady window only (`capacity.steady_window`: the first
``max(2 s, 20 %)`` and the last second left out), on corrected times (what an arriving user
waits), by the SLO's thresholds; it also breaks when arrivals were dropped, when the arrivals
still waiting at the window's end have waited longer than the SLO's longest time limit (1 s
without one), when it started fewer than 90 % of its planned arrivals, or when fewer than
``MIN_STEP_REQUESTS`` requests completed in the window (the step is made long enough to
expect that many at its rate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from loadkit.capacity import CapacityReport, steady_window
from loadkit.capacity_search import (
    MIN_STEP_REQUESTS,
    NOT_SERVICE_LEVELS,
    Phase,
    PlannedStep,
    StepResult,
    bracket,
    service_levels,
)
from loadkit.histogram import RunHistograms, load_histograms
from loadkit.measurements import ApdexTargets, HistogramSample, RunMeasurements
from loadkit.run_folder import RunFolder, read_final_snapshot
from loadkit.scenario import Scenario
from loadkit.scenario.thresholds import (
    TIME_METRICS,
    Threshold,
    judge,
)
from loadkit.summary_types import CORRECTED

__all__ = [
    "CONFIRM_WINDOW_S",
    "MIN_STEP_REQUESTS",
    "NOT_SERVICE_LEVELS",
    "StepJudge",
    "service_levels",
    "stage_judge",
]

MIN_DELIVERED = 0.9
"""A step that started fewer than this share of its planned arrivals broke (the generator or
the pool could not keep up)."""
NO_TIME_LIMIT_WAIT_S = 1.0


def stage_judge(scenario: Scenario) -> StepJudge | None:
    """How `loadkit run` judges an open model's stages: by the scenario's service levels, as
    `loadkit capacity` without --slo judges its steps; None when it has none."""
    levels = service_levels(scenario.thresholds)
    return StepJudge.for_scenario(scenario, levels) if levels else None


@dataclass(frozen=True)
class StepJudge:
    """Judges a step's run folder by the SLO (thresholds on requests, corrected times)."""

    slo: Sequence[Threshold]
    apdex: ApdexTargets
    user_classes: Mapping[str, str]

    @classmethod
    def for_scenario(cls, scenario: Scenario, slo: Sequence[Threshold]) -> StepJudge:
        from loadkit.compiler import user_class_names
        from loadkit.summary import apdex_targets

        return cls(tuple(slo), apdex_targets(scenario), user_class_names(scenario))

    @property
    def longest_wait_s(self) -> float:
        """How long the oldest waiting arrival may have waited at a window's end."""
        limits = [t.limit / 1000 for t in self.slo if t.metric in TIME_METRICS]
        return max(limits) if limits else NO_TIME_LIMIT_WAIT_S

    def judge(self, folder: RunFolder, step: PlannedStep) -> StepResult:
        """A capacity step: its run folder, judged on its steady window."""
        final = read_final_snapshot(folder.final_stats)
        started = final["started_at"] if final else None
        broke = StepResult(step.phase, step.rate, False, folder=str(folder.path))
        if final is None or not isinstance(started, int | float) or not folder.histograms.is_file():
            return _with(broke, reasons=("Locust left no measurements (see its log)",))
        service = load_histograms(folder.histograms)
        corrected = (
            load_histograms(folder.corrected_histograms)
            if folder.corrected_histograms.is_file()
            else service
        )
        window = steady_window(math.ceil(started), math.floor(started + step.seconds))
        if window is None:
            return _with(broke, reasons=("the step was too short for a steady window",))
        result = self.judge_window(final, service, corrected, window, step.phase, step.rate)
        return _with(result, folder=str(folder.path))

    def judge_window(
        self,
        final: Mapping[str, Any],
        service: RunHistograms,
        corrected: RunHistograms,
        window: tuple[int, int],
        phase: Phase,
        rate: float,
    ) -> StepResult:
        """The seconds ``window`` ``[start, end)`` of a run offered ``rate`` arrivals/s:
        holds or breaks (a capacity step's steady window, or a stage's of `loadkit run`)."""
        start, end = window
        seconds = float(end - start)
        requests = corrected.requests_only().select(start=start, end=end)
        transactions = corrected.transactions_only()
        txn = transactions.select(start=start, end=end).requests if transactions.series else None
        reasons = self._slo_reasons(service, corrected, start, end)
        arrivals = _arrivals_in(final, start, end)
        started_per_s = None
        if arrivals is not None:
            started_n, dropped, waiting = arrivals
            started_per_s = started_n / seconds
            if dropped:
                reasons.append(f"{dropped} arrivals dropped (backlog full)")
            waited = waiting / rate
            if waited > self.longest_wait_s:
                reasons.append(
                    f"queue growing: {waiting} arrivals waiting (the oldest {waited:.1f} s)"
                )
            if started_n < MIN_DELIVERED * rate * seconds:
                reasons.append(f"started {started_per_s:.4g} arrivals/s of {rate:g} planned")
        if requests.requests < MIN_STEP_REQUESTS:
            reasons.append(
                f"only {requests.requests} requests completed in the steady window "
                f"({MIN_STEP_REQUESTS} needed)"
            )
        p95 = HistogramSample(requests).percentile(0.95)
        return StepResult(
            phase=phase,
            rate=rate,
            holds=not reasons,
            reasons=tuple(reasons),
            generator_cpu_pct=_cpu_peak(final, start, end),
            p95_ms=p95,
            requests_per_s=requests.requests / seconds,
            transactions_per_s=None if txn is None else txn / seconds,
            arrivals_per_s=started_per_s,
            requests=requests.requests,
            steady_s=seconds,
            spread=_spread(corrected, start, end) if phase is Phase.CONFIRM else None,
        )

    def bracket_report(
        self,
        report: CapacityReport,
        final: Mapping[str, Any],
        folder: RunFolder,
        service: RunHistograms | None,
        corrected: RunHistograms | None,
    ) -> CapacityReport:
        """An open run's capacity report (`capacity.analyze_capacity`) with its stages judged
        as steps, on their steady windows, and bracketed by the search's rule
        (`capacity_search.bracket`). A stage whose window completed fewer than
        ``MIN_STEP_REQUESTS`` requests is not judged, nor one that broke with the generator's
        CPU past its limit (the breach may be the generator's). The levels' SLO
        (``max_rate_within_slo``) is then this bracket."""
        if service is None:
            service = load_histograms(folder.histograms)
        if corrected is None:
            path = folder.corrected_histograms
            corrected = load_histograms(path) if path.is_file() else service
        judged = []
        for level in report.levels:
            window = (int(level.start), int(level.end))
            rate = level.arrival_rate or 0.0
            step = self.judge_window(final, service, corrected, window, Phase.RAMP, rate)
            if step.requests >= MIN_STEP_REQUESTS and (step.holds or not step.generator_limited):
                judged.append(step)
        held, broke = bracket(judged)
        if held is None and broke is None:
            return report  # nothing could be judged: the levels say what there is
        limit = -math.inf if held is None else held.rate
        within = [lv for lv in report.levels if (lv.arrival_rate or 0) <= limit]
        return replace(
            report,
            sustained_rate=None if held is None else held.rate,
            breaking_rate=None if broke is None else broke.rate,
            sustained=held,
            breaking=broke,
            slo_given=True,
            max_rate_within_slo=None if held is None else held.rate,
            max_rps_within_slo=max((lv.throughput_rps for lv in within), default=None),
        )

    def _slo_reasons(
        self, service: RunHistograms, corrected: RunHistograms, start: int, end: int
    ) -> list[str]:
        """The SLO judged as `loadkit run` judges thresholds (`thresholds.judge`: windows,
        Apdex targets, "no data" explained), on the step's steady window alone."""
        window = _Window(
            RunMeasurements(
                service, float(end - start), self.user_classes, self.apdex, corrected, CORRECTED
            ),
            start,
            end,
        )
        reasons = []
        for result in (judge(t, window) for t in self.slo):
            if not result.passed:
                t = result.threshold
                shown = t.format_value(result.actual) if result.actual is not None else result.note
                reasons.append(f"{t.expression}: {shown}")
        return reasons


@dataclass(frozen=True)
class _Window:
    """A run's measurements restricted to the seconds ``[start, end)``: what `judge` asks of
    a run (a window threshold's windows stay inside it)."""

    run: RunMeasurements
    start: int
    end: int

    @property
    def duration_s(self) -> float:
        return self.run.duration_s

    def sample(self, *, start: int | None, end: int | None, **kwargs: Any) -> Any:
        start = self.start if start is None else max(start, self.start)
        end = self.end if end is None else min(end, self.end)
        return self.run.sample(start=start, end=end, **kwargs)

    def seconds(self) -> tuple[int, int] | None:
        return (self.start, self.end - 1)

    def apdex_t_ms(self, name: str | None, *, transaction: bool = False) -> float:
        return self.run.apdex_t_ms(name, transaction=transaction)


def _with(result: StepResult, **changes: Any) -> StepResult:
    return replace(result, **changes)


def _arrivals_in(final: Mapping[str, Any], start: int, end: int) -> tuple[int, int, int] | None:
    """(started, dropped) in ``[start, end)`` and the arrivals waiting at its end, from the
    harness's cumulative per-second counts; None without arrivals."""
    section = final.get("arrivals")
    if not isinstance(section, dict) or not section.get("series"):
        return None
    columns = list(section["columns"])
    rows = section["series"]

    def at(t: float) -> dict[str, float]:
        before = [r for r in rows if r[0] <= t] or rows[:1]
        return dict(zip(columns, before[-1], strict=True))

    first, last = at(start), at(end)
    return (
        int(last["started"] - first["started"]),
        int(last["dropped"] - first["dropped"]),
        int(last["waiting"]),
    )


def _cpu_peak(final: Mapping[str, Any], start: int, end: int) -> float | None:
    """The busiest load-generating process's highest CPU (% of one core) in the window."""
    cpu = final.get("cpu")
    if not isinstance(cpu, dict):
        return None
    samples = [float(pct) for series in cpu.values() for t, pct in series if start <= t < end + 1]
    return max(samples) if samples else None


CONFIRM_WINDOW_S = 5


def _spread(corrected: RunHistograms, start: int, end: int) -> float | None:
    """Half the range of a confirmation's per-window request rates over their mean (windows
    of ``CONFIRM_WINDOW_S``); None with fewer than two windows."""
    rates = []
    for begin in range(start, end - CONFIRM_WINDOW_S + 1, CONFIRM_WINDOW_S):
        hist = corrected.requests_only().select(start=begin, end=begin + CONFIRM_WINDOW_S)
        rates.append(hist.requests / CONFIRM_WINDOW_S)
    if len(rates) < 2 or sum(rates) <= 0:
        return None
    mean = sum(rates) / len(rates)
    return (max(rates) - min(rates)) / 2 / mean
