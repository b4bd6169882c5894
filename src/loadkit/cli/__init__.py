"""The `loadkit` command: a thin click layer over the library, one module per command family.

`run_cli()` is the one place that turns results and exceptions into exit codes (`ExitStatus`)
and one-line `loadkit: error: ...` messages; commands return an ExitStatus.

- `params`: click's parameter types (one-line reasons) and the options commands share
- `files`: the scenario a command reads; a command's text written out
- `run`: run, ui, worker, demo
- `capacity`: capacity
- `scenario`: validate, compile, schema, k8s
- `importers`: import har, import openapi
- `reports`: report, compare
- `history`: history list, trend, pin; the history a run is recorded in
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

import click
from click.core import ParameterSource

from loadkit import __version__
from loadkit.cli import capacity, history, importers, reports, run, scenario
from loadkit.cli.files import read_scenario as _load  # noqa: F401  (tests read scenarios so)
from loadkit.cli.params import BadValue
from loadkit.errors import ScenarioError, UsageError
from loadkit.exit_codes import ExitStatus

# The library is imported inside the commands, not here: `loadkit run` starts the Locust
# process first and loads pydantic, YAML and the compiler while that process imports Locust.


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


for _command in (
    run.run,
    run.ui,
    run.worker,
    run.demo,
    capacity.capacity,
    capacity.plan,
    scenario.validate,
    scenario.compile_command,
    scenario.schema,
    scenario.k8s,
    importers.import_group,
    reports.report,
    reports.compare,
    history.history_group,
):
    cli.add_command(_command)


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
    except UsageError as exc:  # one line per problem (a run request reports them all)
        for line in str(exc).splitlines() or [""]:
            click.echo(f"loadkit: error: {line}", err=True)
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
