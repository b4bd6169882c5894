"""Commands that run Locust: run, ui, worker, demo."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from loadkit.cli import history as run_history
from loadkit.cli.files import read_scenario, read_scenario_to_run
from loadkit.cli.params import (
    DurationParam,
    ProcessesParam,
    drift_option,
    folder_options,
    history_options,
    metrics_options,
    run_options,
    run_request,
)
from loadkit.errors import UsageError
from loadkit.exit_codes import ExitStatus, Verdict
from loadkit.launcher import LocustProcess
from loadkit.masking import mask_text
from loadkit.report.console import ProgressLine, final_report

if TYPE_CHECKING:
    from loadkit.run_finish import RunOutcome
    from loadkit.run_plan import PlannedRun
    from loadkit.run_start import StartedRun
    from loadkit.runner import MetricsEndpoint
    from loadkit.settings import HistoryChoice


def _metrics(port: int | None, host: str, linger: float) -> MetricsEndpoint | None:
    endpoint = _metrics_endpoint(port, host, linger)
    if endpoint is not None:
        endpoint.check()
    return endpoint


def _metrics_endpoint(port: int | None, host: str, linger: float) -> MetricsEndpoint | None:
    """Not checked yet; `runner` is imported only with a port: on a run cache hit, Locust gets
    its command before the runner (and pydantic, through it) is imported."""
    if port is None:
        return None
    from loadkit.runner import MetricsEndpoint

    return MetricsEndpoint(port=port, host=host, linger_s=linger)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@run_options
@metrics_options
@history_options
@drift_option
@click.option(
    "--strict-generator",
    is_flag=True,
    help="Fail the run (exit 1) when the load generator was saturated or its event loop "
    "lagged, instead of a warning.",
)
def run(
    file: str,
    metrics_port: int | None,
    metrics_host: str,
    metrics_linger: float,
    strict_generator: bool,
    history_url: str | None,
    no_history: bool,
    fail_on_drift: bool,
    **options: Any,
) -> ExitStatus:
    """Run a scenario headless and judge it by its thresholds.

    Writes a run folder (scenario, locustfile, Locust CSVs, summary.json, summary.md) and
    exits 0 on pass, 1 when thresholds failed.
    """
    from loadkit.run_start import start_run

    request = run_request(options, strict_generator=strict_generator)
    request.check()  # before Locust starts; what the scenario's load allows, once it is read
    history = run_history.choice(history_url, no_history, fail_on_drift, request.reports_dir)
    locust = LocustProcess.start()  # imports Locust while we read the scenario
    try:
        metrics = _metrics_endpoint(metrics_port, metrics_host, metrics_linger)
        started = start_run(file, request, locust=locust, metrics=metrics)
        return _run(started, file, locust=locust, metrics=metrics, history=history)
    finally:
        locust.discard()


def _run(
    started: StartedRun,
    source_file: str,
    *,
    locust: LocustProcess,
    metrics: MetricsEndpoint | None = None,
    history: HistoryChoice | None = None,
) -> ExitStatus:
    import dataclasses

    from loadkit.runner import run_locust

    # The history is not part of the plan (nor of the run cache's key): only of the judging.
    planned = started.planned
    planned = dataclasses.replace(
        planned, settings=dataclasses.replace(planned.settings, history=history)
    )
    for warning in started.warnings:
        click.echo(f"loadkit: warning: {source_file}: {warning}", err=True)
    click.echo(f"loadkit: {planned.describe()}")
    settings = planned.settings
    progress = (
        ProgressLine(sys.stdout, settings.duration_s, settings.users)
        if sys.stdout.isatty()
        else None
    )
    try:
        outcome = run_locust(
            planned,
            on_progress=progress.update if progress else None,
            locust=locust,
            metrics=metrics,
            launch=started.launch,
        )
    finally:
        if progress:
            progress.close()
    _ignore_signals()
    folder = planned.folder
    not_started = outcome.summary["run"]["not_started"]
    if not_started:  # nothing was measured: the reason is the whole story
        click.echo(f"loadkit: error: {not_started}", err=True)
        click.echo(f"Run folder: {folder.path}")
        return outcome.summary["verdict"].exit_status
    text = final_report(outcome.summary, str(folder.path))
    if folder.report_html.is_file():
        text += f"\nReport: {folder.report_html}"
    click.echo(mask_text(text, planned.scenario.secret_values))
    _say_history(outcome)
    if outcome.report_problem is not None:
        click.echo(f"loadkit: warning: {outcome.report_problem}", err=True)
    for problem in outcome.write_problems:
        click.echo(f"loadkit: error: {problem}", err=True)
    if outcome.write_problems:  # the verdict was printed, but its files are not all there
        return ExitStatus.INTERNAL_ERROR
    return outcome.summary["verdict"].exit_status


def _ui_history(planned: PlannedRun, history: HistoryChoice | None) -> None:
    """The web UI's History tab: the scenario's recent runs, rewritten after each test."""
    if history is None:
        return
    from loadkit.harness_protocol import UI_HISTORY_FILE
    from loadkit.history.recording import write_ui_history

    path = planned.folder.path / UI_HISTORY_FILE
    problem = write_ui_history(path, history, planned.scenario.name)
    if problem is not None:
        click.echo(f"loadkit: warning: {problem}", err=True)


def _say_history(outcome: RunOutcome) -> None:
    view = outcome.summary.get("history")
    if view is not None:
        click.echo(f"History: run {view['run_id']} recorded in {view['store']}; {view['trend']}")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@run_options
@metrics_options
@history_options
@drift_option
@click.option(
    "--web-host",
    default="127.0.0.1",
    show_default=True,
    help="Interface of the web UI; beyond loopback only with --web-login.",
)
@click.option("--web-port", type=click.IntRange(1, 65535), default=8089, show_default=True)
@click.option(
    "--web-login",
    is_flag=True,
    help="A login page in front of the UI (LOADKIT_WEB_USER / LOADKIT_WEB_PASSWORD).",
)
def ui(
    file: str,
    web_host: str,
    web_port: int,
    web_login: bool,
    metrics_port: int | None,
    metrics_host: str,
    metrics_linger: float,
    history_url: str | None,
    no_history: bool,
    fail_on_drift: bool,
    **options: Any,
) -> ExitStatus:
    """Run a scenario under Locust's own web UI (until Ctrl-C).

    The form opens with the scenario's load; a Thresholds and an Apdex tab follow the test
    live. Every test started and ended in the UI gets its own run folder under --reports-dir,
    judged and reported like `loadkit run`'s; the terminal prints each verdict. Exit code 3
    when Ctrl-C interrupted a running test (its folder says aborted), else 0.
    """
    import dataclasses
    import shutil
    import tempfile

    from loadkit.run_plan import plan_run
    from loadkit.run_start import check_observe
    from loadkit.runner import WebUI, run_ui

    request = run_request(options)
    if request.out is not None:
        raise UsageError("each test started in the UI gets its own folder: use --reports-dir")
    request.check()
    reports_dir = request.reports_dir
    web = WebUI(web_host, web_port, web_login)
    verdicts: list[Verdict] = []
    locust = LocustProcess.start()  # imports Locust while we read the scenario
    # The generated locustfile and the History tab's file: needed while the UI runs, not after.
    session = Path(tempfile.mkdtemp(prefix="loadkit-ui-"))
    try:
        scenario, text = read_scenario_to_run(file, request.host)
        request.check(scenario.load)
        observing = check_observe(scenario)  # before the UI can start any test
        planned = plan_run(
            scenario, text, file, request.overrides(), out=session, reports_dir=reports_dir
        )
        history = run_history.choice(history_url, no_history, fail_on_drift, reports_dir)
        planned = dataclasses.replace(
            planned, settings=dataclasses.replace(planned.settings, history=history)
        )
        _ui_history(planned, history)
        for warning in observing + planned.warnings:
            click.echo(f"loadkit: warning: {file}: {warning}", err=True)
        click.echo(
            f"loadkit: Locust's web UI on http://{web_host}:{web_port} for {scenario.name!r} "
            f"(Ctrl-C to stop); each test's run folder goes to {reports_dir}"
        )

        def test_ended(outcome: RunOutcome) -> None:
            summary = outcome.summary
            verdicts.append(summary["verdict"])
            click.echo(
                mask_text(
                    f"loadkit: test ended: {summary['verdict'].upper()} "
                    f"(exit code {summary['exit_code']}) — "
                    + "; ".join(summary["reasons"][:3] or ["every threshold held"])
                    + f"\n  run folder: {outcome.folder.path}"
                    + f"\n  report: {outcome.folder.report_html}",
                    scenario.secret_values,
                )
            )
            # The History tab's file first: a person (or a test) who reads the line below and
            # reloads the page finds the run listed.
            _ui_history(planned, history)
            _say_history(outcome)

        run_ui(
            planned,
            web,
            reports_dir=reports_dir,
            on_test_end=test_ended,
            locust=locust,
            metrics=_metrics(metrics_port, metrics_host, metrics_linger),
        )
    finally:
        locust.discard()
        shutil.rmtree(session, ignore_errors=True)
    # Ctrl-C while a test ran ends as `loadkit run`'s would; between tests it closes the UI.
    return ExitStatus.ABORTED if Verdict.ABORTED in verdicts else ExitStatus.PASS


@click.command()
@click.option("--master-host", required=True, help="Host name or address of the master.")
@click.option(
    "--master-port", type=click.IntRange(1, 65535), default=5557, show_default=True
)
@click.option(
    "--processes",
    type=ProcessesParam(),
    default="1",
    show_default=True,
    help="Worker processes on this machine, or auto (one per core).",
)
@click.option(
    "--secret-env",
    "secret_envs",
    multiple=True,
    metavar="NAME",
    help="An environment variable holding one of the scenario's secrets: masked in all this "
    "worker prints and logs. Repeatable.",
)
def worker(
    master_host: str, master_port: int, processes: int | None, secret_envs: tuple[str, ...]
) -> ExitStatus:
    """Generate load for a `loadkit run --master` on another machine, until it ends.

    Needs no scenario file: the generated locustfile (test data included) comes from the
    master, so what runs is what the master reviewed. Secrets are read from this machine's
    own environment, never sent over the wire; name them with --secret-env so that this
    worker masks them in its own output too (the master masks what workers report).
    """
    from loadkit.run_process import run_worker

    code = run_worker(master_host, master_port, processes, secret_envs)
    return ExitStatus.PASS if code == 0 else ExitStatus.INTERNAL_ERROR


@click.command()
@click.option("--serve", is_flag=True, help="Only start the demo target and keep it running.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port on 127.0.0.1 (default: a free port; 8080 with --serve).",
)
@click.option(
    "-t",
    "--duration",
    type=DurationParam(whole_seconds=False),
    default=None,
    help="Run time of the demo load test (default: the scenario's 30s).",
)
@folder_options
@history_options
def demo(
    serve: bool,
    port: int | None,
    duration: float | None,
    out: Path | None,
    reports_dir: Path,
    history_url: str | None,
    no_history: bool,
) -> ExitStatus:
    """Start the bundled target on 127.0.0.1 and load-test it with scenarios/demo.yaml
    (recorded in the run history like any run; give --port for runs whose host compares)."""
    from loadkit.demo_target.process import TargetProcess
    from loadkit.run_request import RunRequest
    from loadkit.run_start import plan_started

    source = "scenarios/demo.yaml"
    # The target's address is known only once it listens; the duration is checked now.
    RunRequest(duration_s=duration).check()

    if serve:
        with TargetProcess(port=8080 if port is None else port) as target:
            click.echo(f"loadkit: demo target on {target.url} (Ctrl-C to stop)")
            _wait_for_signal()
        return ExitStatus.PASS
    from importlib import resources  # 13 ms: not for every command

    demo_file = resources.files("loadkit") / "scenarios" / "demo.yaml"
    with resources.as_file(demo_file) as path:
        scenario, text = read_scenario(str(path))
    locust = LocustProcess.start()
    try:
        with TargetProcess(port=port or 0) as target:
            click.echo(f"loadkit: demo target listening on {target.url}")
            request = RunRequest(
                host=target.url, duration_s=duration, out=out, reports_dir=reports_dir
            )
            started = plan_started(scenario, text, source, request, locust=locust)
            history = run_history.choice(history_url, no_history, False, reports_dir)
            return _run(started, source, locust=locust, history=history)
    finally:
        locust.discard()


def _ignore_signals() -> None:
    """Once a run's verdict is decided and its files written, a Ctrl-C or a CI cancel can no
    longer change what it was: the exit code stays the one summary.json holds."""
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)


def _wait_for_signal() -> None:
    received: list[int] = []

    def stop(signum: int, frame: object) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not received:
            signal.pause()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
