"""Let plain `locust -f` run a scenario: compile it and define its classes in a module.

    LOADKIT_SCENARIO=scenarios/demo.yaml locust -f locustfiles/loadkit_bridge.py

Everything Locust offers then applies as usual: its web UI, master/worker, its CLI flags.
Thresholds are judged by `loadkit run`, not here.

It runs inside `locust -f`, not inside loadkit's CLI, so no `run_cli` maps its errors to exit
codes: a scenario it cannot read ends Locust's process here, with loadkit's code for invalid
input and a one-line error, instead of the traceback Locust shows for a locustfile that raises.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from loadkit.compiler import compile_scenario
from loadkit.errors import ScenarioError
from loadkit.exit_codes import ExitStatus
from loadkit.scenario import load_scenario

SCENARIO_ENV = "LOADKIT_SCENARIO"


def load_into(namespace: dict[str, Any], path: str | None = None) -> None:
    """Compile the scenario at `path` (default: $LOADKIT_SCENARIO) into `namespace`."""
    path = path or os.environ.get(SCENARIO_ENV)
    if not path:
        print(f"loadkit: error: set {SCENARIO_ENV} to the scenario file to run", file=sys.stderr)
        raise SystemExit(ExitStatus.INVALID_INPUT)
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(f"loadkit: error: {problem}", file=sys.stderr)
        raise SystemExit(ExitStatus.INVALID_INPUT) from None
    code = compile_scenario(scenario, path)
    # The generated module's own name, so tracebacks point at a readable place.
    exec(compile(code, f"<loadkit: {path}>", "exec"), namespace)
