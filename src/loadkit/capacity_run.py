"""`loadkit capacity`: runs the search of `capacity_search` step by step and judges each step.

Design: **one short Locust run per step**, each a run folder of its own under the search's
folder (``steps/NN-phase-RATE``), made by the same `runner` as `loadkit run`. The arrival
schedule (the helpers' `Arrivals`) is compiled into the locustfile, and every step starts
with an
empty backlog and fresh histograms, so a step that broke (a queue of late arrivals) cannot
spill its backlog into the next step's judgement, and each step is a complete, inspectable run
(summary.json, report.html) judged by the code that judges every run. The cost is a Locust
start per step (about 1–2 s here, while the pool of users is started in a tenth of a second);
the steady window leaves the start out. Steering one long Locust run over the harness's stdin
would keep the pool warm but would carry each step's backlog into the next.

Any scenario runs as an open model here: its load is replaced by one constant arrival rate
per step, evenly spaced, on a pool of ``--max-concurrency`` users (a closed scenario's think
time is replaced by the schedule; each arrival starts one iteration of a user type, as in
`locustfile_helpers.schedules.Arrivals`).

A step is judged on its steady window only (`capacity.steady_window`: the first
``max(2 s, 20 %)`` and the last second left out), on corrected times (what an arriving user
waits), by the SLO's thresholds; it also breaks when arrivals were dropped, when the arrivals
still waiting at the window's end have waited longer than the SLO's longest time limit (1 s
without one), when it started fewer than 90 % of its planned arrivals, or when fewer than
``MIN_STEP_REQUESTS`` requests completed in the window (the step is made long enough to
expect that many at its rate).
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from loadkit import formatting
from loadkit.capacity import steady_window
from loadkit.capacity_search import (
    Outcome,
    Phase,
    PlannedStep,
    Search,
    SearchPolicy,
    SearchResult,
    StepResult,
    repeatability,
)
from loadkit.compiler import user_class_names
from loadkit.errors import UsageError
from loadkit.exit_codes import ExitStatus
from loadkit.histogram import RunHistograms, load_histograms
from loadkit.measurements import ApdexTargets, HistogramSample, RunMeasurements
from loadkit.run_folder import RunFolder, read_final_snapshot
from loadkit.scenario import Scenario
from loadkit.scenario.durations import format_duration
from loadkit.scenario.thresholds import (
    COUNT_METRICS,
    THROUGHPUT_METRICS,
    TIME_METRICS,
    Threshold,
    judge,
    parse_threshold,
)
from loadkit.settings import Distribution
from loadkit.summary_types import CORRECTED

__all__ = [
    "MIN_STEP_REQUESTS",
    "SearchSetup",
    "StepJudge",
    "as_open_model",
    "run_search",
    "step_seconds",
]

MIN_STEP_REQUESTS = 100
"""Requests a step's steady window must complete to be judged (p95 of fewer is noise)."""
MIN_DELIVERED = 0.9
"""A step that started fewer than this share of its planned arrivals broke (the generator or
the pool could not keep up)."""
NO_TIME_LIMIT_WAIT_S = 1.0


def step_seconds(step: PlannedStep) -> float:
    """How long a step runs: as planned, or longer so that its steady window expects
    ``MIN_STEP_REQUESTS`` arrivals at its rate (whole seconds)."""
    needed = MIN_STEP_REQUESTS / step.rate
    length = math.ceil(step.seconds)
    while True:  # the steady window as the judge takes it (`capacity.steady_window`)
        window = steady_window(0, length - 1)
        if window is not None and window[1] - window[0] >= needed:
            return float(length)
        length += 1


def as_open_model(scenario: Scenario, pool: int, seconds: float) -> Scenario:
    """`scenario` with its load replaced by a constant load of `pool` users for `seconds`: the
    form `settings.closed_as_open` turns into one arrival rate (``--arrival-rate``)."""
    load = scenario.load.model_copy(
        update={
            "users": pool,
            "spawn_rate": float(pool),
            "duration": seconds,
            "stages": None,
            "step": None,
            "spike": None,
            "arrival_rate": None,
            "max_concurrency": None,
            "max_backlog": None,
        }
    )
    return scenario.model_copy(update={"load": load})


