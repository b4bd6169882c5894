"""Did the run deliver the load it planned? Planned users per stage against the users that
actually ran, and the load generator's own CPU: pure functions of the settings and of what the
harness sampled once a second (`locust_final.json`: ``users``, ``cpu``, ``notes``).

A run that reached fewer users than planned did not test what it claimed, whatever its
response times say: the summary fails it, with the cause when the generated code named one
(e.g. ``test data 'citizens' exhausted after 5 rows``). A load generator that was busy at
90 % of a core or more measured itself as much as the target: the summary flags it.

Reached users of a stage
    The stage runs from ``start`` to ``end`` seconds after the test started. Its users are
    planned to be running once the ramp from the previous stage's users at the stage's spawn
    rate is over, plus ``SETTLE_S`` (the count is sampled once a second; a distributed run's
    master learns its workers' counts from their heartbeats, hence ``SETTLE_DISTRIBUTED_S``).
    *Reached* is the smallest user count sampled from then until half a second before ``end``: a
    user that stops early (its test data ran out) lowers it as surely as one never started. A
    stage too short to settle, or cut short by an interrupted run, is not judged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loadkit.harness_protocol import UiTestEnd
from loadkit.scenario import Scenario
from loadkit.settings import RunSettings
from loadkit.summary_types import ArrivalsInfo, LoadInfo

SETTLE_S = 1.5
SETTLE_DISTRIBUTED_S = 4.0
BUSY_CPU_PERCENT = 90.0
"""A load-generating process at or above this share of one core measures itself."""
BUSY_SHARE = 0.10
"""...for at least this share of its samples (and at least MIN_BUSY_SECONDS) flags the run."""
MIN_BUSY_SECONDS = 3
STOP_SLACK_S = 1.0
"""A web UI test the person stopped within this of its planned run time ran as planned."""
_ENDED_BY_THE_USER = {
    UiTestEnd.STOP: "stopped by the user",
    UiTestEnd.NEW_SWARM: "ended by a new swarm",
    UiTestEnd.RESET: "ended by a reset of the statistics",  # it goes on in the next folder
}
LAG_P99_MS = 10.0
"""A second in which the event loop woke its ~100 ms timer later than this is a lagging second
(`loop_lag`'s "p99" of a second's 7-20 ticks is its worst tick): every response that arrived
then may have waited up to that long in the generator before it was timed. 10 ms is where the
generator's delay becomes a large share of a fast target's answer (a local service answers in
1-5 ms) and clearly above what a calm loop shows on a busy shared VM (under 2 ms, with scheduler
hiccups of a few ms)."""
LAGGING_SHARE = 0.10
"""...in at least this share of a process's seconds (and MIN_LAGGING_SECONDS) flags the run,
as for a busy CPU: a late second or two (a GC pause, a re-balance, a neighbour on a shared
machine) does not."""
MIN_LAGGING_SECONDS = 3
MOVED_WITHIN_S = 5.0
"""A lost worker's users running again elsewhere (the user count back where it was) within
this many seconds of the master noticing the loss: Locust re-balanced them, the dip is not a
shortfall, and the loss is a warning. Locust moves a departed worker's users at once, at the
spawn rate; 5 s covers that plus the once-a-second sampling and the workers' reports."""
HEARTBEAT_S = 3
"""Locust marks a worker missing after this many seconds without a heartbeat."""


@dataclass(frozen=True)
class StageLoad:
    planned_users: int
    start_s: float
    end_s: float
    settled_s: float
    """From here (seconds after the start) the planned users should all be running."""
    reached_users: int | None
    """The fewest users sampled while they should all have been running; None: not judged."""

    @property
    def short(self) -> bool:
        return self.reached_users is not None and self.reached_users < self.planned_users


