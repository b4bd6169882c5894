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

from pydantic import ValidationError

from loadkit.errors import Problem, ScenarioError
from loadkit.scenario.model import Scenario
from loadkit.scenario.source import SourceDocument, load_yaml, one_line_problems, paused_gc

__all__ = ["Scenario", "load_scenario", "validate_source"]


def load_scenario(path: str | Path, environ: Mapping[str, str] | None = None) -> Scenario:
    """Read, interpolate and validate a scenario. Raises ScenarioError (one line per problem)."""
    with paused_gc():
        source = load_yaml(path, environ)
        return validate_source(source, environ)


def validate_source(source: SourceDocument, environ: Mapping[str, str] | None = None) -> Scenario:
    """Validate a parsed document. Raises ScenarioError (one line per problem)."""
    try:
        return _validate(source, environ)
    except ScenarioError as exc:  # keys and values quoted in a message may hold line breaks
        raise ScenarioError(one_line_problems(exc.problems)) from None


def _validate(source: SourceDocument, environ: Mapping[str, str] | None) -> Scenario:
    from loadkit.scenario import checks, messages  # they import the model, as this module does

    if not isinstance(source.data, dict):
        raise ScenarioError(
            [Problem(source.locate(()), "", "expected a mapping with name, host, load, users")]
        )
    try:
        scenario = Scenario.model_validate(source.data)
    except ValidationError as exc:
        raise ScenarioError(messages.problems_from(exc, source)) from None
    scenario._base_dir = Path(source.file).resolve().parent
    scenario._secret_values = dict(source.secrets_used)
    problems = checks.allowed_folders(scenario, source)
    problems += checks.read_data(scenario, source)
    problems += checks.read_tls(scenario, source)
    problems += checks.cross_checks(scenario, source, os.environ if environ is None else environ)
    if problems:
        raise ScenarioError(problems)
    return scenario
