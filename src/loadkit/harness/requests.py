"""Each request: noted on Locust's critical path by the one `request` listener, counted in
batches into loadkit's fine histograms and (in place of Locust's own listener, with Locust's code)
into Locust's statistics; this process's histograms and the scheduled users' schedules."""

from __future__ import annotations

import contextlib
import logging
import time
import types
from typing import Any

import gevent
from gevent import getcurrent
from locust import User
from locust.env import Environment
from locust.stats import StatsError

from loadkit.harness_protocol import (
    START_DELAY_KEY,
)
from loadkit.histogram import MAX_NAMED_SERIES, TRANSACTION_TYPE, HistogramRecorder, Noted

# This process's histograms (a forked --processes worker starts with its own, empty copy).
_histograms = HistogramRecorder()

# Corrected times (service time + the iteration's start delay), kept when some user class's
# iterations start on a schedule (`schedule` set by the generated code: arrivals, pacing).
_corrected = HistogramRecorder()

_schedules: list[Any] = []

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
        # Not histogram.busiest_order's ties (by name): this cap is chosen again every second
        # while new names arrive, and ties kept in the order Locust first saw them keep the
        # same names from one second to the next (by name, each new name could push one out).
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