@dataclass(frozen=True)
class WorkerLoss:
    """A worker gone during the test: it left (its process stopped and said goodbye, with
    a last report) or went missing (no heartbeat; what it measured since its last report never
    arrives unless it comes back)."""

    worker: str
    at_s: float
    """Seconds into the run when the master noticed."""
    users: int
    how: str
    """"left" or "missing"."""
    returned_s: float | None = None
    """A missing worker that answered again (seconds into the run), else None."""
    moved_s: float | None = None
    """Seconds until the users were all running again (elsewhere, or back), from the loss (a
    missing worker's: from its last heartbeat); None: never."""

    @property
    def covered(self) -> bool:
        return self.moved_s is not None and self.moved_s <= MOVED_WITHIN_S

    def describe(self) -> str:
        if self.how == "left":
            what = f"worker {self.worker} left {self.at_s:.0f} s into the run"
            what += f" with {self.users} users"
        elif self.returned_s is None:
            return (
                f"worker {self.worker} was lost {self.at_s:.0f} s into the run with {self.users}"
                f" users (no heartbeat for {HEARTBEAT_S} s): its load from then on and the "
                f"requests it made since its last report (up to {HEARTBEAT_S} s) are missing"
            )
        else:
            what = (
                f"worker {self.worker} stopped answering (no heartbeat for {HEARTBEAT_S} s) "
                f"{self.at_s:.0f} s into the run with {self.users} users and answered again at "
                f"{self.returned_s:.0f} s (its measurements arrived)"
            )
        if self.covered:
            moved = max(1, math.ceil(self.moved_s or 0.0))
            return f"{what}; its users moved to the others within {moved} s"
        if self.moved_s is None:
            return f"{what}; nobody ran its users from then on"
        return f"{what}; its users ran again only {self.moved_s:.0f} s later"


@dataclass(frozen=True)
class ProcessCpu:
    label: str
    """"local", "master", or a worker's id."""
    samples: int
    busy_samples: int
    max_percent: float
    mean_percent: float

    @property
    def saturated(self) -> bool:
        return self.busy_samples >= max(MIN_BUSY_SECONDS, BUSY_SHARE * self.samples)


@dataclass(frozen=True)
class ProcessLag:
    """How late one load-generating process's event loop was, per second of the test."""

    label: str
    """"local", "master", or a worker's id."""
    seconds: int
    lagging_seconds: int
    """Seconds whose p99 lag exceeded LAG_P99_MS."""
    max_ms: float
    """The latest any timer fired, over the whole test."""
    worst_p99_ms: float
    """The highest per-second p99: the worst second's."""
    requests_in_lagging: int | None = None
    """Requests (every process's) that completed in those seconds; None: not known."""
    requests: int | None = None

    @property
    def lagging(self) -> bool:
        return self.lagging_seconds >= max(MIN_LAGGING_SECONDS, LAGGING_SHARE * self.seconds)


UNDELIVERED_SHARE = 0.001
"""The open model: arrivals still waiting at the end beyond this share of all arrivals (and
more than MIN_UNDELIVERED) fail the run, as any dropped arrival does."""
MIN_UNDELIVERED = 2


