"""Names shared by `loadkit run` and the harness inside the Locust process.

A module of its own so that the harness, which must import Locust first, and the runner,
which must never import Locust, agree on them without importing each other.
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

RUN_DIR_ENV = "LOADKIT_RUN_DIR"
PROGRESS_FD_ENV = "LOADKIT_PROGRESS_FD"
FINAL_STATS_FILE = "locust_final.json"
HISTOGRAMS_FILE = "histograms.json"
"""Fine response-time histograms per request and second; format in `loadkit.histogram`."""
CORRECTED_HISTOGRAMS_FILE = "histograms-corrected.json"
"""The same for corrected times (service time plus the iteration's start delay), written when
some user's iterations start on a schedule (arrival rates, pacing)."""
START_DELAY_KEY = "start_delay_ms"
"""The request event's context key (set by the generated code's schedules) with how late the
request's iteration started."""
TRACE_CONTEXT_KEY = "traceparent"
"""The request event's context key (set by the generated code's TracedClient, for `trace:
true`) with the W3C traceparent header the request was sent with; also the client class's
`context_key`, by which the harness knows a traced user class."""
SLOWEST_KEPT = 10
"""Trace links: the slowest requests kept per request name (each process, and the master)."""
WAIT_FOR_COMMAND_ENV = "LOADKIT_WAIT_FOR_COMMAND"
"""Set by `launcher`: the harness waits for its Locust arguments as one JSON line on stdin."""
DEADLINE_ENV = "LOADKIT_DEADLINE_S"
"""Seconds after which the harness stops Locust by itself (the planned run plus grace), even if
`loadkit run` is gone."""
SECRET_NAMES_ENV = "LOADKIT_SECRET_NAMES"
"""Comma-separated names of the environment variables holding the scenario's secrets: the
harness masks their values (read from its own environment, never passed) in everything Locust
logs, prints, stores and writes."""
UI_CONFIG_ENV = "LOADKIT_UI_CONFIG"
"""`loadkit ui`: a JSON file with the scenario's thresholds and Apdex targets (`live.LiveConfig`);
its presence makes the harness write a run folder per test started in the web UI."""
UI_REPORTS_DIR_ENV = "LOADKIT_UI_REPORTS_DIR"
WEB_USER_ENV = "LOADKIT_WEB_USER"
WEB_PASSWORD_ENV = "LOADKIT_WEB_PASSWORD"
"""`loadkit ui --web-login`: the user name and password its login page checks."""


class UiTestEnd(StrEnum):
    """How a test started in the web UI ended: `ended_by` in its locust_final.json and in the
    harness's `test_end` progress line."""

    PLANNED = "planned"
    """Its run time, its shape, or Locust itself (no run time: only Stop ends it)."""
    STOP = "stop"
    """The person pressed Stop."""
    NEW_SWARM = "new swarm"
    """The person started a new swarm while it ran."""
    RESET = "reset"
    """The person reset the statistics (the test goes on in a new folder)."""
    INTERRUPT = "interrupt"
    """`loadkit ui` was interrupted (Ctrl-C, SIGTERM) while the test ran."""


BY_THE_USER = (UiTestEnd.STOP, UiTestEnd.NEW_SWARM, UiTestEnd.RESET)
"""Ends a person chose in the UI: before the planned end, the test did not run as planned."""
UI_SCENARIO_NAME_ENV = "LOADKIT_UI_SCENARIO_NAME"
UI_HISTORY_ENV = "LOADKIT_UI_HISTORY"
"""`loadkit ui` with a run history: a JSON file (a list of `UiHistoryRow`) that `loadkit ui`
rewrites after each test with the scenario's recent runs, for the web UI's History tab."""
UI_HISTORY_FILE = "history-runs.json"
"""Its name in the UI session's folder."""
UI_HISTORY_REPORT = "/loadkit/history/"
"""+ a run id: the web UI's route to the report of a run its History tab lists."""


class UiHistoryRow(TypedDict):
    """One recent run of the scenario in the web UI's History tab (all text, as shown)."""

    run_id: str
    recorded: str
    verdict: str
    p95: str
    errors: str
    report: str
    """The run's report: a path of the web UI's (`webui.HISTORY_REPORT`), or a URL."""
    folder: str
LIVE_CONFIG_ENV = "LOADKIT_LIVE_CONFIG"
"""A JSON file with the scenario's thresholds and Apdex targets (`live.LiveConfig`), for what
the harness judges while the run lasts (metrics, the web UI)."""
METRICS_ENV = "LOADKIT_METRICS"
"""A file the harness rewrites once a second with the Prometheus metrics' text
(`loadkit.metrics.render`); `loadkit run` serves it on --metrics-port from its own process, so a
scrape costs the load generator nothing."""
METRICS_RUN_ENV = "LOADKIT_METRICS_RUN"
"""The `run` label of every metric."""
METRICS_LINGER_ENV = "LOADKIT_METRICS_LINGER_S"
"""Seconds the metrics stay up after the run, for a last scrape of the final numbers."""


class SlowRequest(TypedDict):
    """One of a request name's slowest traced requests (`trace: true`)."""

    method: str  # the request type
    name: str
    response_time_ms: float
    trace_id: str  # 32 hex digits, as in its traceparent header
    span_id: str  # 16 hex digits
    started_at: float  # unix seconds
    failed: bool


class FinalSnapshot(TypedDict):
    """locust_final.json: what the harness knows when the run ends (`harness.snapshot`), or what
    `periodic_stats.read_periodic_stats` rebuilds from Locust's periodic CSVs when Locust died.
    Read through `run_folder.read_final_snapshot`. Keys the periodic rebuild or an older
    loadkit's file lack are `NotRequired`; times are unix seconds."""

    schema: int
    started_at: float | None
    stopped_at: float | None
    entries: Sequence[Mapping[str, Any]]  # Locust's `StatsEntry.serialize()`, one per request name
    errors: Sequence[Mapping[str, Any]]  # Locust's `StatsError.serialize()`
    exceptions: Sequence[Mapping[str, Any]]  # {"count", "message", "traceback", "nodes"}
    source: NotRequired[str]  # the periodic CSV it was rebuilt from
    locust_version: NotRequired[str]
    stopping_at: NotRequired[float | None]  # the load ended; users finishing their tasks after
    written_at: NotRequired[float]
    locust_exit_code: NotRequired[int]
    peak_users: NotRequired[int]
    users: NotRequired[list[list[float]]]  # [[unix time, running users], ...] once a second
    cpu: NotRequired[dict[str, list[list[float]]]]  # process -> [[unix time, CPU % of a core]]
    loop_lag: NotRequired[dict[str, list[list[float]]]]  # process -> [[second, max ms, p99 ms]]
    notes: NotRequired[list[str]]  # warnings the generated code logged on the `loadkit` logger
    workers: NotRequired[dict[str, Any]]  # {"expected", "connected", "lost"}
    aborted_by: NotRequired[dict[str, object] | None]  # the `abort: true` threshold, if one
    ended_by: NotRequired[str | None]  # a web UI test's `UiTestEnd`
    arrivals: NotRequired[dict[str, Any] | None]  # the open model's columns, series, final, stages
    total: NotRequired[Mapping[str, Any]]  # Locust's Aggregated row, serialized
    slowest: NotRequired[list[SlowRequest] | None]  # trace links; None when nothing is traced
