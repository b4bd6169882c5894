"""The web UI: a run folder per test (begun, split by Reset or a new swarm, finished with its
final snapshot) and loadkit's tabs in Locust's web UI."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.stats import PERCENTILES_TO_REPORT

from loadkit.harness import traces
from loadkit.harness.live_metrics import _judged_now
from loadkit.harness.progress import _send_progress
from loadkit.harness.requests import _corrected, _histograms
from loadkit.harness.sampling import _cpu_samples, _lag_samples
from loadkit.harness.snapshot import write_final_snapshot
from loadkit.harness.state import _is_reporting_process, state
from loadkit.harness_protocol import (
    RUN_DIR_ENV,
    UI_HISTORY_ENV,
    UI_REPORTS_DIR_ENV,
    UI_SCENARIO_NAME_ENV,
    UiHistoryRow,
    UiTestEnd,
)

# -- the web UI: a run folder per test -------------------------------------------------------

_RUNNING = ("spawning", "running")  # Locust's runner states while a test sends load


def _install_ui(environment: Environment, config_path: str) -> None:
    from loadkit import webui
    from loadkit.live import LiveConfig

    state.ui.config = LiveConfig.read(config_path)
    webui.install(
        environment,
        live=_live_tables,
        finished=lambda: list(state.ui.finished),
        before_swarm=_before_swarm,
        before_stop=lambda: _ended_by(UiTestEnd.STOP),
        recent_runs=_recent_runs if os.environ.get(UI_HISTORY_ENV) else None,
    )


def _recent_runs() -> list[UiHistoryRow]:
    """The scenario's recent runs as `loadkit ui` last wrote them (none while it writes)."""
    import json

    try:
        rows = json.loads(Path(os.environ[UI_HISTORY_ENV]).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return []
    return rows if isinstance(rows, list) else []


def _ended_by(end: UiTestEnd) -> None:
    """Note what ends the running test (the first cause counts: Ctrl-C after Stop is a Stop)."""
    environment: Environment | None = state.env
    runner = environment.runner if environment is not None else None
    if state.ui.current is None or state.ui.ended_by is not None or runner is None:
        return
    if runner.state in _RUNNING:
        state.ui.ended_by = end


def _on_quitting_ui(environment: Environment, **_: Any) -> None:
    # Locust fires `quitting` before it stops the runner: a test still running now is ended
    # by `loadkit ui`'s interrupt (or an `abort: true` threshold, which says so itself).
    if state.ui.config is not None and state.aborted_by is None:
        _ended_by(UiTestEnd.INTERRUPT)


def _before_swarm(form: Any) -> None:
    """POST /swarm, before Locust's own view (authenticated): remember the form's load for
    the test it starts; while a test runs (Locust would only change its user count), end that
    one into its folder and begin the next, as Reset does."""
    environment: Environment | None = state.env
    plan = _form_plan(form)
    if plan is None or environment is None or environment.runner is None:
        return  # Locust refuses such a form itself, and starts nothing
    state.ui.next_plan = plan
    running = environment.runner.state in _RUNNING and state.ui.current is not None
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
    state.peak_users = max(state.peak_users, users)
    state.users.append([round(time.time(), 3), users])


def _live_tables() -> dict[str, list[Any]]:
    """The Thresholds and Apdex tabs' rows: the judgement the live line and `abort: true`
    use (`_judged_now`, on the cumulative counts), not a second one over every second."""
    from loadkit.live import apdex_lines, threshold_lines

    environment = state.env
    config, cumulative = state.ui.config, state.live.cumulative
    if (
        environment is None
        or state.started_at is None
        or state.ui.current is None
        or config is None
        or cumulative is None
    ):
        return {"thresholds": [], "apdex": []}
    return {
        "thresholds": threshold_lines(_judged_now(environment), config),
        "apdex": apdex_lines(cumulative.as_run(), config),
    }


def _begin_ui_test(environment: Environment) -> None:
    """A test started from the web UI: a new run folder, fresh measurements."""
    from locust.stats import StatsCSVFileWriter

    from loadkit.run_folder import RunFolder

    if state.ui.current is not None:  # a new swarm while one was running: close that one first
        _finish_ui_test(environment)
    session = RunFolder(Path(os.environ[RUN_DIR_ENV]))
    config_name = os.environ.get(UI_SCENARIO_NAME_ENV, "run")
    folder = RunFolder.create(None, config_name, Path(os.environ[UI_REPORTS_DIR_ENV]))
    for name in (RunFolder.SCENARIO, RunFolder.LOCUSTFILE):
        with contextlib.suppress(OSError):
            (folder.path / name).write_bytes((session.path / name).read_bytes())
    state.reset_for_new_test()
    _histograms.drain()
    _corrected.drain()
    traces.reset()
    del _cpu_samples[:]
    del _lag_samples[:]
    writer = StatsCSVFileWriter(
        environment, PERCENTILES_TO_REPORT, str(folder.csv_prefix), full_history=True
    )
    state.ui.current, state.ui.writer = folder, writer
    state.ui.writer_greenlet = gevent.spawn(writer.stats_writer)


def _on_reset_stats(**_: Any) -> None:
    """The web UI's Reset: Locust forgets the statistics so far (this event fires just before).
    Nothing measured may be lost, so the test's folder is closed with them, and a new one goes
    on from here."""
    environment: Environment | None = state.env
    if environment is None or state.ui.current is None or not _is_reporting_process(environment):
        return
    _ended_by(UiTestEnd.RESET)
    _split_ui_test(environment, next_plan=state.ui.plan)  # the same test goes on


def _split_ui_test(environment: Environment, *, next_plan: dict[str, Any] | None) -> None:
    """End the running test into its folder now and go on in a new one (its load starts
    from the users running)."""
    if state.stopping_at is None:
        state.stopping_at = time.time()
        _note_users_at_end(environment)
    _finish_ui_test(environment)
    state.ui.next_plan = next_plan
    _begin_ui_test(environment)
    state.started_at = time.time()


def _finish_ui_test(environment: Environment) -> None:
    """The test ended (Stop, its run time, its shape, a new swarm or Ctrl-C): write its final
    snapshot into its folder and tell `loadkit ui`, which judges it and writes its report."""
    folder = state.ui.current
    if folder is None:
        return
    state.ui.current = None
    if state.ui.writer_greenlet is not None:
        state.ui.writer_greenlet.kill(block=True)
    if state.ui.writer is not None:
        with contextlib.suppress(Exception):
            state.ui.writer.close_files()
    options = environment.parsed_options
    plan = state.ui.plan or {
        "users": getattr(options, "num_users", None),
        "spawn_rate": getattr(options, "spawn_rate", None),
        "run_time": getattr(options, "run_time", None),
    }
    plan = {**plan, "host": plan.get("host") or environment.host or ""}
    ended_by = state.ui.ended_by or UiTestEnd.PLANNED
    if state.stopping_at is None and state.started_at is not None:
        state.stopping_at = time.time()
    write_final_snapshot(
        environment, str(folder.path), 0, csv_prefix=str(folder.csv_prefix), ended_by=ended_by
    )
    state.ui.finished.append({"folder": str(folder.path), "started_at": state.started_at})
    _send_progress(
        {"event": "test_end", "folder": str(folder.path), "plan": plan, "ended_by": ended_by}
    )
