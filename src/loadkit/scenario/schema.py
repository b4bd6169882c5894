"""The JSON Schema of the scenario format, generated from the same model that validates.

Editors use it through a first line such as
`# yaml-language-server: $schema=../schema/scenario.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from loadkit.scenario import Scenario

SCHEMA_ID = "https://loadkit.invalid/schema/scenario.schema.json"


def scenario_schema() -> dict[str, Any]:
    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "loadkit scenario",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def scenario_schema_json() -> str:
    return json.dumps(scenario_schema(), indent=2, sort_keys=True) + "\n"
