"""`loadkit capacity`: the search for the highest arrival rate that holds the SLO."""

from __future__ import annotations

from typing import Any

import click

from loadkit.cli import history as run_history
from loadkit.cli.files import read_scenario_to_run
from loadkit.cli.params import (
    ArrivalRateParam,
    DurationParam,
    HostParam,
    PercentParam,
    WholeNumberParam,
    folder_options,
    history_options,
)
from loadkit.exit_codes import ExitStatus


@click.command()
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
@click.option("--scale-from", "scale_from", multiple=True, metavar="FOLDER",
              help="With --forecast: an earlier search's folder (another --instances count); "
              "the plan fits the scale-out to them instead of assuming it linear "
              "(repeatable).")  # fmt: skip
@folder_options
@history_options
def capacity(
    file: str, history_url: str | None, no_history: bool, **options: Any
) -> ExitStatus:
    """Search the highest arrival rate that holds the SLO: a ramp, a bisection, a
    confirmation hold and a step above it (see README, Capacity planning).

    Writes a search folder (capacity.json, one run folder per step) and exits 0 with a
    bracket or "not reached", 1 when no capacity figure could be given.
    """
    from loadkit.capacity_run import run_capacity

    # As `run`: a --host stands in for the scenario's host and its ${VAR}.
    scenario, text = read_scenario_to_run(file, options.get("host"))
    history = run_history.choice(history_url, no_history, False, options["reports_dir"])
    return run_capacity(scenario, text, file, history=history, **options)


@click.command()
@click.argument("folders", nargs=-1, required=True, metavar="FOLDER...")
@click.option("--forecast", type=ArrivalRateParam(), required=True,
              help="The forecast peak, e.g. 4000/s.")  # fmt: skip
@click.option("--headroom", type=PercentParam(), default="0%", show_default=True,
              help="Plan for this much above the forecast.")  # fmt: skip
def plan(folders: tuple[str, ...], forecast: float, headroom: float) -> ExitStatus:
    """The instances a forecast peak needs, from `loadkit capacity` search folders made at
    one or more --instances counts (the scale-out fitted to them; see README, Capacity
    planning). Sends no load; prints the plan and its JSON (capacity.json's `plan`).
    """
    from loadkit.capacity_run import plan_from_folders

    return plan_from_folders(folders, forecast, headroom)