@dataclass(frozen=True)
class ArrivalsDelivered:
    """The open model: planned arrivals against those that started, on time or late.

    Arrived: arrivals that came (were due) during the run; started: iterations begun (delayed:
    begun late, from the backlog, because every user was busy); dropped: arrivals that found
    the backlog full; waiting: still in the backlog when the load stopped. Each second's
    `started` and `busy` (users in an iteration) come from the harness's samples."""

    target_rate: float
    """The peak planned arrivals per second (every process together)."""
    planned: float
    """Arrivals the stages plan in all (rate x duration)."""
    spacing: str
    max_concurrency: int
    max_backlog: int
    arrived: int
    started: int
    delayed: int
    dropped: int
    waiting: int
    seconds: list[tuple[float, int, int, int]]
    """(seconds after the start, iterations started in that second, users busy, waiting)."""
    delivered_s: float | None
    stages: tuple[tuple[float, float], ...] = ()
    """The planned (rate, seconds), one after the other."""

    @property
    def achieved_rate(self) -> float | None:
        if not self.delivered_s:
            return None
        return self.started / self.delivered_s

    @property
    def peak_busy(self) -> int:
        return max((busy for _, _, busy, _ in self.seconds), default=0)

    def shortfall(self) -> list[str]:
        waiting_too_many = self.waiting > max(MIN_UNDELIVERED, UNDELIVERED_SHARE * self.arrived)
        if not self.dropped and not waiting_too_many:
            return []
        parts = []
        if self.dropped:
            parts.append(f"{self.dropped} dropped (the backlog of {self.max_backlog} was full)")
        if self.waiting:
            parts.append(f"{self.waiting} still waiting at the end")
        return [
            f"{self.arrived} arrivals came but only {self.started} started: "
            + ", ".join(parts)
            + f"; every one of the {self.max_concurrency} users was busy (raise max_concurrency"
            " if the target has room, else the target cannot keep up with this rate)"
        ]

    def to_dict(self) -> ArrivalsInfo:
        achieved = self.achieved_rate
        return {
            "target_rate": round(self.target_rate, 4),
            "achieved_rate": None if achieved is None else round(achieved, 4),
            "planned": round(self.planned, 1),
            "spacing": self.spacing,
            "max_concurrency": self.max_concurrency,
            "max_backlog": self.max_backlog,
            "arrived": self.arrived,
            "started": self.started,
            "delayed": self.delayed,
            "dropped": self.dropped,
            "waiting": self.waiting,
            "peak_busy": self.peak_busy,
            "stages": [{"rate": rate, "duration_s": seconds} for rate, seconds in self.stages],
            "per_second": [
                {"at_s": round(t, 3), "started": n, "busy": busy, "waiting": waiting}
                for t, n, busy, waiting in self.seconds
            ],
        }


def arrivals_delivered(
    settings: RunSettings, final: Mapping[str, Any] | None, delivered_s: float | None
) -> ArrivalsDelivered | None:
    """The open model's counts in ``final`` (locust_final.json ``arrivals``) against the plan."""
    plan = settings.arrivals
    data = (final or {}).get("arrivals")
    if plan is None or not data:
        return None
    counts = data.get("final") or {}
    started_at = (final or {}).get("started_at")
    columns = list(data.get("columns") or [])
    seconds: list[tuple[float, int, int, int]] = []
    previous = 0
    if started_at is not None and columns:
        at = {name: columns.index(name) for name in ("time", "started", "busy", "waiting")}
        for row in data.get("series") or []:
            started = int(row[at["started"]])
            seconds.append(
                (
                    float(row[at["time"]]) - started_at,
                    started - previous,
                    int(row[at["busy"]]),
                    int(row[at["waiting"]]),
                )
            )
            previous = started
    return ArrivalsDelivered(
        target_rate=plan.peak_rate,
        planned=plan.planned_arrivals,
        spacing=plan.spacing,
        max_concurrency=plan.max_concurrency,
        max_backlog=plan.max_backlog,
        arrived=int(counts.get("arrived", 0)),
        started=int(counts.get("started", 0)),
        delayed=int(counts.get("delayed", 0)),
        dropped=int(counts.get("dropped", 0)),
        waiting=int(counts.get("waiting", 0)),
        seconds=seconds,
        delivered_s=delivered_s,
        stages=tuple((s.rate, s.duration_s) for s in plan.stages),
    )


