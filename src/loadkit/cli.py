"""The `loadkit` command: a thin click layer over the library.

`run_cli()` is the one place that turns results and exceptions into exit codes (`ExitStatus`)
and one-line `loadkit: error: ...` messages; commands return an ExitStatus.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from click.core import ParameterSource

from loadkit import __version__
from loadkit.errors import ScenarioError, UsageError
from loadkit.exit_codes import ExitStatus, Verdict
from loadkit.launcher import LocustProcess
from loadkit.masking import mask_text
from loadkit.report.console import ProgressLine, final_report
from loadkit.run_folder import DEFAULT_REPORTS_DIR
from loadkit.scenario.durations import parse_duration

if TYPE_CHECKING:
    from loadkit.run_cache import EarlyStart, Launch, Recording, RunCache
    from loadkit.run_folder import RunFolder
    from loadkit.runner import MetricsEndpoint, PlannedRun, RunOutcome
    from loadkit.scenario import Scenario
    from loadkit.settings import Distribution

# The library is imported inside the commands, not here: `loadkit run` starts the Locust
# process first and loads pydantic, YAML and the compiler while that process imports Locust.


class BadValue(click.BadParameter):
    """An option's value that cannot be used. `reason` says what is wrong in plain words;
    `run_cli` names the LOADKIT_* variable instead of the option when the value came from one."""

    def __init__(
        self,
        reason: str,
        value: Any,
        param: click.Parameter | None,
        ctx: click.Context | None,
        *,
        reason_shows_value: bool = False,
    ) -> None:
        shown = reason if reason_shows_value else f"{reason} (got {value!r})"
        super().__init__(shown, ctx, param)
        self.reason = reason
        self.value = value


class DurationParam(click.ParamType[float]):
    name = "duration"

    def __init__(self, *, whole_seconds: bool = True) -> None:
        self.whole_seconds = whole_seconds

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise BadValue(str(exc), value, param, ctx, reason_shows_value=True) from None
        if self.whole_seconds and (seconds < 1 or seconds != int(seconds)):
            raise BadValue("must be a whole number of seconds, at least 1s", value, param, ctx)
        return seconds


class HostParam(click.ParamType[str]):
    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not text.startswith(("http://", "https://")) or len(text.split("://", 1)[1]) == 0:
            raise BadValue(
                "not an http:// or https:// URL; write it like http://127.0.0.1:8080",
                value,
                param,
                ctx,
            )
        return text


class WholeNumberParam(click.ParamType[int]):
    name = "integer"

    def __init__(self, minimum: int = 1) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            number = value if isinstance(value, int) else int(str(value).strip())
        except ValueError:
            raise BadValue("not a whole number", value, param, ctx) from None
        if number < self.minimum:
            raise BadValue(f"must be at least {self.minimum}", value, param, ctx)
        return number


class PositiveNumberParam(click.ParamType[float]):
    name = "number"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except ValueError:
            raise BadValue("not a number", value, param, ctx) from None
        if not math.isfinite(number) or number <= 0:
            raise BadValue("must be a number above 0", value, param, ctx)
        return number


class ArrivalRateParam(click.ParamType[float]):
    name = "rate"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        from loadkit.scenario.shapes import parse_rate

        try:
            rate = parse_rate(str(value))
        except ValueError:
            raise BadValue("not a rate like 50/s, 3000/m or 100/h", value, param, ctx) from None
        if rate <= 0:
            raise BadValue("must be above 0", value, param, ctx)
        return rate


class FolderParam(click.ParamType[Path]):
    """A folder that may not exist yet (it is made when needed), but is not a file."""

    name = "directory"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        if path.exists() and not path.is_dir():
            raise BadValue("is a file, not a folder", value, param, ctx)
        return path


def _load(
    path: str,
    environ: Mapping[str, str] | None = None,
    *,
    text: str | None = None,
    allow_unset: bool = False,
) -> tuple[Scenario, str]:
    """The scenario at `path`; `text`: its text, already read. `allow_unset`: variables and
    secrets that are not set are the caller's business (`Scenario.unset`), not problems."""
    from loadkit.scenario import validate_source
    from loadkit.scenario.source import load_yaml, parse_yaml

    source = (
        load_yaml(path, environ, allow_unset=allow_unset)
        if text is None
        else parse_yaml(text, path, environ, allow_unset=allow_unset)
    )
    return validate_source(source, environ), source.text


