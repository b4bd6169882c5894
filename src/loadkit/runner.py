"""Run a compiled scenario on Locust and collect its final numbers into the run folder.

Locust runs as a child process (`python -m loadkit.harness`, i.e. Locust's own CLI plus a
final-snapshot hook) so that gevent's monkey-patching never reaches this process, and so
that a crash, a hang or a signal in the load generator cannot take the verdict down with it:
whatever happens, this side still writes summary.json and summary.md.

Its parts: `run_plan` (the run planned: settings, folder, locustfile, plan.json),
`run_process` (the child's deadline, progress lines and signals; `loadkit worker`) and
`run_finish` (after Locust ended: summary, report, masking). This module starts Locust on a
plan, headless or under its web UI, with the metrics endpoint and what the harness is given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadkit import observe
from loadkit.compiler import user_class_names
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
    UiTestEnd,
)
from loadkit.launcher import LocustProcess
from loadkit.live import LiveConfig
from loadkit.masking import MIN_SECRET_LENGTH, TOO_SHORT
from loadkit.run_cache import Launch
from loadkit.run_finish import RunOutcome, judge_folder
from loadkit.run_folder import RunFolder, read_final_snapshot
from loadkit.run_plan import PlannedRun, compiled_locustfile
from loadkit.run_process import (
    Deadline,
    ProgressCallback,
    RunTimes,
    forward_signals,
    read_progress,
    wait_for_locust,
)
from loadkit.settings import MASTER_PORT, Distribution, RunSettings
from loadkit.summary import (
    apdex_targets,
    default_timing,
    thresholds_of,
)

if TYPE_CHECKING:
    pass


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
    # When the running test started (unix seconds), None between tests: the span `observe:`'s
    # poller asks Prometheus for, so that each test's server thresholds are judged live on
    # its own seconds.
    test_started: list[float | None] = [None]

    def on_progress(line: dict[str, Any]) -> None:
        if line.get("event") == "test_end":
            test_started[0] = None
            ended.put(line)
        elif line.get("state") in _RUNNING_STATES and (elapsed := line.get("elapsed")):
            test_started[0] = time.time() - float(elapsed)

    deadline = Deadline(load_s=float("inf"), begun=time.monotonic())
    reader = threading.Thread(
        target=read_progress, args=(locust.progress_fd, on_progress, deadline), daemon=True
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
            observe.after_run(scenario.observe, folder, (None, None))  # its span: the test's
            outcome = judge_folder(
                folder, scenario, test_settings, planned.source_file,
                aborted=interrupted, exit_code=0,
            )  # fmt: skip
            on_test_end(outcome)

    with (
        forward_signals(process, aborted),
        observe.while_running(scenario.observe, session, lambda: test_started[0]),
    ):
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


_RUNNING_STATES = ("spawning", "running")
"""Locust's runner states while a test's users run (`locust.runners`)."""


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
        telemetry_file=None
        if scenario.observe is None
        else str(planned.folder.path / planned.folder.TELEMETRY_LIVE),
    )
    return config.to_json()


def locust_launch(
    planned: PlannedRun, metrics: MetricsEndpoint | None = None, *, write: bool = True
) -> Launch:
    """What the harness process is given to run `planned` (and, with `write`, live.json
    written into its folder; without, the locustfile compiled again, not read from the
    folder: what the folder should hold); the run cache keeps it."""
    scenario, settings, folder = planned.scenario, planned.settings, planned.folder
    deadline = Deadline(load_s=settings.duration_s + settings.stop_timeout_s, begun=0.0)
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
    deadline = Deadline(
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
        target=read_progress,
        args=(read_fd, on_progress, deadline, times),
        name="loadkit-progress",
        daemon=True,
    )
    reader.start()
    # Held until every file is written: a signal after Locust ended is noted, never a
    # KeyboardInterrupt halfway through summary.json or junit.xml.
    with forward_signals(process, aborted):
        with observe.while_running(scenario.observe, folder, lambda: times.test_started):
            exit_code = wait_for_locust(process, deadline, aborted)
        times.process_ended = time.time()
        if aborted.is_set() and exit_code == -signal.SIGKILL:
            exit_code = None  # killed by `forward_signals` after a second interrupt
        reader.join(timeout=2.0)
        early = locust.early_text()
        locust.discard()
        if early.strip():  # e.g. Locust failed before it knew where its log goes
            log_path = folder.locust_log
            with contextlib.suppress(OSError), open(log_path, "a", encoding="utf-8") as log:
                log.write(early)
        observe.after_run(scenario.observe, folder, (times.test_started, times.process_ended))
        return judge_folder(
            folder,
            scenario,
            settings,
            source_file,
            aborted=aborted.is_set(),
            exit_code=exit_code,
            times=times,
        )
