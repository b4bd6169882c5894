"""The scenario language: a YAML file -> a validated `Scenario`.

`load_scenario(path)` is the way in: YAML with positions (`source`, PyYAML's errors in plain
words in `yaml_errors`) -> the pydantic model (`model`) -> checks that span several keys
(`checks`). Every problem becomes one line `file:line:col: key.path: what; how to fix`
(`messages`). The parts of the language have a module each: `durations`, `templates`,
`thresholds`, `shapes`, `datasets`, `certificates`; `schema` is the model as JSON Schema.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from loadkit.errors import Problem, ScenarioError

if TYPE_CHECKING:
    from loadkit.scenario.model import Scenario
    from loadkit.scenario.source import SourceDocument

__all__ = ["Scenario", "load_scenario", "validate_source"]


def __getattr__(name: str) -> object:
    # pydantic and the model take 0.2 s to import: a module that needs only a part of the
    # language (durations, for the CLI's options) or `loadkit run` on a cache hit
    # (`run_cache`), which starts Locust before it validates, must not pay for them.
    if name == "Scenario":
        from loadkit.scenario.model import Scenario

        return Scenario
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_scenario(path: str | Path, environ: Mapping[str, str] | None = None) -> Scenario:
    """Read, interpolate and validate a scenario. Raises ScenarioError (one line per problem)."""
    from loadkit.scenario.source import load_yaml, paused_gc

    with paused_gc():
        source = load_yaml(path, environ)
        return validate_source(source, environ)


def validate_source(source: SourceDocument, environ: Mapping[str, str] | None = None) -> Scenario:
    """Validate a parsed document. Raises ScenarioError (one line per problem)."""
    from loadkit.scenario.source import one_line_problems

    try:
        return _validate(source, environ)
    except ScenarioError as exc:  # keys and values quoted in a message may hold line breaks
        raise ScenarioError(one_line_problems(exc.problems)) from None


def _validate(source: SourceDocument, environ: Mapping[str, str] | None) -> Scenario:
    from pydantic import ValidationError

    from loadkit.scenario import checks, files, messages
    from loadkit.scenario.model import Scenario

    if not isinstance(source.data, dict):
        raise ScenarioError(
            [Problem(source.locate(()), "", "expected a mapping with name, host, load, users")]
        )
    try:
        scenario = Scenario.model_validate(source.data)
    except ValidationError as exc:
        raise ScenarioError(messages.problems_from(exc, source)) from None
    scenario._base_dir = files.resolved(Path(source.file)).parent
    scenario._secret_values = dict(source.secrets_used)
    problems = checks.allowed_folders(scenario, source)
    problems += checks.read_data(scenario, source)
    problems += checks.read_tls(scenario, source)
    problems += checks.cross_checks(scenario, source, os.environ if environ is None else environ)
    if problems:
        raise ScenarioError(problems)
    return scenario
