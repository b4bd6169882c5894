"""A run planned before any load: its settings resolved from the scenario and the command line's
load (`LoadOverrides`), its folder made with the scenario and the locustfile in it, and
plan.json, which `loadkit report` reads to rebuild a summary `loadkit run` never wrote."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadkit.compiler import compile_scenario
from loadkit.delivery import data_warnings
from loadkit.errors import UsageError
from loadkit.run_folder import RunFolder
from loadkit.scenario import Scenario
from loadkit.settings import Distribution, RunSettings

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class LoadOverrides:
    """What the command line (or LOADKIT_* variables) said about the load; None: the scenario's."""

    host: str | None = None
    users: int | None = None
    spawn_rate: float | None = None
    duration_s: float | None = None
    distribution: Distribution = field(default_factory=Distribution)
    arrival_rate: float | None = None
    max_concurrency: int | None = None
    strict_generator: bool = False
    """--strict-generator (`RunSettings.strict_generator`)."""


@dataclass(frozen=True)
class PlannedRun:
    """A run ready to start: its settings resolved, its folder made with the scenario and the
    locustfile in it."""

    scenario: Scenario
    settings: RunSettings
    folder: RunFolder
    source_file: str
    warnings: list[str]
    """What the plan cannot deliver, known before any load is sent."""

    def describe(self) -> str:
        s = self.settings
        if s.arrivals is not None:
            a = s.arrivals
            stages = "" if len(a.stages) == 1 else f" ({len(a.stages)} stages)"
            return (
                f"running {self.scenario.name!r}: {a.peak_rate:g} arrivals/s ({a.spacing}) "
                f"on up to {a.max_concurrency} users for {s.duration_s}s{stages} against {s.host}"
            )
        shape = "" if s.stages is None else f" ({len(s.stages)} stages)"
        return (
            f"running {self.scenario.name!r}: {s.users} users at {s.spawn_rate:g}/s "
            f"for {s.duration_s}s{shape} against {s.host}"
        )


def plan_run(
    scenario: Scenario,
    source_text: str,
    source_file: str,
    overrides: LoadOverrides,
    *,
    out: Path | None,
    reports_dir: Path,
    folder: RunFolder | None = None,
) -> PlannedRun:
    """Resolve the settings, make the run folder, write scenario and locustfile into it
    (`folder`: made and written already, from the run cache). The overrides are checked
    already (`RunRequest.problems`); raises UsageError when the folder cannot be made."""
    settings = resolve_settings(scenario, overrides)
    if folder is None:
        folder = new_folder(out, scenario.name, reports_dir)
        prepare_folder(folder, scenario, source_text, source_file, settings)
    write_plan(folder, overrides, settings.host, source_file)
    warnings = data_warnings(scenario, settings.users)
    return PlannedRun(scenario, settings, folder, source_file, warnings)


def resolve_settings(scenario: Scenario, overrides: LoadOverrides) -> RunSettings:
    settings = RunSettings.resolve(
        scenario,
        host=overrides.host,
        users=overrides.users,
        spawn_rate=overrides.spawn_rate,
        duration_s=overrides.duration_s,
        distribution=overrides.distribution,
        arrival_rate=overrides.arrival_rate,
        max_concurrency=overrides.max_concurrency,
    )
    if overrides.strict_generator:
        settings = replace(settings, strict_generator=True)
    return settings


def write_plan(folder: RunFolder, overrides: LoadOverrides, host: str, source_file: str) -> None:
    """plan.json: the overrides the run was planned with (the host resolved, as `${VAR}`s may
    not be set where the folder is read again)."""
    plan = {
        "source_file": source_file,
        # Where its data files are found again, from any working directory.
        "source_path": str(Path(source_file).resolve()),
        "overrides": {**dataclasses.asdict(overrides), "host": host},
    }
    try:
        folder.plan.write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {folder.plan}: {exc.strerror or exc}") from None


def read_plan(folder: RunFolder, key: str = "source_file") -> tuple[LoadOverrides, str | None]:
    """plan.json's overrides and source file (as given, or its `source_path`); none (the
    scenario's own load) without it. ValueError names the field that is wrong."""
    data = _read_json(folder.plan)
    if data is None:
        return LoadOverrides(), None
    raw = data.get("overrides")
    if not isinstance(raw, dict):
        raise ValueError(f"{folder.plan}: 'overrides' is not an object")
    try:
        distribution = Distribution(**(raw.pop("distribution", None) or {}))
        overrides = LoadOverrides(**raw, distribution=distribution)
    except TypeError as exc:
        raise ValueError(f"{folder.plan}: {exc}") from None
    source = data.get(key)
    return overrides, source if isinstance(source, str) else None


def new_folder(out: Path | None, scenario_name: str, reports_dir: Path) -> RunFolder:
    try:
        return RunFolder.create(out, scenario_name, reports_dir)
    except (FileExistsError, NotADirectoryError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:  # not writable, a read-only file system, ...
        where = out if out is not None else reports_dir
        raise UsageError(
            f"cannot create the run folder in {where}: {exc.strerror or exc}; "
            "choose a writable --out or --reports-dir"
        ) from None


def prepare_folder(
    folder: RunFolder,
    scenario: Scenario,
    source_text: str,
    source_name: str,
    settings: RunSettings | None = None,
) -> None:
    folder.scenario.write_text(source_text, encoding="utf-8")
    folder.locustfile.write_text(
        compiled_locustfile(scenario, source_name, settings),
        encoding="utf-8",
    )


def compiled_locustfile(
    scenario: Scenario, source_name: str, settings: RunSettings | None = None
) -> str:
    """The locustfile of a run with `settings` (a shape's stages, an open model's arrivals)."""
    stages = settings.stages if settings is not None else None
    arrivals = settings.arrivals if settings is not None else None
    return compile_scenario(scenario, source_name, stages=stages, arrivals=arrivals)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