@dataclass(frozen=True)
class LoadDelivered:
    planned_users: int
    peak_users: int | None
    stages: list[StageLoad]
    planned_s: float
    delivered_s: float | None
    """From the test's start to the moment its load stopped (users finishing their last task
    during stop_timeout not counted)."""
    notes: list[str]
    cpu: list[ProcessCpu]
    lag: tuple[ProcessLag, ...] = ()
    """The event loop's lag of every load-generating process."""
    workers_expected: int = 0
    workers_connected: tuple[str, ...] = ()
    workers_lost: tuple[WorkerLoss, ...] = ()
    never_started: bool = False
    """The test never started (e.g. the master gave up waiting for its workers)."""
    arrivals: ArrivalsDelivered | None = None
    """The open model's arrivals; None for a closed model."""
    ended_by: str | None = None
    """How a test started in the web UI ended (`UiTestEnd`); None for `loadkit run`."""

    def stopped_early(self) -> str | None:
        """A web UI test the person ended before its plan was delivered (its run time, or
        all its users): what it delivered, on which it is judged."""
        who = _ENDED_BY_THE_USER.get(UiTestEnd(self.ended_by)) if self.ended_by else None
        if who is None or self.delivered_s is None:
            return None
        short_time = self.delivered_s < self.planned_s - STOP_SLACK_S
        closed = self.arrivals is None and self.peak_users is not None
        short_users = closed and (self.peak_users or 0) < self.planned_users
        if not (short_time or short_users):
            return None
        text = f"{who} after {self.delivered_s:.0f} s"
        if short_time:
            text += f" of {self.planned_s:.0f} s planned"
        if closed:
            text += f"; {self.peak_users} of {self.planned_users} users reached"
        return text

    def missing_workers(self, max_wait_s: float) -> str | None:
        """Why no load was sent, when the master gave up waiting for its workers."""
        if not self.never_started or self.workers_expected <= len(self.workers_connected):
            return None
        return (
            f"only {len(self.workers_connected)} of {self.workers_expected} workers connected "
            f"within {max_wait_s:g} s; no load was sent"
        )

    def worker_losses(self) -> list[str]:
        """Lost workers whose users did not run again soon (or whose last measurements never
        arrived): such a run did not test what it planned."""
        return [w.describe() for w in self.workers_lost if not w.covered or self._data_lost(w)]

    def worker_warnings(self) -> list[str]:
        """Lost workers whose users Locust moved to the others at once: the load went on."""
        return [w.describe() for w in self.workers_lost if w.covered and not self._data_lost(w)]

    @staticmethod
    def _data_lost(loss: WorkerLoss) -> bool:
        return loss.how == "missing" and loss.returned_s is None

    def shortfall(self) -> list[str]:
        """Why the run did not deliver its planned load (empty when it did)."""
        early = self.stopped_early()
        reasons = [] if early is None else [early]
        gone = [w.worker for w in self.workers_lost if not w.covered]
        cause = "; ".join(self.notes) or (
            f"worker {', '.join(gone)} lost (see above)"
            if gone
            else "users stopped by themselves or were never started; see locust.log"
        )
        for number, stage in enumerate(self.stages, start=1):
            if not stage.short:
                continue
            where = "" if len(self.stages) == 1 else f" in stage {number}"
            reasons.append(
                f"planned {stage.planned_users} users{where} but only {stage.reached_users} "
                f"ran: {cause}"
            )
        if self.arrivals is not None:
            reasons += self.arrivals.shortfall()
        return reasons

    def generator_warnings(self) -> list[str]:
        warnings = []
        for process in self.cpu:
            if not process.saturated:
                continue
            who = "the load generator"
            if process.label != "local":
                who = f"load generator process {process.label}"
            warnings.append(
                f"{who} used {BUSY_CPU_PERCENT:.0f}% of a CPU core or more for "
                f"{process.busy_samples} of {process.samples} s (max {process.max_percent:.0f}%): "
                "response times partly measure the load generator, not the target; "
                "use --processes N or more machines"
            )
        warnings += [_lag_warning(lag) for lag in self.lag if lag.lagging]
        return warnings

    def to_dict(self) -> LoadInfo:
        """summary.json's ``load`` (see `loadkit.summary_types.LoadInfo`)."""
        return {
            "planned_users": self.planned_users,
            "peak_users": self.peak_users,
            "planned_s": self.planned_s,
            "delivered_s": None if self.delivered_s is None else round(self.delivered_s, 3),
            "stages": [
                {
                    "planned_users": s.planned_users,
                    "start_s": round(s.start_s, 3),
                    "end_s": round(s.end_s, 3),
                    "reached_users": s.reached_users,
                }
                for s in self.stages
            ],
            "delivered": not self.shortfall(),
            "notes": list(self.notes),
            "generator_cpu": [
                {
                    "process": p.label,
                    "samples": p.samples,
                    "busy_samples": p.busy_samples,
                    "max_percent": p.max_percent,
                    "mean_percent": round(p.mean_percent, 1),
                    "saturated": p.saturated,
                }
                for p in self.cpu
            ],
            "generator_lag": [
                {
                    "process": p.label,
                    "seconds": p.seconds,
                    "lagging_seconds": p.lagging_seconds,
                    "max_ms": p.max_ms,
                    "worst_p99_ms": p.worst_p99_ms,
                    "requests_in_lagging": p.requests_in_lagging,
                    "lagging": p.lagging,
                }
                for p in self.lag
            ],
            "workers": {
                "expected": self.workers_expected,
                "connected": list(self.workers_connected),
                "lost": [
                    {
                        "worker": w.worker,
                        "at_s": round(w.at_s, 3),
                        "users": w.users,
                        "how": w.how,
                        "returned_s": None if w.returned_s is None else round(w.returned_s, 3),
                        "moved_s": None if w.moved_s is None else round(w.moved_s, 3),
                    }
                    for w in self.workers_lost
                ],
            },
            "arrivals": None if self.arrivals is None else self.arrivals.to_dict(),
        }