def _load_to_run(
    path: str,
    host: str | None,
    environ: Mapping[str, str] | None = None,
    *,
    text: str | None = None,
) -> tuple[Scenario, str]:
    """The scenario for a run, which needs every value it reads from the environment (one
    line per variable), except a host's variable when --host replaces the host."""
    from loadkit.scenario import unset

    scenario, read = _load(path, environ, text=text, allow_unset=True)
    problems = unset.problems(scenario.unset, skip=[("host",)] if host is not None else [])
    if problems:
        raise ScenarioError(problems)
    if scenario.unset:  # the host's variable: --host in place of the reader's stand-in
        scenario = scenario.model_copy(update={"host": host})
    return scenario, read


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="loadkit")
@click.option("--traceback", is_flag=True, help="Show the Python traceback of unexpected errors.")
def cli(traceback: bool) -> None:
    """Load tests as reviewed YAML, run on Locust, judged by thresholds.

    \b
    Exit codes: 0 pass, 1 thresholds failed, 2 invalid input, 3 aborted, 4 internal error.
    """
    obj = click.get_current_context().obj
    if isinstance(obj, dict):  # run_cli's: it decides what an unexpected error shows
        obj["traceback"] = traceback


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--strict",
    is_flag=True,
    help="Treat warnings as errors (a variable or secret that is not set, data warnings).",
)
def validate(files: Sequence[str], strict: bool) -> ExitStatus:
    """Check scenario files without sending any load.

    Needs no secret and no variable's value: one that is not set is a warning (the file is
    checked without it; a field that needs it, such as a host, is not), an error at `run`.
    """
    from loadkit.scenario import unset

    problems = []
    warned = False
    for file in files:
        try:
            scenario, _ = _load(file, allow_unset=True)
        except ScenarioError as exc:
            problems.extend(exc.problems)
            continue
        warnings = unset.warnings(scenario.unset)
        if strict and warnings:
            problems.extend(warnings)
            continue
        click.echo(
            f"{file}: ok ({scenario.name}: {len(scenario.users)} user type(s), "
            f"{sum(len(u.tasks) for u in scenario.users)} task(s))"
        )
        for warning in warnings:
            click.echo(f"loadkit: warning: {warning}", err=True)
        warned = _warn_about_data(file, scenario) or warned or bool(warnings)
    if problems:
        raise ScenarioError(problems)
    if strict and warned:
        raise UsageError("--strict: the warnings above count as errors")
    return ExitStatus.PASS


@cli.command(name="compile")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the locustfile here instead of standard output.",
)
def compile_command(file: str, output: Path | None) -> ExitStatus:
    """Compile a scenario into a readable, self-contained Locust locustfile.

    Needs no secret: the locustfile reads secrets from the environment when it runs, as it
    does a variable that is not set here and that a request uses. A value it would write into
    the locustfile (a host, a number) must be set.
    """
    from loadkit.compiler import compile_scenario
    from loadkit.scenario import unset

    scenario, _ = _load(file, allow_unset=True)
    written = [u for u in scenario.unset if u.unchecked]
    if written:
        raise ScenarioError(
            [
                dataclasses.replace(p, message=f"{p.message}; compile writes this value into "
                "the locustfile")
                for p in unset.problems(written)
            ]
        )  # fmt: skip
    _emit(compile_scenario(scenario, file), output)
    for kind, secret in (("secret(s)", True), ("variable(s)", False)):
        names = unset.names(scenario.unset, secret=secret)
        if names:
            click.echo(
                f"loadkit: note: {file}: the locustfile reads the {kind} {', '.join(names)} "
                "from the environment when it runs (not set here)",
                err=True,
            )
    return ExitStatus.PASS


def _warn_about_data(file: str, scenario: Scenario) -> bool:
    """Print the data warnings; True when there was one."""
    from loadkit.delivery import data_warnings

    warnings = data_warnings(scenario)
    for warning in warnings:
        click.echo(f"loadkit: warning: {file}: {warning}", err=True)
    return bool(warnings)


def _emit(text: str, output: Path | None) -> None:
    """Standard output, or a file (the path is said on standard error)."""
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


@cli.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema here instead of standard output.",
)
def schema(output: Path | None) -> ExitStatus:
    """Print the JSON Schema of the scenario format (for editors: yaml-language-server)."""
    from loadkit.scenario.schema import scenario_schema_json

    _emit(scenario_schema_json(), output)
    return ExitStatus.PASS


@cli.command()
@click.argument("run_folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--slo-p95",
    type=DurationParam(whole_seconds=False),
    default=None,
    help="p95 line on the capacity chart (default: the scenario's p95 threshold).",
)
def report(run_folder: Path, slo_p95: float | None) -> ExitStatus:
    """(Re)build report.html, junit.xml and charts/*.png of a run folder (and summary.json,
    from what Locust left, when `loadkit run` was killed before it wrote it)."""
    from loadkit.report.write import BadSummary, write_report
    from loadkit.run_folder import RunFolder

    folder = RunFolder(run_folder)
    if not folder.summary_json.is_file():
        if not folder.path.is_dir():
            raise UsageError(f"{run_folder} is not a run folder (no such directory)")
        _rebuild_summary(folder)
    try:
        files = write_report(run_folder, slo_p95_ms=None if slo_p95 is None else slo_p95 * 1000)
    except BadSummary as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        click.echo(f"loadkit: error: could not write {exc.filename}: {exc.strerror}", err=True)
        return ExitStatus.INTERNAL_ERROR
    # A damaged file is a warning; the report is still written and summary.json (the verdict,
    # decided when the files were whole) is unchanged: the report's exit code stays 0.
    for damaged in files.damaged:
        click.echo(f"loadkit: warning: {run_folder}: {damaged}", err=True)
    for note in files.notes:
        if note not in files.damaged:
            click.echo(f"note: {note}", err=True)
    click.echo(f"Report: {files.html}")
    return ExitStatus.PASS


