"""Run a compiled scenario on Locust and collect its final numbers into the run folder.

Locust runs as a child process (`python -m loadkit.harness`, i.e. Locust's own CLI plus a
final-snapshot hook) so that gevent's monkey-patching never reaches this process, and so
that a crash, a hang or a signal in the load generator cannot take the verdict down with it:
whatever happens, this side still writes summary.json and summary.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from loadkit.compiler import compile_scenario, user_class_names
from loadkit.delivery import data_warnings
from loadkit.errors import UsageError
from loadkit.harness_protocol import (
    DEADLINE_ENV,
    LIVE_CONFIG_ENV,
    METRICS_ENV,
    METRICS_LINGER_ENV,
    METRICS_RUN_ENV,
    RUN_DIR_ENV,
    SECRET_NAMES_ENV,
    UI_CONFIG_ENV,
    UI_HISTORY_ENV,
    UI_HISTORY_FILE,
    UI_REPORTS_DIR_ENV,
    UI_SCENARIO_NAME_ENV,
    WEB_PASSWORD_ENV,
    WEB_USER_ENV,
    FinalSnapshot,
    UiTestEnd,
)
from loadkit.histogram import RunHistograms, load_histograms
from loadkit.launcher import LocustProcess
from loadkit.live import LiveConfig
from loadkit.masking import MIN_SECRET_LENGTH, TOO_SHORT, mask_folder
from loadkit.periodic_stats import read_periodic_stats
from loadkit.report.markdown import render_markdown
from loadkit.run_cache import Launch
from loadkit.run_folder import RunFolder, read_final_snapshot, write_atomic
from loadkit.scenario import Scenario
from loadkit.settings import MASTER_PORT, Distribution, RunSettings
from loadkit.summary import (
    apdex_targets,
    build_summary,
    default_timing,
    slo_of,
    thresholds_of,
)
from loadkit.summary_types import Summary

if TYPE_CHECKING:
    from loadkit.capacity import CapacityReport

ProgressCallback = Callable[[dict[str, Any]], None]

# How long Locust may take to start the test (import the locustfile, connect workers), and,
# after the planned duration and the users' grace period, to shut down, before it is
# considered hung and killed.
_STARTUP_GRACE_S = 60.0
_SHUTDOWN_GRACE_S = 30.0
_SIGNAL_KILL_AFTER_S = 5.0


@dataclass
class _Deadline:
    """When Locust counts as hung: planned load + grace, from the moment the test started
    (known from the first progress line), or from `begin` plus the start-up grace before."""

    load_s: float
    begun: float
    test_started: float | None = None

    def harness_bound_s(self) -> float:
        """The harness's own deadline, from its start: later than ours, so it acts only when
        this process is gone (it would have killed a hung Locust first)."""
        return _STARTUP_GRACE_S + self.load_s + _SHUTDOWN_GRACE_S + 10.0

    def passed(self, now: float) -> bool:
        if self.test_started is None:
            return now > self.begun + _STARTUP_GRACE_S + self.load_s + _SHUTDOWN_GRACE_S
        return now > self.test_started + self.load_s + _SHUTDOWN_GRACE_S


@dataclass
class RunTimes:
    """What this process saw of the run, by wall clock (from the progress lines and the
    process itself): the span the numbers cover when Locust left no final snapshot (its
    history CSV is flushed only every ~10 s, so its timestamps are no measure of the run)."""

    test_started: float | None = None
    load_stopped: float | None = None
    """The first progress line saying the users are stopping, or None."""
    process_ended: float | None = None
    last_users: int = 0
    """Users running in the last progress line: each one's request in flight, if any, is
    lost when Locust is killed."""


@dataclass(frozen=True)
class LoadOverrides:
    """What the command line (or LOADKIT_* variables) said about the load; None: the scenario's."""

    host: str | None = None
    users: int | None = None
    spawn_rate: float | None = None
    duration_s: float | None = None
    distribution: Distribution = field(default_factory=Distribution)
    arrival_rate: float | None = None
    max_concurrency: int | None = None
    strict_generator: bool = False
    """--strict-generator (`RunSettings.strict_generator`)."""


@dataclass(frozen=True)
class PlannedRun:
    """A run ready to start: its settings resolved, its folder made with the scenario and the
    locustfile in it."""

    scenario: Scenario
    settings: RunSettings
    folder: RunFolder
    source_file: str
    warnings: list[str]
    """What the plan cannot deliver, known before any load is sent."""

    def describe(self) -> str:
        s = self.settings
        if s.arrivals is not None:
            a = s.arrivals
            stages = "" if len(a.stages) == 1 else f" ({len(a.stages)} stages)"
            return (
                f"running {self.scenario.name!r}: {a.peak_rate:g} arrivals/s ({a.spacing}) "
                f"on up to {a.max_concurrency} users for {s.duration_s}s{stages} against {s.host}"
            )
        shape = "" if s.stages is None else f" ({len(s.stages)} stages)"
        return (
            f"running {self.scenario.name!r}: {s.users} users at {s.spawn_rate:g}/s "
            f"for {s.duration_s}s{shape} against {s.host}"
        )


