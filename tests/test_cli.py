"""The CLI in-process: validate, usage errors, exit-code contract (no load is sent here)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from helpers import REPO, run_loadkit

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
        f"loadkit: error: {two}:2:1: invalid YAML: the file ends inside an unclosed '[' or '{{'; "
        "close it, or quote the value if the bracket is text",
    ]


def test_unknown_command_and_option_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["frobnicate"]) == ExitStatus.INVALID_INPUT
    assert capsys.readouterr().err == (
        "loadkit: error: No such command 'frobnicate'. (see 'loadkit --help')\n"
    )
    assert run_cli(["run", "x.yaml", "--users", "0"]) == ExitStatus.INVALID_INPUT
    assert capsys.readouterr().err == "loadkit: error: --users: must be at least 1 (got 0)\n"


BAD_VARIABLES = [
    ("LOADKIT_USERS", "abc", "not a whole number"),
    ("LOADKIT_USERS", "0", "must be at least 1"),
    ("LOADKIT_USERS", "2.5", "not a whole number"),
    ("LOADKIT_SPAWN_RATE", "fast", "not a number"),
    ("LOADKIT_SPAWN_RATE", "0", "must be a number above 0"),
    (
        "LOADKIT_DURATION",
        "5x",
        "invalid duration '5x'; write a duration like 500ms, 30s, 5m or 1h30m",
    ),
    ("LOADKIT_DURATION", "0.5s", "must be a whole number of seconds, at least 1s"),
    ("LOADKIT_PROCESSES", "-1", "must be at least 1"),
    (
        "LOADKIT_HOST",
        "localhost:8080",
        "not an http:// or https:// URL; write it like http://127.0.0.1:8080",
    ),
    ("LOADKIT_REPORTS_DIR", "{file}", "is a file, not a folder"),
]


@pytest.mark.parametrize(("variable", "value", "reason"), BAD_VARIABLES)
def test_a_bad_loadkit_variable_is_named_not_the_option(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    # The person set a variable, not `--users`: the error names what they set. It comes
    # before any load is sent (the target in the scenario does not exist).
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    value = value.format(file=a_file)
    result = run_loadkit("run", str(REPO / "scenarios" / "demo.yaml"), env={variable: value})
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert result.stderr == f"loadkit: error: {variable}={value!r}: {reason}\n"
    assert result.stdout == ""


def test_loadkit_host_is_named_by_ui_too() -> None:
    result = run_loadkit("ui", str(REPO / "scenarios" / "demo.yaml"), env={"LOADKIT_HOST": "x"})
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert result.stderr == (
        "loadkit: error: LOADKIT_HOST='x': not an http:// or https:// URL; "
        "write it like http://127.0.0.1:8080\n"
    )


def test_a_bad_option_is_named_even_when_a_variable_is_set() -> None:
    # The command line wins over the variable, so its value is the one that is wrong.
    result = run_loadkit(
        "run", str(REPO / "scenarios" / "demo.yaml"), "-u", "0", env={"LOADKIT_USERS": "abc"}
    )
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert result.stderr == "loadkit: error: --users: must be at least 1 (got 0)\n"


def test_every_problem_with_a_runs_options_is_said_at_once(tmp_path: Path) -> None:
    # One checked request: each bad value and each contradiction on a line of its own, before
    # any load (the scenario's target does not exist), a variable named as the person set it.
    result = run_loadkit(
        "run", str(REPO / "scenarios" / "demo.yaml"), "-u", "0", "--processes", "2",
        "--master", "--arrival-rate", "0/s", "--out", str(tmp_path / "out"),
        env={"LOADKIT_DURATION": "1.5s"},
    )  # fmt: skip
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert result.stderr.splitlines() == [
        "loadkit: error: --users: must be at least 1 (got 0)",
        "loadkit: error: --arrival-rate: must be above 0 (got 0)",
        "loadkit: error: LOADKIT_DURATION='1.5s': must be a whole number of seconds, at least 1s",
        "loadkit: error: --processes cannot go with --master: start `loadkit worker "
        "--processes N` on each worker machine instead",
    ]
    assert result.stdout == "" and not (tmp_path / "out").exists()


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--help"]) == ExitStatus.PASS
    assert "Exit codes: 0 pass, 1 thresholds failed" in capsys.readouterr().out
    assert run_cli(["--version"]) == ExitStatus.PASS
    assert "loadkit, version" in capsys.readouterr().out




def test_traceback_is_the_flag_click_parsed_not_a_word_in_the_arguments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An unexpected error: one line and exit 4, or with the group's --traceback the error
    itself; a file named --traceback after a command is not the flag."""
    from loadkit.cli import cli

    @cli.command("raise-for-test", hidden=True)
    @click.argument("word", required=False)
    def raise_for_test(word: str | None) -> None:
        raise RuntimeError("boom")

    try:
        assert run_cli(["raise-for-test"]) == ExitStatus.INTERNAL_ERROR
        assert capsys.readouterr().err == (
            "loadkit: internal error: RuntimeError: boom (run with --traceback for details)\n"
        )
        assert run_cli(["raise-for-test", "--", "--traceback"]) == ExitStatus.INTERNAL_ERROR
        with pytest.raises(RuntimeError, match="boom"):
            run_cli(["--traceback", "raise-for-test"])
    finally:
        cli.commands.pop("raise-for-test")
