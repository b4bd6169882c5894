"""What two runs must share to be compared, read from their summary.json: the load (users,
spawn rate, duration, the load model and its stages, user types, think time) and the load
generator (processes, workers, Locust and loadkit versions), whether each run completed, and
one warning per way they differ. `compare` judges the figures; this module says whether the
figures of the two runs can be set side by side at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from loadkit.exit_codes import Verdict
from loadkit.run_folder import RunFolder
from loadkit.scenario.durations import format_duration
from loadkit.summary_types import Summary


class CompareError(ValueError):
    """Input that cannot be compared (a missing file, an unknown metric)."""


_NOT_COMPLETED: dict[str, str] = {
    Verdict.ABORTED: "was aborted",
    Verdict.ERROR: "ended in an error",
}
"""Verdicts (summary.json) of runs whose figures do not describe the planned load."""


class FactKind(StrEnum):
    LOAD = "load"
    GENERATOR = "generator"


@dataclass(frozen=True)
class Fact:
    """One thing two runs must share to be compared, as a person reads it."""

    label: str
    value: str | None
    """None: the run's summary.json does not record it (an older loadkit wrote it)."""
    kind: FactKind = FactKind.LOAD


_WHY = {
    FactKind.LOAD: (
        "the runs ran different loads",
        "a different load changes the figures by itself",
    ),
    FactKind.GENERATOR: (
        "the runs' load generators differ",
        "the generator itself can change the figures",
    ),
}


@dataclass(frozen=True)
class RunFacts:
    """What summary.json says a run was: enough to tell whether two runs are comparable."""

    folder: Path | str
    """Where the run is: its folder, or where its history record says it was published."""
    scenario: str | None
    host: str | None
    users: int | None
    spawn_rate: float | None
    duration_s: float | None
    verdict: str | None
    aborted: bool
    details: tuple[Fact, ...] = ()
    """The rest of what decides the load and how it is generated (`setup_facts`)."""
    open_model: bool = False
    """Arrival rates: users and spawn rate are then the pool's, set by max concurrency."""

    @property
    def not_completed(self) -> str | None:
        """Why the run's figures are not those of a full run, or None."""
        if self.verdict in _NOT_COMPLETED:
            return _NOT_COMPLETED[self.verdict]
        return _NOT_COMPLETED[Verdict.ABORTED] if self.aborted else None


def read_summary(folder: Path) -> Summary:
    """The run folder's summary.json, checked where it enters: a JSON object with a "run"
    object. It may be older or partial: read it with .get."""
    path = RunFolder(folder).summary_json
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompareError(f"{folder} has no summary.json; is it a loadkit run folder?") from None
    except (OSError, ValueError) as exc:
        raise CompareError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("run"), dict):
        raise CompareError(f'{path} has no "run" section; is it a loadkit summary?')
    return cast(Summary, data)


def read_run_facts(folder: Path) -> RunFacts:
    return run_facts_of(read_summary(folder), folder)


def run_facts_of(summary: Summary, folder: Path | str) -> RunFacts:
    """`summary` (or the parts of it a history record keeps) as RunFacts; `folder` names
    the run in warnings."""
    run = summary["run"]
    scenario = summary.get("scenario")
    load = summary.get("load")
    return RunFacts(
        folder=folder,
        scenario=scenario.get("name") if isinstance(scenario, dict) else None,
        host=run.get("host"),
        users=run.get("users"),
        spawn_rate=run.get("spawn_rate"),
        duration_s=run.get("duration_s"),
        verdict=summary.get("verdict"),
        aborted=bool(run.get("aborted")),
        details=tuple(setup_facts(summary)),
        open_model=isinstance(load, dict) and isinstance(load.get("arrivals"), dict),
    )


def facts_summary(summary: Summary) -> dict[str, Any]:
    """What `run_facts_of` reads of `summary` and nothing more (a run history's record keeps
    it: an open model's per-second arrivals would only make the record long)."""
    load = summary.get("load")
    kept: dict[str, Any] | None = None
    if isinstance(load, dict):
        kept = {"stages": load.get("stages")}
        arrivals = load.get("arrivals")
        if isinstance(arrivals, dict):
            kept["arrivals"] = {
                k: arrivals.get(k) for k in ("stages", "max_concurrency", "spacing")
            }
    scenario = summary.get("scenario")
    return {
        "scenario": {"name": scenario.get("name")} if isinstance(scenario, dict) else None,
        "run": summary["run"],
        "load": kept,
        "verdict": summary.get("verdict"),
    }


def setup_facts(summary: Summary) -> list[Fact]:
    """What summary.json says decided the load (beyond users, spawn rate and duration) and
    how it was generated. A fact that applies to one load model only (arrival rates, a shape's
    stages) is listed for runs of that model; `differences` compares those both runs have."""
    run = summary["run"]
    load = summary.get("load")
    facts = []
    if isinstance(load, dict):
        arrivals = load.get("arrivals")
        if isinstance(arrivals, dict):
            facts += [
                Fact("load model", "open (arrival rates)"),
                Fact("arrival rates", _rates(arrivals.get("stages"))),
                Fact("max concurrency", _text(arrivals.get("max_concurrency"))),
                Fact("arrival spacing", _text(arrivals.get("spacing"))),
            ]
        else:
            facts += [
                Fact("load model", "closed (users)"),
                Fact("load shape", _shape(load.get("stages"))),
            ]
    else:
        facts.append(Fact("load model", None))
    types = run.get("user_types")
    facts += [
        Fact("user types", _user_types(types)),
        Fact("think time", _think_times(types)),
        Fact("processes", _text(run.get("processes")), FactKind.GENERATOR),
        Fact("workers", _text(run.get("workers")), FactKind.GENERATOR),
        Fact("Locust version", _text(run.get("locust_version")), FactKind.GENERATOR),
        Fact("loadkit version", _text(run.get("loadkit_version")), FactKind.GENERATOR),
    ]
    return facts


