"""What the run delivered, sampled each second from the test's start: running users, CPU use
and event-loop lag of this process, the open model's arrivals, and the notes the generated code
logs on the `loadkit` logger; old seconds of the histograms sealed."""

from __future__ import annotations

import contextlib
import logging
import random
import time

import gevent
import psutil
from locust.env import Environment
from locust.runners import MasterRunner

from loadkit.harness.requests import _corrected, _histograms, _log_noted, _schedules
from loadkit.harness.state import _is_reporting_process, state

_ARRIVAL_COUNTS = ("arrived", "started", "delayed", "dropped", "waiting", "busy")

_cpu_samples: list[list[float]] = []  # this process's, not yet reported (workers)

_lag_samples: list[list[float]] = []  # this process's, not yet reported (workers)
_LAG_EVERY_S = 0.1
# The master merges worker reports up to ~3 s late (plus the 3 s they span): seconds older
# than this are final and get packed.
_SEAL_AFTER_S = 15


def _arrival_counts() -> list[int] | None:
    """This process's arrival counts (every user type together), or None without arrivals."""
    counted = [s.counts() for s in _schedules if callable(getattr(s, "counts", None))]
    if not counted:
        return None
    return [sum(int(c.get(key, 0)) for c in counted) for key in _ARRIVAL_COUNTS]


def _all_arrival_counts() -> list[int] | None:
    """Every process's arrival counts together (a master adds its workers' latest)."""
    parts = [c for c in [_arrival_counts(), *state.worker_arrivals.values()] if c]
    if not parts:
        return None
    return [sum(column) for column in zip(*parts, strict=True)]


class _NoteHandler(logging.Handler):
    """Keeps what the generated code says on the `loadkit` logger (warnings and up) for the
    summary: the reason a run delivered less load than planned is often only known there."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            _add_note(record.getMessage())


def _add_note(text: str) -> None:
    notes: list[str] = state.notes
    if text not in notes and len(notes) < 50:
        notes.append(text)


def _cpu_loop(environment: Environment) -> None:
    """This process's CPU use once a second, from the start: Locust's own warning comes only
    after ~20 s of saturation and only in its log, too late and too quiet for a verdict."""
    process = psutil.Process()
    process.cpu_percent(None)
    reporting = _is_reporting_process(environment)
    label = "master" if isinstance(environment.runner, MasterRunner) else "local"
    while True:
        gevent.sleep(1.0)
        runner = environment.runner
        if runner is None or runner.state in ("ready", "stopped"):
            process.cpu_percent(None)  # idle before and after the test: not a sample
            continue
        # Looked up each time: each test started in the web UI begins a new `cpu`.
        samples = state.cpu.setdefault(label, []) if reporting else _cpu_samples
        samples.append([round(time.time(), 3), round(process.cpu_percent(None), 1)])


def _lag_loop(environment: Environment) -> None:
    """How late this process's event loop wakes a timer due every 100 ms, kept per second
    (the worst and the 99th percentile, in ms). Every request, response and timer of this
    process waits in the same loop: a request whose response arrived while the loop was busy
    elsewhere (a wave of users all sending at once, `python:` code that computes without
    yielding) is timed late by as much. The CPU sample misses it: a loop can be late while
    the process averages well below a full core."""
    label = None  # a worker's go to its master with its reports
    if _is_reporting_process(environment):
        label = "master" if isinstance(environment.runner, MasterRunner) else "local"
    second: int | None = None
    late: list[float] = []
    clock = time.perf_counter
    loop = gevent.get_hub().loop
    jitter = random.Random()
    while True:
        # The loop's cached "now" is stale by whatever ran since it last polled: a timer set
        # from it would fall due early and hide exactly that delay. Every 100 ms on average,
        # jittered: a fixed period can fall into step with users' fixed think times and wake
        # only between the moments the loop is blocked.
        loop.update_now()
        every = _LAG_EVERY_S * jitter.uniform(0.5, 1.5)
        before = clock()
        gevent.sleep(every)
        lag_ms = max(0.0, (clock() - before - every) * 1000.0)
        runner = environment.runner
        if runner is None or runner.state in ("ready", "stopped"):
            second, late = None, []  # idle before and after the test: not a sample
            continue
        now = int(time.time())
        if second is not None and now != second and late:
            # Looked up each time: a web UI test starts with fresh measurements.
            samples = _lag_samples if label is None else state.loop_lag.setdefault(label, [])
            samples.append(_lag_second(second, late))
            late = []
        second = now
        late.append(lag_ms)


def _lag_second(second: int, late: list[float]) -> list[float]:
    """[unix second, max ms, p99 ms (nearest rank: with 10 samples a second, the max)]."""
    ordered = sorted(late)
    p99 = ordered[max(0, -(-len(ordered) * 99 // 100) - 1)]
    return [second, round(ordered[-1], 2), round(p99, 2)]


def _users_loop(environment: Environment) -> None:
    """Running users once a second (the master's count includes every worker's)."""
    while True:
        gevent.sleep(1.0)
        runner = environment.runner
        if runner is None or state.started_at is None or state.stopping_at is not None:
            continue
        users = runner.user_count
        state.peak_users = max(state.peak_users, users)
        state.users.append([round(time.time(), 3), users])
        arrivals = _all_arrival_counts()
        if arrivals is not None:
            state.arrivals.append([round(time.time(), 3), *arrivals])


def _seal_loop() -> None:
    while True:
        gevent.sleep(5.0)
        _log_noted()
        _histograms.seal(int(time.time()) - _SEAL_AFTER_S)
        _corrected.seal(int(time.time()) - _SEAL_AFTER_S)
