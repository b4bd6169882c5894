"""What one run will do: the scenario's load, overridden by the command line / environment."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from loadkit.scenario import Scenario, shapes
from loadkit.scenario.shapes import Stage

MASTER_PORT = 5557
"""Locust's own default master port, for a master that workers on other machines join."""


@dataclass(frozen=True)
class Distribution:
    """Where the load is generated: in the Locust process itself, in `processes` worker
    processes on this machine (Locust's --processes), or, as a master, by `expect_workers`
    workers that connect from other machines (`loadkit worker`)."""

    processes: int = 1
    expect_workers: int = 0
    """--master: the workers to wait for before the test starts; 0 for a run on this machine."""
    bind_host: str = "127.0.0.1"
    """Where the master listens. Its port is unauthenticated and hands out the locustfile (with
    embedded test data) to whoever connects: loopback unless the user says otherwise."""
    port: int | None = None
    """None: a free port of our own (--processes) or MASTER_PORT (--master)."""
    max_wait_s: float = 60.0
    """--master: how long to wait for the expected workers before giving up (no load sent)."""

    @property
    def master(self) -> bool:
        return self.expect_workers > 0

    @property
    def distributed(self) -> bool:
        return self.master or self.processes > 1


@dataclass(frozen=True)
class HistoryChoice:
    """Where a run is recorded (`--history`, LOADKIT_HISTORY, or the reports directory's
    history.db; `loadkit.history`) and whether drift fails it (`--fail-on-drift`)."""

    url: str
    fail_on_drift: bool = False


@dataclass(frozen=True)
class RunSettings:
    host: str
    users: int
    """Peak users (for a shape: the largest stage)."""
    spawn_rate: float
    duration_s: int
    """Planned run time (for a shape: the sum of its stages, rounded up)."""
    stop_timeout_s: int
    stages: tuple[Stage, ...] | None = None
    """The load shape, or None for a constant load."""
    distribution: Distribution = field(default_factory=Distribution)
    arrivals: shapes.Arrivals | None = None
    """The open model: arrival stages and the pool (`stages` then holds the pool's users for
    the arrivals' duration)."""
    strict_generator: bool = False
    """--strict-generator: a busy or lagging load generator fails the run (else a warning)."""
    history: HistoryChoice | None = None
    """Where the run is recorded (`loadkit.history`); None: nowhere (--no-history)."""

    @property
    def processes(self) -> int:
        return self.distribution.processes

    @classmethod
    def resolve(
        cls,
        scenario: Scenario,
        *,
        host: str | None = None,
        users: int | None = None,
        spawn_rate: float | None = None,
        duration_s: float | None = None,
        distribution: Distribution | None = None,
        arrival_rate: float | None = None,
        max_concurrency: int | None = None,
    ) -> RunSettings:
        """The scenario's load with the overrides applied; they are checked first, with the
        scenario's load, by `RunRequest.problems` (the one place that decides whether an
        override can apply: e.g. --spawn-rate with stages cannot)."""
        load = scenario.load
        stages = load.stage_list()
        target = (host or scenario.host).rstrip("/")
        # Locust takes whole seconds here; never cut a user's grace period short.
        stop_timeout_s = math.ceil(load.stop_timeout)
        plan = load.arrivals_plan()
        spawn_rate_of_pool = load.spawn_rate
        if plan is None and arrival_rate is not None:
            # A closed scenario run as an open model: its users become the pool, each arrival
            # one iteration; the pool starts at once (the scenario's spawn rate paced users).
            # The overrides are its whole shape: nothing left to scale.
            plan = closed_as_open(scenario, arrival_rate, duration_s, max_concurrency)
            spawn_rate_of_pool = None
        elif plan is not None:
            plan = scale_arrivals(
                plan, rate=arrival_rate, duration_s=duration_s, max_concurrency=max_concurrency
            )
        if plan is not None:
            pool = plan.max_concurrency
            duration = math.ceil(round(plan.duration_s, 6))
            spawn = shapes.pool_spawn_rate(pool, spawn_rate_of_pool)
            return cls(
                users=pool,
                spawn_rate=spawn,
                duration_s=duration,
                stop_timeout_s=stop_timeout_s,
                stages=(Stage(pool, spawn, plan.duration_s),),
                host=target,
                distribution=distribution or Distribution(),
                arrivals=plan,
            )
        if stages is not None:
            stages = scale_stages(stages, users=users, duration_s=duration_s)
            return cls(
                users=max(s.users for s in stages),
                spawn_rate=max(s.spawn_rate for s in stages),
                duration_s=math.ceil(round(shapes.total_duration(stages), 6)),
                stop_timeout_s=stop_timeout_s,
                stages=tuple(stages),
                host=target,
                distribution=distribution or Distribution(),
            )
        assert load.users is not None and load.spawn_rate is not None
        return cls(
            users=users if users is not None else load.users,
            spawn_rate=spawn_rate if spawn_rate is not None else load.spawn_rate,
            duration_s=int(duration_s if duration_s is not None else load.total_duration),
            stop_timeout_s=stop_timeout_s,
            host=target,
            distribution=distribution or Distribution(),
        )