def _rebuild_summary(folder: RunFolder) -> None:
    """summary.json of a run whose `loadkit run` was killed before writing it."""
    from loadkit.runner import read_plan, rebuild_summary

    if not folder.scenario.is_file():
        raise UsageError(f"{folder.path} is not a run folder (it has no summary.json)")
    try:
        _, source = read_plan(folder, "source_path")
    except ValueError as exc:
        raise UsageError(f"cannot rebuild {folder.SUMMARY_JSON}: {exc}") from None
    # The text that ran, read where it was (its data files are found there).
    text = folder.scenario.read_text(encoding="utf-8")
    scenario, _ = _load(source or str(folder.scenario), text=text)
    outcome = rebuild_summary(folder, scenario)
    summary = outcome.summary
    click.echo(
        f"loadkit: warning: {folder.path}: {folder.SUMMARY_JSON} was missing; rebuilt from "
        f"{folder.FINAL_STATS} and {folder.HISTOGRAMS}: {summary['verdict'].upper()} "
        f"(exit code {summary['exit_code']})",
        err=True,
    )
    for problem in outcome.write_problems:
        click.echo(f"loadkit: error: {problem}", err=True)


@cli.command()
@click.argument("baseline", type=click.Path(file_okay=False, path_type=Path))
@click.argument("current", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--max-regression",
    "limits",
    multiple=True,
    metavar="METRIC:PERCENT",
    help="e.g. p95:10% or rps:-5% (repeatable). Default: max_regression in the scenario.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the comparison as JSON.",
)
@click.option(
    "--allow-aborted",
    is_flag=True,
    help="Compare even when a run was aborted or ended in an error (refused otherwise).",
)
def compare(
    baseline: Path,
    current: Path,
    limits: Sequence[str],
    json_out: Path | None,
    allow_aborted: bool,
) -> ExitStatus:
    """Fail (exit 1) when CURRENT is a real regression of BASELINE, beyond run-to-run noise.

    Warns when the runs ran different scenarios, hosts or loads; refuses aborted runs.
    """
    import json

    from loadkit import compare as comparing
    from loadkit.report.console import table

    try:
        base_run = comparing.read_run_facts(baseline)
        cur_run = comparing.read_run_facts(current)
        warnings = comparing.check_completed(base_run, cur_run, allow_aborted=allow_aborted)
        warnings += comparing.differences(base_run, cur_run)
        for warning in warnings:
            click.echo(f"loadkit: warning: {warning}", err=True)
        parsed = [comparing.parse_limit(text) for text in limits]
        parsed = parsed or comparing.limits_from_scenario(current)
        if not parsed:
            raise UsageError(
                "say what may not regress: --max-regression p95:10% (or max_regression: in the "
                "scenario)"
            )
        results = comparing.compare_runs(baseline, current, parsed)
    except comparing.CompareError as exc:
        raise UsageError(str(exc)) from None
    headers = ["Metric", "Baseline", "Current", "Worse by", "Noise", "Allowed", "Verdict"]
    click.echo("\n".join(table(headers, comparing.comparison_rows(results))))
    if json_out is not None:
        payload = {
            "baseline": str(baseline),
            "current": str(current),
            "warnings": warnings,
            "comparisons": comparing.comparison_json(results),
        }
        json_out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    regressed = [r.limit.metric for r in results if r.regressed]
    if regressed:
        click.echo(f"Verdict: REGRESSED ({', '.join(regressed)})")
        return ExitStatus.THRESHOLDS_FAILED
    click.echo("Verdict: PASS (no regression beyond noise)")
    return ExitStatus.PASS


def _folder_options(func: Any) -> Any:
    """--out and --reports-dir: where the run folder goes."""
    func = click.option(
        "--reports-dir",
        type=FolderParam(),
        default=DEFAULT_REPORTS_DIR,
        show_default=True,
        envvar="LOADKIT_REPORTS_DIR",
        help="Where new run folders are made. [env: LOADKIT_REPORTS_DIR]",
    )(func)
    return click.option(
        "--out",
        type=FolderParam(),
        help="Run folder to write (must be new or empty).",
    )(func)


