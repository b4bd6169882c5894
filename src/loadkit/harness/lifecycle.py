"""The harness's entry and bounds: `main()` (the stdin protocol, listeners on Locust's events,
then Locust's own `main()`), `init`, the test's start and end, the final snapshot at `quit` or
exit, the run's deadline, and dying with the parent process."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import signal
import sys
import time
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadkit.exit_codes import ExitStatus
from loadkit.harness import traces
from loadkit.harness.live_metrics import _metrics_at_quit, _start_live, _start_metrics
from loadkit.harness.progress import _progress_loop
from loadkit.harness.requests import (
    _cap_locusts_history,
    _join_locusts_stats,
    _log_noted,
    _log_noted_loop,
    _on_request,
    _schedules,
)
from loadkit.harness.sampling import _cpu_loop, _lag_loop, _NoteHandler, _seal_loop, _users_loop
from loadkit.harness.secrets import _mask_secrets
from loadkit.harness.snapshot import write_final_snapshot
from loadkit.harness.state import _is_reporting_process, state
from loadkit.harness.ui import (
    _begin_ui_test,
    _finish_ui_test,
    _install_ui,
    _note_users_at_end,
    _on_quitting_ui,
    _on_reset_stats,
)
from loadkit.harness.workers import (
    _last_report,
    _on_report_to_master,
    _on_worker_report,
    _worker_joined,
    _workers_loop,
)
from loadkit.harness_protocol import (
    DEADLINE_ENV,
    LIVE_CONFIG_ENV,
    METRICS_ENV,
    PROGRESS_FD_ENV,
    RUN_DIR_ENV,
    UI_CONFIG_ENV,
    WAIT_FOR_COMMAND_ENV,
)


def _on_init(environment: Environment, **_: Any) -> None:
    # gevent's loop caches "now" and has not run while this process waited for its command
    # and imported the locustfile: the --run-time timer Locust sets next would count from that
    # stale time and end the run early (by as long as a large locustfile takes to import).
    gevent.get_hub().loop.update_now()
    state.env = environment
    logging.getLogger("loadkit").addHandler(_NoteHandler())
    gevent.spawn(_cpu_loop, environment)
    if not isinstance(environment.runner, MasterRunner):  # a master times no request
        gevent.spawn(_lag_loop, environment)
    for user_class in environment.user_classes:
        schedule = getattr(user_class, "schedule", None)
        if callable(getattr(schedule, "wait", None)):
            _schedules.append(schedule)
    _join_locusts_stats(environment)
    traces.install(environment)  # after: it may put its listener in place of `_on_request`
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
        state.workers["expected"] = int(getattr(options, "expect_workers", 0) or 0)
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


def _on_test_start(environment: Environment, **_: Any) -> None:
    if state.ui.config is not None and _is_reporting_process(environment):
        _begin_ui_test(environment)
    if state.started_at is None:
        state.started_at = time.time()
        if isinstance(environment.runner, MasterRunner):
            for worker_id in sorted(environment.runner.clients.keys()):
                _worker_joined(worker_id)


def _on_test_stopping(environment: Environment, **_: Any) -> None:
    # The load ends here; what follows is users finishing their tasks (stop_timeout).
    if state.stopping_at is None:
        state.stopping_at = time.time()
        if state.ui.current is not None and _is_reporting_process(environment):
            _note_users_at_end(environment)


def _on_test_stop(environment: Environment, **_: Any) -> None:
    _log_noted()  # Locust writes its HTML report next, before `quitting`
    state.stopped_at = time.time()
    if state.ui.current is not None and _is_reporting_process(environment):
        # A master's workers send their last report as they stop: let it arrive.
        delay = 2.0 if isinstance(environment.runner, MasterRunner) else 0.2
        gevent.spawn_later(delay, _finish_ui_test, environment)


def _on_quit(exit_code: int, **_: Any) -> None:
    # `quit` fires after runner.quit(): every user has stopped and (distributed) every worker
    # has sent its last report, so these numbers are final.
    environment: Environment | None = state.env
    if environment is None or not _is_reporting_process(environment):
        return
    if state.ui.config is not None:  # each test has its folder; the session has none
        _finish_ui_test(environment)
        state.snapshot_written = True
        return
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        write_final_snapshot(environment, run_dir, exit_code)
        state.snapshot_written = True
    _metrics_at_quit(environment)


def _at_exit() -> None:
    """Locust leaves without its `quit` event on some paths (a master that gave up waiting
    for its workers calls sys.exit): write the snapshot then, so the verdict knows why."""
    if not state.snapshot_written:
        _on_quit(1)


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
    environment: Environment | None = state.env
    logging.getLogger("loadkit").error(
        "the run exceeded its deadline of %.0f s; stopping Locust", seconds
    )
    if environment is not None and environment.runner is not None:
        gevent.spawn(environment.runner.quit)
    gevent.sleep(15.0)
    # Not the CLI's process: this is Locust's, so no `run_cli` is there to map an exception
    # to a code, and Locust's own exit (its greenlets, its `quit`) is what failed to happen.
    # os._exit leaves without them; `loadkit run` reads the code and, finding no final
    # snapshot, reports an internal error, which is what this code says.
    os._exit(ExitStatus.INTERNAL_ERROR)


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