def scale_stages(
    stages: list[Stage], *, users: int | None = None, duration_s: float | None = None
) -> list[Stage]:
    """A shape scaled from the command line, so one file serves a 2-minute pull-request gate
    and the full nightly run: `users` sets the peak (every stage's users and spawn rate scale
    by the same factor, at least 1 user where there were any), `duration_s` the total time
    (every stage's duration scales, and its spawn rate inversely, so each ramp keeps its
    share of its stage). A duration that leaves a stage no time is refused by
    `RunRequest.problems`."""
    if users is None and duration_s is None:
        return stages
    peak = max(s.users for s in stages)
    user_factor = users / peak if users is not None and peak > 0 else 1.0
    total = shapes.total_duration(stages)
    time_factor = duration_s / total if duration_s is not None and total > 0 else 1.0
    scaled = []
    for stage in stages:
        new_users = round(stage.users * user_factor)
        if stage.users > 0:
            new_users = max(new_users, 1)
        seconds = round(stage.duration_s * time_factor, 3)
        scaled.append(Stage(new_users, stage.spawn_rate * user_factor / time_factor, seconds))
    return scaled


def scale_arrivals(
    plan: shapes.Arrivals,
    *,
    rate: float | None = None,
    duration_s: float | None = None,
    max_concurrency: int | None = None,
) -> shapes.Arrivals:
    """The open model from the command line: `rate` sets the peak arrival rate (every stage's
    rate scales by the same factor), `duration_s` the total time (every stage's duration
    scales), `max_concurrency` the pool. The backlog bound keeps its seconds of arrivals."""
    if rate is None and duration_s is None and max_concurrency is None:
        return plan
    peak = plan.peak_rate
    rate_factor = rate / peak if rate is not None and peak > 0 else 1.0
    total = plan.duration_s
    time_factor = duration_s / total if duration_s is not None and total > 0 else 1.0
    stages = tuple(
        shapes.ArrivalStage(s.rate * rate_factor, round(s.duration_s * time_factor, 3))
        for s in plan.stages
    )
    return shapes.Arrivals(
        stages=stages,
        max_concurrency=max_concurrency or plan.max_concurrency,
        spacing=plan.spacing,
        max_backlog=max(1, round(plan.max_backlog * rate_factor)),
    )


def closed_as_open(
    scenario: Scenario,
    rate: float,
    duration_s: float | None,
    max_concurrency: int | None,
) -> shapes.Arrivals:
    """A closed scenario (users, think time) as an open model at `rate` arrivals/s for
    `duration_s` (default: the scenario's): the scenario's peak users become the pool unless
    `max_concurrency` says otherwise, arrivals evenly spaced, the usual backlog bound (a rate
    above 0: `RunRequest.problems`)."""
    load = scenario.load
    stages = load.stage_list()
    peak_users = max(s.users for s in stages) if stages else load.users or 1
    seconds = duration_s if duration_s is not None else load.total_duration
    return shapes.Arrivals(
        stages=(shapes.ArrivalStage(rate, float(seconds)),),
        max_concurrency=max_concurrency or max(peak_users, len(scenario.users)),
        spacing="constant",
        max_backlog=shapes.default_backlog(rate),
    )