def _run_options(func: Any) -> Any:
    options = [
        click.option(
            "--host",
            type=HostParam(),
            envvar="LOADKIT_HOST",
            help="Base URL of the target (overrides the scenario). [env: LOADKIT_HOST]",
        ),
        click.option(
            "-u",
            "--users",
            type=WholeNumberParam(minimum=1),
            envvar="LOADKIT_USERS",
            help="Peak concurrent users. [env: LOADKIT_USERS]",
        ),
        click.option(
            "-r",
            "--spawn-rate",
            type=PositiveNumberParam(),
            envvar="LOADKIT_SPAWN_RATE",
            help="Users started per second. [env: LOADKIT_SPAWN_RATE]",
        ),
        click.option(
            "-t",
            "--duration",
            type=DurationParam(),
            envvar="LOADKIT_DURATION",
            help="Run time, e.g. 30s, 5m. [env: LOADKIT_DURATION]",
        ),
        click.option(
            "--arrival-rate",
            type=ArrivalRateParam(),
            envvar="LOADKIT_ARRIVAL_RATE",
            help="Open model: peak arrivals per second, e.g. 50/s. [env: LOADKIT_ARRIVAL_RATE]",
        ),
        click.option(
            "--max-concurrency",
            type=WholeNumberParam(minimum=1),
            envvar="LOADKIT_MAX_CONCURRENCY",
            help="Open model: users ready for arrivals. [env: LOADKIT_MAX_CONCURRENCY]",
        ),
        click.option(
            "--processes",
            type=WholeNumberParam(minimum=1),
            default=1,
            envvar="LOADKIT_PROCESSES",
            help="Locust worker processes on this machine (one per core). [env: LOADKIT_PROCESSES]",
        ),
        click.option(
            "--master",
            is_flag=True,
            help="Be the master of workers on other machines (`loadkit worker`).",
        ),
        click.option(
            "--expect-workers",
            type=WholeNumberParam(minimum=1),
            default=None,
            help="--master: workers to wait for before the test starts (default 1).",
        ),
        click.option(
            "--master-bind-host",
            default="127.0.0.1",
            show_default=True,
            help="--master: interface to listen on; 0.0.0.0 lets other machines join "
            "(the port is unauthenticated: see README, Security).",
        ),
        click.option(
            "--master-port",
            type=click.IntRange(1, 65535),
            default=None,
            help="--master: port to listen on (default 5557).",
        ),
        click.option(
            "--expect-workers-max-wait",
            type=DurationParam(),
            default=60.0,
            help="--master: how long to wait for the workers before giving up, no load sent "
            "(default 60s).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return _folder_options(func)


def _metrics_options(func: Any) -> Any:
    """--metrics-port and friends: Prometheus metrics while the run lasts."""
    options = [
        click.option(
            "--metrics-port",
            type=click.IntRange(1, 65535),
            default=None,
            help="Serve Prometheus metrics on this port while the run lasts (e.g. 9646).",
        ),
        click.option(
            "--metrics-host",
            default="127.0.0.1",
            show_default=True,
            help="Interface of the metrics endpoint.",
        ),
        click.option(
            "--metrics-linger",
            type=DurationParam(whole_seconds=False),
            default=0.0,
            help="Keep the endpoint up this long after the run, for a last scrape.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _metrics(port: int | None, host: str, linger: float) -> MetricsEndpoint | None:
    from loadkit.runner import MetricsEndpoint

    if port is None:
        return None
    endpoint = MetricsEndpoint(port=port, host=host, linger_s=linger)
    endpoint.check()
    return endpoint


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@_run_options
@_metrics_options
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
    **overrides: Any,
) -> ExitStatus:
    """Run a scenario headless and judge it by its thresholds.

    Writes a run folder (scenario, locustfile, Locust CSVs, summary.json, summary.md) and
    exits 0 on pass, 1 when thresholds failed.
    """
    from loadkit import run_cache

    locust = LocustProcess.start()  # imports Locust while we read the scenario
    early: EarlyStart | None = None
    try:
        cache = _run_cache(metrics_port, overrides)
        # Every option that shapes Locust's command; the folder is a new one each run.
        options = {k: v for k, v in overrides.items() if k not in ("out", "reports_dir")}
        hit = cache.lookup(file, options) if cache is not None else None
        if hit is not None:
            early = run_cache.start_early(
                hit, locust, out=overrides["out"], reports_dir=overrides["reports_dir"]
            )
        if early is not None:
            run_cache.wait_until_running(locust, timeout_s=_VALIDATE_AFTER_S)
            # The text Locust runs, even if edited.
            scenario, text = _load_to_run(file, overrides["host"], text=early.text)
            store = None
        else:
            found = cache.key_for(file, options) if cache is not None else None
            with run_cache.recording() as recorded:
                scenario, text = _load_to_run(file, overrides["host"], recorded.environ)
            store = _Store(cache, found[0], recorded) if cache and found and (
                found[1] == text.encode("utf-8")  # read again unchanged
            ) else None  # fmt: skip
        metrics = _metrics(metrics_port, metrics_host, metrics_linger)
        return _run(
            scenario, text, file, locust=locust, metrics=metrics, early=early, store=store,
            strict_generator=strict_generator, **overrides,
        )  # fmt: skip
    except BaseException as exc:
        if early is not None and not early.handed_over:
            early.abandon(locust)
            if isinstance(exc, ScenarioError | UsageError) and cache is not None:
                cache.forget(early.key)  # cannot happen for an entry made by this code
        raise
    finally:
        locust.discard()


_VALIDATE_AFTER_S = 2.0
"""On a cache hit, the scenario is validated once Locust runs, or after this long at most."""


class _Store:
    """Writes the cache entry of a run that missed, once it is planned (`run_cache`)."""

    def __init__(self, cache: RunCache, key: str, recorded: Recording) -> None:
        self.cache, self.key, self.recorded = cache, key, recorded

    def __call__(self, planned: PlannedRun, launch: Launch) -> None:
        self.cache.store(
            self.key,
            self.recorded,
            launch.tokenized(planned.folder.path),
            secret_values=planned.scenario.secret_values,
        )


def _forget(early: EarlyStart) -> None:
    from loadkit.run_cache import RunCache, cache_dir

    folder = cache_dir()
    if folder is not None:
        RunCache(folder).forget(early.key)


def _run_cache(metrics_port: int | None, overrides: Mapping[str, Any]) -> RunCache | None:
    """The run cache, unless it is off or this run's command holds a value of its own: the
    metrics endpoint names the run folder, and --processes picks a free port each time."""
    from loadkit.run_cache import RunCache, cache_dir

    folder = cache_dir()
    if folder is None or metrics_port is not None:
        return None
    if overrides["processes"] > 1 and overrides["master_port"] is None:
        return None
    return RunCache(folder)


def _distribution(
    processes: int,
    master: bool,
    expect_workers: int | None,
    master_bind_host: str,
    master_port: int | None,
    expect_workers_max_wait: float,
) -> Distribution:
    from loadkit.settings import Distribution

    if not master and expect_workers is not None:
        raise UsageError("--expect-workers needs --master")
    if master and processes > 1:
        raise UsageError(
            "--processes cannot go with --master: start `loadkit worker --processes N` on each "
            "worker machine instead"
        )
    return Distribution(
        processes=processes,
        expect_workers=(expect_workers or 1) if master else 0,
        bind_host=master_bind_host,
        port=master_port,
        max_wait_s=expect_workers_max_wait,
    )


def _run(
    scenario: Scenario,
    text: str,
    source_file: str,
    *,
    host: str | None,
    users: int | None,
    spawn_rate: float | None,
    duration: float | None,
    out: Path | None,
    reports_dir: Path,
    arrival_rate: float | None = None,
    max_concurrency: int | None = None,
    processes: int = 1,
    master: bool = False,
    expect_workers: int | None = None,
    master_bind_host: str = "127.0.0.1",
    master_port: int | None = None,
    expect_workers_max_wait: float = 60.0,
    locust: LocustProcess | None = None,
    metrics: MetricsEndpoint | None = None,
    early: EarlyStart | None = None,
    store: Callable[[PlannedRun, Launch], None] | None = None,
    strict_generator: bool = False,
) -> ExitStatus:
    from loadkit.runner import LoadOverrides, locust_launch, plan_run, run_locust

    distribution = _distribution(
        processes, master, expect_workers, master_bind_host, master_port, expect_workers_max_wait
    )
    overrides = LoadOverrides(
        host, users, spawn_rate, duration, distribution, arrival_rate, max_concurrency,
        strict_generator,
    )  # fmt: skip
    planned = plan_run(
        scenario, text, source_file, overrides, out=out, reports_dir=reports_dir,
        folder=early.folder if early is not None else None,
    )  # fmt: skip
    launch = None
    if early is not None:
        early.handed_over = True
        # What Locust was given must be what this run plans; if not, the entry is wrong and
        # goes (this run already runs it: say so rather than judge it silently).
        if locust_launch(planned, metrics, write=False) != early.launch:
            click.echo(
                f"loadkit: warning: {source_file}: the run cache held another locustfile for "
                "this scenario; this run used it, the next one will not",
                err=True,
            )
            _forget(early)
    elif locust is not None:
        launch = locust_launch(planned, metrics)
        if store is not None:
            store(planned, launch)
    for warning in planned.warnings:
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
            launch=launch,
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
    click.echo(mask_text(text, scenario.secret_values))
    if outcome.report_problem is not None:
        click.echo(f"loadkit: warning: {outcome.report_problem}", err=True)
    for problem in outcome.write_problems:
        click.echo(f"loadkit: error: {problem}", err=True)
    if outcome.write_problems:  # the verdict was printed, but its files are not all there
        return ExitStatus.INTERNAL_ERROR
    return outcome.summary["verdict"].exit_status


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@_run_options
@_metrics_options
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
    out: Path | None,
    reports_dir: Path,
    host: str | None,
    users: int | None,
    spawn_rate: float | None,
    duration: float | None,
    arrival_rate: float | None,
    max_concurrency: int | None,
    metrics_port: int | None,
    metrics_host: str,
    metrics_linger: float,
    **distribution: Any,
) -> ExitStatus:
    """Run a scenario under Locust's own web UI (until Ctrl-C).

    The form opens with the scenario's load; a Thresholds and an Apdex tab follow the test
    live. Every test started and ended in the UI gets its own run folder under --reports-dir,
    judged and reported like `loadkit run`'s; the terminal prints each verdict. Exit code 3
    when Ctrl-C interrupted a running test (its folder says aborted), else 0.
    """
    import tempfile

    from loadkit.runner import LoadOverrides, WebUI, plan_run, run_ui

    if out is not None:
        raise UsageError("each test started in the UI gets its own folder: use --reports-dir")
    overrides = LoadOverrides(
        host, users, spawn_rate, duration, _distribution(**distribution),
        arrival_rate, max_concurrency,
    )
    web = WebUI(web_host, web_port, web_login)
    verdicts: list[Verdict] = []
    locust = LocustProcess.start()  # imports Locust while we read the scenario
    try:
        scenario, text = _load_to_run(file, host)
        session = Path(tempfile.mkdtemp(prefix="loadkit-ui-"))
        planned = plan_run(
            scenario, text, file, overrides, out=session, reports_dir=reports_dir
        )
        for warning in planned.warnings:
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
    # Ctrl-C while a test ran ends as `loadkit run`'s would; between tests it closes the UI.
    return ExitStatus.ABORTED if Verdict.ABORTED in verdicts else ExitStatus.PASS


class PercentParam(click.ParamType[float]):
    """`5%` or `5` → 0.05."""

    name = "percent"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(str(value).strip().removesuffix("%"))
        except ValueError:
            raise BadValue("not a percentage like 5%", value, param, ctx) from None
        if not math.isfinite(number) or number < 0:
            raise BadValue("must be a percentage of 0 or more", value, param, ctx)
        return number / 100


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--slo",
    "slo",
    multiple=True,
    help="A threshold the load must hold, e.g. 'p95 < 300ms' (repeatable; default: the "
    "scenario's own thresholds).",
)
@click.option("--host", type=HostParam(), help="Base URL of the target (overrides the scenario).")
@click.option("--start-rate", type=ArrivalRateParam(), default="10/s", show_default=True,
              help="The ramp's first arrival rate.")  # fmt: skip
@click.option("--max-rate", type=ArrivalRateParam(), default="10000/s", show_default=True,
              help="The highest arrival rate tried: holding there is 'not reached'.")  # fmt: skip
@click.option("--precision", type=PercentParam(), default="5%", show_default=True,
              help="Stop bisecting when breaking is within this of holding.")  # fmt: skip
@click.option("--step", "step_s", type=DurationParam(), default="10s", show_default=True,
              help="Length of a ramp or bisection step (longer at low rates, to measure "
              "enough requests).")  # fmt: skip
@click.option("--confirm", "confirm_s", type=DurationParam(), default="60s", show_default=True,
              help="Length of the confirmation hold at the rate found.")  # fmt: skip
@click.option("--budget", "budget_s", type=DurationParam(), default="10m", show_default=True,
              help="The whole search ends within this, with what it found so far.")  # fmt: skip
@click.option("--max-concurrency", "pool", type=WholeNumberParam(minimum=1), default=200,
              show_default=True, help="Users ready for arrivals (the pool).")  # fmt: skip
@click.option("--processes", type=WholeNumberParam(minimum=1), default=1, show_default=True,
              help="Locust worker processes on this machine (one per core).")  # fmt: skip
@click.option("--repeat", type=WholeNumberParam(minimum=1), default=1, show_default=True,
              help="Independent searches, for the repeatability of the figure.")  # fmt: skip
@click.option("--forecast", type=ArrivalRateParam(),
              help="A forecast peak, e.g. 4000/s: how many instances it needs.")  # fmt: skip
@click.option("--headroom", type=PercentParam(), default="0%", show_default=True,
              help="With --forecast: plan for this much above the forecast.")  # fmt: skip
@click.option("--instances", type=WholeNumberParam(minimum=1), default=1, show_default=True,
              help="Instances of the target tested (recorded; scales the plan).")  # fmt: skip
@_folder_options
def capacity(file: str, **options: Any) -> ExitStatus:
    """Search the highest arrival rate that holds the SLO: a ramp, a bisection, a
    confirmation hold and a step above it (see README, Capacity planning).

    Writes a search folder (capacity.json, one run folder per step) and exits 0 with a
    bracket or "not reached", 1 when no capacity figure could be given.
    """
    from loadkit.capacity_run import run_capacity

    scenario, text = _load(file)
    return run_capacity(scenario, text, file, **options)


class ProcessesParam(click.ParamType[int | None]):
    """A number of processes, or `auto` (one per core): None."""

    name = "N|auto"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | None:
        if value is None or str(value).strip().lower() == "auto":
            return None
        return WholeNumberParam(minimum=1).convert(value, param, ctx)


@cli.command()
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
    from loadkit.runner import run_worker

    code = run_worker(master_host, master_port, processes, secret_envs)
    return ExitStatus.PASS if code == 0 else ExitStatus.INTERNAL_ERROR


from loadkit import k8s as kubernetes  # noqa: E402  (light: no pydantic, no YAML yet)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--workers",
    type=WholeNumberParam(minimum=1),
    default=kubernetes.DEFAULT_WORKERS,
    show_default=True,
    help="Worker pods (one Locust process per whole core of --worker-cpu).",
)
@click.option("--namespace", help="Namespace of every object (default: kubectl's current one).")
@click.option(
    "--image", default=kubernetes.DEFAULT_IMAGE, show_default=True, help="loadkit's image."
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="NAME",
    help="A Secret whose keys become environment variables of master and workers "
    "(the scenario's ${secret:NAME}s); repeatable.",
)
@click.option(
    "--data-secret",
    "data_secrets",
    multiple=True,
    metavar="NAME",
    help="A data source (its name under data:) whose file goes into a Kubernetes Secret, "
    f"not the ConfigMap; repeatable; '{kubernetes.ALL_DATA}': every data file. "
    "(`secret: true` on a data source does the same.)",
)
@click.option("--host", type=HostParam(), help="Target URL for the run (overrides the scenario).")
@click.option("--run-id", help="Appended to every name, to keep runs apart, e.g. nightly-0412.")
@click.option("--worker-cpu", default=kubernetes.DEFAULT_WORKER_CPU, show_default=True)
@click.option("--worker-memory", default=kubernetes.DEFAULT_WORKER_MEMORY, show_default=True)
@click.option("--master-cpu", default=kubernetes.DEFAULT_MASTER_CPU, show_default=True)
@click.option("--master-memory", default=kubernetes.DEFAULT_MASTER_MEMORY, show_default=True)
@click.option(
    "--expect-workers-max-wait",
    type=DurationParam(),
    default=f"{kubernetes.DEFAULT_WORKERS_MAX_WAIT_S}s",
    show_default=True,
    help="How long the master waits for every worker (pods wait for nodes and images).",
)
@click.option(
    "--keep-results-for",
    type=DurationParam(),
    default=None,
    help="Keep the master's pod this long after the run, for `kubectl cp` of the run folder.",
)
@click.option("--results-pvc", metavar="NAME", help="Write the run folder to this volume claim.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the manifests here instead of standard output.",
)
def k8s(
    file: str,
    output: Path | None,
    expect_workers_max_wait: float,
    keep_results_for: float | None,
    **options: Any,
) -> ExitStatus:
    """Kubernetes manifests for a distributed run: `kubectl apply -f` them.

    A ConfigMap with the scenario and its files, the master as a Job whose exit status is
    the verdict, a Service and a NetworkPolicy for its port, the workers as a Job.
    See README, Scaling out.
    """
    # Values the pods read from their environment (the --secret Secrets) are not needed here.
    scenario, _ = _load(file, allow_unset=True)
    warning = kubernetes.host_warning(scenario, options["host"])
    if warning is not None:
        click.echo(f"loadkit: warning: {file}: {warning}", err=True)
    for note in kubernetes.pod_variables_notes(scenario, options["host"], options["secrets"]):
        click.echo(f"loadkit: note: {file}: {note}", err=True)
    text = kubernetes.manifests(
        file,
        scenario,
        workers_max_wait_s=int(expect_workers_max_wait),
        keep_results_s=int(keep_results_for or 0),
        **options,
    )
    _emit(text, output)
    return ExitStatus.PASS


