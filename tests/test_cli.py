"""The CLI in-process: validate, usage errors, exit-code contract (no load is sent here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from loadkit.cli import run_cli
from loadkit.exit_codes import ExitStatus


def test_exit_codes_are_the_documented_contract() -> None:
    assert [(s.name, int(s)) for s in ExitStatus] == [
        ("PASS", 0),
        ("THRESHOLDS_FAILED", 1),
        ("INVALID_INPUT", 2),
        ("ABORTED", 3),
        ("INTERNAL_ERROR", 4),
    ]
    readme = (REPO / "README.md").read_text()
    for status in ExitStatus:
        assert f"| {int(status)} | `{status.name}` |" in readme


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["validate", str(REPO / "scenarios" / "demo.yaml")]) == ExitStatus.PASS
    assert "demo.yaml: ok (demo: 2 user type(s), 5 task(s))" in capsys.readouterr().out


def test_validate_reports_every_problem_of_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = tmp_path / "one.yaml"
    one.write_text("name: x\n")
    two = tmp_path / "two.yaml"
    two.write_text("name: [\n")
    assert run_cli(["validate", str(one), str(two)]) == ExitStatus.INVALID_INPUT
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"loadkit: error: {one}:1:1: required key 'host' is missing",
        f"loadkit: error: {one}:1:1: required key 'load' is missing",
        f"loadkit: error: {two}:2:1: invalid YAML: expected the node content, but found "
        "'<stream end>' (while parsing a flow node at line 2); check indentation and quoting",
    ]


def test_unknown_command_and_option_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["frobnicate"]) == ExitStatus.INVALID_INPUT
    assert capsys.readouterr().err == (
        "loadkit: error: No such command 'frobnicate'. (see 'loadkit --help')\n"
    )
    assert run_cli(["run", "x.yaml", "--users", "0"]) == ExitStatus.INVALID_INPUT
    err = capsys.readouterr().err
    assert err.startswith("loadkit: error: Invalid value for '-u' / '--users'")
    assert err.count("\n") == 1


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--help"]) == ExitStatus.PASS
    assert "Exit codes: 0 pass, 1 thresholds failed" in capsys.readouterr().out
    assert run_cli(["--version"]) == ExitStatus.PASS
    assert "loadkit, version" in capsys.readouterr().out