def plan_run(
    scenario: Scenario,
    source_text: str,
    source_file: str,
    overrides: LoadOverrides,
    *,
    out: Path | None,
    reports_dir: Path,
    folder: RunFolder | None = None,
) -> PlannedRun:
    """Resolve the settings, make the run folder, write scenario and locustfile into it
    (`folder`: made and written already, from the run cache). Raises UsageError when an
    override cannot apply or the folder cannot be made."""
    settings = resolve_settings(scenario, overrides)
    if folder is None:
        folder = new_folder(out, scenario.name, reports_dir)
        prepare_folder(folder, scenario, source_text, source_file, settings)
    write_plan(folder, overrides, settings.host, source_file)
    warnings = data_warnings(scenario, settings.users)
    return PlannedRun(scenario, settings, folder, source_file, warnings)


def resolve_settings(scenario: Scenario, overrides: LoadOverrides) -> RunSettings:
    try:
        settings = RunSettings.resolve(
            scenario,
            host=overrides.host,
            users=overrides.users,
            spawn_rate=overrides.spawn_rate,
            duration_s=overrides.duration_s,
            distribution=overrides.distribution,
            arrival_rate=overrides.arrival_rate,
            max_concurrency=overrides.max_concurrency,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if overrides.strict_generator:
        settings = replace(settings, strict_generator=True)
    return settings


def write_plan(folder: RunFolder, overrides: LoadOverrides, host: str, source_file: str) -> None:
    """plan.json: the overrides the run was planned with (the host resolved, as `${VAR}`s may
    not be set where the folder is read again)."""
    plan = {
        "source_file": source_file,
        # Where its data files are found again, from any working directory.
        "source_path": str(Path(source_file).resolve()),
        "overrides": {**dataclasses.asdict(overrides), "host": host},
    }
    try:
        folder.plan.write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {folder.plan}: {exc.strerror or exc}") from None


def read_plan(folder: RunFolder, key: str = "source_file") -> tuple[LoadOverrides, str | None]:
    """plan.json's overrides and source file (as given, or its `source_path`); none (the
    scenario's own load) without it. ValueError names the field that is wrong."""
    data = _read_json(folder.plan)
    if data is None:
        return LoadOverrides(), None
    raw = data.get("overrides")
    if not isinstance(raw, dict):
        raise ValueError(f"{folder.plan}: 'overrides' is not an object")
    try:
        distribution = Distribution(**(raw.pop("distribution", None) or {}))
        overrides = LoadOverrides(**raw, distribution=distribution)
    except TypeError as exc:
        raise ValueError(f"{folder.plan}: {exc}") from None
    source = data.get(key)
    return overrides, source if isinstance(source, str) else None


def rebuild_summary(folder: RunFolder, scenario: Scenario) -> RunOutcome:
    """summary.json (and the report) of a folder that `loadkit run` never finished (a SIGKILL
    of the CLI): judged from what Locust left, with the load plan.json records. Raises
    UsageError when the folder lacks what it takes."""
    if not folder.final_stats.is_file() or not folder.histograms.is_file():
        raise UsageError(
            f"{folder.path} has no {folder.SUMMARY_JSON}, and no {folder.FINAL_STATS} and "
            f"{folder.HISTOGRAMS} to rebuild it from: not a run folder, or a run that never "
            "started"
        )
    try:
        overrides, source_file = read_plan(folder)
    except ValueError as exc:
        raise UsageError(f"cannot rebuild {folder.SUMMARY_JSON}: {exc}") from None
    settings = resolve_settings(scenario, overrides)
    final = read_final_snapshot(folder.final_stats)
    started = final["started_at"] if final else None
    stopping = final.get("stopping_at") if final else None
    ran_s = 0.0
    if isinstance(started, int | float) and isinstance(stopping, int | float):
        ran_s = stopping - started
    # Stopped before its planned end: the CLI was gone and the harness stopped by itself.
    aborted = ran_s < settings.duration_s - 1.0
    exit_code = final.get("locust_exit_code") if final else None
    return judge_folder(
        folder,
        scenario,
        settings,
        source_file or str(folder.scenario),
        aborted=aborted,
        exit_code=exit_code if isinstance(exit_code, int) else 0,
        rebuilt=True,
    )


def new_folder(out: Path | None, scenario_name: str, reports_dir: Path) -> RunFolder:
    try:
        return RunFolder.create(out, scenario_name, reports_dir)
    except (FileExistsError, NotADirectoryError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:  # not writable, a read-only file system, ...
        where = out if out is not None else reports_dir
        raise UsageError(
            f"cannot create the run folder in {where}: {exc.strerror or exc}; "
            "choose a writable --out or --reports-dir"
        ) from None


@dataclass(frozen=True)
class RunOutcome:
    folder: RunFolder
    summary: Summary
    locust_exit_code: int | None
    report_problem: str | None = None
    write_problems: tuple[str, ...] = ()
    """summary.json / summary.md that could not be written (e.g. a full disk)."""


def locust_command(folder: RunFolder, settings: RunSettings) -> list[str]:
    load: list[str] = []
    if settings.stages is None:  # a shape in the locustfile sets users and time itself
        load = [
            "--users", str(settings.users),
            "--spawn-rate", f"{settings.spawn_rate:g}",
            "--run-time", f"{settings.duration_s}s",
        ]  # fmt: skip
    load += _distribution_arguments(settings.distribution)
    return [
        sys.executable, "-m", "loadkit.harness",
        "-f", str(folder.locustfile),
        "--headless",
        "--host", settings.host,
        *load,
        "--stop-timeout", str(settings.stop_timeout_s),
        "--csv", str(folder.csv_prefix),
        "--csv-full-history",
        "--html", str(folder.locust_html),
        "--only-summary",
        # The verdict is ours (thresholds); Locust's exit code only tells us it ended cleanly.
        "--exit-code-on-error", "0",
    ]  # fmt: skip


def _distribution_arguments(dist: Distribution) -> list[str]:
    if dist.master:
        port = str(dist.port or MASTER_PORT)
        return [
            "--master", "--expect-workers", str(dist.expect_workers),
            "--expect-workers-max-wait", f"{dist.max_wait_s:g}",
            "--master-bind-host", dist.bind_host, "--master-bind-port", port,
        ]  # fmt: skip
    if dist.processes > 1:
        # A port of our own on loopback: workers of another run on this machine must never
        # join ours, and nobody else may (the port is unauthenticated).
        port = str(dist.port or _free_port())
        return [
            "--processes", str(dist.processes), "--master-bind-host", "127.0.0.1",
            "--master-bind-port", port, "--master-host", "127.0.0.1", "--master-port", port,
        ]  # fmt: skip
    return []


def worker_command(master_host: str, master_port: int, processes: int | None) -> list[str]:
    """A `loadkit worker`: Locust's worker through the harness (fine histograms, CPU samples),
    with the locustfile received from the master (`-f -`), so what runs is the reviewed one."""
    command = [
        sys.executable, "-m", "loadkit.harness", "-f", "-", "--worker",
        "--master-host", master_host, "--master-port", str(master_port),
        # The verdict is the master's: a worker's exit code says only whether it ran cleanly,
        # not whether some request failed (Locust's default exit code 1).
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    if processes is None or processes > 1:
        command += ["--processes", "-1" if processes is None else str(processes)]
    return command


def run_worker(
    master_host: str, master_port: int, processes: int | None, secret_names: tuple[str, ...] = ()
) -> int:
    """Run a worker until its master ends the test (or a signal arrives); its exit code.
    `secret_names`: environment variables holding the scenario's secrets, which the worker's
    harness masks in everything its Locust prints and logs (the master masks what workers
    report in any case, but a worker's own output goes to its own terminal or pod log)."""
    env = {**os.environ, SECRET_NAMES_ENV: worker_secret_names(secret_names, os.environ)}
    command = worker_command(master_host, master_port, processes)
    # Own session: a terminal's Ctrl-C reaches only us, and Locust is stopped once.
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, start_new_session=True, env=env
    ) as process:
        aborted = threading.Event()
        with _forward_signals(process, aborted):
            return process.wait()


def worker_secret_names(names: tuple[str, ...], environ: Mapping[str, str]) -> str:
    """LOADKIT_SECRET_NAMES for a worker's harness; UsageError for a name this machine's
    environment does not hold, or whose value is too short to be masked safely (the same
    rule as `loadkit run`'s, which never shows the value nor its length)."""
    for name in names:
        if not environ.get(name):
            raise UsageError(
                f"--secret-env {name}: no such environment variable here; export it (the "
                "value the scenario reads as a secret) before starting the worker"
            )
        if len(environ[name]) < MIN_SECRET_LENGTH:
            raise UsageError(f"--secret-env {name}: {TOO_SHORT}")
    return ",".join(names)


@dataclass(frozen=True)
class WebUI:
    """Where Locust's web UI listens; beyond loopback only behind its login page."""

    host: str = "127.0.0.1"
    port: int = 8089
    login: bool = False

    def check(self) -> None:
        import ipaddress

        try:
            loopback = ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            loopback = self.host == "localhost"
        if not loopback and not self.login:
            raise UsageError(
                f"--web-host {self.host} exposes the web UI, which can start load against the "
                f"target, beyond this machine: add --web-login (and set {WEB_USER_ENV} and "
                f"{WEB_PASSWORD_ENV})"
            )
        if not self.login:
            return
        if not (os.environ.get(WEB_USER_ENV) and os.environ.get(WEB_PASSWORD_ENV)):
            raise UsageError(f"--web-login needs {WEB_USER_ENV} and {WEB_PASSWORD_ENV} set")
        # The password guards who may start load: the secrets' rule (and wording) applies.
        if len(os.environ[WEB_PASSWORD_ENV]) < MIN_SECRET_LENGTH:
            raise UsageError(f"--web-login: {WEB_PASSWORD_ENV} is {TOO_SHORT}")


def ui_arguments(planned: PlannedRun, web: WebUI) -> list[str]:
    """Locust's arguments for its web UI on a planned session: the form pre-filled with the
    scenario's load (a shape shows and follows itself), no CSV of its own (the harness
    writes one per test into the test's folder)."""
    settings = planned.settings
    load: list[str] = []
    if settings.stages is None:
        load = [
            "--users", str(settings.users),
            "--spawn-rate", f"{settings.spawn_rate:g}",
            "--run-time", f"{settings.duration_s}s",
        ]  # fmt: skip
    return [
        "-f", str(planned.folder.locustfile),
        "--host", settings.host,
        "--web-host", web.host,
        "--web-port", str(web.port),
        *(["--web-login"] if web.login else []),
        *load,
        *_distribution_arguments(settings.distribution),
        "--stop-timeout", str(settings.stop_timeout_s),
        "--exit-code-on-error", "0",
    ]  # fmt: skip


UiCallback = Callable[[RunOutcome], None]


def run_ui(
    planned: PlannedRun,
    web: WebUI,
    *,
    reports_dir: Path,
    on_test_end: UiCallback,
    locust: LocustProcess | None = None,
    metrics: MetricsEndpoint | None = None,
) -> int | None:
    """Run Locust's web UI until Ctrl-C/SIGTERM; every test started and ended in it is judged
    into its own run folder (`on_test_end` gets each outcome). Returns Locust's exit code."""

    web.check()
    with metrics.serving(planned.folder) if metrics is not None else contextlib.nullcontext():
        return _run_ui(planned, web, reports_dir, on_test_end, locust, metrics)


def _run_ui(
    planned: PlannedRun,
    web: WebUI,
    reports_dir: Path,
    on_test_end: UiCallback,
    locust: LocustProcess | None,
    metrics: MetricsEndpoint | None,
) -> int | None:
    import queue

    scenario, settings, session = planned.scenario, planned.settings, planned.folder
    config_path = write_live_config(planned)
    locust = locust or LocustProcess.start()
    reports_dir.mkdir(parents=True, exist_ok=True)
    locust.begin(
        ui_arguments(planned, web),
        log=session.locust_log,
        env={
            RUN_DIR_ENV: str(session.path),
            UI_CONFIG_ENV: str(config_path),
            LIVE_CONFIG_ENV: str(config_path),  # judged while each test lasts (the tabs)
            UI_REPORTS_DIR_ENV: str(reports_dir),
            UI_SCENARIO_NAME_ENV: scenario.name,
            **({UI_HISTORY_ENV: str(session.path / UI_HISTORY_FILE)} if settings.history else {}),
            SECRET_NAMES_ENV: ",".join(scenario.secret_names),
            **(metrics.environment(planned) if metrics is not None else {}),
        },
        python_path=[str(scenario.base_dir)],
    )
    ended: queue.Queue[dict[str, Any]] = queue.Queue()

    def on_progress(line: dict[str, Any]) -> None:
        if line.get("event") == "test_end":
            ended.put(line)

    deadline = _Deadline(load_s=float("inf"), begun=time.monotonic())
    reader = threading.Thread(
        target=_read_progress, args=(locust.progress_fd, on_progress, deadline), daemon=True
    )
    reader.start()
    aborted = threading.Event()
    process = locust.process

    def judge_pending() -> None:
        while True:
            try:
                line = ended.get_nowait()
            except queue.Empty:
                return
            folder = RunFolder(Path(line["folder"]))
            test_settings = _ui_test_settings(settings, line.get("plan") or {}, folder)
            interrupted = line.get("ended_by") == UiTestEnd.INTERRUPT  # as `loadkit run`'s
            outcome = judge_folder(
                folder, scenario, test_settings, planned.source_file,
                aborted=interrupted, exit_code=0,
            )  # fmt: skip
            on_test_end(outcome)

    with _forward_signals(process, aborted):
        while True:
            try:
                exit_code: int | None = process.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                judge_pending()
    reader.join(timeout=5.0)
    judge_pending()
    locust.discard()
    return exit_code


def _ui_test_settings(
    settings: RunSettings, plan: dict[str, Any], folder: RunFolder
) -> RunSettings:
    """The load a test started in the web UI had: what the form said (the person may have
    changed it), a shape's own stages, and, without a run time, as long as it ran."""
    if settings.stages is not None:
        return settings
    final = read_final_snapshot(folder.final_stats)
    started = final["started_at"] if final else None
    stopping = final.get("stopping_at") if final else None
    ran = math.ceil(stopping - started) if started and stopping else settings.duration_s
    run_time = plan.get("run_time")
    return dataclasses.replace(
        settings,
        host=str(plan.get("host") or settings.host).rstrip("/"),
        users=int(plan.get("users") or settings.users),
        spawn_rate=float(plan.get("spawn_rate") or settings.spawn_rate),
        duration_s=int(run_time) if run_time else max(1, ran),
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare_folder(
    folder: RunFolder,
    scenario: Scenario,
    source_text: str,
    source_name: str,
    settings: RunSettings | None = None,
) -> None:
    folder.scenario.write_text(source_text, encoding="utf-8")
    folder.locustfile.write_text(
        compiled_locustfile(scenario, source_name, settings),
        encoding="utf-8",
    )


def compiled_locustfile(
    scenario: Scenario, source_name: str, settings: RunSettings | None = None
) -> str:
    """The locustfile of a run with `settings` (a shape's stages, an open model's arrivals)."""
    stages = settings.stages if settings is not None else None
    arrivals = settings.arrivals if settings is not None else None
    return compile_scenario(scenario, source_name, stages=stages, arrivals=arrivals)


@dataclass(frozen=True)
class MetricsEndpoint:
    """Where the harness serves Prometheus metrics while the run lasts (`loadkit.metrics`)."""

    port: int
    host: str = "127.0.0.1"
    linger_s: float = 0.0
    """How long the endpoint stays up after the run, for a last scrape of the final numbers."""

    def check(self) -> None:
        """UsageError when the endpoint cannot listen (a port taken): found before any load,
        not as a run that made no requests."""
        from loadkit.metrics import check_port  # prometheus-client: only with --metrics-port

        problem = check_port(self.host, self.port)
        if problem is not None:
            raise UsageError(
                f"--metrics-port {self.port}: cannot listen on {self.host}:{self.port} "
                f"({problem}); choose a free port"
            )

    @contextmanager
    def serving(self, folder: RunFolder) -> Iterator[None]:
        """The endpoint, up in this process while the block runs: it serves what the harness
        renders once a second (`environment`), so a scrape costs the load generator nothing."""
        from loadkit.metrics import rendered_file, serve

        text = folder.path / folder.METRICS_TEXT
        try:
            server = serve(rendered_file(text), self.host, self.port)
        except OSError as exc:
            raise UsageError(
                f"--metrics-port {self.port}: cannot listen on {self.host}:{self.port} "
                f"({exc.strerror or exc}); choose a free port"
            ) from None
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()
            with contextlib.suppress(OSError):
                text.unlink()

    def environment(self, planned: PlannedRun) -> dict[str, str]:
        return {
            METRICS_ENV: str(planned.folder.path / planned.folder.METRICS_TEXT),
            METRICS_RUN_ENV: f"{planned.scenario.name}/{planned.folder.path.name}",
            METRICS_LINGER_ENV: f"{self.linger_s:g}",
            LIVE_CONFIG_ENV: str(write_live_config(planned)),
        }


def write_live_config(planned: PlannedRun) -> Path:
    """The thresholds and Apdex targets the harness judges while the run lasts."""
    path = planned.folder.live_config
    path.write_text(live_config_text(planned), encoding="utf-8")
    return path


def live_config_text(planned: PlannedRun) -> str:
    scenario = planned.scenario
    thresholds, defaulted = thresholds_of(scenario)
    targets = apdex_targets(scenario)
    config = LiveConfig(
        thresholds=[t.expression for t in thresholds],
        defaulted=defaulted,
        apdex_t_ms=targets.t_ms,
        apdex_per_request=dict(targets.per_request),
        user_classes=user_class_names(scenario),
        aborts={t.expression: t.abort_after_s for t in thresholds if t.abort},
        default_timing=default_timing(planned.settings),
    )
    return config.to_json()


def locust_launch(
    planned: PlannedRun, metrics: MetricsEndpoint | None = None, *, write: bool = True
) -> Launch:
    """What the harness process is given to run `planned` (and, with `write`, live.json
    written into its folder; without, the locustfile compiled again, not read from the
    folder: what the folder should hold); the run cache keeps it."""
    scenario, settings, folder = planned.scenario, planned.settings, planned.folder
    deadline = _Deadline(load_s=settings.duration_s + settings.stop_timeout_s, begun=0.0)
    live_config = live_config_text(planned)
    if write:
        folder.live_config.write_text(live_config, encoding="utf-8")
    return Launch(
        scenario_name=scenario.name,
        locustfile=(
            folder.locustfile.read_text(encoding="utf-8")
            if write
            else compiled_locustfile(scenario, planned.source_file, settings)
        ),
        live_config=live_config,
        argv=locust_command(folder, settings)[3:],  # without `python -m loadkit.harness`
        env={
            RUN_DIR_ENV: str(folder.path),
            DEADLINE_ENV: f"{deadline.harness_bound_s():.0f}",
            # Names only: the harness reads the values from the environment it inherited.
            SECRET_NAMES_ENV: ",".join(scenario.secret_names),
            # Judged while the run lasts: the live line's failing thresholds, `abort: true`.
            LIVE_CONFIG_ENV: str(folder.live_config),
            **(metrics.environment(planned) if metrics is not None else {}),
        },
        python_path=[str(scenario.base_dir)],  # for `python:` tasks
    )


def run_locust(
    planned: PlannedRun,
    *,
    on_progress: ProgressCallback | None = None,
    locust: LocustProcess | None = None,
    metrics: MetricsEndpoint | None = None,
    launch: Launch | None = None,
) -> RunOutcome:
    """Run Locust on the planned run's folder; always writes summary.json and summary.md.
    `locust` is a harness process started early (see `launcher`); one is started if None. If
    it has been begun already (from the run cache), it is only waited for; else it is given
    `launch` (by default `locust_launch(planned, metrics)`)."""
    with metrics.serving(planned.folder) if metrics is not None else contextlib.nullcontext():
        return _run_locust(planned, on_progress, locust, metrics, launch)


def _run_locust(
    planned: PlannedRun,
    on_progress: ProgressCallback | None,
    locust: LocustProcess | None,
    metrics: MetricsEndpoint | None,
    launch: Launch | None,
) -> RunOutcome:
    scenario, settings, folder = planned.scenario, planned.settings, planned.folder
    source_file = planned.source_file
    locust = locust or LocustProcess.start()
    aborted = threading.Event()
    deadline = _Deadline(
        load_s=settings.duration_s + settings.stop_timeout_s, begun=time.monotonic()
    )
    if not locust.begun:
        launch = launch or locust_launch(planned, metrics)
        locust.begin(
            launch.argv, log=folder.locust_log, env=launch.env, python_path=launch.python_path
        )
    process, read_fd = locust.process, locust.progress_fd
    times = RunTimes()
    reader = threading.Thread(
        target=_read_progress,
        args=(read_fd, on_progress, deadline, times),
        name="loadkit-progress",
        daemon=True,
    )
    reader.start()
    # Held until every file is written: a signal after Locust ended is noted, never a
    # KeyboardInterrupt halfway through summary.json or junit.xml.
    with _forward_signals(process, aborted):
        exit_code = _wait(process, deadline, aborted)
        times.process_ended = time.time()
        if aborted.is_set() and exit_code == -signal.SIGKILL:
            exit_code = None  # killed by `_forward_signals` after a second interrupt
        reader.join(timeout=2.0)
        early = locust.early_text()
        locust.discard()
        if early.strip():  # e.g. Locust failed before it knew where its log goes
            log_path = folder.locust_log
            with contextlib.suppress(OSError), open(log_path, "a", encoding="utf-8") as log:
                log.write(early)
        return judge_folder(
            folder,
            scenario,
            settings,
            source_file,
            aborted=aborted.is_set(),
            exit_code=exit_code,
            times=times,
        )


def judge_folder(
    folder: RunFolder,
    scenario: Scenario,
    settings: RunSettings,
    source_file: str,
    *,
    aborted: bool,
    exit_code: int | None,
    times: RunTimes | None = None,
    rebuilt: bool = False,
) -> RunOutcome:
    """What Locust left in `folder` → summary.json, summary.md, report.html, junit.xml, charts,
    then the masking pass. Whatever happened: the verdict is always written (or, when a file
    cannot be, `write_problems` names it and why)."""
    times = times or RunTimes()
    final = read_final_snapshot(folder.final_stats)
    partial = None
    if final is None:  # Locust died before its final snapshot: take what it wrote every second
        started, stopped = _periodic_span(folder, times)
        final = read_periodic_stats(folder, started_at=started, stopped_at=stopped)
        if final is not None:
            partial = (
                f"{_why_no_final(folder, exit_code)}; the numbers are from Locust's periodic "
                "CSV (rewritten every second) and may miss the last second or so of the run"
            )
            if exit_code is not None and exit_code < 0:  # killed from outside
                partial += _in_flight(times)
    histograms = _read_histograms(folder.histograms) if partial is None else None
    corrected = (
        _read_histograms(folder.corrected_histograms)
        if histograms is not None and folder.corrected_histograms.exists()
        else None
    )
    capacity = _analyze_capacity(folder, scenario, final, histograms, corrected)
    killed = None
    if exit_code is None:
        killed = (
            "Locust did not stop in time and was killed (a task that catches GreenletExit "
            "or never returns keeps a user from stopping)"
            if not aborted
            else "Locust was killed after a second interrupt"
        ) + _in_flight(times)
    summary = build_summary(
        final,
        scenario,
        settings,
        source_file=source_file,
        aborted=aborted,
        histograms=histograms,
        capacity=capacity,
        killed=killed,
        partial=partial,
        corrected=corrected,
    )
    if rebuilt:
        summary["warnings"].append(
            f"{folder.SUMMARY_JSON} rebuilt by `loadkit report` from {folder.FINAL_STATS} and "
            f"{folder.HISTOGRAMS}: `loadkit run` ended before it wrote it"
        )
    if settings.history is not None and summary["run"]["not_started"] is None:
        from loadkit.history.recording import record_run  # SQLAlchemy: only once a run is over

        record_run(summary, folder, settings.history)
    write_problems = []
    for path, text in (
        (folder.summary_json, json.dumps(summary, indent=2) + "\n"),
        (folder.summary_md, render_markdown(summary)),
    ):
        try:
            write_atomic(path, text)
        except OSError as exc:  # a full disk: say what is missing, keep the verdict
            write_problems.append(_could_not_write(path, exc))
    # The final snapshot already parsed, unless it is the periodic CSV's stand-in: the report
    # then says that locust_final.json is missing.
    report_final = final if partial is None else None
    report_problem = None
    if not write_problems:
        report_problem = _write_report(folder, capacity, report_final)
    write_problems += _missing_verdict_files(
        folder, write_problems, report_problem or f"it is made from {folder.SUMMARY_JSON}"
    )
    if write_problems:
        report_problem = None  # said by the problems, file by file
    # Last, so that nothing written above (Locust's log and CSVs included) keeps a secret.
    try:
        mask_folder(folder.path, scenario.secret_values)
    except OSError as exc:
        write_problems.append(f"could not mask the secrets in {exc.filename}: {exc.strerror}")
    return RunOutcome(
        folder=folder,
        summary=summary,
        locust_exit_code=exit_code,
        report_problem=report_problem,
        write_problems=tuple(write_problems),
    )


def _could_not_write(path: Path | str, exc: OSError) -> str:
    return f"could not write {path}: {exc.strerror or exc}"


def _missing_verdict_files(folder: RunFolder, said: list[str], why: str) -> list[str]:
    """A line for each file the verdict is read from (junit.xml by a CI gate) that is not in
    the folder and not named yet: without them the run is no pass, whatever summary.json says."""
    return [
        f"{folder.path / name} was not written: {why}"
        for name in folder.VERDICT_FILES
        if not (folder.path / name).is_file() and not any(name in line for line in said)
    ]


def _periodic_span(folder: RunFolder, times: RunTimes) -> tuple[float | None, float | None]:
    """The span Locust's periodic stats CSV covers: from the test's start (this process saw
    it) to when the CSV was last rewritten, or the load stopped, or Locust ended, whichever
    came first. None where this process saw nothing (the history CSV's span then)."""
    try:
        written: float | None = folder.stats_csv.stat().st_mtime
    except OSError:
        written = None
    ends = [t for t in (written, times.load_stopped, times.process_ended) if t is not None]
    return times.test_started, (min(ends) if ends else None)


def _why_no_final(folder: RunFolder, exit_code: int | None) -> str:
    """The real reason locust_final.json is missing, as far as it can be known here."""
    probe = folder.path / ".loadkit-write-probe"
    try:
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink()
        return (
            f"run folder not writable: {exc.strerror or exc}; Locust could not write its "
            f"final statistics ({folder.FINAL_STATS})"
        )
    if exit_code is not None and exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        return f"the Locust process was killed by {name} before its final statistics"
    if exit_code is None:
        return "Locust was killed before its final statistics"
    return (
        f"Locust ended (exit code {exit_code}) without its final statistics; see "
        f"{folder.LOCUST_LOG}"
    )


def _in_flight(times: RunTimes) -> str:
    """What a kill cut off: each running user's request in flight (if it was not thinking),
    answered or not, is counted nowhere."""
    if times.last_users <= 0:
        return ""
    return (
        f"; up to {times.last_users} requests in flight were interrupted and are not counted "
        f"({times.last_users} users were running)"
    )


def _read_histograms(path: Path) -> RunHistograms | None:
    try:
        return load_histograms(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # e.g. Locust died before its final snapshot: Locust's stats still count


def _analyze_capacity(
    folder: RunFolder,
    scenario: Scenario,
    final: FinalSnapshot | None,
    histograms: RunHistograms | None,
    corrected: RunHistograms | None,
) -> CapacityReport | None:
    from loadkit.capacity import analyze_capacity  # pandas + numpy: only once the run is over

    try:
        return analyze_capacity(
            folder.path,
            slo=slo_of(scenario),
            apdex_t_ms=apdex_targets(scenario).t_ms,
            final=final,
            histograms=histograms,
            corrected=corrected,
        )
    except Exception:  # an analysis must never cost the verdict; the report says it is missing
        return None


def _write_report(
    folder: RunFolder, capacity: CapacityReport | None, final: FinalSnapshot | None
) -> str | None:
    """report.html, junit.xml and charts; the verdict stands even if this fails, so a
    problem here is reported, not raised."""
    from loadkit.report.write import write_report  # pandas + matplotlib: only once the run is over

    try:
        write_report(folder.path, capacity=capacity, final=final)
    except OSError as exc:  # e.g. a full disk: the file and the cause
        return _could_not_write(exc.filename or folder.path, exc)
    except Exception as exc:  # the summary is already written; never lose it to a chart
        return f"the report could not be written: {type(exc).__name__}: {exc}"
    return None


def _wait(
    process: subprocess.Popen[bytes], deadline: _Deadline, aborted: threading.Event
) -> int | None:
    signalled_at: float | None = None
    while True:
        try:
            return process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if aborted.is_set() and signalled_at is None:
            signalled_at = now
        hung = deadline.passed(now)
        if hung or (signalled_at is not None and now - signalled_at > _SIGNAL_KILL_AFTER_S + 30):
            process.kill()
            process.wait()
            return None


@contextmanager
def _forward_signals(process: subprocess.Popen[bytes], aborted: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM stop Locust gracefully (it still writes its final stats); a second
    signal kills it. Once Locust has ended, a signal is noted and changes nothing: the run is
    over, and its files are being written (the exit code stays the one summary.json says)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if process.poll() is not None:
            if not noted:
                os.write(
                    sys.stderr.fileno(),
                    f"loadkit: {signal.Signals(signum).name} received while the run's files "
                    "are written; finishing them first\n".encode(),
                )
            noted.append(signum)
            return
        if aborted.is_set():
            process.kill()
        else:
            aborted.set()
            process.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _read_progress(
    fd: int,
    on_progress: ProgressCallback | None,
    deadline: _Deadline,
    times: RunTimes | None = None,
) -> None:
    times = times or RunTimes()
    with os.fdopen(fd, "rb") as stream:
        for raw in stream:
            try:
                line = json.loads(raw)
            except (ValueError, TypeError):
                continue
            if not isinstance(line, dict):
                continue
            elapsed = line.get("elapsed")
            if deadline.test_started is None and isinstance(elapsed, int | float) and elapsed > 0:
                deadline.test_started = time.monotonic() - elapsed
                times.test_started = time.time() - elapsed
            _note_times(times, line)
            if on_progress is not None:
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    on_progress(line)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _note_times(times: RunTimes, line: dict[str, Any]) -> None:
    users = line.get("users")
    if isinstance(users, int):
        times.last_users = users
    if times.load_stopped is None and line.get("state") in _STOPPING_STATES:
        times.load_stopped = time.time()


_STOPPING_STATES = ("stopping", "stopped", "cleanup")
"""Locust's runner states once the users are told to stop (`locust.runners`)."""
