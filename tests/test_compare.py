"""`loadkit compare`: same build passes, a build made 30 % slower fails (real runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_loadkit

from loadkit.compare import CompareError, Limit, parse_limit
from loadkit.exit_codes import ExitStatus
from loadkit.target import TargetProcess

SCENARIO = """\
name: build
host: http://127.0.0.1:9
load: {users: 10, spawn_rate: 50, duration: 6s}
max_regression: {p95: 10%, rps: -5%}
users:
  - name: u
    tasks:
      - request: {url: /api/work}
        expect: {status: 200}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two runs of one build (each request served in 20 ms) and one of a build 30 % slower."""
    base = tmp_path_factory.mktemp("compare")
    scenario = base / "build.yaml"
    scenario.write_text(SCENARIO)
    out: dict[str, Path] = {}
    for label, service_ms in (("first", 20), ("second", 20), ("slower", 26)):
        with TargetProcess("--max-concurrency", "1000", "--service-ms", str(service_ms)) as target:
            folder = base / label
            result = run_loadkit("run", str(scenario), "--host", target.url, "--out", str(folder))
            assert result.returncode == 0, result
            out[label] = folder
    return out


def test_two_runs_of_the_same_build_pass(runs: dict[str, Path], tmp_path: Path) -> None:
    report = tmp_path / "compare.json"
    result = run_loadkit(
        "compare", str(runs["first"]), str(runs["second"]),
        "--max-regression", "p95:10%", "--max-regression", "p99:10%",
        "--max-regression", "rps:-5%", "--max-regression", "error_rate:1%",
        "--max-regression", "apdex:2%", "--json", str(report),
    )
    assert result.returncode == ExitStatus.PASS, result
    assert result.stdout.rstrip().endswith("Verdict: PASS (no regression beyond noise)")
    rows = {row["metric"]: row for row in json.loads(report.read_text())["comparisons"]}
    assert set(rows) == {"p95", "p99", "rps", "error_rate", "apdex"}
    assert not any(row["regressed"] for row in rows.values())
    assert rows["rps"]["noise"] > 0


def test_a_build_30_percent_slower_fails(runs: dict[str, Path]) -> None:
    result = run_loadkit("compare", str(runs["first"]), str(runs["slower"]))
    assert result.returncode == ExitStatus.THRESHOLDS_FAILED, result
    assert "Verdict: REGRESSED (p95, rps)" in result.stdout  # limits from the scenario
    p95 = next(line for line in result.stdout.splitlines() if line.startswith("p95"))
    assert "REGRESSED" in p95


def test_bad_input_is_one_line(runs: dict[str, Path], tmp_path: Path) -> None:
    missing = run_loadkit(
        "compare", str(tmp_path), str(runs["first"]), "--max-regression", "p95:5%"
    )
    assert missing.returncode == ExitStatus.INVALID_INPUT
    assert missing.stderr == (
        f"loadkit: error: {tmp_path} has no histograms.json; is it a loadkit run folder?\n"
    )
    bad = run_loadkit(
        "compare", str(runs["first"]), str(runs["second"]), "--max-regression", "p96:5%"
    )
    assert bad.returncode == ExitStatus.INVALID_INPUT
    assert "unknown metric 'p96'" in bad.stderr and bad.stderr.count("\n") == 1


def test_parse_limit() -> None:
    assert parse_limit("p95:10%") == Limit("p95", 0.10)
    assert parse_limit("rps:-5%") == parse_limit("rps:5%") == Limit("rps", 0.05)
    assert parse_limit("rps:-5%").describe() == "-5%"
    assert parse_limit("error_rate:1%").describe() == "+1 points"
    for text in ("p95", "p95:10", "p95:ten%", "latency:5%"):
        with pytest.raises(CompareError):
            parse_limit(text)
