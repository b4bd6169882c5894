"""The scenario language: a YAML file -> a validated `Scenario`.

`load_scenario(path)` is the way in: YAML with positions (`source`, PyYAML's errors in plain
words in `yaml_errors`) -> the pydantic model (`model`) -> checks that span several keys
(`checks`). Every problem becomes one line `file:line:col: key.path: what; how to fix`
(`messages`). The model's own parts: `load`, `tasks`, `fields`. The parts of the language have
a module each: `durations`, `templates`, `thresholds`, `shapes`, `datasets`, `certificates`;
`schema` is the model as JSON Schema.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadkit.errors import Problem, ScenarioError

if TYPE_CHECKING:
    from loadkit.scenario.model import Scenario
    from loadkit.scenario.source import KeyPath, SourceDocument

__all__ = ["Scenario", "load_scenario", "validate_source"]


def __getattr__(name: str) -> object:
    # pydantic and the model take 0.2 s to import: a module that needs only a part of the
    # language (durations, for the CLI's options) or `loadkit run` on a cache hit
    # (`run_cache`), which starts Locust before it validates, must not pay for them.
    if name == "Scenario":
        from loadkit.scenario.model import Scenario

        return Scenario
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_scenario(
    path: str | Path, environ: Mapping[str, str] | None = None, *, allow_unset: bool = False
) -> Scenario:
    """Read, interpolate and validate a scenario. Raises ScenarioError (one line per problem).

    `allow_unset`: a variable or secret that is not set is no problem here; the scenario's
    `unset` lists its uses (fields that could not be checked without it included)."""
    from loadkit.scenario.source import load_yaml, paused_gc

    with paused_gc():
        source = load_yaml(path, environ, allow_unset=allow_unset)
        return validate_source(source, environ)


def validate_source(source: SourceDocument, environ: Mapping[str, str] | None = None) -> Scenario:
    """Validate a parsed document. Raises ScenarioError (one line per problem)."""
    from loadkit.scenario.source import one_line_problems

    try:
        return _validate(source, environ)
    except ScenarioError as exc:  # keys and values quoted in a message may hold line breaks
        raise ScenarioError(one_line_problems(exc.problems)) from None


def _validate(source: SourceDocument, environ: Mapping[str, str] | None) -> Scenario:
    from loadkit.scenario import checks, files

    if not isinstance(source.data, dict):
        raise ScenarioError(
            [Problem(source.locate(()), "", "expected a mapping with name, host, load, users")]
        )
    scenario, stood_in = _model(source)
    scenario._base_dir = files.resolved(Path(source.file)).parent
    scenario._secret_values = dict(source.secrets_used)
    problems = checks.allowed_folders(scenario, source)
    problems += checks.read_data(scenario, source)
    problems += checks.read_tls(scenario, source)
    problems += checks.cross_checks(scenario, source, os.environ if environ is None else environ)
    # What the checks say of a value read from a variable that is not set (a stand-in, or a
    # data file named by one) is not about the file: that field is not checked.
    from loadkit.scenario.source import format_key_path

    unset_keys = {format_key_path(u.path) for u in source.unset}
    unchecked = {format_key_path(path) for path in stood_in}
    unchecked |= {p.key_path for p in problems if p.key_path in unset_keys}
    problems = [p for p in problems if p.key_path not in unchecked]
    if problems:
        raise ScenarioError(problems)
    scenario._unset = [
        dataclasses.replace(u, unchecked=u.key_path in unchecked) for u in source.unset
    ]
    return scenario


_STAND_INS: tuple[Any, ...] = ("http://unset.invalid", 1)
"""Values tried, in order, in a field that refuses `{{ env.NAME }}` (the reading of a variable
that is not set): a URL for a host, a number for a count or a duration. The field itself goes
unchecked (`UnsetValue.unchecked`); the rest of the file is checked around it."""


def _model(source: SourceDocument) -> tuple[Scenario, set[KeyPath]]:
    """The model of the document, and the fields that hold a stand-in for a value not set.
    Raises ScenarioError for what is wrong with the file itself."""
    from pydantic import ValidationError

    from loadkit.scenario import messages
    from loadkit.scenario.model import Scenario
    from loadkit.scenario.source import format_key_path

    unset_paths = {u.path for u in source.unset}
    data = source.data
    tried: dict[KeyPath, int] = {}  # the stand-in in place, by its index
    while True:
        try:
            return Scenario.model_validate(data), set(tried)
        except ValidationError as exc:
            refused = messages.refused_paths(exc, data)
            if not refused or refused - unset_paths:
                # The file's own problems: what a field says of a variable's reading
                # (`{{ env.NAME }}`) or of its stand-in is not one of them.
                everything = messages.problems_from(exc, source)
                skipped = {format_key_path(path) for path in unset_paths}
                own = [p for p in everything if p.key_path not in skipped]
                raise ScenarioError(own or everything) from None
            stuck = sorted(
                (p for p in refused if tried.get(p, -1) + 1 == len(_STAND_INS)), key=str
            )
            if stuck:
                raise ScenarioError([_cannot_check(source, path) for path in stuck]) from None
            for path in refused:
                tried[path] = tried.get(path, -1) + 1
                data = _replaced(data, path, _STAND_INS[tried[path]])


def _cannot_check(source: SourceDocument, path: KeyPath) -> Problem:
    from loadkit.scenario.source import format_key_path

    name = next(u.name for u in source.unset if u.path == path)
    return Problem(
        source.locate(path),
        format_key_path(path),
        f"environment variable {name} is not set and this value cannot be checked without "
        f"it; export it, or give a default: ${{{name}:-value}}",
    )


def _replaced(data: Any, path: KeyPath, value: Any) -> Any:
    """`data` with the value at `path` replaced; containers along the path copied, not changed."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[head] = _replaced(data[head], rest, value)  # type: ignore[index]
    return copy