@cli.group(name="import")
def import_group() -> None:
    """Write a first scenario from a browser recording (HAR) or an OpenAPI description."""


def _read_input(path: Path, what: str) -> Any:
    """The parsed JSON (or YAML) input of an importer; a one-line error when it is not."""
    from loadkit.importers import MAX_INPUT_BYTES

    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise UsageError(f"{path}: larger than {MAX_INPUT_BYTES // 1_000_000} MB")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not a readable {what} ({exc})") from None
    as_yaml = path.suffix.lower() in (".yaml", ".yml")
    return _parse_input(text, str(path), what, "yaml" if as_yaml else "json")


def _parse_input(text: str, where: str, what: str, kind: str) -> Any:
    """`kind`: 'json', 'yaml', or 'either' (JSON first: a served description's type may not
    say which it is)."""
    import json

    import yaml

    try:
        if kind == "yaml":
            return yaml.safe_load(text)
        try:
            return json.loads(text)
        except ValueError:
            if kind == "json":
                raise
            return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{where}: not a readable {what} ({reason})") from None


def _read_url_input(url: str, what: str) -> Any:
    """An importer's input served at an http(s) URL, parsed; one line naming the URL when it
    cannot be had or is not what was asked for."""
    from loadkit.importers import MAX_INPUT_BYTES, download

    answer = download.download(url, max_bytes=MAX_INPUT_BYTES)
    path = url.split("?", 1)[0].lower()
    if "yaml" in answer.content_type or path.endswith((".yaml", ".yml")):
        kind = "yaml"
    else:
        kind = "json" if "json" in answer.content_type else "either"
    try:
        parsed = _parse_input(answer.text, url, what, kind)
    except UsageError:
        parsed = None
    if not isinstance(parsed, dict):
        raise UsageError(
            f"{url}: the answer ({answer.content_type or 'no type'}) is no {what}; "
            "give the address of the description itself"
        )
    return parsed


