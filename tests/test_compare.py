"""`loadkit compare`: same build passes, a build made 30 % slower fails (real runs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import REPO, run_loadkit

from loadkit.compare import (
    CompareError,
    Limit,
    RunFacts,
    check_completed,
    differences,
    limits_from_scenario,
    parse_limit,
)
from loadkit.demo_target.process import TargetProcess
from loadkit.exit_codes import ExitStatus

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
    for labels, service_ms in ((("first", "second"), 20), (("slower",), 26)):
        with TargetProcess("--max-concurrency", "1000", "--service-ms", str(service_ms)) as target:
            for label in labels:
                folder = base / label
                result = run_loadkit(
                    "run", str(scenario), "--host", target.url, "--out", str(folder)
                )
                assert result.returncode == 0, result
                out[label] = folder
    return out


def copy_run(folder: Path, to: Path, **changes: object) -> Path:
    """A copy of a run folder whose summary.json says something else (`run_users=20` sets
    summary["run"]["users"]; `verdict="aborted"` sets summary["verdict"])."""
    shutil.copytree(folder, to)
    summary = json.loads((to / "summary.json").read_text())
    for key, value in changes.items():
        section, _, field = key.partition("_")
        if field and isinstance(summary.get(section), dict):
            summary[section][field] = value
        else:
            summary[key] = value
    (to / "summary.json").write_text(json.dumps(summary))
    return to


def test_two_runs_of_the_same_build_pass(runs: dict[str, Path], tmp_path: Path) -> None:
    report = tmp_path / "compare.json"
    result = run_loadkit(
        "compare",
        str(runs["first"]),
        str(runs["second"]),
        "--max-regression",
        "p95:10%",
        "--max-regression",
        "p99:10%",
        "--max-regression",
        "rps:-5%",
        "--max-regression",
        "error_rate:1%",
        "--max-regression",
        "apdex:2%",
        "--json",
        str(report),
    )
    assert result.returncode == ExitStatus.PASS, result
    assert result.stdout.rstrip().endswith("Verdict: PASS (no regression beyond noise)")
    assert result.stderr == ""  # same scenario, host and load: nothing to warn about
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
        f"loadkit: error: {tmp_path} has no summary.json; is it a loadkit run folder?\n"
    )
    (tmp_path / "summary.json").write_text(json.dumps({"run": {}, "verdict": "pass"}))
    no_data = run_loadkit(
        "compare", str(tmp_path), str(runs["first"]), "--max-regression", "p95:5%"
    )
    assert no_data.returncode == ExitStatus.INVALID_INPUT
    assert no_data.stderr.endswith(
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


# ------------------------------------------------------------------ comparable runs only


def test_different_scenario_host_and_load_are_warned(runs: dict[str, Path], tmp_path: Path) -> None:
    other = copy_run(
        runs["first"],
        tmp_path / "other",
        scenario_name="other",
        run_host="http://127.0.0.1:1",
        run_users=20,
        run_duration_s=10,
    )
    result = run_loadkit("compare", str(runs["first"]), str(other))
    assert result.returncode == ExitStatus.PASS, result  # the same figures: no regression
    host = json.loads((runs["first"] / "summary.json").read_text())["run"]["host"]
    assert result.stderr.splitlines() == [
        "loadkit: warning: the runs ran different scenarios: 'build' (baseline), 'other' (current)",
        f"loadkit: warning: the runs targeted different hosts: {host} (baseline), "
        "http://127.0.0.1:1 (current)",
        "loadkit: warning: the runs ran different loads (baseline -> current): "
        "users 10 -> 20, duration 6 -> 10; a different load changes the figures by itself",
    ]


def test_an_aborted_run_is_refused_unless_allowed(runs: dict[str, Path], tmp_path: Path) -> None:
    aborted = copy_run(runs["second"], tmp_path / "aborted", run_aborted=True, verdict="aborted")
    refused = run_loadkit("compare", str(runs["first"]), str(aborted))
    assert refused.returncode == ExitStatus.INVALID_INPUT, refused
    assert refused.stderr == (
        f"loadkit: error: the current run {aborted} was aborted (verdict 'aborted'); its "
        "figures are not those of a full run — compare complete runs, or pass --allow-aborted\n"
    )
    assert refused.stdout == ""
    allowed = run_loadkit("compare", str(runs["first"]), str(aborted), "--allow-aborted")
    assert allowed.returncode == ExitStatus.PASS, allowed
    assert allowed.stderr == (
        f"loadkit: warning: the current run {aborted} was aborted; comparing anyway "
        "(--allow-aborted)\n"
    )


def test_a_baseline_that_ended_in_an_error_is_refused(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    broken = copy_run(runs["first"], tmp_path / "broken", verdict="error")
    result = run_loadkit("compare", str(broken), str(runs["second"]))
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert result.stderr == (
        f"loadkit: error: the baseline run {broken} ended in an error (verdict 'error'); its "
        "figures are not those of a full run — compare complete runs, or pass --allow-aborted\n"
    )


def test_a_real_aborted_run_folder_is_refused(runs: dict[str, Path]) -> None:
    # A run stopped before any request: its summary says so; compare refuses before it
    # would find that the folder has no histograms.
    aborted = REPO / "tests" / "fixtures" / "report" / "aborted_no_requests"
    result = run_loadkit("compare", str(runs["first"]), str(aborted), "--max-regression", "p95:5%")
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert result.stderr.startswith(f"loadkit: error: the current run {aborted} was aborted")
    assert result.stderr.count("\n") == 1


def facts(**changes: object) -> RunFacts:
    base: dict[str, object] = {
        "folder": Path("run"),
        "scenario": "s",
        "host": "http://h",
        "users": 10,
        "spawn_rate": 5.0,
        "duration_s": 60,
        "verdict": "pass",
        "aborted": False,
    }
    return RunFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_differences() -> None:
    assert differences(facts(), facts()) == []
    assert differences(facts(), facts(users=10.0, duration_s=60.0)) == []
    assert differences(facts(), facts(spawn_rate=2.5)) == [
        "the runs ran different loads (baseline -> current): spawn rate 5 -> 2.5; "
        "a different load changes the figures by itself"
    ]
    assert differences(facts(), facts(users=None)) == [
        "the runs ran different loads (baseline -> current): users 10 -> -; "
        "a different load changes the figures by itself"
    ]


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"aborted": True}, "was aborted"),
        ({"verdict": "aborted"}, "was aborted"),
        ({"verdict": "error"}, "ended in an error"),
        ({"verdict": "fail"}, None),  # thresholds failed: a complete run, fit to compare
    ],
)
def test_which_runs_did_not_complete(changes: dict[str, object], why: str | None) -> None:
    run = facts(**changes)
    assert run.not_completed == why
    if why is None:
        assert check_completed(facts(), run, allow_aborted=False) == []
    else:
        with pytest.raises(CompareError, match=f"^the current run run {why} "):
            check_completed(facts(), run, allow_aborted=False)
        assert check_completed(facts(), run, allow_aborted=True) == [
            f"the current run run {why}; comparing anyway (--allow-aborted)"
        ]


# ------------------------------------------------------- max_regression from the scenario


def limits_of(tmp_path: Path, scenario: str) -> list[Limit]:
    (tmp_path / "scenario.yaml").write_text(scenario)
    return limits_from_scenario(tmp_path)


def test_max_regression_is_read_as_the_scenario_model_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOADKIT_TEST_P95", "25%")
    text = SCENARIO.replace("{p95: 10%, rps: -5%}", "\n  p95: ${LOADKIT_TEST_P95}\n  apdex: '2%'")
    assert limits_of(tmp_path, text) == [Limit("p95", 0.25), Limit("apdex", 0.02)]


def test_max_regression_needs_no_data_files_next_to_the_run(tmp_path: Path) -> None:
    # The run folder holds scenario.yaml but not the CSV it names; the limits still count.
    text = SCENARIO + "data:\n  people: {file: people.csv}\n"
    assert limits_of(tmp_path, text) == [Limit("p95", 0.10), Limit("rps", 0.05)]


def test_a_scenario_without_max_regression_has_no_limits(tmp_path: Path) -> None:
    assert limits_of(tmp_path, SCENARIO.replace("max_regression: {p95: 10%, rps: -5%}\n", "")) == []
    assert limits_from_scenario(tmp_path / "nowhere") == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "{p95: 10%, rps: -5%}",
            "{p96: 10%}",
            "max_regression: unknown metric 'p96' in 'p96:10%' (metrics: p50, p90, p95, p99, "
            "avg, rps, error_rate, apdex)",
        ),
        (
            "{p95: 10%, rps: -5%}",
            "\n  p95: ${LOADKIT_TEST_UNSET_LIMIT}",
            "max_regression.p95: environment variable LOADKIT_TEST_UNSET_LIMIT is not set; "
            "export it or give a default: ${LOADKIT_TEST_UNSET_LIMIT:-value}",
        ),
        (
            "{p95: 10%, rps: -5%}",
            "{p95: 10%",
            "invalid YAML: a missing ',' or '}' in the '{' opened at line 4; separate its items "
            "with ', ' and close it with '}'",
        ),
    ],
)
def test_an_unreadable_max_regression_is_one_line(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(CompareError) as info:
        limits_of(tmp_path, SCENARIO.replace(old, new))
    text = str(info.value)
    assert text.startswith(f"cannot read max_regression: {tmp_path / 'scenario.yaml'}:")
    assert text.endswith(f" {message}; fix it, or give the limits with --max-regression")
    assert "\n" not in text
