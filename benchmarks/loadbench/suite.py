"""One benchmark run in a workspace: start the target, say what machine this is, compile the
scenarios the chosen cases need, then run each case; a case that cannot be measured is
recorded and the next one runs."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cases import TITLES, Result, run_case, scenarios_to_compile
from .errors import BenchmarkError
from .workspace import Workspace


@dataclass
class Measured:
    facts: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Result] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def environment_facts(ws: Workspace) -> dict[str, Any]:
    options = ws.options
    locust_version = subprocess.run(
        [sys.executable, "-c", "import importlib.metadata as m; print(m.version('locust'))"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "python": platform.python_version(),
        "locust": locust_version,
        "nginx": ws.nginx.version,
        "pinned": ws.pin,
        "users": options.users,
        "rounds": options.rounds,
        "seconds": options.seconds,
        "warmup": options.warmup,
    }


def run_cases(ws: Workspace, load_before: tuple[float, float, float]) -> Measured:
    """Every case `--cases` names, in that order. Raises BenchmarkError only when nothing can
    be measured (nginx did not start, a scenario did not compile)."""
    options, nginx = ws.options, ws.nginx
    measured = Measured()
    nginx.start()
    if "head-to-head" in options.method:
        ws.nginx_b.start()
    facts = measured.facts = environment_facts(ws)
    print(
        f"loadkit benchmark: {facts['cpus']} CPUs ({facts['cpu_model']}), Python "
        f"{facts['python']}, Locust {facts['locust']}, nginx {facts['nginx']}"
        + (" on core 0, generators on core 1" if ws.pin else " (not pinned)")
        + f"\n{options.users} users, {options.rounds} round(s) of {options.seconds:g} s after "
        f"{options.warmup:g} s warm-up; load average before: "
        + " ".join(f"{x:.2f}" for x in load_before),
        flush=True,
    )
    ws.compile(scenarios_to_compile(options.case_list), nginx.url)
    for case in options.case_list:
        print(f"\n[{case}] {TITLES[case]}", flush=True)
        try:
            run_case(ws, case, measured.results)
        except BenchmarkError as exc:
            measured.errors[case] = str(exc)
            print(f"  error: {exc}", flush=True)
    return measured
