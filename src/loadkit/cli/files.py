"""What a command reads (the scenario, read as `run_start` reads it) and writes (its text, to
standard output or a file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadkit.run_start import read_scenario, read_scenario_to_run

__all__ = ["emit", "read_scenario", "read_scenario_to_run", "warn_about_data"]

if TYPE_CHECKING:
    from loadkit.scenario import Scenario


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
