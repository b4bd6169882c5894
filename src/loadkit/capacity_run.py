"""`loadkit capacity`: runs the search of `capacity_search` step by step and judges each step.

Design: **one short Locust run per step**, each a run folder of its own under the search's
folder (``steps/NN-phase-RATE``), made by the same `runner` as `loadkit run`. The arrival
schedule (`locustfile_helpers.Arrivals`) is compiled into the locustfile, and every step starts
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
`locustfile_helpers.Arrivals`).

Each step is judged by `capacity_judge`; the answer is written by `capacity_answer`.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from loadkit.capacity import steady_window
from loadkit.capacity_answer import (
    CAPACITY_FILE,
    LiveLines,
    capacity_document,
    final_text,
    read_scale_point,
)
from loadkit.capacity_judge import MIN_STEP_REQUESTS, StepJudge
from loadkit.capacity_plan import Forecast, make_plan, plan_text
from loadkit.capacity_search import (
    Outcome,
    PlannedStep,
    Search,
    SearchPolicy,
    SearchResult,
    StepResult,
    slo_thresholds,
)
from loadkit.errors import UsageError
from loadkit.exit_codes import ExitStatus
from loadkit.scenario import Scenario
from loadkit.scenario.durations import format_duration
from loadkit.scenario.thresholds import Threshold
from loadkit.settings import Distribution, HistoryChoice

__all__ = [
    "CAPACITY_FILE",
    "SearchSetup",
    "as_open_model",
    "plan_from_folders",
    "run_capacity",
    "run_search",
    "step_seconds",
]


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
    search = Search(policy)
    judge = StepJudge.for_scenario(setup.scenario, setup.slo)
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
    scale_from: Sequence[str] = (),
    stream: TextIO | None = None,
    history: HistoryChoice | None = None,
) -> ExitStatus:
    """`loadkit capacity`: the searches, capacity.json and the answer on `stream`; one
    record of it in the run `history`."""
    from loadkit.run_plan import new_folder
    from loadkit.run_start import check_observe

    stream = stream or sys.stdout
    thresholds = slo_thresholds(slo, scenario.thresholds, source_file)
    earlier = [read_scale_point(Path(f), "--scale-from") for f in scale_from]  # before any load
    if earlier and forecast is None:
        raise UsageError("--scale-from plans a forecast: give --forecast RATE as well")
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
    for warning in check_observe(scenario):  # as `loadkit run`: refused PromQL sends no load
        sys.stderr.write(f"loadkit: warning: {source_file}: {warning}\n")
    folder = new_folder(out, f"{scenario.name}-capacity", reports_dir).path
    setup = SearchSetup(
        scenario, text, source_file, thresholds, pool, host, Distribution(processes=processes),
        budget_s,
    )  # fmt: skip
    live = LiveLines(stream)
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
        Forecast(forecast, headroom) if forecast is not None else None,
        instances,
        earlier,
        str(folder),
    )
    (folder / CAPACITY_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    stream.write(final_text(document, results, setup, policy, folder) + "\n")
    try:
        from loadkit.report.search_charts import write_search_charts  # matplotlib: at the end

        write_search_charts(document, folder)
    except Exception as exc:  # the answer is written already; never lose it to a chart
        stream.write(f"loadkit: warning: the charts could not be drawn: {exc}\n")
    outcome = results[0].outcome
    if history is not None:
        from loadkit.history.recording import record_capacity  # SQLAlchemy: at the end

        passed = outcome in (Outcome.FOUND, Outcome.NOT_REACHED)
        stream.write(record_capacity(document, folder, history, passed=passed) + "\n")
    if outcome in (Outcome.FOUND, Outcome.NOT_REACHED):
        return ExitStatus.PASS
    if results[0].note == INTERRUPTED:
        return ExitStatus.ABORTED
    return ExitStatus.THRESHOLDS_FAILED


def plan_from_folders(
    folders: Sequence[str], forecast: float, headroom: float, stream: TextIO | None = None
) -> ExitStatus:
    """`loadkit plan`: the plan of earlier searches' points, on `stream` (text, then JSON)."""
    stream = stream or sys.stdout
    points = [read_scale_point(Path(f), "loadkit plan") for f in folders]
    plan = make_plan(Forecast(forecast, headroom), points)
    stream.write(plan_text(plan) + "\n" + json.dumps(plan, indent=2) + "\n")
    return ExitStatus.PASS if plan["instances_needed"] is not None else ExitStatus.THRESHOLDS_FAILED
