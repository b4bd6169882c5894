"""The cases, one module per family, and which function runs which case.

  wrk, sweep       calibration.py  no target
  0, 1, 2, 3, 7    throughput.py   A/B load per core, head to head and alone
  10               metrics.py      what 50 Prometheus scrapes/s cost loadkit run (A/B as above)
  4 (and 4u)       startup.py      command -> first request
  5                report.py       summary + report of a big run folder (soak_folder.py makes it)
  6                memory.py       RSS growth of a long run
"""

from __future__ import annotations

from typing import Any

from ..workspace import Workspace
from .calibration import case_sweep, case_wrk
from .memory import Memory, case_memory
from .metrics import case_metrics
from .report import ReportFigures, case_report
from .startup import Startup, case_startup
from .throughput import THROUGHPUT_CASES, Comparison, case_throughput

__all__ = [
    "TITLES",
    "Comparison",
    "Memory",
    "ReportFigures",
    "Result",
    "Startup",
    "run_case",
    "scenarios_to_compile",
]

Result = Comparison | Startup | ReportFigures | Memory | dict[str, Any]
"""What a case leaves in the results, by key ("4u": case 4 on any core)."""

TITLES = {
    "wrk": "calibration: wrk (C, 1 thread, 32 connections) against the same nginx",
    "0": "A/A noise: hand-written FastHttpUser GET vs itself",
    "1": "compiled GET (locust -f) vs hand-written FastHttpUser GET",
    "2": "compiled POST+template+checks+capture vs hand-written FastHttpUser",
    "3": "compiled GET (loadkit default) vs hand-written HttpUser GET",
    "4": "start-up to first request: loadkit run vs locust -f (same file)",
    "5": "summary + report of a run with a big history",
    "6": "RSS of the Locust process in a long loadkit run at full speed",
    "7": "loadkit run GET (harness) vs hand-written FastHttpUser GET",
    "8": "compiled GET in loadkit's harness vs the same file in plain Locust (same arguments)",
    "9": "loadkit run GET vs its compiled file in plain Locust (same arguments)",
    "10": "loadkit run GET scraped 50 times/s (--metrics-port) vs not scraped",
    "sweep": "users needed to saturate one core (hand-written FastHttpUser GET)",
}


def scenarios_to_compile(cases: list[str]) -> dict[str, str]:
    """The scenarios (key -> file in benchmarks/scenarios/) the chosen cases run as compiled
    locustfiles."""
    needs = set(cases)
    wanted = {"get": "get.yaml"} if needs & {"1", "3", "4", "8", "9"} else {}
    if "2" in needs:
        wanted["post"] = "post.yaml"
    return wanted


def run_case(ws: Workspace, case: str, results: dict[str, Result]) -> None:
    """Run one case; its figures go into `results` as soon as each is measured (case 4 keeps
    its pinned figures when the any-core ones fail)."""
    if case in THROUGHPUT_CASES:
        results[case] = case_throughput(ws, case)
    elif case == "10":
        results[case] = case_metrics(ws)
    elif case == "4":
        for mode in ws.options.startup_modes:
            if mode == "any-cpu":
                print("  the same, with both commands free to use every core:")
            key = "4" if mode == "pinned" else "4u"
            results[key] = case_startup(ws, pinned=mode == "pinned")
    elif case == "5":
        results[case] = case_report(ws)
    elif case == "6":
        results[case] = case_memory(ws)
    elif case == "wrk":
        calibration = case_wrk(ws)
        if calibration is not None:
            results[case] = calibration
    elif case == "sweep":
        results[case] = case_sweep(ws)
