"""`loadkit history list|trend|pin`, and the history a run is recorded in (`choice`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from loadkit.cli.params import reports_dir_option
from loadkit.errors import UsageError
from loadkit.exit_codes import ExitStatus

if TYPE_CHECKING:
    from loadkit.history.record import RunRecord
    from loadkit.history.store import HistoryStore
    from loadkit.settings import HistoryChoice


def choice(
    history_url: str | None, no_history: bool, fail_on_drift: bool, reports_dir: Path
) -> HistoryChoice | None:
    """The history a run is recorded in: --history (LOADKIT_HISTORY), else history.db in the
    reports directory; None with --no-history."""
    from loadkit.history.store import default_url
    from loadkit.settings import HistoryChoice

    if no_history:
        if fail_on_drift:
            raise UsageError("--fail-on-drift needs a history to compare with: drop --no-history")
        return None
    return HistoryChoice(history_url or default_url(reports_dir), fail_on_drift)


def _store(history_url: str | None, reports_dir: Path) -> HistoryStore:
    from loadkit.history.store import HistoryStore, HistoryUnavailable, default_url

    try:
        return HistoryStore.open(history_url or default_url(reports_dir))
    except HistoryUnavailable as exc:
        raise UsageError(str(exc)) from None


def store_options(func: Any) -> Any:
    func = reports_dir_option("Where the default history (history.db) is.")(func)
    return click.option(
        "--history",
        "history_url",
        metavar="URL",
        envvar="LOADKIT_HISTORY",
        help="The run history (default: history.db in --reports-dir). [env: LOADKIT_HISTORY]",
    )(func)


@click.group("history")
def history_group() -> None:
    """The run history: every run's verdict and figures (`loadkit run` records them)."""


@history_group.command("list")
@click.option("--scenario", help="Only this scenario's runs (its name).")
@click.option("--branch", help="Only runs of this git branch.")
@click.option("--last", type=click.IntRange(1, 10000), default=30, show_default=True)
@store_options
def list_runs(
    scenario: str | None, branch: str | None, last: int, history_url: str | None,
    reports_dir: Path,
) -> ExitStatus:  # fmt: skip
    """The recorded runs, newest first."""
    from loadkit.report.console import table

    store = _store(history_url, reports_dir)
    try:
        records = store.runs(scenario=scenario, branch=branch, limit=last)
    finally:
        store.close()
    click.echo(f"History: {store.where}")
    if not records:
        click.echo("No runs recorded" + (" that match" if scenario or branch else "") + ".")
        return ExitStatus.PASS
    headers = ["Run", "When (UTC)", "Scenario", "Branch", "Commit", "Verdict", "p95",
               "Errors", "Throughput", "Folder"]  # fmt: skip
    click.echo("\n".join(table(headers, [_row(r) for r in records])))
    return ExitStatus.PASS


def _row(r: RunRecord) -> list[str]:
    from loadkit import formatting

    return [
        r["run_id"],
        _when(r["recorded_at"]),
        r["scenario"],
        r.get("git_branch") or "-",
        (r.get("git_commit") or "-")[:10],
        r["verdict"].upper(),
        formatting.metric_value("ms", r.get("p95_ms")),
        formatting.metric_value("%", r.get("error_rate")),
        formatting.metric_value("req/s", r.get("throughput_rps")),
        r["folder"],
    ]


def _when(unix_s: float) -> str:
    from loadkit import formatting

    return formatting.utc_time(unix_s)


TREND_METRICS = {
    "p95": ("p95_ms", "ms"),
    "p99": ("p99_ms", "ms"),
    "p50": ("p50_ms", "ms"),
    "error_rate": ("error_rate", "%"),
    "rps": ("throughput_rps", "req/s"),
    "apdex": ("apdex", ""),
    "capacity": ("capacity_rps", "req/s"),
}
"""What `loadkit history trend --metric` shows: the record's field and its unit."""


@history_group.command("trend")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--metric", type=click.Choice(list(TREND_METRICS)), default="p95",
              show_default=True)  # fmt: skip
