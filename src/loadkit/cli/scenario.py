"""Commands on a scenario file that send no load: validate, compile, schema, k8s."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from loadkit import k8s as kubernetes  # light: no pydantic, no YAML yet
from loadkit.cli.files import emit, read_scenario, warn_about_data
from loadkit.cli.params import (
    ArrivalRateParam,
    DurationParam,
    HostParam,
    PercentParam,
    WholeNumberParam,
)
from loadkit.errors import ScenarioError, UsageError
from loadkit.exit_codes import ExitStatus

if TYPE_CHECKING:
    from loadkit.k8s_capacity import CapacityJob


@click.command()
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
            scenario, _ = read_scenario(file, allow_unset=True)
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
        warned = warn_about_data(file, scenario) or warned or bool(warnings)
    if problems:
        raise ScenarioError(problems)
    if strict and warned:
        raise UsageError("--strict: the warnings above count as errors")
    return ExitStatus.PASS


@click.command(name="compile")
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

    scenario, _ = read_scenario(file, allow_unset=True)
    written = [u for u in scenario.unset if u.unchecked]
    if written:
        raise ScenarioError(
            [
                dataclasses.replace(p, message=f"{p.message}; compile writes this value into "
                "the locustfile")
                for p in unset.problems(written)
            ]
        )  # fmt: skip
    emit(compile_scenario(scenario, file), output)
    for kind, secret in (("secret(s)", True), ("variable(s)", False)):
        names = unset.names(scenario.unset, secret=secret)
        if names:
            click.echo(
                f"loadkit: note: {file}: the locustfile reads the {kind} {', '.join(names)} "
                "from the environment when it runs (not set here)",
                err=True,
            )
    return ExitStatus.PASS


@click.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema here instead of standard output.",
)
def schema(output: Path | None) -> ExitStatus:
    """Print the JSON Schema of the scenario format (for editors: yaml-language-server)."""
    from loadkit.scenario.schema import scenario_schema_json

    emit(scenario_schema_json(), output)
    return ExitStatus.PASS


@click.command()
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
@click.option("--capacity", "search", is_flag=True,
              help="A Job running `loadkit capacity` (one pod with --workers worker "
              "processes) instead of a run; see README, Capacity planning.")  # fmt: skip
@click.option("--slo", multiple=True, help="With --capacity: as `loadkit capacity --slo`.")
@click.option("--budget", "budget_s", type=DurationParam(), default="10m", show_default=True,
              help="With --capacity: the search's budget (sizes the Job's deadline).")  # fmt: skip
@click.option("--forecast", type=ArrivalRateParam(), help="With --capacity: a forecast peak.")
@click.option("--headroom", type=PercentParam(), default="0%", help="With --forecast.")
@click.option("--start-rate", type=ArrivalRateParam(), help="With --capacity: the ramp's start.")
@click.option("--max-rate", type=ArrivalRateParam(), help="With --capacity: the highest rate.")
@click.option("--max-concurrency", "pool", type=WholeNumberParam(minimum=1),
              help="With --capacity: the pool of users.")  # fmt: skip
def k8s(
    file: str,
    output: Path | None,
    expect_workers_max_wait: float,
    keep_results_for: float | None,
    search: bool,
    slo: tuple[str, ...],
    budget_s: float,
    forecast: float | None,
    headroom: float,
    start_rate: float | None,
    max_rate: float | None,
    pool: int | None,
    **options: Any,
) -> ExitStatus:
    """Kubernetes manifests for a distributed run: `kubectl apply -f` them.

    A ConfigMap with the scenario and its files, the master as a Job whose exit status is
    the verdict, a Service and a NetworkPolicy for its port, the workers as a Job.
    See README, Scaling out. With --capacity: the ConfigMap and one Job running
    `loadkit capacity`.
    """
    # Values the pods read from their environment (the --secret Secrets) are not needed here.
    scenario, _ = read_scenario(file, allow_unset=True)
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
        capacity=_capacity_job(search, slo, budget_s, forecast, headroom, start_rate,
                               max_rate, pool),
        **options,
    )  # fmt: skip
    emit(text, output)
    return ExitStatus.PASS


def _capacity_job(search: bool, slo: tuple[str, ...], budget_s: float, forecast: float | None,
                  headroom: float, start_rate: float | None, max_rate: float | None,
                  pool: int | None) -> CapacityJob | None:  # fmt: skip
    """--capacity's options, refused without --capacity (they would change nothing)."""
    from loadkit.k8s_capacity import DEFAULT_BUDGET_S, CapacityJob

    given = {"--slo": bool(slo), "--forecast": forecast is not None,
             "--start-rate": start_rate is not None, "--max-rate": max_rate is not None,
             "--max-concurrency": pool is not None,
             "--budget": int(budget_s) != DEFAULT_BUDGET_S}  # fmt: skip
    if not search:
        stray = [name for name, set_ in given.items() if set_]
        if stray:
            raise UsageError(f"{stray[0]} is an option of a capacity search: add --capacity")
        return None
    return CapacityJob(tuple(slo), math.ceil(budget_s), forecast, headroom, start_rate,
                       max_rate, pool)  # fmt: skip