def _write_imported(imported: Any, output: Path | None) -> ExitStatus:
    for note in imported.notes:
        click.echo(f"loadkit: note: {note}", err=True)
    for name, what in imported.secrets.items():
        click.echo(f"loadkit: note: secret {name} ({what}): set it before running", err=True)
    _emit(imported.text, output)
    return ExitStatus.PASS


def _schema_ref(output: Path | None) -> str:
    """The scenario schema's path relative to the output, when a folder above it has one."""
    from loadkit.importers.skeleton import DEFAULT_SCHEMA_REF

    folder = (output.parent if output is not None else Path.cwd()).resolve()
    for parent in (folder, *folder.parents):
        candidate = parent / "schema" / "scenario.schema.json"
        if candidate.is_file():
            return os.path.relpath(candidate, folder)
    return DEFAULT_SCHEMA_REF


_OUTPUT_OPTION = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the scenario here instead of standard output.",
)


@import_group.command(name="har")
@click.argument("recording", type=click.Path(dir_okay=False, path_type=Path))
@_OUTPUT_OPTION
@click.option(
    "--include-host",
    "include_hosts",
    multiple=True,
    metavar="HOST",
    help="Also replay requests to this host (repeatable); others than the main one are dropped.",
)
@click.option("--keep-static", is_flag=True, help="Keep static assets (scripts, styles, images).")
def import_har_command(
    recording: Path, output: Path | None, include_hosts: Sequence[str], keep_static: bool
) -> ExitStatus:
    """A scenario that replays a browser recording (HAR) for a new session.

    Values a response returned and a later request sent (tokens, ids, CSRF values) are
    captured and sent as {{ variables }}; passwords and keys become ${secret:NAME}.
    """
    from loadkit.importers import import_har

    har = _read_input(recording, "HAR file (JSON)")
    imported = import_har(
        har,
        name=recording.stem,
        source_file=recording.name,
        include_hosts=include_hosts,
        keep_static=keep_static,
        schema_ref=_schema_ref(output),
    )
    return _write_imported(imported, output)


