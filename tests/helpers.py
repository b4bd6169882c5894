"""What tests share besides fixtures: the repository's paths, the real CLI in a subprocess,
a scenario file written for a test. Tests import from here, never from conftest (pytest's file
for fixtures and hooks).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SRC = str(Path(__file__).resolve().parent.parent / "src")
"""The working tree's src/: tests run it even when loadkit is not (editable-)installed."""
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from loadkit.demo_target.process import TargetProcess  # noqa: E402

TargetFactory = Callable[..., TargetProcess]


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    """A scenario (or any file) written for a test."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


REPO = Path(__file__).resolve().parent.parent
NO_HISTORY_ENV = "LOADKIT_NO_HISTORY"
"""Set for every loadkit the suite starts, unless the test names a history (`--history`)."""


class CliResult:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"CliResult({self.returncode}, stdout={self.stdout!r}, stderr={self.stderr!r})"


def run_loadkit(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 90
) -> CliResult:
    """Run the real `loadkit` CLI in a subprocess, exactly as a user or a CI stage does."""
    import os
    import subprocess

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LOADKIT_")}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, full_env.get("PYTHONPATH", "")) if p)
    # The run cache of the test session, not the person's own (~/.cache/loadkit).
    full_env["LOADKIT_CACHE_DIR"] = _session_cache_dir()
    # The run history is on by default (reports/history.db): the suite's runs stay out of the
    # person's. A test that checks the history names one (--history or LOADKIT_HISTORY).
    if "--history" not in args and "LOADKIT_HISTORY" not in (env or {}):
        full_env[NO_HISTORY_ENV] = "1"
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "loadkit", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def run_scenario(
    tmp_path: Path, text: str, timeout: float = 150
) -> tuple[CliResult, dict[str, Any], Path]:
    """`loadkit run` of the scenario `text` into tmp_path/run: its result (no traceback in
    it), its summary.json and its run folder."""
    import json

    scenario = write(tmp_path, text)
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out), timeout=timeout)
    assert "Traceback" not in result.stdout + result.stderr, result
    return result, json.loads((out / "summary.json").read_text()), out


def _session_cache_dir() -> str:
    import atexit
    import shutil
    import tempfile

    global _CACHE_DIR
    if _CACHE_DIR is None:
        _CACHE_DIR = tempfile.mkdtemp(prefix="loadkit-test-cache-")
        atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)
    return _CACHE_DIR


_CACHE_DIR: str | None = None
