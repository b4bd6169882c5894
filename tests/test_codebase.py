"""The project's own promises about its code: lint-clean, type-checked, docs that stay true."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO


def _tool(name: str) -> list[str]:
    """The tool of the Python running the tests (not whatever is first on PATH: the suite
    must pass from a venv that is not activated)."""
    import importlib.util

    if importlib.util.find_spec(name) is None:
        pytest.fail(f"{name} is not installed; install the dev extra: pip install -e '.[dev]'")
    return [sys.executable, "-m", name]


def test_ruff_is_clean() -> None:
    command = [*_tool("ruff"), "check", "src", "tests", "benchmarks"]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_on_src() -> None:
    proc = subprocess.run([*_tool("mypy"), "src"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Quick start\n.*?```(?:sh|bash)\n(.*?)```", readme, re.S)
    assert block, "README needs a ## Quick start section with one sh code block"
    commands = [line for line in block.group(1).splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert "loadkit demo" in commands[0]
    assert commands[1] in (REPO / ".ci" / "run").read_text()


def test_reports_folder_is_ignored_but_documented() -> None:
    assert (REPO / "reports" / "README.md").is_file()
    assert "reports/*" in (REPO / ".gitignore").read_text()


def test_ci_builds_a_fresh_virtual_environment_before_the_test_command() -> None:
    """CI on a machine with yesterday's packages must still test today's releases."""
    script = (REPO / ".ci" / "run").read_text()
    venv = script.index("python3 -m venv")
    activate = script.index("/bin/activate")
    test_command = script.index('pip install -e ".[dev]" && python -m pytest')
    assert venv < activate < test_command
    assert "mktemp -d" in script  # new every run, never a cached one


def test_import_contracts_hold() -> None:
    """ARCHITECTURE.md's rules, as import-linter contracts in pyproject.toml."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.fail("import-linter is not installed; install the dev extra: pip install -e .[dev]")
    # This tree's src/, not whichever loadkit the venv has installed (another checkout's).
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([lint], cwd=REPO, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_the_cli_and_the_renderers_load_no_heavy_library() -> None:
    """What the contracts say, seen at run time: the CLI, the scenario language and the text
    renderers import neither Locust nor gevent (never monkey-patched) nor pandas/matplotlib, nor
    the run history's database libraries (loaded once a run is judged)."""
    code = (
        "import sys, loadkit.cli, loadkit.scenario, loadkit.runner, loadkit.summary, "
        "loadkit.report.html, loadkit.report.junit, loadkit.report.markdown; "
        "print(sorted(m for m in ('matplotlib', 'pandas', 'numpy', 'locust', 'gevent', "
        "'sqlalchemy', 'psycopg') "
        "if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