@click.option("--last", type=click.IntRange(1, 10000), default=30, show_default=True)
@click.option("--branch", help="Only runs of this git branch.")
@click.option("--png", "png_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the chart goes (default: trend-SCENARIO-METRIC.png in --reports-dir).")
@store_options
def trend(
    file: str, metric: str, last: int, branch: str | None, png_out: Path | None,
    history_url: str | None, reports_dir: Path,
) -> ExitStatus:  # fmt: skip
    """A metric of the scenario FILE's last runs: a table and a chart (PNG)."""
    from loadkit import formatting
    from loadkit.cli.files import read_scenario
    from loadkit.report.console import table
    from loadkit.report.history_charts import trend_chart

    scenario, _ = read_scenario(file)
    field, unit = TREND_METRICS[metric]
    store = _store(history_url, reports_dir)
    try:
        records = list(reversed(store.runs(scenario=scenario.name, branch=branch, limit=last)))
    finally:
        store.close()
    if not records:
        raise UsageError(
            f"no runs of {scenario.name!r} in the history {store.where}"
            + (f" on branch {branch!r}" if branch else "")
            + f"; run it with `loadkit run {file}` first"
        )
    values: list[float | None] = [_number(r, field) for r in records]
    rows = [
        [r["run_id"], _when(r["recorded_at"]), r.get("git_branch") or "-", r["verdict"].upper(),
         formatting.metric_value(unit, v, metric=metric)]
        for r, v in zip(records, values, strict=True)
    ]  # fmt: skip
    click.echo(f"History: {store.where}")
    click.echo("\n".join(table(["Run", "When (UTC)", "Branch", "Verdict", metric], rows)))
    path = png_out or reports_dir / f"trend-{_slug(scenario.name)}-{metric}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    trend_chart(path, metric, unit, [r["recorded_at"] for r in records], values,
                [r["verdict"] for r in records])  # fmt: skip
    click.echo(f"Chart: {path}")
    return ExitStatus.PASS


def _number(record: RunRecord, field: str) -> float | None:
    value = record.get(field)
    return float(value) if isinstance(value, int | float) else None


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "scenario"


@history_group.command("pin")
@click.argument("run_id")
@click.option("--as", "role", type=click.Choice(["baseline"]), default="baseline",
              show_default=True, help="What the run becomes.")  # fmt: skip
@click.option("--branch", help="Pin it for this branch only (default: every branch).")
@store_options
def pin(
    run_id: str, role: str, branch: str | None, history_url: str | None, reports_dir: Path
) -> ExitStatus:
    """Make run RUN_ID (or a unique start of it) the scenario's baseline
    (`loadkit compare --baseline pinned`)."""
    store = _store(history_url, reports_dir)
    try:
        record = store.get(run_id)
        if record is None:
            raise UsageError(
                f"no run {run_id!r} (or more than one starting so) in the history "
                f"{store.where}; see `loadkit history list`"
            )
        store.pin(record, branch)
    finally:
        store.close()
    where = f"branch {branch!r}" if branch else "every branch"
    click.echo(
        f"Pinned run {record['run_id']} of {record['scenario']!r} as the {role} for {where}."
    )
    return ExitStatus.PASS


def resolve_baseline(
    kind: str, current: Path, history_url: str | None, reports_dir: Path
) -> Path | RunRecord:
    """What `compare --baseline pinned|last-pass` compares CURRENT with: the run's folder when
    it is here, else its record, whose `comparable` keeps what compare needs (a CI job's run
    folder is on the machine that ran it)."""
    from loadkit import compare_facts
    from loadkit.exit_codes import Verdict
    from loadkit.history.record import git_revision
    from loadkit.history.recording import folder_path

    try:
        facts = compare_facts.read_summary(current)
    except compare_facts.CompareError as exc:
        raise UsageError(str(exc)) from None
    name = str(facts["scenario"].get("name", ""))
    view = facts.get("history")
    current_id = view["run_id"] if view else None
    store = _store(history_url, reports_dir)
    try:
        if kind == "pinned":
            import os

            branch = git_revision(os.environ)[1]
            found = store.pinned(name, branch)
            if found is None:
                raise UsageError(
                    f"no baseline pinned for {name!r} in the history {store.where}; pin one: "
                    "loadkit history pin RUN_ID --as baseline"
                )
        else:
            passing = [
                r for r in store.runs(scenario=name, verdict=Verdict.PASS, limit=10)
                if r["run_id"] != current_id
                and Path(r["folder"]).resolve() != current.resolve()
            ]  # fmt: skip
            if not passing:
                raise UsageError(
                    f"no earlier passing run of {name!r} in the history {store.where}"
                )
            found = passing[0]
    finally:
        store.close()
    folder = folder_path(found)
    if folder is not None:
        click.echo(f"Baseline ({kind}): run {found['run_id']}, {folder}", err=True)
        return folder
    if not found.get("comparable"):
        raise UsageError(
            f"the {kind} run {found['run_id']}'s folder {found['folder']} is not here, and its "
            "record keeps no figures to compare with (a run of fewer than 3 steady seconds, or "
            "recorded by an older loadkit); compare two folders instead"
        )
    click.echo(
        f"Baseline ({kind}): run {found['run_id']}, {found['folder']} (not here: compared with "
        "the figures its history record keeps)",
        err=True,
    )
    return found
