"""Runs *inside* the Locust process: `python -m loadkit.harness <locust arguments>`.

It adds what Locust does not do by itself and then hands over to Locust's own `main()`, so
runners, stats, CSV writers, master/worker and the web UI stay Locust's:

- a final, complete snapshot of the stats at shutdown (Locust rewrites `_stats.csv` only once
  a second and not at exit, so short runs would report stale numbers), as CSV in Locust's
  format and as `locust_final.json` with the raw response-time histograms;
- fine response-time histograms (`loadkit.histogram`: 0.5 %-wide log buckets) per request
  type, name and user class and per wall-clock second, recorded by a `request` listener in
  every process that makes requests (the only one: it also logs into Locust's statistics, in
  place of Locust's own listener, in batches; see "each request" below); workers ship theirs
  with each report to the master (`report_to_master`, then forget them) and the master merges
  them (`worker_report`), just as Locust ships its own stats; the master (or the local
  process) writes `histograms.json` with the final snapshot;
- what the verdict needs to know about the load actually delivered: the user count and the
  CPU use of every load-generating process, sampled each second from the start of the run
  (workers ship theirs to the master with their reports), and the notes the generated code
  logs on the `loadkit` logger (e.g. test data running out), all in `locust_final.json`;
- one JSON progress line per second on the file descriptor named by LOADKIT_PROGRESS_FD,
  which `loadkit run` turns into its live status line (the last complete second, not an
  average).

It also masks the scenario's secrets in everything Locust logs, prints, records and writes,
before it is written (see "secrets" below).

Apart from `harness_protocol` (plain constants), `histogram` and `masking` (pure, standard
library only) nothing here imports the rest of loadkit: this module must stay cheap to import,
and nothing may import ssl-using code before Locust patches.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import json
import logging
import os
import random
import signal
import sys
import time
import types
from pathlib import Path
from typing import Any

import gevent
import locust
import psutil
from gevent import getcurrent
from locust import User, events
from locust.env import Environment
from locust.event import EventHook
from locust.exception import CatchResponseError
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV, StatsError

from loadkit.harness_protocol import (
    CORRECTED_HISTOGRAMS_FILE,
    DEADLINE_ENV,
    FINAL_STATS_FILE,
    HISTOGRAMS_FILE,
    LIVE_CONFIG_ENV,
    METRICS_ENV,
    METRICS_LINGER_ENV,
    METRICS_RUN_ENV,
    PROGRESS_FD_ENV,
    RUN_DIR_ENV,
    SECRET_NAMES_ENV,
    START_DELAY_KEY,
    UI_CONFIG_ENV,
    UI_REPORTS_DIR_ENV,
    UI_SCENARIO_NAME_ENV,
    WAIT_FOR_COMMAND_ENV,
    UiTestEnd,
)
from loadkit.histogram import MAX_NAMED_SERIES, TRANSACTION_TYPE, HistogramRecorder, Noted
from loadkit.masking import Secrets

_state: dict[str, Any] = {
    "env": None,
    "started_at": None,
    "stopping_at": None,
    "stopped_at": None,
    "peak_users": 0,
    "users": [],  # [[unix time, running users], ...] once a second, from the test's start
    "cpu": {},  # process label -> [[unix time, CPU % of one core], ...]
    "notes": [],  # distinct warnings the generated code logged on the `loadkit` logger
    "loop_lag": {},  # process label -> [[unix second, max ms, p99 ms], ...] (event loop lag)
    # A master's workers: expected, connected when the test started, lost during it.
    "workers": {"expected": 0, "connected": [], "lost": []},
    # The open model: [[unix time, arrived, started, delayed, dropped, waiting, busy], ...]
    # once a second (every process together), and each worker's latest counts.
    "arrivals": [],
    "worker_arrivals": {},
}

# This process's histograms (a forked --processes worker starts with its own, empty copy).
_histograms = HistogramRecorder()
_HISTOGRAMS_REPORT_KEY = "loadkit_histograms"
# Corrected times (service time + the iteration's start delay), kept when some user class's
# iterations start on a schedule (`schedule` set by the generated code: arrivals, pacing).
_corrected = HistogramRecorder()
_CORRECTED_REPORT_KEY = "loadkit_corrected"
_ARRIVALS_REPORT_KEY = "loadkit_arrivals"
_ARRIVAL_COUNTS = ("arrived", "started", "delayed", "dropped", "waiting", "busy")
_schedules: list[Any] = []
_CPU_REPORT_KEY = "loadkit_cpu"
_NOTES_REPORT_KEY = "loadkit_notes"
_cpu_samples: list[list[float]] = []  # this process's, not yet reported (workers)
_LAG_REPORT_KEY = "loadkit_loop_lag"
_lag_samples: list[list[float]] = []  # this process's, not yet reported (workers)
_LAG_EVERY_S = 0.1
# The master merges worker reports up to ~3 s late (plus the 3 s they span): seconds older
# than this are final and get packed.
_SEAL_AFTER_S = 15


def _is_reporting_process(environment: Environment) -> bool:
    # Workers only forward their numbers; the master (or a local runner) owns the totals.
    return environment.runner is not None and not isinstance(environment.runner, WorkerRunner)


def _on_init(environment: Environment, **_: Any) -> None:
    # gevent's loop caches "now" and has not run while this process waited for its command
    # and imported the locustfile: the --run-time timer Locust sets next would count from that
    # stale time and end the run early (by as long as a large locustfile takes to import).
    gevent.get_hub().loop.update_now()
    _state["env"] = environment
    logging.getLogger("loadkit").addHandler(_NoteHandler())
    gevent.spawn(_cpu_loop, environment)
    gevent.spawn(_lag_loop, environment)
    for user_class in environment.user_classes:
        schedule = getattr(user_class, "schedule", None)
        if callable(getattr(schedule, "wait", None)):
            _schedules.append(schedule)
    _join_locusts_stats(environment)
    _cap_locusts_history()
    gevent.spawn(_log_noted_loop)
    # Locust fires `quitting` in reverse: added last (the locustfile's and the runner's are
    # in by now), this runs first, before any quitting listener, the final tables and the
    # exit code read the statistics.
    environment.events.quitting.add_listener(_log_noted)
    if isinstance(environment.runner, WorkerRunner):
        environment.events.quitting.add_listener(_last_report)  # runs before Locust's "quit"
    if not _is_reporting_process(environment):
        return
    gevent.spawn(_users_loop, environment)
    gevent.spawn(_seal_loop)
    if isinstance(environment.runner, MasterRunner):
        options = environment.parsed_options
        _state["workers"]["expected"] = int(getattr(options, "expect_workers", 0) or 0)
        gevent.spawn(_workers_loop, environment)
    fd = os.environ.get(PROGRESS_FD_ENV)
    if fd:
        gevent.spawn(_progress_loop, int(fd), environment)
    if os.environ.get(UI_CONFIG_ENV) and environment.web_ui is not None:
        _install_ui(environment, os.environ[UI_CONFIG_ENV])
    if os.environ.get(LIVE_CONFIG_ENV):
        _start_live(environment)
    if os.environ.get(METRICS_ENV):
        _start_metrics(environment, os.environ[METRICS_ENV])


# -- each request: noted on Locust's critical path, counted in batches ----------------------
#
# Measured (benchmark case 8: this harness against plain Locust, the same file): what runs per
# request costs several times more between two requests (caches cold after the HTTP client,
# gevent and the user's code) than in a tight loop, and a second request listener costs ~2 %
# of a core's load even when it does nothing. So there is one listener, `_on_request`: it
# notes the request (its time, a tuple) and every `_NOTE_AT` requests `_log_noted` counts
# them in a tight loop, into loadkit's histograms and, in place of Locust's own listener,
# into Locust's statistics with Locust's own code (`_join_locusts_stats`). Every reader of
# either flushes first: the harness's readers, Locust's at the end of a test and at each
# worker report (listeners below), and a greenlet every `_NOTE_FOR_S` for the rest (the web
# UI, the CSV writer), so Locust's statistics are never more than that behind.

_NOTE_AT = 256
_NOTE_FOR_S = 0.1
_noted: list[Noted] = []
_note = _noted.append
# Locust's own RequestStats.log_request and log_error, once its listener is replaced.
_locust_log: list[Any] = []
# `locust.stats`'s `time` once joined: the time module's functions, but while `_log_noted`
# logs a request into Locust's statistics `time()` is the moment that request completed (the
# float's own `__float__`), so Locust counts it in the second it completed in, as its own
# listener would; the real `time.time` at any other moment.
_stats_clock = types.SimpleNamespace(
    **{name: getattr(time, name) for name in dir(time) if not name.startswith("__")}
)
_time = time.time


def _on_request(
    request_type: str,
    name: str,
    response_time: float | None,
    response_length: int,
    response: Any = None,
    context: Any = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    url: str | None = None,
    **_: Any,
) -> None:
    # Every argument Locust passes is named so that Python does not build a dict of the rest
    # on each call. Scheduled users (`_schedules`) put how late the iteration started on the
    # request's context: read now, the context may be the user's and change.
    greenlet = getcurrent()
    try:
        user_class: str = greenlet.loadkit_user_class
    except AttributeError:
        user_class = _user_class_of(greenlet)
    delay = context.get(START_DELAY_KEY, 0.0) if _schedules and context else 0.0
    at = _time()
    _note((at, request_type, name, response_time, exception, user_class, response_length, delay))
    if len(_noted) >= _NOTE_AT:
        _log_noted()


def _log_noted(**_event: Any) -> None:
    """Count the noted requests: into Locust's statistics (when joined), the fine histograms,
    and the corrected ones when some starts are scheduled: the time plus how late the
    iteration started (0 for a user without a schedule, so both sets count the same). Also a
    listener (Locust's `quitting`)."""
    if not _noted:
        return
    noted = _noted[:]
    del _noted[: len(noted)]
    if _locust_log:  # else not joined: Locust logs each request itself
        log_request, log_error, log_transaction, log_transaction_error = _locust_log
        clock = _stats_clock
        try:
            for at, request_type, name, response_time, exception, _, length, _ in noted:
                clock.time = at.__float__
                try:
                    if request_type != TRANSACTION_TYPE:
                        log_request(request_type, name, response_time, length)
                        if exception:
                            log_error(request_type, name, exception)
                    else:
                        log_transaction(request_type, name, response_time, length)
                        if exception:
                            log_transaction_error(request_type, name, exception)
                except Exception:  # as Locust's EventHook: log it, exit code 2, go on
                    _unhandled("Uncaught exception in event handler (Locust's statistics)")
        finally:
            clock.time = time.time
    try:
        _histograms.count(noted)
        if _schedules:
            _corrected.count(noted, delayed=True)
    except Exception:  # a request Locust could not have counted either (an unhashable name)
        _unhandled("Uncaught exception in event handler (loadkit's histograms)")


def _unhandled(message: str) -> None:
    import locust.log

    logging.exception(message)
    locust.log.unhandled_greenlet_exception = True  # Locust's exit code 2, as for a listener


def _log_noted_loop() -> None:
    while True:
        gevent.sleep(_NOTE_FOR_S)
        with contextlib.suppress(Exception):  # reported by `_unhandled`; the loop goes on
            _log_noted()


def _arrival_counts() -> list[int] | None:
    """This process's arrival counts (every user type together), or None without arrivals."""
    counted = [s.counts() for s in _schedules if callable(getattr(s, "counts", None))]
    if not counted:
        return None
    return [sum(int(c.get(key, 0)) for c in counted) for key in _ARRIVAL_COUNTS]


def _all_arrival_counts() -> list[int] | None:
    """Every process's arrival counts together (a master adds its workers' latest)."""
    parts = [c for c in [_arrival_counts(), *_state["worker_arrivals"].values()] if c]
    if not parts:
        return None
    return [sum(column) for column in zip(*parts, strict=True)]


def _join_locusts_stats(environment: Environment) -> None:
    """Log into Locust's statistics from `_log_noted`, in place of the runner's own request
    listener (its three lines: log the request, and the error if there is one, with
    `time.time()` read inside `locust.stats`, which `_stats_clock` then answers). Left as it
    is when Locust's listener or clock is not what it is in Locust 2.47
    (`Runner.__init__`'s `on_request`, `locust.stats.time`): then Locust logs each request
    itself, as without the harness."""
    import locust.stats

    handlers = environment.events.request._handlers
    qualname = "Runner.__init__.<locals>.on_request"
    locusts = [h for h in handlers if getattr(h, "__qualname__", "") == qualname]
    if (
        len(locusts) != 1
        or _on_request not in handlers
        or environment.runner is None
        or getattr(locust.stats, "time", None) not in (time, _stats_clock)
    ):
        if environment.runner is not None:  # said once per process, where it decides
            logging.getLogger("loadkit").info(
                "Locust %s's request listener is not the one loadkit knows: Locust logs each "
                "request itself (its totals may include transactions)",
                locust.__version__,
            )
        return
    setattr(locust.stats, "time", _stats_clock)  # noqa: B010 (not an attribute it exports)
    stats = environment.stats

    # A transaction (`TXN`) gets its own row but stays out of Locust's total, the "Aggregated"
    # row: that total is what the web UI's header (RPS, failures), its Aggregated row and
    # charts, the CSVs and the terminal tables show, and loadkit counts requests apart from
    # transactions everywhere (a flow's requests are already in it, one by one).
    def log_transaction(method: str, name: str, response_time: Any, length: int) -> None:
        stats.entries[(name, method)].log(response_time, length)

    def log_transaction_error(method: str, name: str, error: Any) -> None:
        # RequestStats.log_error without its first line (the total's failure count).
        stats.entries[(name, method)].log_error(error)
        key = StatsError.create_key(method, name, error)
        entry = stats.errors.get(key)
        if entry is None:
            entry = stats.errors[key] = StatsError(method, name, error)
        entry.occurred()

    _locust_log[:] = [stats.log_request, stats.log_error, log_transaction, log_transaction_error]
    handlers.remove(locusts[0])
    # What was noted before Locust clears (a new test) or resets (--reset-stats, the web UI's
    # Reset) its statistics belongs to what is cleared, as it would without the batches.
    for method in ("clear_all", "reset_all"):
        setattr(stats, method, _noted_first(getattr(stats, method)))


def _cap_locusts_history() -> None:
    """Locust's --csv-full-history writes a row per request name every second: with names
    that hold ids (10,000 URLs in a minute) that is hundreds of thousands of rows for nothing.
    Past `MAX_NAMED_SERIES` names only the busiest get their rows (the Aggregated row, every
    second, counts them all). Left as it is when Locust's writer is not what it is in 2.47
    (`StatsCSVFileWriter._stats_history_data_rows(csv_writer, now)`, reading
    `environment.stats.entries`)."""
    from locust.stats import StatsCSVFileWriter

    write_rows = getattr(StatsCSVFileWriter, "_stats_history_data_rows", None)
    if not callable(write_rows) or getattr(write_rows, "loadkit_capped", False):
        return

    def capped(self: Any, csv_writer: Any, now: float) -> None:
        stats = self.environment.stats
        entries = stats.entries
        if not self.full_history or len(entries) <= MAX_NAMED_SERIES:
            write_rows(self, csv_writer, now)
            return
        busiest = sorted(entries.items(), key=lambda item: -item[1].num_requests)
        # Swapped only while Locust writes its rows (no greenlet switch in between).
        stats.entries = dict(busiest[:MAX_NAMED_SERIES])
        try:
            write_rows(self, csv_writer, now)
        finally:
            stats.entries = entries

    capped.loadkit_capped = True  # type: ignore[attr-defined]
    setattr(StatsCSVFileWriter, "_stats_history_data_rows", capped)  # noqa: B010


def _noted_first(method: Any) -> Any:
    def counted_then(*args: Any, **kwargs: Any) -> Any:
        _log_noted()
        return method(*args, **kwargs)

    return counted_then


def _user_class_of(greenlet: Any) -> str:
    """The class name of the User running in `greenlet`, remembered on the greenlet.

    Locust runs each user in a greenlet whose first argument is the User (Locust itself relies
    on that). gevent clears a greenlet's arguments when it is killed, which Locust does at the
    end while a request may still complete, hence the cached attribute. A request made from any
    other greenlet (one a task spawned itself) is recorded without a user class.
    """
    args = getattr(greenlet, "args", ())
    user = args[0] if args else None
    user_class = type(user).__name__ if isinstance(user, User) else ""
    with contextlib.suppress(AttributeError):
        greenlet.loadkit_user_class = user_class
    return user_class


def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    _log_noted()  # before Locust's listener (added after this one) serializes its stats
    data[_HISTOGRAMS_REPORT_KEY] = _histograms.drain()
    if _schedules:
        data[_CORRECTED_REPORT_KEY] = _corrected.drain()
        data[_ARRIVALS_REPORT_KEY] = _arrival_counts()
    data[_CPU_REPORT_KEY] = _cpu_samples[:]
    del _cpu_samples[:]
    data[_LAG_REPORT_KEY] = _lag_samples[:]
    del _lag_samples[:]
    data[_NOTES_REPORT_KEY] = list(_state["notes"])


def _last_report(environment: Environment, **_: Any) -> None:
    """A worker that quits while its test runs (a signal, its `loadkit worker` killed):
    stop its users, then send what they measured since the last report, which Locust sends
    only when the master ends the test. Its requests stay among the totals, and the master
    gives its users to the others."""
    runner = environment.runner
    if not isinstance(runner, WorkerRunner) or runner.state not in ("spawning", "running"):
        return  # stopped by its master, which asks for the last report itself
    from locust.rpc import Message

    with contextlib.suppress(Exception):  # the master may be gone too: nothing to tell
        runner.stop()
        data: dict[str, Any] = {}
        environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
        runner.client.send(Message("stats", data, runner.client_id))


def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if _secrets:  # before Locust's own listener merges the report
        _mask_report(data)
    payload = data.get(_HISTOGRAMS_REPORT_KEY)
    if payload:
        _histograms.merge_payload(payload)
        if _metrics["cumulative"] is not None:
            _metrics["cumulative"].add_rows(payload)
    corrected = data.get(_CORRECTED_REPORT_KEY)
    if corrected:
        _corrected.merge_payload(corrected)
        if _metrics["corrected"] is not None:
            _metrics["corrected"].add_rows(corrected)
    if data.get(_ARRIVALS_REPORT_KEY):
        _state["worker_arrivals"][client_id] = list(data[_ARRIVALS_REPORT_KEY])
    _state["cpu"].setdefault(client_id, []).extend(data.get(_CPU_REPORT_KEY) or [])
    lags = data.get(_LAG_REPORT_KEY)
    if lags:
        _state["loop_lag"].setdefault(client_id, []).extend(lags)
    for note in data.get(_NOTES_REPORT_KEY) or []:
        _add_note(str(note))


class _NoteHandler(logging.Handler):
    """Keeps what the generated code says on the `loadkit` logger (warnings and up) for the
    summary: the reason a run delivered less load than planned is often only known there."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            _add_note(record.getMessage())


def _add_note(text: str) -> None:
    notes: list[str] = _state["notes"]
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
        samples = _state["cpu"].setdefault(label, []) if reporting else _cpu_samples
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
            samples = _lag_samples if label is None else _state["loop_lag"].setdefault(label, [])
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
        if runner is None or _state["started_at"] is None or _state["stopping_at"] is not None:
            continue
        users = runner.user_count
        _state["peak_users"] = max(_state["peak_users"], users)
        _state["users"].append([round(time.time(), 3), users])
        arrivals = _all_arrival_counts()
        if arrivals is not None:
            _state["arrivals"].append([round(time.time(), 3), *arrivals])


def _seal_loop() -> None:
    while True:
        gevent.sleep(5.0)
        _log_noted()
        _histograms.seal(int(time.time()) - _SEAL_AFTER_S)
        _corrected.seal(int(time.time()) - _SEAL_AFTER_S)


def _on_test_start(environment: Environment, **_: Any) -> None:
    if _ui["config"] is not None and _is_reporting_process(environment):
        _begin_ui_test(environment)
    if _state["started_at"] is None:
        _state["started_at"] = time.time()
        if isinstance(environment.runner, MasterRunner):
            for worker_id in sorted(environment.runner.clients.keys()):
                _worker_joined(worker_id)


def _worker_joined(client_id: str, **_: Any) -> None:
    """Every worker that joined the run, in the order they came (also Locust's
    `worker_connect`): a worker that joins once the test runs gets users and the locustfile
    like the others, and its requests are among the totals."""
    connected: list[str] = _state["workers"]["connected"]
    if client_id not in connected:
        connected.append(client_id)


def _workers_loop(environment: Environment) -> None:
    """Notice a worker that leaves (its process stopped: it said goodbye with a last report)
    or goes silent (Locust marks it missing after ~3 s without a heartbeat, takes its users
    off the count and gives them to nobody) during the test, and one that comes back; end the
    run when a loss leaves no worker at all rather than wait out the run time. Workers that
    quit as the test ends are no loss."""
    runner = environment.runner
    assert isinstance(runner, MasterRunner)
    users: dict[str, int] = {}  # worker id -> its users when last seen alive
    lost: list[dict[str, Any]] = _state["workers"]["lost"]
    while True:
        gevent.sleep(1.0)
        if _state["started_at"] is None:
            for worker_id in sorted(runner.clients.keys()):  # who came while the master waits
                _worker_joined(worker_id)
            continue
        now = time.time()
        stopping = _state["stopping_at"] is not None
        present = dict(runner.clients.items())
        for worker_id, client in present.items():
            if client.state != "missing" and not stopping:
                users[worker_id] = sum(client.user_classes_count.values())
        _note_returns(present, lost, now)
        new_loss = False
        for worker_id, how in _losses(users, present, stopping):
            if any(e["worker"] == worker_id and e["returned_at"] is None for e in lost):
                continue
            lost.append(
                {"worker": worker_id, "at": round(now, 3), "users": users[worker_id],
                 "how": how, "returned_at": None}
            )  # fmt: skip
            new_loss = True
            # Info, not a note (warnings are the generated code's notes): the summary says it.
            logging.getLogger("loadkit").info(
                "worker %s %s %.0f s into the run (it ran %d users)", worker_id,
                "left" if how == "left" else "stopped answering", now - _state["started_at"],
                users[worker_id],
            )  # fmt: skip
        alive = [w for w, c in present.items() if c.state != "missing"]
        if new_loss and not alive:
            logging.getLogger("loadkit").error("the last worker was lost; ending the run")
            gevent.spawn(runner.quit)
            return
        if not new_loss and alive and not stopping:
            _move_lost_users(runner, lost, now)


def _move_lost_users(runner: MasterRunner, lost: list[dict[str, Any]], now: float) -> None:
    """Give a lost worker's users to the others when Locust did not within a second: it
    does when a worker quits, unless it is busy (a worker that just joined) and never for a
    missing one (without --enable-rebalancing). The plan is its users, on whatever workers."""
    pending = [e for e in lost if not e.get("moved") and now - e["at"] >= 1.0]
    if not pending:
        return
    for entry in pending:
        entry["moved"] = True
    if runner.state == "running" and runner.user_count < runner.target_user_count:
        logging.getLogger("loadkit").info(
            "moving the users of %s to the other workers",
            ", ".join(e["worker"] for e in pending),
        )
        gevent.spawn(runner.start, runner.target_user_count, runner.spawn_rate)


def _losses(
    users: dict[str, int], present: dict[str, Any], stopping: bool
) -> list[tuple[str, str]]:
    """(worker id, "missing" | "left") of the workers lost now. Missing (no heartbeat) is a
    loss whenever it happens; Locust itself stops the test when the last worker goes
    missing. A worker that leaves while the test stops has said goodbye (client_stopped)."""
    out = []
    for worker_id in users:
        if worker_id in present and present[worker_id].state == "missing":
            out.append((worker_id, "missing"))
        elif worker_id not in present and not stopping:
            out.append((worker_id, "left"))
    return out


def _note_returns(present: dict[str, Any], lost: list[dict[str, Any]], now: float) -> None:
    """A missing worker that heartbeats again is back (Locust gives it users again)."""
    for entry in lost:
        client = present.get(entry["worker"])
        back = client is not None and client.state != "missing"
        if entry["how"] == "missing" and entry["returned_at"] is None and back:
            entry["returned_at"] = round(now, 3)


def _on_test_stopping(environment: Environment, **_: Any) -> None:
    # The load ends here; what follows is users finishing their tasks (stop_timeout).
    if _state["stopping_at"] is None:
        _state["stopping_at"] = time.time()
        if _ui["current"] is not None and _is_reporting_process(environment):
            _note_users_at_end(environment)


def _on_test_stop(environment: Environment, **_: Any) -> None:
    _log_noted()  # Locust writes its HTML report next, before `quitting`
    _state["stopped_at"] = time.time()
    if _ui["current"] is not None and _is_reporting_process(environment):
        # A master's workers send their last report as they stop: let it arrive.
        delay = 2.0 if isinstance(environment.runner, MasterRunner) else 0.2
        gevent.spawn_later(delay, _finish_ui_test, environment)


def _on_quit(exit_code: int, **_: Any) -> None:
    # `quit` fires after runner.quit(): every user has stopped and (distributed) every worker
    # has sent its last report, so these numbers are final.
    environment: Environment | None = _state["env"]
    if environment is None or not _is_reporting_process(environment):
        return
    if _ui["config"] is not None:  # each test has its folder; the session has none
        _finish_ui_test(environment)
        _state["snapshot_written"] = True
        return
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        write_final_snapshot(environment, run_dir, exit_code)
        _state["snapshot_written"] = True
    _metrics_at_quit(environment)


def _at_exit() -> None:
    """Locust leaves without its `quit` event on some paths (a master that gave up waiting
    for its workers calls sys.exit): write the snapshot then, so the verdict knows why."""
    if not _state.get("snapshot_written"):
        _on_quit(1)


def _progress_loop(fd: int, environment: Environment) -> None:
    os.set_blocking(fd, False)  # a slow reader must never block the gevent hub
    _state["progress_fd"] = fd
    # Workers report every 3 s: on a master the last complete second is a few seconds back.
    lag = 4 if isinstance(environment.runner, MasterRunner) else 1
    while True:
        gevent.sleep(1.0)
        runner = environment.runner
        if runner is None:
            continue
        _log_noted()
        # The requests' rows, never the transactions' (Locust's total leaves them out only
        # when the harness logs into Locust's statistics: `_join_locusts_stats`).
        requests_rows = [
            e for e in environment.stats.entries.values() if e.method != TRANSACTION_TYPE
        ]
        started = _state["started_at"]
        second = int(time.time()) - lag
        requests, failures, p95 = _histograms.second_summary(second)
        line = {
            "elapsed": (time.time() - started) if started else 0.0,
            "state": runner.state,
            "users": runner.user_count,
            "requests": sum(e.num_requests for e in requests_rows),
            "failures": sum(e.num_failures for e in requests_rows),
            "second": second,
            "rps": requests,
            "second_failures": failures,
            "p95_ms": p95,
            "failing": list(_state.get("failing") or []),
        }
        if not _send_progress(line):
            return


def _send_progress(line: dict[str, Any]) -> bool:
    """One JSON line to `loadkit run`/`loadkit ui`; False once the reader is gone."""
    fd = _state.get("progress_fd")
    if fd is None:
        return False
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    except (BlockingIOError, BrokenPipeError):
        pass
    except OSError:
        return False
    return True


# -- Prometheus metrics while the run lasts ----------------------------------------------------

_metrics: dict[str, Any] = {
    "cumulative": None,
    "corrected": None,  # the same for corrected times, when some starts are scheduled
    "added_until": 0,
    "config": None,
    "cache": None,
    "rendered": None,  # the file a scrape's text is rendered into once a second
}


def _start_live(environment: Environment) -> None:
    """Count everything recorded so far (`metrics.Cumulative`: complete seconds locally, each
    worker's report on a master) and read the scenario's thresholds, for what is judged while
    the run lasts: the live line's failing thresholds, `abort: true`, the metrics."""
    if _metrics["cumulative"] is not None:
        return
    from loadkit import metrics
    from loadkit.live import LiveConfig

    _metrics["cumulative"] = metrics.Cumulative()
    if _schedules:
        _metrics["corrected"] = metrics.Cumulative()
    config_path = os.environ.get(LIVE_CONFIG_ENV)
    _metrics["config"] = LiveConfig.read(config_path) if config_path else None
    if not isinstance(environment.runner, MasterRunner):  # a master adds workers' reports
        gevent.spawn(_metrics_loop)
    if _metrics["config"] is not None:
        gevent.spawn(_judge_loop, environment)


def _start_metrics(environment: Environment, path: str) -> None:
    _start_live(environment)
    _metrics["rendered"] = path
    _render_metrics(environment)
    gevent.spawn(_render_loop, environment)


def _render_loop(environment: Environment) -> None:
    """What a scrape gets, rendered once a second into a file that `loadkit run` serves: an
    HTTP exchange in this process cost ~1.6 ms of the generator's CPU per scrape (8 % of its
    throughput at 50 scrapes/s, benchmark case 10); a file written once a second, nothing."""
    while True:
        gevent.sleep(1.0)
        _render_metrics(environment)


def _render_metrics(environment: Environment) -> None:
    from loadkit import metrics

    if not isinstance(environment.runner, MasterRunner):
        _add_complete_seconds(int(time.time()))
    path = _metrics["rendered"]
    with contextlib.suppress(OSError):  # a full disk: the scrape shows the last numbers
        with open(path + ".tmp", "wb") as handle:
            handle.write(metrics.render(_metrics_snapshot(environment)))
        os.replace(path + ".tmp", path)


def _judge_loop(environment: Environment) -> None:
    """Once a second: which thresholds fail now (for the live line), and whether one marked
    `abort: true` ends the run — gracefully, so the run folder is complete."""
    from loadkit.live import abort_reason

    while True:
        gevent.sleep(1.0)
        if _state["started_at"] is None or _state["stopping_at"] is not None:
            continue
        elapsed = time.time() - _state["started_at"]
        results = _judged_now(environment)
        _state["failing"] = [
            t.expression for t, r in results if r.actual is not None and not r.passed
        ]
        reason = abort_reason(results, _metrics["config"], elapsed)
        if reason is not None and _state.get("aborted_by") is None:
            _state["aborted_by"] = reason
            logging.getLogger("loadkit").error(
                "threshold '%s' failed %.0f s into the run (actual %s): stopping the run",
                reason["threshold"], elapsed, reason["actual"],
            )  # fmt: skip
            if environment.runner is not None:
                gevent.spawn(environment.runner.quit)
            return


def _judged_now(environment: Environment) -> list[Any]:
    """Every threshold judged on what the run measured so far (at most once a second)."""
    from loadkit.histogram import RunHistograms
    from loadkit.live import threshold_results

    now = int(time.time())
    cache = _metrics["cache"]
    if cache is not None and cache[0] == now:
        return list(cache[1])
    if _metrics["config"] is None or _state["started_at"] is None:
        return []
    _log_noted()
    lag = 4 if isinstance(environment.runner, MasterRunner) else 1
    elapsed = (_state["stopping_at"] or time.time()) - _state["started_at"]

    def recent(seconds: int, recorder: HistogramRecorder = _histograms) -> RunHistograms:
        rows = recorder.payload(start=now - lag - seconds, end=now - lag)
        return RunHistograms.from_json(_histograms_document(rows))

    corrected = _metrics["corrected"]
    results = threshold_results(
        _metrics["config"],
        _metrics["cumulative"].as_run(),
        recent,
        elapsed,
        corrected=None
        if corrected is None
        else (corrected.as_run(), lambda seconds: recent(seconds, _corrected)),
    )
    _metrics["cache"] = (now, results)
    return results


def _metrics_loop() -> None:
    while True:
        gevent.sleep(1.0)
        _add_complete_seconds(int(time.time()))


def _add_complete_seconds(end: int) -> None:
    """This process's requests of the seconds before `end` not counted yet (the recorder
    writes each request into the second it completed in, so a past second is complete)."""
    _log_noted()
    start = _metrics["added_until"]
    if end > start:
        _metrics["cumulative"].add_rows(_histograms.payload(start=start, end=end))
        if _metrics["corrected"] is not None:
            _metrics["corrected"].add_rows(_corrected.payload(start=start, end=end))
        _metrics["added_until"] = end


def _metrics_snapshot(environment: Environment) -> Any:
    """One scrape's numbers (threshold states computed at most once a second)."""
    from loadkit import metrics

    _log_noted()
    runner = environment.runner
    cumulative = _metrics["cumulative"]
    lag = 4 if isinstance(runner, MasterRunner) else 1
    now = int(time.time())
    states = []
    for threshold, result in _judged_now(environment):
        value = result.actual
        if value is not None and threshold.unit == "ms":
            value /= 1000.0  # Prometheus' unit of time
        passing = None if result.actual is None else result.passed
        states.append(metrics.ThresholdState(threshold.expression, value, passing))
    return metrics.Snapshot(
        run=os.environ.get(METRICS_RUN_ENV, ""),
        cumulative=cumulative,
        users=runner.user_count if runner is not None else 0,
        target_users=int(getattr(runner, "target_user_count", 0) or 0),
        achieved_rps=float(_histograms.second_summary(now - lag)[0]),
        thresholds=states,
        corrected=_metrics["corrected"],
        arrivals=_arrivals_now(),
    )


def _arrivals_now() -> dict[str, int] | None:
    counts = _all_arrival_counts()
    return None if counts is None else dict(zip(_ARRIVAL_COUNTS, counts, strict=True))


def _histograms_document(rows: list[list[Any]]) -> dict[str, Any]:
    recorder = HistogramRecorder()
    recorder.merge_payload(rows)
    return recorder.to_json()


def _metrics_at_quit(environment: Environment) -> None:
    """The final numbers on the endpoint, then a last chance to scrape them."""
    if _metrics["cumulative"] is None:
        return
    if not isinstance(environment.runner, MasterRunner):
        _add_complete_seconds(int(time.time()) + 1)
    _metrics["cache"] = None
    if _metrics["rendered"] is not None:  # the endpoint serves the final numbers now
        _render_metrics(environment)
    linger = float(os.environ.get(METRICS_LINGER_ENV) or 0)
    if linger > 0:
        gevent.sleep(linger)


# -- the web UI: a run folder per test -------------------------------------------------------

_ui: dict[str, Any] = {
    "config": None,  # loadkit.live.LiveConfig of the scenario
    "current": None,  # the running test's folder (a Path), or None
    "writer": None,  # Locust's CSV writer for the running test, and its greenlet
    "writer_greenlet": None,
    "finished": [],  # [{"folder", "started_at"}] of every test that ended, oldest first
    # The running test's load as its swarm's form said (Locust keeps a run time the form
    # left empty in its options), and the next swarm's until its test starts.
    "plan": None,
    "next_plan": None,
    "ended_by": None,  # a UiTestEnd once known; PLANNED when nothing else ended it
}
_RUNNING = ("spawning", "running")  # Locust's runner states while a test sends load


def _install_ui(environment: Environment, config_path: str) -> None:
    from loadkit import webui
    from loadkit.live import LiveConfig

    _ui["config"] = LiveConfig.read(config_path)
    webui.install(
        environment,
        live=_live_tables,
        finished=lambda: list(_ui["finished"]),
        before_swarm=_before_swarm,
        before_stop=lambda: _ended_by(UiTestEnd.STOP),
    )


def _ended_by(end: UiTestEnd) -> None:
    """Note what ends the running test (the first cause counts: Ctrl-C after Stop is a Stop)."""
    environment: Environment | None = _state["env"]
    runner = environment.runner if environment is not None else None
    if _ui["current"] is None or _ui["ended_by"] is not None or runner is None:
        return
    if runner.state in _RUNNING:
        _ui["ended_by"] = end


def _on_quitting_ui(environment: Environment, **_: Any) -> None:
    # Locust fires `quitting` before it stops the runner: a test still running now is ended
    # by `loadkit ui`'s interrupt (or an `abort: true` threshold, which says so itself).
    if _ui["config"] is not None and _state.get("aborted_by") is None:
        _ended_by(UiTestEnd.INTERRUPT)


def _before_swarm(form: Any) -> None:
    """POST /swarm, before Locust's own view (authenticated): remember the form's load for
    the test it starts; while a test runs (Locust would only change its user count), end that
    one into its folder and begin the next, as Reset does."""
    environment: Environment | None = _state["env"]
    plan = _form_plan(form)
    if plan is None or environment is None or environment.runner is None:
        return  # Locust refuses such a form itself, and starts nothing
    _ui["next_plan"] = plan
    running = environment.runner.state in _RUNNING and _ui["current"] is not None
    if running and environment.shape_class is None:  # a running shape ignores a new swarm
        _ended_by(UiTestEnd.NEW_SWARM)
        _split_ui_test(environment, next_plan=plan)
        environment.runner.stats.reset_all()  # what Locust's Reset does
        environment.runner.exceptions = {}


def _form_plan(form: Any) -> dict[str, Any] | None:
    """users, spawn_rate, run_time (seconds or None) and host of a swarm's form, as Locust
    reads them; None when Locust would refuse the form."""
    import math

    from locust.util.timespan import parse_timespan

    try:
        users = int(form.get("user_count", ""))
        spawn_rate = float(form.get("spawn_rate", ""))
        run_time = parse_timespan(form["run_time"]) if form.get("run_time") else None
    except (ValueError, TypeError, KeyError):
        return None
    if users < 0 or not (math.isfinite(spawn_rate) and spawn_rate > 0):
        return None
    return {
        "host": form.get("host") or None,
        "users": users,
        "spawn_rate": spawn_rate,
        "run_time": run_time,
    }


def _note_users_at_end(environment: Environment) -> None:
    """The users running as the test ends (stopped mid-ramp, the last sample may be a second
    old): the summary says how many of the planned users it reached."""
    runner = environment.runner
    if runner is None:
        return
    users = runner.user_count
    _state["peak_users"] = max(_state["peak_users"], users)
    _state["users"].append([round(time.time(), 3), users])


def _live_tables() -> dict[str, list[Any]]:
    """The Thresholds and Apdex tabs' rows: the judgement the live line and `abort: true`
    use (`_judged_now`, on the cumulative counts), not a second one over every second."""
    from loadkit.live import apdex_lines, threshold_lines

    environment = _state["env"]
    if environment is None or _state["started_at"] is None or _ui["current"] is None:
        return {"thresholds": [], "apdex": []}
    config = _ui["config"]
    return {
        "thresholds": threshold_lines(_judged_now(environment), config),
        "apdex": apdex_lines(_metrics["cumulative"].as_run(), config),
    }


def _begin_ui_test(environment: Environment) -> None:
    """A test started from the web UI: a new run folder, fresh measurements."""
    from locust.stats import StatsCSVFileWriter

    from loadkit.run_folder import RunFolder

    if _ui["current"] is not None:  # a new swarm while one was running: close that one first
        _finish_ui_test(environment)
    session = RunFolder(Path(os.environ[RUN_DIR_ENV]))
    config_name = os.environ.get(UI_SCENARIO_NAME_ENV, "run")
    folder = RunFolder.create(None, config_name, Path(os.environ[UI_REPORTS_DIR_ENV]))
    for name in (RunFolder.SCENARIO, RunFolder.LOCUSTFILE):
        with contextlib.suppress(OSError):
            (folder.path / name).write_bytes((session.path / name).read_bytes())
    _ui.update(plan=_ui["next_plan"], next_plan=None, ended_by=None)
    _histograms.drain()
    _corrected.drain()
    del _cpu_samples[:]
    del _lag_samples[:]
    _state.update(
        arrivals=[], worker_arrivals={},
        started_at=None, stopping_at=None, stopped_at=None, peak_users=0, users=[], cpu={},
        loop_lag={},
        notes=[], snapshot_written=False, aborted_by=None, failing=[],
        workers={"expected": _state["workers"]["expected"], "connected": [], "lost": []},
    )  # fmt: skip
    if _metrics["cumulative"] is not None:  # each test's numbers start from zero
        _metrics["cumulative"] = type(_metrics["cumulative"])()
        if _metrics["corrected"] is not None:
            _metrics["corrected"] = type(_metrics["corrected"])()
        _metrics.update(added_until=int(time.time()), cache=None)
    writer = StatsCSVFileWriter(
        environment, PERCENTILES_TO_REPORT, str(folder.csv_prefix), full_history=True
    )
    _ui.update(current=folder, writer=writer, writer_greenlet=gevent.spawn(writer.stats_writer))


def _on_reset_stats(**_: Any) -> None:
    """The web UI's Reset: Locust forgets the statistics so far (this event fires just before).
    Nothing measured may be lost, so the test's folder is closed with them, and a new one goes
    on from here."""
    environment: Environment | None = _state["env"]
    if environment is None or _ui["current"] is None or not _is_reporting_process(environment):
        return
    _ended_by(UiTestEnd.RESET)
    _split_ui_test(environment, next_plan=_ui["plan"])  # the same test goes on


def _split_ui_test(environment: Environment, *, next_plan: dict[str, Any] | None) -> None:
    """End the running test into its folder now and go on in a new one (its load starts
    from the users running)."""
    if _state["stopping_at"] is None:
        _state["stopping_at"] = time.time()
        _note_users_at_end(environment)
    _finish_ui_test(environment)
    _ui["next_plan"] = next_plan
    _begin_ui_test(environment)
    _state["started_at"] = time.time()


def _finish_ui_test(environment: Environment) -> None:
    """The test ended (Stop, its run time, its shape, a new swarm or Ctrl-C): write its final
    snapshot into its folder and tell `loadkit ui`, which judges it and writes its report."""
    folder = _ui["current"]
    if folder is None:
        return
    _ui["current"] = None
    if _ui["writer_greenlet"] is not None:
        _ui["writer_greenlet"].kill(block=True)
    if _ui["writer"] is not None:
        with contextlib.suppress(Exception):
            _ui["writer"].close_files()
    options = environment.parsed_options
    plan = _ui["plan"] or {
        "users": getattr(options, "num_users", None),
        "spawn_rate": getattr(options, "spawn_rate", None),
        "run_time": getattr(options, "run_time", None),
    }
    plan = {**plan, "host": plan.get("host") or environment.host or ""}
    ended_by = _ui["ended_by"] or UiTestEnd.PLANNED
    if _state["stopping_at"] is None and _state["started_at"] is not None:
        _state["stopping_at"] = time.time()
    write_final_snapshot(
        environment, str(folder.path), 0, csv_prefix=str(folder.csv_prefix), ended_by=ended_by
    )
    _ui["finished"].append({"folder": str(folder.path), "started_at": _state["started_at"]})
    _send_progress(
        {"event": "test_end", "folder": str(folder.path), "plan": plan, "ended_by": ended_by}
    )


def write_final_snapshot(
    environment: Environment,
    run_dir: str,
    exit_code: int,
    *,
    csv_prefix: str | None = None,
    ended_by: UiTestEnd | None = None,
) -> None:
    _log_noted()
    stats = environment.stats
    runner = environment.runner
    if isinstance(runner, MasterRunner) and _state["started_at"] is None and runner.clients:
        _state["workers"]["connected"] = sorted(runner.clients.keys())  # gave up waiting
    options = environment.parsed_options
    prefix = csv_prefix or getattr(options, "csv_prefix", None)
    if prefix:
        # The same format Locust writes, but final: StatsCSV is Locust's own writer.
        writer = StatsCSV(environment, PERCENTILES_TO_REPORT)
        for suffix, write in (
            ("_stats.csv", writer.requests_csv),
            ("_failures.csv", writer.failures_csv),
            ("_exceptions.csv", writer.exceptions_csv),
        ):
            with open(prefix + suffix, "w", newline="", encoding="utf-8") as handle:
                write(csv.writer(handle))
    exceptions = []
    if runner is not None:
        for row in runner.exceptions.values():
            exceptions.append(
                {
                    "count": row["count"],
                    "message": row["msg"],
                    "traceback": row["traceback"],
                    "nodes": sorted(row["nodes"]),
                }
            )
    data = {
        "schema": 1,
        "locust_version": locust.__version__,
        "started_at": _state["started_at"],
        "stopping_at": _state["stopping_at"],
        "stopped_at": _state["stopped_at"] or time.time(),
        "written_at": time.time(),
        "locust_exit_code": exit_code,
        "peak_users": _state["peak_users"],
        "users": _state["users"],
        "cpu": _state["cpu"],
        "loop_lag": _state["loop_lag"],
        "notes": _state["notes"],
        "workers": _state["workers"],
        "aborted_by": _state.get("aborted_by"),
        "ended_by": None if ended_by is None else str(ended_by),  # a web UI test's
        "arrivals": _arrivals_snapshot(),
        "entries": [entry.serialize() for entry in stats.entries.values()],
        "total": stats.total.serialize(),
        "errors": list(stats.serialize_errors().values()),
        "exceptions": exceptions,
    }
    path = os.path.join(run_dir, FINAL_STATS_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)
    for recorder, name in ((_histograms, HISTOGRAMS_FILE), (_corrected, CORRECTED_HISTOGRAMS_FILE)):
        if recorder is _corrected and not _schedules:
            continue
        recorder.write(
            os.path.join(run_dir, name),
            MAX_NAMED_SERIES,
            locust_version=locust.__version__,
            started_at=data["started_at"],
            stopped_at=data["stopped_at"],
            written_at=time.time(),
        )


def _arrivals_snapshot() -> dict[str, Any] | None:
    """The open model's counts: once a second, and at the end (every process together)."""
    final = _all_arrival_counts()
    if final is None:
        return None
    # The planned stages, every user type together: the types share the stage boundaries, so
    # the rates add up index by index ([arrivals per second, seconds], from `started_at`).
    stages: list[list[float]] = []
    for schedule in _schedules:
        for i, (rate, seconds) in enumerate(getattr(schedule, "stages", None) or ()):
            if i == len(stages):
                stages.append([0.0, float(seconds)])
            stages[i][0] += float(rate)
    return {
        "columns": ["time", *_ARRIVAL_COUNTS],
        "series": _state["arrivals"],
        "final": dict(zip(_ARRIVAL_COUNTS, final, strict=True)),
        "stages": [[round(rate, 6), seconds] for rate, seconds in stages],
    }


def _die_with_parent(signum: int) -> None:
    """Ask Linux to send `signum` to this process when its parent dies: no load may outlive
    the command that started it (a SIGKILLed `loadkit run`, a Locust master that crashed)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signum)
    if os.getppid() == 1:  # the parent died before the request took effect
        os.kill(os.getpid(), signum)


def _workers_die_with_their_master() -> None:
    # Locust forks its --processes workers with gevent.fork(); a worker has nothing to do
    # without its master, and must not keep loading the target for a minute after it.
    os.register_at_fork(after_in_child=lambda: _die_with_parent(signal.SIGKILL))


def _deadline_loop(seconds: float) -> None:
    """The harness's own bound, whatever happens to the CLI that watches it: past the planned
    run and its grace periods, stop the test; if even that does not end the process, exit."""
    gevent.sleep(seconds)
    environment: Environment | None = _state["env"]
    logging.getLogger("loadkit").error(
        "the run exceeded its deadline of %.0f s; stopping Locust", seconds
    )
    if environment is not None and environment.runner is not None:
        gevent.spawn(environment.runner.quit)
    gevent.sleep(15.0)
    os._exit(4)


# -------------------------------------------------------------------------------- secrets
# A secret's value is never written unmasked, not even for a moment: a signal or a crash can
# end `loadkit run` before it masks the run folder. So it is masked here, where Locust produces
# text: whatever is printed or logged (sys.stdout/sys.stderr, and every logging handler), the
# statistics name, url and error of each request before any listener sees them (Locust's
# stats, CSVs and HTML report, the fine histograms), exceptions (runner.log_exception) and
# what workers report. Forked --processes workers inherit all of it; a worker on another
# machine masks its own output when it has LOADKIT_SECRET_NAMES and the secrets, and the
# master masks what any worker reports.

_secrets = Secrets(())


def _mask_secrets() -> None:
    """Mask the secrets named by LOADKIT_SECRET_NAMES, whose values this process (started by
    `loadkit run` with its environment) reads from its own environment."""
    global _secrets
    names = [name for name in os.environ.get(SECRET_NAMES_ENV, "").split(",") if name]
    _secrets = Secrets(os.environ.get(name, "") for name in names)
    if not _secrets:
        return
    sys.stdout = _MaskedStream(sys.stdout)
    sys.stderr = _MaskedStream(sys.stderr)  # Locust's log handlers are made later, on it
    masked = _MaskedRequestEvent()
    masked._handlers = events.request._handlers  # the listeners added so far (ours)
    events.request = masked
    events.init.add_listener(_mask_in_runner)


class _MaskedStream:
    """A text stream that masks secrets in everything written to it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_secrets.mask(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _MaskedRequestEvent(EventHook):
    """Locust's `request` event, with secrets masked out of the statistics name, the url and
    the error before any listener sees them."""

    def __init__(self) -> None:
        super().__init__()
        self._names: dict[str, str] = {}  # a name as requested -> as recorded

    def fire(self, *, reverse: bool = False, **kwargs: Any) -> None:
        name = kwargs.get("name")
        if isinstance(name, str):
            masked = self._names.get(name)
            if masked is None:
                masked = _secrets.mask(name)
                if len(self._names) < 10_000:  # names holding ids would grow it forever
                    self._names[name] = masked
            kwargs["name"] = masked
        url = kwargs.get("url")
        if isinstance(url, str):
            kwargs["url"] = _secrets.mask(url)
        if kwargs.get("exception") is not None:
            kwargs["exception"] = _masked_error(kwargs["exception"])
        super().fire(reverse=reverse, **kwargs)


class _MaskedError(Exception):
    """Stands for an error whose text held a secret: Locust shows an error by its repr."""

    def __init__(self, text: str, described: str) -> None:
        super().__init__(text)
        self.described = described

    def __repr__(self) -> str:
        return self.described


def _masked_error(error: Any) -> Any:
    if isinstance(error, str):
        return _secrets.mask(error)
    text, described = str(error), repr(error)
    if not (_secrets.found_in(text) or _secrets.found_in(described)):
        return error
    if isinstance(error, CatchResponseError):  # a failed check: Locust shows its message
        return CatchResponseError(_secrets.mask(text))
    return _MaskedError(_secrets.mask(text), _secrets.mask(described))


class _MaskingFilter(logging.Filter):
    """Masks a log record's message and traceback before a handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _secrets.found_in(message):
            record.msg, record.args = _secrets.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _secrets.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = _secrets.mask(record.stack_info)
        return True


def _mask_in_runner(environment: Environment, **_: Any) -> None:
    # Locust has set up its logging and made the runner by now (and, with --processes, forked).
    masking = _MaskingFilter()
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            handler.addFilter(masking)
    runner = environment.runner
    if runner is None:
        return
    log_exception = runner.log_exception  # a local user's, or one a worker reported

    def masked_log_exception(node_id: str, msg: str, formatted_tb: str) -> None:
        log_exception(node_id, _secrets.mask(msg), _secrets.mask(formatted_tb))

    runner.log_exception = masked_log_exception  # type: ignore[method-assign]


def _mask_report(data: dict[str, Any]) -> None:
    """A worker's report, masked before the master merges it."""
    for entry in data.get("stats") or ():
        entry["name"] = _secrets.mask(entry["name"])
    for row in data.get(_HISTOGRAMS_REPORT_KEY) or ():
        row[2] = _secrets.mask(row[2])  # [second, type, name, user, ok, failed]
    data[_NOTES_REPORT_KEY] = [_secrets.mask(str(n)) for n in data.get(_NOTES_REPORT_KEY) or ()]
    errors: dict[str, dict[str, Any]] = {}
    for key, error in (data.get("errors") or {}).items():
        if _secrets.found_in(f"{error['name']} {error['error']}"):
            error["name"] = _secrets.mask(error["name"])
            error["error"] = _secrets.mask(error["error"])
            key = StatsError.create_key(error["method"], error["name"], error["error"])
        same = errors.get(key)
        if same is None:
            errors[key] = error
        else:  # two errors that differed only by a secret
            same["occurrences"] += error["occurrences"]
            seen = [t for t in (same.get("first_seen"), error.get("first_seen")) if t]
            same["first_seen"] = min(seen, default=None)
            seen = [t for t in (same.get("last_seen"), error.get("last_seen")) if t]
            same["last_seen"] = max(seen, default=None)
    if "errors" in data:
        data["errors"] = errors


def main() -> None:
    from locust.main import main as locust_main

    events.init.add_listener(_on_init)
    events.test_start.add_listener(_on_test_start)
    events.test_stopping.add_listener(_on_test_stopping)
    events.reset_stats.add_listener(_on_reset_stats)
    events.test_stop.add_listener(_on_test_stop)
    events.quit.add_listener(_on_quit)
    events.quitting.add_listener(_on_quitting_ui)
    events.request.add_listener(_on_request)
    events.report_to_master.add_listener(_on_report_to_master)
    events.worker_report.add_listener(_on_worker_report)
    events.worker_connect.add_listener(_worker_joined)
    sys.argv[0] = "locust"
    _die_with_parent(signal.SIGTERM)  # a graceful stop: the final snapshot is still written
    if os.environ.get(WAIT_FOR_COMMAND_ENV) == "1" and not _receive_command():
        return
    _mask_secrets()
    _workers_die_with_their_master()
    atexit.register(_at_exit)
    deadline = os.environ.get(DEADLINE_ENV)
    if deadline:
        gevent.spawn(_deadline_loop, float(deadline))
    locust_main()


def _receive_command() -> bool:
    """Wait for `launcher.LocustProcess.begin`: Locust's arguments, where the log goes, and
    what to add to the environment and the import path. False: exit, nothing to run."""
    line = sys.stdin.buffer.readline()
    if not line.strip():
        return False
    command = json.loads(line)
    sys.argv = ["locust", *command["argv"]]
    os.environ.update(command["env"])
    sys.path[:0] = command["python_path"]
    log = os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return True


if __name__ == "__main__":
    main()
