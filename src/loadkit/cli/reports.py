"""Commands on run folders: report, compare."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from loadkit.cli.files import read_scenario
from loadkit.cli.history import store_options as history_store_options
from loadkit.cli.params import DurationParam, PercentParam
from loadkit.errors import UsageError
from loadkit.exit_codes import ExitStatus
from loadkit.scenario.regressions import DEFAULT_LIMITS, FLOOR_KEY, FLOOR_OF_THRESHOLD_KEY, Floor

if TYPE_CHECKING:
    from loadkit.history.record import RunRecord
    from loadkit.run_folder import RunFolder
    from loadkit.summary_types import Summary


@click.command()
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
    from loadkit.run_finish import rebuild_summary
    from loadkit.run_plan import read_plan

    if not folder.scenario.is_file():
        raise UsageError(f"{folder.path} is not a run folder (it has no summary.json)")
    try:
        _, source = read_plan(folder, "source_path")
    except ValueError as exc:
        raise UsageError(f"cannot rebuild {folder.SUMMARY_JSON}: {exc}") from None
    # The text that ran, read where it was (its data files are found there).
    text = folder.scenario.read_text(encoding="utf-8")
    scenario, _ = read_scenario(source or str(folder.scenario), text=text)
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


@click.command()
@click.argument("baseline", type=click.Path(file_okay=False, path_type=Path))
@click.argument("current", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option(
    "--baseline",
    "baseline_from",
    type=click.Choice(["pinned", "last-pass"]),
    help="Compare the one run folder given with a baseline from the run history: the run "
    "pinned (`loadkit history pin`) or the last passing run of its scenario.",
)
@history_store_options
@click.option(
    "--max-regression",
    "limits",
    multiple=True,
    metavar="METRIC:PERCENT",
    help="e.g. p95:10% or rps:-5% (repeatable). Default: max_regression in the scenario, "
    f"else {', '.join(DEFAULT_LIMITS)}.",
)
@click.option(
    "--floor",
    "floor",
    type=DurationParam(whole_seconds=False),
    default=None,
    help=f"A time that changes by less never regresses (default: {Floor().ms:g}ms; "
    f"max_regression: {FLOOR_KEY}:).",
)
@click.option(
    "--floor-of-threshold",
    type=PercentParam(),
    default=None,
    metavar="PERCENT",
    help="A metric that changes by less than this share of its threshold never regresses "
    f"(default: {Floor().of_threshold * 100:g}%; max_regression: {FLOOR_OF_THRESHOLD_KEY}:).",
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
    floor: float | None,
    floor_of_threshold: float | None,
    json_out: Path | None,
    allow_aborted: bool,
    baseline_from: str | None,
    history_url: str | None,
    reports_dir: Path,
) -> ExitStatus:
    """Fail (exit 1) when CURRENT is a real regression of BASELINE, beyond run-to-run noise
    and by at least the floor. With --baseline pinned|last-pass, give CURRENT only: the
    baseline comes from the history.

    Warns when the runs ran different scenarios, hosts, loads or load generators; refuses
    aborted runs.
    """
    import dataclasses
    import json

    from loadkit import compare as comparing
    from loadkit import compare_facts
    from loadkit.report.console import table

    base, current = _baseline_and_current(
        baseline, current, baseline_from, history_url, reports_dir
    )
    # A folder, or a history record whose folder is not here (resolve_baseline checked that
    # it keeps what compare needs).
    recorded = None if isinstance(base, Path) else base.get("comparable")
    where = str(base if isinstance(base, Path) else base["folder"])
    try:
        if recorded is None:
            base_run = compare_facts.read_run_facts(Path(where))
        else:
            base_run = compare_facts.run_facts_of(cast("Summary", recorded["summary"]), where)
        cur_run = compare_facts.read_run_facts(current)
        warnings = compare_facts.check_completed(base_run, cur_run, allow_aborted=allow_aborted)
        warnings += compare_facts.differences(base_run, cur_run)
        for warning in warnings:
            click.echo(f"loadkit: warning: {warning}", err=True)
        given = [comparing.parse_limit(text) for text in limits]
        gate = comparing.choose_gate(
            given,
            comparing.regressions_from_scenario(current),
            floor_ms=None if floor is None else floor * 1000.0,
            floor_of_threshold=floor_of_threshold,
        )
        thresholds = compare_facts.read_summary(current).get("thresholds") or []
        floors = comparing.floors_for(gate.limits, gate.floor, thresholds)
        if recorded is None:
            results = comparing.compare_runs(Path(where), current, gate.limits, floors=floors)
        else:
            metrics = [limit.metric for limit in gate.limits]
            results = comparing.compare_points(
                recorded["points"], comparing.run_points(current, metrics), gate.limits,
                floors=floors,
            )  # fmt: skip
    except compare_facts.CompareError as exc:
        raise UsageError(str(exc)) from None
    click.echo(gate.describe_limits())
    click.echo(gate.describe_floor())
    headers = ["Metric", "Baseline", "Current", "Worse by", "Noise", "Allowed", "Floor", "Verdict"]
    click.echo("\n".join(table(headers, comparing.comparison_rows(results))))
    if json_out is not None:
        payload = {
            "baseline": where,
            "baseline_run": None if isinstance(base, Path) else base["run_id"],
            "current": str(current),
            "warnings": warnings,
            "limits_from": gate.source.value,
            "floor": dataclasses.asdict(gate.floor),
            "comparisons": comparing.comparison_json(results),
        }
        json_out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    regressed = [r.limit.metric for r in results if r.regressed]
    if regressed:
        click.echo(f"Verdict: REGRESSED ({', '.join(regressed)})")
        return ExitStatus.THRESHOLDS_FAILED
    click.echo("Verdict: PASS (no regression beyond noise)")
    return ExitStatus.PASS


def _baseline_and_current(
    first: Path, second: Path | None, baseline_from: str | None, history_url: str | None,
    reports_dir: Path,
) -> tuple[Path | RunRecord, Path]:  # fmt: skip
    """BASELINE CURRENT as given, or CURRENT and the baseline the history names (its folder,
    or its record when the folder is not here)."""
    from loadkit.cli.history import resolve_baseline

    if baseline_from is None:
        if second is None:
            raise UsageError(
                "give BASELINE and CURRENT run folders, or CURRENT with --baseline "
                "pinned|last-pass"
            )
        return first, second
    if second is not None:
        raise UsageError(f"--baseline {baseline_from} takes one run folder (CURRENT), not two")
    return resolve_baseline(baseline_from, first, history_url, reports_dir), first