def planned_stages(settings: RunSettings) -> list[tuple[int, float, float, float]]:
    """``(users, spawn rate, start s, end s)`` for each stage; a constant load is one stage."""
    if settings.stages is None:
        return [(settings.users, settings.spawn_rate, 0.0, float(settings.duration_s))]
    out, start = [], 0.0
    for stage in settings.stages:
        out.append((stage.users, stage.spawn_rate, start, start + stage.duration_s))
        start += stage.duration_s
    return out


def load_delivered(
    settings: RunSettings,
    final: Mapping[str, Any] | None,
    *,
    distributed: bool = False,
    requests_per_second: Mapping[int, int] | None = None,
) -> LoadDelivered:
    """Judge the samples in ``final`` (locust_final.json) against the planned load;
    `requests_per_second` (unix second -> requests completed) says how many requests a lagging
    event loop may have timed late."""
    data = final or {}
    started = data.get("started_at")
    stopping = data.get("stopping_at") or data.get("stopped_at")
    samples = [
        (float(t) - started, int(users))
        for t, users in (data.get("users") or [])
        if started is not None
    ]
    ended_s = (stopping - started) if started is not None and stopping is not None else None
    workers = data.get("workers") or {}
    lost = tuple(
        _worker_loss(w, started or float(w["at"]), samples) for w in workers.get("lost") or []
    )
    # The dip while Locust moved a lost worker's users to the others is no shortfall.
    moving = [(w.at_s - 1.0, w.at_s + (w.moved_s or 0.0)) for w in lost if w.covered]
    samples = [(t, n) for t, n in samples if not any(a <= t < b for a, b in moving)]
    settle = SETTLE_DISTRIBUTED_S if distributed else SETTLE_S
    stages, previous = [], 0
    for users, rate, start, end in planned_stages(settings):
        ramp = abs(users - previous) / rate if rate > 0 else 0.0
        settled = start + ramp + settle
        window_end = (end if ended_s is None else min(end, ended_s)) - 0.5
        seen = [count for t, count in samples if settled <= t <= window_end]
        stages.append(StageLoad(users, start, end, settled, min(seen) if seen else None))
        previous = users
    peak = data.get("peak_users")
    return LoadDelivered(
        planned_users=settings.users,
        peak_users=int(peak) if isinstance(peak, int) else None,
        stages=stages,
        planned_s=float(settings.duration_s),
        delivered_s=ended_s,
        notes=[str(n) for n in data.get("notes") or []],
        cpu=_cpu(data.get("cpu") or {}),
        lag=_lag(data.get("loop_lag") or {}, requests_per_second),
        workers_expected=int(workers.get("expected") or 0),
        workers_connected=tuple(str(w) for w in workers.get("connected") or []),
        workers_lost=lost,
        never_started=final is not None and started is None,
        arrivals=arrivals_delivered(settings, final, ended_s),
        ended_by=_ended_by(data.get("ended_by")),
    )


def _ended_by(value: Any) -> str | None:
    known = {str(end) for end in UiTestEnd}
    return str(value) if value in known else None