def _parameter_values(values: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--value {item!r}: write NAME=VALUE, e.g. --value bucket_id=default")
        found[name.strip()] = value
    return found


@import_group.command(name="openapi")
@click.argument("spec", metavar="SPEC")
@_OUTPUT_OPTION
@click.option(
    "--include-writes",
    is_flag=True,
    help="Also import POST, PUT, PATCH and DELETE operations (left out, commented, otherwise).",
)
@click.option(
    "--include-destructive",
    is_flag=True,
    help="Also import DELETEs of what the scenario did not create (a collection, a fixed id).",
)
@click.option(
    "--value",
    "values",
    multiple=True,
    metavar="NAME=VALUE",
    help="The value of a path or query parameter (repeatable), e.g. --value bucket_id=default.",
)
def import_openapi_command(
    spec: str,
    output: Path | None,
    include_writes: bool,
    include_destructive: bool,
    values: Sequence[str],
) -> ExitStatus:
    """A scenario with one task per operation of an OpenAPI (or Swagger 2.0) description.

    SPEC is a file (JSON or YAML) or an http(s) URL that serves the description. Read
    operations are imported; write operations are written commented out unless
    --include-writes, so nobody changes data by accident; a DELETE of what the scenario did
    not create needs --include-destructive as well.
    """
    from loadkit.importers import download, import_openapi

    given = _parameter_values(values)  # before anything is read or downloaded
    what = "OpenAPI description (JSON or YAML)"
    if download.is_url(spec):
        document, source = _read_url_input(spec, what), spec
    else:
        document, source = _read_input(Path(spec), what), Path(spec).name
    imported = import_openapi(
        document,
        source_file=source,
        include_writes=include_writes,
        include_destructive=include_destructive,
        values=given,
        served_from=spec if download.is_url(spec) else None,
        schema_ref=_schema_ref(output),
    )
    return _write_imported(imported, output)


@cli.command()
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
    type=DurationParam(),
    default=None,
    help="Run time of the demo load test (default: the scenario's 30s).",
)
@_folder_options
def demo(
    serve: bool, port: int | None, duration: float | None, out: Path | None, reports_dir: Path
) -> ExitStatus:
    """Start the bundled target on 127.0.0.1 and load-test it with scenarios/demo.yaml."""
    from loadkit.demo_target.process import TargetProcess

    if serve:
        with TargetProcess(port=8080 if port is None else port) as target:
            click.echo(f"loadkit: demo target on {target.url} (Ctrl-C to stop)")
            _wait_for_signal()
        return ExitStatus.PASS
    from importlib import resources  # 13 ms: not for every command

    demo_file = resources.files("loadkit") / "scenarios" / "demo.yaml"
    with resources.as_file(demo_file) as path:
        scenario, text = _load(str(path))
    locust = LocustProcess.start()
    try:
        with TargetProcess(port=port or 0) as target:
            click.echo(f"loadkit: demo target listening on {target.url}")
            return _run(
                scenario,
                text,
                "scenarios/demo.yaml",
                host=target.url,
                users=None,
                spawn_rate=None,
                duration=duration,
                out=out,
                reports_dir=reports_dir,
                locust=locust,
            )
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


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = list(sys.argv[1:] if argv is None else argv)
    # A CI cancel (SIGTERM) before a run is under way is an abort like Ctrl-C, not a kill:
    # the runner forwards signals to Locust once it runs, and restores this handler after.
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(int(run_cli(args)))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _from_environment(exc: click.ClickException) -> str | None:
    """`LOADKIT_USERS='abc': not a whole number` when a bad option value came from a LOADKIT_*
    variable: the person did not type `--users`, so naming it would send them looking for it."""
    if not isinstance(exc, click.BadParameter) or exc.ctx is None or exc.param is None:
        return None
    name = exc.param.name
    if name is None or exc.ctx.get_parameter_source(name) is not ParameterSource.ENVIRONMENT:
        return None
    envvars = exc.param.envvar or []
    variable = next(
        (v for v in ([envvars] if isinstance(envvars, str) else envvars) if os.environ.get(v)),
        None,
    )
    if variable is None:
        return None
    if isinstance(exc, BadValue):
        return f"{variable}={exc.value!r}: {exc.reason}"
    return f"{variable}={os.environ[variable]!r}: {exc.format_message()}"


