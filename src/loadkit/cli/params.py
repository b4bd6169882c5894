"""click's parameter types for loadkit's options (a bad value: one line saying what is wrong)
and the groups of options that several commands share."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from loadkit.run_folder import DEFAULT_REPORTS_DIR
from loadkit.run_request import OPTIONS, RunRequest
from loadkit.scenario.durations import parse_duration


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

    def __init__(self, minimum: int | None = 1) -> None:
        self.minimum = minimum
        """None: parsed only (a run's options are checked by `RunRequest.problems`)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            number = value if isinstance(value, int) else int(str(value).strip())
        except ValueError:
            raise BadValue("not a whole number", value, param, ctx) from None
        if self.minimum is not None and number < self.minimum:
            raise BadValue(f"must be at least {self.minimum}", value, param, ctx)
        return number


class NumberParam(click.ParamType[float]):
    """A number, parsed only (a run's options are checked by `RunRequest.problems`)."""

    name = "number"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            return float(value)
        except ValueError:
            raise BadValue("not a number", value, param, ctx) from None


class ArrivalRateParam(click.ParamType[float]):
    name = "rate"

    def __init__(self, *, positive: bool = True) -> None:
        self.positive = positive
        """False: parsed only (a run's options are checked by `RunRequest.problems`)."""

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        from loadkit.scenario.shapes import parse_rate

        try:
            rate = parse_rate(str(value))
        except ValueError:
            raise BadValue("not a rate like 50/s, 3000/m or 100/h", value, param, ctx) from None
        if self.positive and rate <= 0:
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


class ProcessesParam(click.ParamType[int | None]):
    """A number of processes, or `auto` (one per core): None."""

    name = "N|auto"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | None:
        if value is None or str(value).strip().lower() == "auto":
            return None
        return WholeNumberParam(minimum=1).convert(value, param, ctx)


def reports_dir_option(help_text: str) -> Callable[[Any], Any]:
    """--reports-dir (LOADKIT_REPORTS_DIR): the one declaration, its help said per command."""
    return click.option(
        "--reports-dir",
        type=FolderParam(),
        default=DEFAULT_REPORTS_DIR,
        show_default=True,
        envvar="LOADKIT_REPORTS_DIR",
        help=f"{help_text} [env: LOADKIT_REPORTS_DIR]",
    )


def folder_options(func: Any) -> Any:
    """--out and --reports-dir: where the run folder goes."""
    func = reports_dir_option("Where new run folders are made.")(func)
    return click.option(
        "--out",
        type=FolderParam(),
        help="Run folder to write (must be new or empty).",
    )(func)


def drift_option(func: Any) -> Any:
    """--fail-on-drift (`history.drift`)."""
    return click.option(
        "--fail-on-drift",
        is_flag=True,
        help="Fail the run (exit 1) when it drifted: significantly worse than the median of "
        "the last passing runs in the history (else a warning).",
    )(func)


def history_options(func: Any) -> Any:
    """--history, --no-history: where the run is recorded (`cli.history`)."""
    func = click.option(
        "--no-history",
        is_flag=True,
        envvar="LOADKIT_NO_HISTORY",
        help="Record nothing in a run history. [env: LOADKIT_NO_HISTORY]",
    )(func)
    return click.option(
        "--history",
        "history_url",
        metavar="URL",
        envvar="LOADKIT_HISTORY",
        help="The run history: sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB "
        "(default: history.db in --reports-dir). [env: LOADKIT_HISTORY]",
    )(func)


def run_options(func: Any) -> Any:
    """A run's options (`run`, `ui`): parsed here, checked by `RunRequest.problems` (see
    `run_request`), all at once."""
    options = [
        click.option(
            OPTIONS["host"],
            metavar="URL",
            envvar="LOADKIT_HOST",
            help="Base URL of the target (overrides the scenario). [env: LOADKIT_HOST]",
        ),
        click.option(
            "-u",
            OPTIONS["users"],
            type=WholeNumberParam(minimum=None),
            envvar="LOADKIT_USERS",
            help="Peak concurrent users. [env: LOADKIT_USERS]",
        ),
        click.option(
            "-r",
            OPTIONS["spawn_rate"],
            type=NumberParam(),
            envvar="LOADKIT_SPAWN_RATE",
            help="Users started per second. [env: LOADKIT_SPAWN_RATE]",
        ),
        click.option(
            "-t",
            OPTIONS["duration_s"],
            type=DurationParam(whole_seconds=False),
            envvar="LOADKIT_DURATION",
            help="Run time, e.g. 30s, 5m. [env: LOADKIT_DURATION]",
        ),
        click.option(
            OPTIONS["arrival_rate"],
            type=ArrivalRateParam(positive=False),
            envvar="LOADKIT_ARRIVAL_RATE",
            help="Open model: peak arrivals per second, e.g. 50/s. [env: LOADKIT_ARRIVAL_RATE]",
        ),
        click.option(
            OPTIONS["max_concurrency"],
            type=WholeNumberParam(minimum=None),
            envvar="LOADKIT_MAX_CONCURRENCY",
            help="Open model: users ready for arrivals. [env: LOADKIT_MAX_CONCURRENCY]",
        ),
        click.option(
            OPTIONS["processes"],
            type=WholeNumberParam(minimum=None),
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
            OPTIONS["expect_workers"],
            type=WholeNumberParam(minimum=None),
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
            OPTIONS["expect_workers_max_wait_s"],
            type=DurationParam(whole_seconds=False),
            default=60.0,
            help="--master: how long to wait for the workers before giving up, no load sent "
            "(default 60s).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return folder_options(func)


def metrics_options(func: Any) -> Any:
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


_REQUEST_FIELDS = {"duration": "duration_s", "expect_workers_max_wait": "expect_workers_max_wait_s"}
"""`run_options`' parameter -> its RunRequest field, where the names differ (seconds)."""


def run_request(options: Mapping[str, Any], *, strict_generator: bool = False) -> RunRequest:
    """The RunRequest of a command's `run_options` (by parameter name), not checked yet; the
    values that came from a LOADKIT_* variable are noted, so that a problem names it."""
    ctx = click.get_current_context()
    fields = {_REQUEST_FIELDS.get(name, name): value for name, value in options.items()}
    from_environment = {}
    for param in ctx.command.params:
        name = param.name
        if name not in options or name is None:
            continue
        if ctx.get_parameter_source(name) is not ParameterSource.ENVIRONMENT:
            continue
        envvars = param.envvar or []
        for variable in [envvars] if isinstance(envvars, str) else envvars:
            if os.environ.get(variable):
                field = _REQUEST_FIELDS.get(name, name)
                from_environment[field] = f"{variable}={os.environ[variable]!r}"
                break
    return RunRequest(
        **fields, strict_generator=strict_generator, from_environment=from_environment
    )