def _worker_loss(
    entry: Mapping[str, Any], started: float, samples: Sequence[tuple[float, int]]
) -> WorkerLoss:
    """One of locust_final.json's lost workers, and how soon its users ran again: the first
    user-count sample from when the master noticed (its count drops then) that is back at the
    count sampled over a second before (the master polls its workers once a second)."""
    at_s = float(entry["at"]) - started
    returned = entry.get("returned_at")
    before = [n for t, n in samples if t < at_s - 1.0]
    moved_s = None
    if before:
        back = [t for t, n in samples if t >= at_s and n >= before[-1]]
        moved_s = max(0.0, back[0] - at_s) if back else None
    if moved_s is not None and entry.get("how", "missing") == "missing":
        moved_s += HEARTBEAT_S  # its users sent nothing since its last heartbeat either
    return WorkerLoss(
        worker=str(entry["worker"]),
        at_s=at_s,
        users=int(entry["users"]),
        how=str(entry.get("how") or "missing"),
        returned_s=None if returned is None else float(returned) - started,
        moved_s=moved_s,
    )


def _lag(
    lag: Mapping[str, Sequence[Sequence[float]]], per_second: Mapping[int, int] | None
) -> tuple[ProcessLag, ...]:
    out = []
    for label, seconds in sorted(lag.items()):
        if not seconds:
            continue
        lagging = [int(second) for second, _, p99 in seconds if p99 > LAG_P99_MS]
        out.append(
            ProcessLag(
                label=str(label),
                seconds=len(seconds),
                lagging_seconds=len(lagging),
                max_ms=max(float(worst) for _, worst, _ in seconds),
                worst_p99_ms=max(float(p99) for _, _, p99 in seconds),
                requests_in_lagging=None
                if per_second is None
                else sum(per_second.get(s, 0) for s in lagging),
                requests=None if per_second is None else sum(per_second.values()),
            )
        )
    return tuple(out)


def _lag_warning(process: ProcessLag) -> str:
    who = "the load generator's" if process.label == "local" else f"process {process.label}'s"
    held = ""
    if process.requests_in_lagging is not None and process.requests:
        share = 100.0 * process.requests_in_lagging / process.requests
        held = (
            f"; {process.requests_in_lagging} of {process.requests} requests ({share:.0f}%) "
            "completed in those seconds"
        )
    return (
        f"{who} event loop lagged over {LAG_P99_MS:g} ms (a timer woke that late) in "
        f"{process.lagging_seconds} of {process.seconds} s (worst {process.max_ms:.0f} ms){held}: "
        "responses waited in the load generator before they were timed, so response times "
        "include its own delay; use fewer users per process (--processes N, more machines) "
        "or move blocking work out of python: code"
    )


def _cpu(cpu: Mapping[str, Sequence[Sequence[float]]]) -> list[ProcessCpu]:
    out = []
    for label, samples in sorted(cpu.items()):
        values = [float(v) for _, v in samples]
        if not values:
            continue
        out.append(
            ProcessCpu(
                label=str(label),
                samples=len(values),
                busy_samples=sum(1 for v in values if v >= BUSY_CPU_PERCENT),
                max_percent=max(values),
                mean_percent=sum(values) / len(values),
            )
        )
    return out


def data_warnings(scenario: Scenario, users: int | None = None) -> list[str]:
    """What the plan cannot deliver, known before any load is sent: a `unique` data source
    with fewer rows than the users that each take one when they start (Locust shares the
    users among user types by weight). `users` is the planned peak (default: the scenario's)."""
    peak = users if users is not None else scenario.load.peak_users
    total_weight = sum(u.weight for u in scenario.users) or 1
    warnings = []
    for user in scenario.users:
        if user.data is None or scenario.data[user.data].order != "unique":
            continue
        planned = round(peak * user.weight / total_weight)
        rows = len(scenario.tables[user.data].rows)
        if rows < planned:
            warnings.append(
                f"test data {user.data!r} (unique) has {rows} rows but {planned} users of type "
                f"{user.name!r} are planned: only {rows} can run "
                f"(on_exhausted: {scenario.data[user.data].exhausted_action}); "
                "add rows or plan fewer users"
            )
    return warnings