@dataclass(frozen=True)
class StepJudge:
    """Judges a step's run folder by the SLO (thresholds on requests, corrected times)."""

    slo: Sequence[Threshold]
    apdex: ApdexTargets
    user_classes: Mapping[str, str]

    @property
    def longest_wait_s(self) -> float:
        """How long the oldest waiting arrival may have waited at a window's end."""
        limits = [t.limit / 1000 for t in self.slo if t.metric in TIME_METRICS]
        return max(limits) if limits else NO_TIME_LIMIT_WAIT_S

    def judge(self, folder: RunFolder, step: PlannedStep) -> StepResult:
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
            waited = waiting / step.rate
            if waited > self.longest_wait_s:
                reasons.append(
                    f"queue growing: {waiting} arrivals waiting (the oldest {waited:.1f} s)"
                )
            if started_n < MIN_DELIVERED * step.rate * seconds:
                reasons.append(f"started {started_per_s:.4g} arrivals/s of {step.rate:g} planned")
        if requests.requests < MIN_STEP_REQUESTS:
            reasons.append(
                f"only {requests.requests} requests completed in the steady window "
                f"({MIN_STEP_REQUESTS} needed)"
            )
        p95 = HistogramSample(requests).percentile(0.95)
        return StepResult(
            phase=step.phase,
            rate=step.rate,
            holds=not reasons,
            reasons=tuple(reasons),
            generator_cpu_pct=_cpu_peak(final, start, end),
            p95_ms=p95,
            requests_per_s=requests.requests / seconds,
            transactions_per_s=None if txn is None else txn / seconds,
            arrivals_per_s=started_per_s,
            requests=requests.requests,
            steady_s=seconds,
            folder=str(folder.path),
            spread=_spread(corrected, start, end) if step.phase is Phase.CONFIRM else None,
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


# -- the search, step by step ---------------------------------------------------------------

INTERRUPTED = "interrupted (Ctrl-C)"
STEP_OVERHEAD_S = 3.0
"""What a step costs beyond its seconds (Locust's start and stop, the step's report): the
budget keeps this much in hand per step."""


@dataclass(frozen=True)
class SearchSetup:
    scenario: Scenario
    text: str
    source_file: str
    slo: tuple[Threshold, ...]
    pool: int
    """--max-concurrency: the users ready for arrivals."""
    host: str | None
    distribution: Distribution
    budget_s: float


StepStarted = Callable[[PlannedStep, float], None]
"""Told each step before it runs (its plan, its seconds)."""
StepDone = Callable[[StepResult], None]


def run_search(
    setup: SearchSetup,
    policy: SearchPolicy,
    folder: Path,
    *,
    on_start: StepStarted | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    on_done: StepDone | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SearchResult:
    """One search (`capacity_search.Search`), each step a run folder under ``folder/steps``.
    Ends early, with what was found so far, when the budget would be passed or on Ctrl-C."""
    from loadkit.summary import apdex_targets

    search = Search(policy)
    scenario = setup.scenario
    judge = StepJudge(setup.slo, apdex_targets(scenario), user_class_names(scenario))
    with _interruptible() as interrupted:
        return _search(
            setup, search, judge, folder, interrupted, on_start, on_progress, on_done, clock
        )


@contextmanager
def _interruptible() -> Iterator[threading.Event]:
    """Ctrl-C (or SIGTERM) between steps ends the search with what it found so far, as one
    during a step does (`runner` stops that step's Locust gracefully)."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        interrupted.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield interrupted
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _search(
    setup: SearchSetup,
    search: Search,
    judge: StepJudge,
    folder: Path,
    interrupted: threading.Event,
    on_start: StepStarted | None,
    on_progress: Callable[[dict[str, Any]], None] | None,
    on_done: StepDone | None,
    clock: Callable[[], float],
) -> SearchResult:
    from loadkit.run_plan import LoadOverrides, plan_run  # the CLI's process only
    from loadkit.runner import run_locust

    scenario = setup.scenario
    begun = clock()
    number = 0
    while (step := search.next_step()) is not None:
        if interrupted.is_set():
            return search.stop(INTERRUPTED)
        seconds = step_seconds(step)
        left = setup.budget_s - (clock() - begun)
        if seconds + STEP_OVERHEAD_S > left:
            return search.stop(
                f"the time budget ran out before the {step.phase} step at {step.rate:g} arrivals/s"
            )
        number += 1
        if on_start is not None:
            on_start(step, seconds)
        step_scenario = as_open_model(scenario, setup.pool, seconds)
        overrides = LoadOverrides(
            host=setup.host,
            duration_s=seconds,
            distribution=setup.distribution,
            arrival_rate=step.rate,
            max_concurrency=setup.pool,
        )
        out = folder / "steps" / f"{number:02d}-{step.phase}-{step.rate:g}"
        planned = plan_run(
            step_scenario, setup.text, setup.source_file, overrides, out=out, reports_dir=folder
        )
        outcome = run_locust(planned, on_progress=on_progress)
        if outcome.summary["run"]["aborted"]:
            return search.stop(INTERRUPTED)
        result = judge.judge(planned.folder, PlannedStep(step.phase, step.rate, seconds))
        search.record(result)
        if on_done is not None:
            on_done(result)
    return search.result()


# -- the answer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forecast:
    """--forecast RATE [--headroom P] [--instances N]: how many instances of the tested
    deployment a forecast peak needs, assuming capacity scales linearly with instances."""

    rate: float
    """Arrivals per second at the forecast peak."""
    headroom: float = 0.0
    """A fraction: 0.3 plans for 30 % above the forecast."""
    instances: int = 1
    """Instances of the target in the tested deployment."""

    def instances_needed(self, sustained_rate: float) -> int:
        per_instance = sustained_rate / self.instances
        return math.ceil(self.rate * (1 + self.headroom) / per_instance - 1e-9)


def capacity_document(
    results: Sequence[SearchResult],
    setup: SearchSetup,
    policy: SearchPolicy,
    forecast: Forecast | None,
    instances: int,
) -> dict[str, Any]:
    """capacity.json: the search's answer, every step, and the plan."""
    first = results[0]
    sustained = [r.sustained.rate for r in results if r.sustained is not None]
    best = first.sustained
    plan = None
    if forecast is not None and best is not None and first.outcome is Outcome.FOUND:
        needed = forecast.instances_needed(min(sustained))
        plan = {
            "forecast_rate": forecast.rate,
            "headroom": forecast.headroom,
            "instances_tested": forecast.instances,
            "instances_needed": needed,
            "assumption": "linear scale-out: each instance sustains the rate found "
            "divided by the instances tested",
        }
    return {
        "outcome": str(first.outcome),
        "note": first.note,
        "confirmed": first.confirmed,
        "unit": "arrivals/s",
        "sustained_rate": None if best is None else best.rate,
        "sustained": None if best is None else _step_doc(best),
        "breaking_rate": None if first.breaking is None else first.breaking.rate,
        "breaking": None if first.breaking is None else _step_doc(first.breaking),
        "repeatability": {
            "confirmation_spread": None if best is None else best.spread,
            "searches": len(results),
            "sustained_rates": sustained,
            "spread": repeatability(sustained),
        },
        "plan": plan,
        "instances": instances,
        "slo": [t.expression for t in setup.slo],
        "slo_time_limits_ms": {
            t.expression: t.limit for t in setup.slo if t.metric in TIME_METRICS
        },
        "max_concurrency": setup.pool,
        "policy": {
            "start_rate": policy.start_rate,
            "max_rate": policy.max_rate,
            "precision": policy.precision,
            "step_s": policy.step_s,
            "confirm_s": policy.confirm_s,
            "budget_s": setup.budget_s,
            "min_step_requests": MIN_STEP_REQUESTS,
        },
        "searches": [[_step_doc(s) for s in r.steps] for r in results],
    }


def _step_doc(step: StepResult) -> dict[str, Any]:
    return {
        "phase": str(step.phase),
        "rate": step.rate,
        "holds": step.holds,
        "reasons": list(step.reasons),
        "p95_ms": step.p95_ms,
        "requests_per_s": step.requests_per_s,
        "transactions_per_s": step.transactions_per_s,
        "arrivals_per_s": step.arrivals_per_s,
        "requests": step.requests,
        "steady_s": step.steady_s,
        "generator_cpu_pct": step.generator_cpu_pct,
        "spread": step.spread,
        "folder": step.folder,
    }


def _throughputs(step: StepResult) -> str:
    """A step's rate in every unit it has: arrivals/s, then the measured req/s and txn/s."""
    parts = []
    if step.requests_per_s is not None:
        parts.append(f"{formatting.rps(step.requests_per_s)} req/s")
    if step.transactions_per_s is not None:
        parts.append(f"{formatting.rps(step.transactions_per_s)} txn/s")
    units = f" ({', '.join(parts)})" if parts else ""
    return f"{step.rate:g} arrivals/s{units}"


def _p95(step: StepResult) -> str:
    return "p95 -" if step.p95_ms is None else f"p95 {formatting.ms_unit(step.p95_ms)}"


def headline(result: SearchResult, setup: SearchSetup, policy: SearchPolicy) -> str:
    """The answer in one or two sentences (capacity.json's `outcome` in words)."""
    slo = " and ".join(t.expression for t in setup.slo)
    held, broke = result.sustained, result.breaking
    if result.outcome is Outcome.GENERATOR_LIMITED:
        assert broke is not None
        found = "" if held is None else f" It held at {_throughputs(held)}."
        return (
            f"Generator-limited: no capacity figure. The load generator's CPU reached "
            f"{broke.generator_cpu_pct:.0f} % of a core at {broke.rate:g} arrivals/s, so the "
            f"breach there may be the generator's; add --processes (one per core) or workers."
            + found
        )
    if result.outcome is Outcome.NOT_REACHED:
        assert held is not None
        return (
            f"Not reached: the SLO ({slo}) held up to --max-rate, {_throughputs(held)}, "
            f"{_p95(held)}; the capacity is above it."
        )
    if result.outcome is Outcome.BREAKS_AT_LOWEST:
        assert broke is not None
        return (
            f"Breaks at the lowest rate tried, {broke.rate:g} arrivals/s "
            f"({'; '.join(broke.reasons)}): no rate met the SLO ({slo})."
        )
    if held is None:
        note = f" ({result.note})" if result.note else ""
        return f"No rate held the SLO ({slo}) before the search ended{note}."
    text = f"Sustains {_throughputs(held)} within {slo}"
    if held.phase is Phase.CONFIRM:
        text += f", confirmed for {held.steady_s:.0f} s (steady window)"
    text += f", {_p95(held)}"
    if broke is not None:
        text += f"; breaks at {broke.rate:g} arrivals/s ({'; '.join(broke.reasons)})"
    text += "."
    if result.outcome is Outcome.UNSTABLE:
        text += " Unconfirmed: confirmations kept contradicting the short steps (a noisy machine?)."
    elif result.outcome is Outcome.INCOMPLETE:
        text += f" Incomplete: {result.note}; the bracket is what was found so far."
    return text


def final_text(
    document: Mapping[str, Any],
    results: Sequence[SearchResult],
    setup: SearchSetup,
    policy: SearchPolicy,
    folder: Path,
) -> str:
    lines = [headline(results[0], setup, policy)]
    for i, extra in enumerate(results[1:], start=2):
        lines.append(f"Search {i}: {headline(extra, setup, policy)}")
    rep = document["repeatability"]
    if rep["confirmation_spread"] is not None:
        lines.append(
            f"Confirmation's own spread: ±{rep['confirmation_spread']:.1%} in req/s over "
            f"{CONFIRM_WINDOW_S} s windows."
        )
    if rep["spread"] is not None:
        rates = ", ".join(f"{r:g}" for r in rep["sustained_rates"])
        lines.append(
            f"Repeatability: ±{rep['spread']:.1%} over {rep['searches']} independent searches "
            f"(sustained {rates} arrivals/s)."
        )
    plan = document["plan"]
    if plan is not None:
        tested = plan["instances_tested"]
        lines.append(
            f"For a forecast peak of {plan['forecast_rate']:g} arrivals/s with "
            f"{plan['headroom']:.0%} headroom: {plan['instances_needed']} instances of what was "
            f"tested ({tested} instance{'s' if tested != 1 else ''}; assumes linear scale-out, "
            "measure it with searches at two --instances counts)."
        )
    lines.append(
        f"Judged on each step's steady window (corrected times, at least {MIN_STEP_REQUESTS} "
        f"requests), precision {policy.precision:.0%}, pool of {setup.pool} users "
        "(--max-concurrency)."
    )
    lines += ["", *_steps_table(results[0].steps), "", f"Search folder: {folder}"]
    return "\n".join(lines)


def _steps_table(steps: Sequence[StepResult]) -> list[str]:
    from loadkit.report.console import table

    rows = [
        [
            str(s.phase),
            f"{s.rate:g}",
            "-" if s.requests_per_s is None else formatting.rps(s.requests_per_s),
            "-" if s.transactions_per_s is None else formatting.rps(s.transactions_per_s),
            "-" if s.p95_ms is None else formatting.ms_unit(s.p95_ms),
            "-" if s.generator_cpu_pct is None else f"{s.generator_cpu_pct:.0f}",
            "holds" if s.holds else "breaks: " + "; ".join(s.reasons),
        ]
        for s in steps
    ]
    headers = ["Phase", "Arrivals/s", "Req/s", "Txn/s", "p95 (corr.)", "CPU %", "SLO"]
    return table(headers, rows, right_from=1)


# -- the command -------------------------------------------------------------------------------


def run_capacity(
    scenario: Scenario,
    text: str,
    source_file: str,
    *,
    slo: Sequence[str],
    host: str | None,
    start_rate: float,
    max_rate: float,
    precision: float,
    step_s: float,
    confirm_s: float,
    budget_s: float,
    pool: int,
    processes: int,
    repeat: int,
    forecast: float | None,
    headroom: float,
    instances: int,
    out: Path | None,
    reports_dir: Path,
    stream: TextIO | None = None,
) -> ExitStatus:
    """`loadkit capacity`: the searches, capacity.json and the answer on `stream`."""
    from loadkit.run_plan import new_folder

    stream = stream or sys.stdout
    thresholds = _slo(slo, scenario, source_file)
    policy = SearchPolicy(
        start_rate=min(start_rate, max_rate),
        max_rate=max_rate,
        min_rate=min(0.5, start_rate, max_rate),
        precision=precision,
        step_s=step_s,
        confirm_s=confirm_s,
    )
    try:
        policy.check()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    folder = new_folder(out, f"{scenario.name}-capacity", reports_dir).path
    setup = SearchSetup(
        scenario, text, source_file, thresholds, pool, host, Distribution(processes=processes),
        budget_s,
    )  # fmt: skip
    live = _Live(stream)
    slo_text = " and ".join(t.expression for t in thresholds)
    stream.write(
        f"loadkit: capacity of {scenario.name!r}: the highest arrival rate within {slo_text} "
        f"(corrected times), pool of {pool} users, budget {format_duration(budget_s)}\n"
    )
    results: list[SearchResult] = []
    begun = time.monotonic()
    for number in range(repeat):
        left = budget_s - (time.monotonic() - begun)
        sub = folder if repeat == 1 else folder / f"search-{number + 1}"
        result = run_search(
            replace(setup, budget_s=left), policy, sub,
            on_start=live.start, on_progress=live.progress, on_done=live.done,
        )  # fmt: skip
        results.append(result)
        if result.note:  # the budget or Ctrl-C: no further searches
            break
    document = capacity_document(
        results,
        setup,
        policy,
        Forecast(forecast, headroom, instances) if forecast is not None else None,
        instances,
    )
    (folder / CAPACITY_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    stream.write(final_text(document, results, setup, policy, folder) + "\n")
    try:
        from loadkit.report.search_charts import write_search_charts  # matplotlib: at the end

        write_search_charts(document, folder)
    except Exception as exc:  # the answer is written already; never lose it to a chart
        stream.write(f"loadkit: warning: the charts could not be drawn: {exc}\n")
    outcome = results[0].outcome
    if outcome in (Outcome.FOUND, Outcome.NOT_REACHED):
        return ExitStatus.PASS
    if results[0].note == INTERRUPTED:
        return ExitStatus.ABORTED
    return ExitStatus.THRESHOLDS_FAILED


CAPACITY_FILE = "capacity.json"


def _slo(texts: Sequence[str], scenario: Scenario, source_file: str) -> tuple[Threshold, ...]:
    """--slo thresholds (parsed as the scenario's are), else the scenario's own that are
    service levels: a throughput or a count (`rps > 20`, `requests > 100`) is the load the
    search sets, not something a rate can hold, so the scenario's are left out and --slo's
    refused."""
    if not texts:
        levels = tuple(t for t in scenario.thresholds if t.metric not in NOT_SERVICE_LEVELS)
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


NOT_SERVICE_LEVELS = THROUGHPUT_METRICS | COUNT_METRICS


class _Live:
    """The terminal while a search runs: a line per step, the running step's second live."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.step: PlannedStep | None = None
        self.seconds = 0.0

    def start(self, step: PlannedStep, seconds: float) -> None:
        self.step, self.seconds = step, seconds
        if not self.tty:
            self.stream.write(
                f"  {step.phase:<8} {step.rate:>8g} arrivals/s for {seconds:g} s ...\n"
            )
            self.stream.flush()

    def progress(self, line: Mapping[str, Any]) -> None:
        if not self.tty or self.step is None:
            return
        p95 = line.get("p95_ms")
        p95_text = formatting.ms_unit(p95) if isinstance(p95, int | float) else "-"
        self.stream.write(
            f"\r\x1b[2K  {self.step.phase:<8} {self.step.rate:>8g} arrivals/s "
            f"[{float(line.get('elapsed') or 0):.0f}/{self.seconds:g} s] "
            f"{formatting.rps(float(line.get('rps') or 0))} req/s, "
            f"p95 {p95_text} (service, last second)"
        )
        self.stream.flush()

    def done(self, result: StepResult) -> None:
        verdict = "holds" if result.holds else "breaks: " + "; ".join(result.reasons)
        prefix = "\r\x1b[2K" if self.tty else ""
        self.stream.write(
            f"{prefix}  {result.phase:<8} {_throughputs(result)}, {_p95(result)} "
            f"(corrected, steady {result.steady_s:.0f} s): {verdict}\n"
        )
        self.stream.flush()