def run_cli(args: list[str]) -> ExitStatus:
    """Run the CLI and decide the exit status: the one place that does."""
    options: dict[str, bool] = {"traceback": False}  # set by the group's --traceback
    try:
        result = cli.main(args=args, prog_name="loadkit", standalone_mode=False, obj=options)
    except ScenarioError as exc:
        for problem in exc.problems:
            click.echo(f"loadkit: error: {problem}", err=True)
        return ExitStatus.INVALID_INPUT
    except click.exceptions.Abort:
        click.echo("loadkit: aborted", err=True)
        return ExitStatus.ABORTED
    except click.ClickException as exc:
        from_env = _from_environment(exc)
        if from_env is not None:
            click.echo(f"loadkit: error: {from_env}", err=True)
            return ExitStatus.INVALID_INPUT
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        click.echo(f"loadkit: error: {exc.format_message()}{hint}", err=True)
        return ExitStatus.INVALID_INPUT
    except UsageError as exc:
        click.echo(f"loadkit: error: {exc}", err=True)
        return ExitStatus.INVALID_INPUT
    except KeyboardInterrupt:
        click.echo("loadkit: aborted", err=True)
        return ExitStatus.ABORTED
    except Exception as exc:
        if options["traceback"]:
            raise
        click.echo(
            f"loadkit: internal error: {type(exc).__name__}: {exc} "
            "(run with --traceback for details)",
            err=True,
        )
        return ExitStatus.INTERNAL_ERROR
    if isinstance(result, ExitStatus):
        return result
    return ExitStatus(result) if isinstance(result, int) else ExitStatus.PASS