def _text(value: object) -> str | None:
    if value is None:
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)


def _rates(stages: object) -> str | None:
    if not isinstance(stages, list):
        return None
    return ", then ".join(
        f"{s.get('rate', 0):g}/s for {format_duration(float(s.get('duration_s', 0)))}"
        for s in stages
        if isinstance(s, dict)
    )


def _shape(stages: object) -> str | None:
    """A shape's stages; "constant" for one stage (users and duration say the rest)."""
    if not isinstance(stages, list):
        return None
    if len(stages) == 1:
        return "constant"
    return ", ".join(
        f"{s.get('planned_users')} users {s.get('start_s', 0):g}-{s.get('end_s', 0):g}s"
        for s in stages
        if isinstance(s, dict)
    )


def _user_types(types: object) -> str | None:
    if not isinstance(types, list):
        return None
    return ", ".join(
        f"{t.get('name')} (weight {t.get('weight')})" for t in types if isinstance(t, dict)
    )


def _think_times(types: object) -> str | None:
    if not isinstance(types, list):
        return None
    return ", ".join(
        f"{t.get('name')}: {t.get('think_time') or 'none (arrivals start each task)'}"
        for t in types
        if isinstance(t, dict)
    )


def check_completed(baseline: RunFacts, current: RunFacts, *, allow_aborted: bool) -> list[str]:
    """Raise CompareError for a run that did not complete, or (allow_aborted) warn about it:
    an aborted run's figures describe part of a load, so any verdict on them misleads."""
    warnings = []
    for role, run in (("baseline", baseline), ("current", current)):
        why = run.not_completed
        if why is None:
            continue
        if not allow_aborted:
            raise CompareError(
                f"the {role} run {run.folder} {why} (verdict '{run.verdict}'); its figures are "
                "not those of a full run — compare complete runs, or pass --allow-aborted"
            )
        warnings.append(f"the {role} run {run.folder} {why}; comparing anyway (--allow-aborted)")
    return warnings


def differences(baseline: RunFacts, current: RunFacts) -> list[str]:
    """One warning per way the two runs differ (scenario, host, each fact of the load and of
    its generator): the comparison still runs, but a change it finds may come from there
    rather than from the build."""
    warnings = []
    if baseline.scenario != current.scenario:
        warnings.append(
            f"the runs ran different scenarios: {baseline.scenario!r} (baseline), "
            f"{current.scenario!r} (current)"
        )
    if baseline.host != current.host:
        warnings.append(
            f"the runs targeted different hosts: {baseline.host} (baseline), "
            f"{current.host} (current)"
        )
    warnings += [
        f"{_WHY[kind][0]} (baseline -> current): {label} {b} -> {c}; {_WHY[kind][1]}"
        for label, b, c, kind in _changed(baseline, current)
    ]
    for role, run, other in (("baseline", baseline, current), ("current", current, baseline)):
        unknown = _unrecorded(run, other)
        if unknown:
            warnings.append(
                f"the {role} run's summary.json does not record its {', '.join(unknown)} (an "
                "older loadkit wrote it): whether they match the other run's is not known"
            )
    return warnings


def _shared(baseline: RunFacts, current: RunFacts) -> list[tuple[Fact, Fact]]:
    """The facts both runs list, with each run's value."""
    # An open model's users and spawn rate are its pool's, set by max concurrency: that
    # fact's own line says so.
    both_open = baseline.open_model and current.open_model
    pairs = list(zip(_settings(baseline, both_open), _settings(current, both_open), strict=True))
    theirs = {fact.label: fact for fact in current.details}
    return pairs + [(fact, theirs[fact.label]) for fact in baseline.details if fact.label in theirs]


def _settings(run: RunFacts, both_open: bool) -> list[Fact]:
    values = [("users", run.users), ("spawn rate", run.spawn_rate)] if not both_open else []
    return [
        Fact(label, None if value is None else f"{value:g}")
        for label, value in [*values, ("duration", run.duration_s)]
    ]


def _changed(baseline: RunFacts, current: RunFacts) -> list[tuple[str, str, str, FactKind]]:
    return [
        (b.label, b.value or "-", c.value or "-", b.kind)
        for b, c in _shared(baseline, current)
        if b.value != c.value and (b.label in _SETTINGS or None not in (b.value, c.value))
    ]


_SETTINGS = ("users", "spawn rate", "duration")
"""Recorded by every loadkit: a value missing there is shown as "-", not as unrecorded."""


def _unrecorded(run: RunFacts, other: RunFacts) -> list[str]:
    return [
        b.label
        for b, c in _shared(run, other)
        if b.label not in _SETTINGS and b.value is None and c.value is not None
    ]
