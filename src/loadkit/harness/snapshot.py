"""The final snapshot: Locust's CSVs written once more, complete, and `locust_final.json` with
everything the verdict needs, plus the fine histograms (`histograms.json`, and the corrected
ones when starts are scheduled)."""

from __future__ import annotations

import csv
import json
import os
import time
from typing import Any

import locust
from locust.env import Environment
from locust.runners import MasterRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from loadkit.harness import traces
from loadkit.harness.requests import _corrected, _histograms, _log_noted, _schedules
from loadkit.harness.sampling import _ARRIVAL_COUNTS, _all_arrival_counts
from loadkit.harness.state import state
from loadkit.harness_protocol import (
    CORRECTED_HISTOGRAMS_FILE,
    FINAL_STATS_FILE,
    HISTOGRAMS_FILE,
    FinalSnapshot,
    UiTestEnd,
)
from loadkit.histogram import MAX_NAMED_SERIES


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
    if isinstance(runner, MasterRunner) and state.started_at is None and runner.clients:
        state.workers["connected"] = sorted(runner.clients.keys())  # gave up waiting
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
    data: FinalSnapshot = {
        "schema": 1,
        "locust_version": locust.__version__,
        "started_at": state.started_at,
        "stopping_at": state.stopping_at,
        "stopped_at": state.stopped_at or time.time(),
        "written_at": time.time(),
        "locust_exit_code": exit_code,
        "peak_users": state.peak_users,
        "users": state.users,
        "cpu": state.cpu,
        "loop_lag": state.loop_lag,
        "notes": state.notes,
        "workers": state.workers,
        "aborted_by": state.aborted_by,
        "ended_by": None if ended_by is None else str(ended_by),  # a web UI test's
        "arrivals": _arrivals_snapshot(),
        "slowest": traces.snapshot(),
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
        "series": state.arrivals,
        "final": dict(zip(_ARRIVAL_COUNTS, final, strict=True)),
        "stages": [[round(rate, 6), seconds] for rate, seconds in stages],
    }
