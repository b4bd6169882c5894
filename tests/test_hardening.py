"""Hardening (issue 10): no load outlives the command that started it; errors carry the right
exit code; hostile text cannot break a table. Real processes, signals sent at each phase."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import _SRC, run_loadkit

from loadkit.exit_codes import ExitStatus
from loadkit.target import TargetProcess

pytestmark = pytest.mark.e2e


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def steady(host: str, *, duration: str = "60s") -> str:
    return f"""\
name: steady
host: {host}
load: {{users: 4, spawn_rate: 20, duration: {duration}, stop_timeout: 1s}}
defaults: {{think_time: {{constant: 0.05}}}}
users:
  - name: u
    tasks:
      - request: {{url: /health}}
"""


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "loadkit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": _SRC},
    )


def harness_of(cli: subprocess.Popen[str]) -> psutil.Process:
    for _ in range(50):
        for child in psutil.Process(cli.pid).children():
            if "loadkit.harness" in " ".join(child.cmdline()):
                return child
        time.sleep(0.1)
    raise AssertionError("no harness process")


def load_stops(target: TargetProcess, within_s: float) -> bool:
    """True once the target sees no new request for 2 s, within `within_s` seconds."""
    deadline = time.monotonic() + within_s
    last = target.requests_seen()["total"]
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = target.requests_seen()["total"]
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= 2.0:
            return True
    return False


def test_a_killed_cli_leaves_no_load_behind(target: TargetProcess, tmp_path: Path) -> None:
    scenario = write(tmp_path, steady(target.url))
    cli = start_cli("run", str(scenario), "--out", str(tmp_path / "run"))
    harness = harness_of(cli)
    time.sleep(3.0)
    assert target.requests_seen()["total"] > 0
    cli.send_signal(signal.SIGKILL)
    cli.communicate(timeout=10)
    assert load_stops(target, within_s=10), "the harness kept loading the target"
    harness.wait(timeout=10)  # and it is gone


def test_workers_die_with_their_master(target: TargetProcess, tmp_path: Path) -> None:
    scenario = write(tmp_path, steady(target.url))
    cli = start_cli("run", str(scenario), "--processes", "2", "--out", str(tmp_path / "run"))
    harness = harness_of(cli)
    time.sleep(5.0)
    workers = harness.children()
    assert len(workers) == 2 and target.requests_seen()["total"] > 0
    harness.send_signal(signal.SIGKILL)
    stdout, stderr = cli.communicate(timeout=60)
    assert load_stops(target, within_s=6), "the workers kept loading the target"
    for worker in workers:
        worker.wait(timeout=5)
    assert cli.returncode == ExitStatus.INTERNAL_ERROR, (stdout, stderr)
    assert "Traceback" not in stdout + stderr


def test_sigterm_before_locust_starts_is_an_abort(tmp_path: Path) -> None:
    """A CI cancel while the scenario is still being read: exit 3, not 143."""
    rows = "\n".join(f"{i}" for i in range(300_000))
    (tmp_path / "big.csv").write_text("n\n" + rows + "\n")
    scenario = write(
        tmp_path,
        """\
name: slow-to-read
host: http://127.0.0.1:9
load: {users: 1, spawn_rate: 1, duration: 5s}
data:
  big: {file: big.csv}
users:
  - name: u
    data: big
    tasks:
      - request: {url: /health}
""",
    )
    cli = start_cli("run", str(scenario), "--out", str(tmp_path / "run"))
    time.sleep(0.6)
    cli.send_signal(signal.SIGTERM)
    stdout, stderr = cli.communicate(timeout=30)
    assert cli.returncode == ExitStatus.ABORTED, (cli.returncode, stdout, stderr)
    assert "Traceback" not in stdout + stderr


def test_an_unwritable_out_folder_is_invalid_input(tmp_path: Path) -> None:
    scenario = write(tmp_path, steady("http://127.0.0.1:9", duration="1s"))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run_loadkit("run", str(scenario), "--out", str(locked / "run"))
    finally:
        locked.chmod(0o700)
    if os.geteuid() == 0:  # root writes anywhere: use a path under a file instead
        (tmp_path / "file").write_text("x")
        result = run_loadkit("run", str(scenario), "--out", str(tmp_path / "file" / "run"))
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert result.stderr.startswith("loadkit: error: ") and len(result.stderr.splitlines()) == 1


def test_hostile_request_names_cannot_break_tables(target: TargetProcess, tmp_path: Path) -> None:
    scenario = write(
        tmp_path,
        f"""\
name: hostile
host: {target.url}
load: {{users: 1, spawn_rate: 1, duration: 2s}}
defaults: {{think_time: {{constant: 0.2}}}}
users:
  - name: u
    tasks:
      - request: {{url: /health, name: "a\\nb | <img src=x onerror=alert(1)>"}}
""",
    )
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out))
    assert result.returncode == ExitStatus.PASS, result
    table = result.stdout[result.stdout.index("Request") :].splitlines()
    assert any("a\\nb" in line for line in table)  # the newline is shown, not obeyed
    md = (out / "summary.md").read_text()
    assert "<img" not in md and "&lt;img" in md
    rows = [line for line in md.splitlines() if "a\\nb" in line]
    assert rows and all(line.count("|") - line.count("\\|") == 12 for line in rows), rows
    summary = json.loads((out / "summary.json").read_text())
    assert summary["requests"][0]["name"] == "a\nb | <img src=x onerror=alert(1)>"
