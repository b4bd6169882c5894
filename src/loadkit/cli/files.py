"""What a command reads (the scenario) and writes (its text, to standard output or a file)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadkit.errors import ScenarioError

if TYPE_CHECKING:
    from loadkit.scenario import Scenario


def read_scenario(
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


def read_scenario_to_run(
    path: str,
    host: str | None,
    environ: Mapping[str, str] | None = None,
    *,
    text: str | None = None,
) -> tuple[Scenario, str]:
    """The scenario for a run, which needs every value it reads from the environment (one
    line per variable), except a host's variable when --host replaces the host."""
    from loadkit.scenario import unset

    scenario, read = read_scenario(path, environ, text=text, allow_unset=True)
    problems = unset.problems(scenario.unset, skip=[("host",)] if host is not None else [])
    if problems:
        raise ScenarioError(problems)
    if scenario.unset:  # the host's variable: --host in place of the reader's stand-in
        scenario = scenario.model_copy(update={"host": host})
    return scenario, read


def warn_about_data(file: str, scenario: Scenario) -> bool:
    """Print the data warnings; True when there was one."""
    from loadkit.delivery import data_warnings

    warnings = data_warnings(scenario)
    for warning in warnings:
        click.echo(f"loadkit: warning: {file}: {warning}", err=True)
    return bool(warnings)


def emit(text: str, output: Path | None) -> None:
    """Standard output, or a file (the path is said on standard error)."""
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)
