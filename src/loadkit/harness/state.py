"""The harness's one state object: what this Locust process knows about the test that runs
(or ran), shared by the harness's parts. `state` is the only instance; a test started from the
web UI begins with `reset_for_new_test()`, so every field always holds a value of its type."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from locust.runners import WorkerRunner

from loadkit.harness_protocol import UiTestEnd
from loadkit.masking import Secrets

if TYPE_CHECKING:
    from locust.env import Environment

    from loadkit.live import LiveConfig
    from loadkit.metrics import Cumulative
    from loadkit.run_folder import RunFolder


def _no_workers(expected: int = 0) -> dict[str, Any]:
    # A master's workers: expected, connected when the test started, lost during it.
    return {"expected": expected, "connected": [], "lost": []}


@dataclass
class LiveMetrics:
    """What is judged and exported while the run lasts (`live_metrics`)."""

    cumulative: Cumulative | None = None
    corrected: Cumulative | None = None  # the same for corrected times, when starts are scheduled
    added_until: int = 0
    config: LiveConfig | None = None
    cache: tuple[int, list[Any]] | None = None  # (unix second, the thresholds judged in it)
    rendered: str | None = None  # the file a scrape's text is rendered into once a second


@dataclass
class UiTests:
    """The web UI's tests, a run folder each (`ui`)."""

    config: LiveConfig | None = None  # the scenario's, for the live tables
    current: RunFolder | None = None  # the running test's folder, or None
    writer: Any = None  # Locust's CSV writer for the running test, and its greenlet
    writer_greenlet: Any = None
    finished: list[dict[str, Any]] = field(default_factory=list)  # [{"folder", "started_at"}]
    # The running test's load as its swarm's form said (Locust keeps a run time the form
    # left empty in its options), and the next swarm's until its test starts.
    plan: dict[str, Any] | None = None
    next_plan: dict[str, Any] | None = None
    ended_by: UiTestEnd | None = None  # once known; PLANNED when nothing else ended it


@dataclass
class HarnessState:
    env: Environment | None = None
    started_at: float | None = None
    stopping_at: float | None = None
    stopped_at: float | None = None
    peak_users: int = 0
    users: list[list[float]] = field(default_factory=list)  # [[unix time, running users], ...]
    cpu: dict[str, list[list[float]]] = field(default_factory=dict)  # label -> [[time, CPU %]]
    notes: list[str] = field(default_factory=list)  # distinct warnings on the `loadkit` logger
    # process label -> [[unix second, max ms, p99 ms], ...] (event loop lag)
    loop_lag: dict[str, list[list[float]]] = field(default_factory=dict)
    workers: dict[str, Any] = field(default_factory=_no_workers)
    # The open model: [[unix time, arrived, started, delayed, dropped, waiting, busy], ...]
    # once a second (every process together), and each worker's latest counts.
    arrivals: list[list[float]] = field(default_factory=list)
    worker_arrivals: dict[str, list[int]] = field(default_factory=dict)
    snapshot_written: bool = False
    aborted_by: dict[str, object] | None = None  # the `abort: true` threshold that ended the run
    failing: list[str] = field(default_factory=list)  # thresholds failing now (the live line)
    progress_fd: int | None = None
    secrets: Secrets = field(default_factory=lambda: Secrets(()))
    live: LiveMetrics = field(default_factory=LiveMetrics)
    ui: UiTests = field(default_factory=UiTests)

    def reset_for_new_test(self) -> None:
        """Fresh measurements for a test started from the web UI (the environment, the
        expected workers, the secrets and the web UI's own bookkeeping stay)."""
        self.arrivals, self.worker_arrivals = [], {}
        self.started_at = self.stopping_at = self.stopped_at = None
        self.peak_users, self.users, self.cpu, self.loop_lag = 0, [], {}, {}
        self.notes, self.snapshot_written, self.aborted_by, self.failing = [], False, None, []
        self.workers = _no_workers(self.workers["expected"])
        self.ui.plan, self.ui.next_plan, self.ui.ended_by = self.ui.next_plan, None, None
        live = self.live
        if live.cumulative is not None:  # each test's numbers start from zero
            live.cumulative = type(live.cumulative)()
            if live.corrected is not None:
                live.corrected = type(live.corrected)()
            live.added_until, live.cache = int(time.time()), None


state = HarnessState()


def _is_reporting_process(environment: Environment) -> bool:
    # Workers only forward their numbers; the master (or a local runner) owns the totals.
    return environment.runner is not None and not isinstance(environment.runner, WorkerRunner)
