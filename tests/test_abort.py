"""Live thresholds (issue 15): `abort: true` stops a doomed run early, gracefully, with a
complete run folder and a verdict that names the threshold."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import run_loadkit
from test_summary_types import mismatches

from loadkit.demo_target.process import TargetProcess
from loadkit.exit_codes import ExitStatus
from loadkit.summary_types import RunInfo


@pytest.mark.e2e
def test_a_failing_abort_threshold_stops_the_run_after_its_grace(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"""\
name: doomed
host: {target.url}
load: {{users: 4, spawn_rate: 20, duration: 60s, stop_timeout: 1s}}
defaults: {{think_time: {{constant: 0.05}}}}
users:
  - name: citizen
    tasks:
      - request: {{url: /health}}
      - request: {{url: /api/status/500, name: broken}}
thresholds:
  - p95 < 1s
  - {{threshold: "error_rate < 1%", abort: true, after: 4s}}
""",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    started = time.monotonic()
    result = run_loadkit("run", str(scenario), "--out", str(out), timeout=120)
    took = time.monotonic() - started
    assert result.returncode == ExitStatus.THRESHOLDS_FAILED, result
    assert "Traceback" not in result.stdout + result.stderr
    assert took < 4 + 10 + 8, took  # the grace, then within 10 s (plus start-up), not 60 s
    summary = json.loads((out / "summary.json").read_text())
    aborted_by = summary["run"]["aborted_by"]
    assert mismatches(summary["run"], RunInfo, "run", set()) == []
    assert aborted_by["threshold"] == "error_rate < 1%" and aborted_by["at_s"] >= 4
    assert summary["reasons"][0].startswith("threshold 'error_rate < 1%' stopped the run")
    assert summary["run"]["aborted"] is False  # stopped by a threshold, not by a signal
    assert summary["run"]["elapsed_s"] < 20
    for name in ("report.html", "junit.xml", "summary.md", "histograms.json"):
        assert (out / name).is_file(), name
    assert summary["totals"]["requests"] == target.requests_seen()["total"]
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    case = next(c for c in suite.iter("testcase") if c.get("name") == "error_rate < 1%")
    failure = case.find("failure")
    assert failure is not None and "stopped the run" in (failure.get("message") or "")
    assert "stopped the run" in result.stdout


@pytest.mark.e2e
def test_an_abort_threshold_that_holds_lets_the_run_finish(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"""\
name: healthy
host: {target.url}
load: {{users: 2, spawn_rate: 20, duration: 4s}}
users:
  - name: citizen
    tasks:
      - request: {{url: /health}}
thresholds:
  - {{threshold: "error_rate < 1%", abort: true}}
""",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out))
    assert result.returncode == ExitStatus.PASS, result
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["aborted_by"] is None
    assert abs(summary["load"]["delivered_s"] - 4) <= 0.3


def test_the_live_line_names_failing_thresholds() -> None:
    from loadkit.report.console import progress_text

    line = {"elapsed": 12, "users": 4, "requests": 100, "failures": 50, "rps": 20.0,
            "p95_ms": 8.0, "failing": ["error_rate < 1%"]}  # fmt: skip
    assert progress_text(line, 60, 4).endswith("| FAILING: error_rate < 1%")
    assert "FAILING" not in progress_text({**line, "failing": []}, 60, 4)
