"""Faults during a run: the command killed, interrupted once or twice, the harness killed, a
folder that cannot be written, a disk that fills. No load outlives the command that started
it, every fault exits with its code and names its cause, what was measured is still reported.
Real processes, signals sent at each phase."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers import SRC, run_loadkit, write

from loadkit.demo_target.process import TargetProcess
from loadkit.exit_codes import ExitStatus

pytestmark = pytest.mark.e2e


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
        env={**os.environ, "PYTHONPATH": SRC},
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


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1.1 MB file system (tmpfs), unmounted at teardown: writes fail with ENOSPC."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1100k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave_bytes: int = 0) -> None:
    """Take the file system's free space, but `leave_bytes`."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(disk / "filler", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave_bytes))
        with contextlib.suppress(OSError):
            handle.write(b"\0" * 65536)  # and the last blocks, if leave_bytes is 0


def test_a_full_disk_is_no_pass(target: TargetProcess, small_disk: Path, tmp_path: Path) -> None:
    """Locust's own HTML report (~1 MB) fills a 1.1 MB disk: the verdict files that do not fit
    are named with the cause, and the run exits 4, never 0 without its junit.xml."""
    scenario = write(tmp_path, steady(target.url, duration="2s"))
    result = run_loadkit("run", str(scenario), "--out", str(small_disk / "run"))
    assert result.returncode == ExitStatus.INTERNAL_ERROR, result
    assert "No space left on device" in result.stderr, result
    missing = [
        name
        for name in ("summary.json", "summary.md", "junit.xml", "report.html")
        if not (small_disk / "run" / name).is_file()
    ]
    assert missing, "the disk was not full: this test proves nothing"
    for name in missing:
        assert name in result.stderr, (name, result.stderr)
    assert "Report:" not in result.stdout or (small_disk / "run" / "report.html").is_file()
    assert "Traceback" not in result.stdout + result.stderr


def test_a_disk_full_during_the_run_names_the_cause_and_the_real_span(
    target: TargetProcess, small_disk: Path, tmp_path: Path
) -> None:
    """The disk fills while Locust runs: no final snapshot. The numbers come from the periodic
    CSV over the run's real span (not the history CSV's), and the cause is named."""
    scenario = write(tmp_path, steady(target.url, duration="4s"))
    cli = start_cli("run", str(scenario), "--out", str(small_disk / "run"))
    harness_of(cli)
    deadline = time.monotonic() + 20
    while target.requests_seen()["total"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)  # a periodic stats CSV with numbers in it
    fill(small_disk)
    stdout, stderr = cli.communicate(timeout=90)
    assert not (small_disk / "run" / "locust_final.json").exists()
    assert cli.returncode == ExitStatus.INTERNAL_ERROR, (stdout, stderr)
    assert "run folder not writable: No space left on device" in stdout, stdout
    assert "Locust ended without its final statistics" not in stdout
    assert "could not write" in stderr and "summary.json" in stderr, stderr
    assert "Traceback" not in stdout + stderr


def first_request(target: TargetProcess) -> float:
    """When (time.monotonic) the target saw the run's first request."""
    deadline = time.monotonic() + 30
    while target.requests_seen()["total"] == 0:
        assert time.monotonic() < deadline, "no request reached the target"
        time.sleep(0.05)
    return time.monotonic()


def test_a_killed_harness_is_measured_over_the_real_span(
    target: TargetProcess, tmp_path: Path
) -> None:
    """SIGKILL of the harness 3.5 s into the load: no final snapshot. The req/s and the span
    are those of the run (not of Locust's history CSV, flushed every ~10 s), the cause is
    named, and the requests in flight are counted as interrupted."""
    scenario = write(tmp_path, steady(target.url))
    out = tmp_path / "run"
    cli = start_cli("run", str(scenario), "--out", str(out))
    harness = harness_of(cli)
    began = first_request(target)
    time.sleep(3.5)
    harness.send_signal(signal.SIGKILL)
    ran = time.monotonic() - began
    stdout, stderr = cli.communicate(timeout=60)
    assert cli.returncode == ExitStatus.INTERNAL_ERROR, (stdout, stderr)
    summary = json.loads((out / "summary.json").read_text())
    run = summary["run"]
    assert run["partial"].startswith("the Locust process was killed by SIGKILL"), run
    assert "up to 4 requests in flight were interrupted and are not counted" in run["partial"]
    assert ran - 1.5 <= run["elapsed_s"] <= ran + 0.5, (run["elapsed_s"], ran)
    totals = summary["totals"]
    assert abs(totals["rps"] - totals["requests"] / run["elapsed_s"]) < 0.05
    # Honest: what the stats CSV held is at most what the target served.
    assert 0 < totals["requests"] <= target.requests_seen()["total"]
    assert f"for {run['elapsed_s']:.1f}s" in stdout


def test_a_second_interrupt_counts_the_requests_in_flight(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = write(tmp_path, steady(target.url).replace("0.05", "0.01"))
    out = tmp_path / "run"
    cli = start_cli("run", str(scenario), "--out", str(out))
    harness_of(cli)
    began = first_request(target)
    time.sleep(3.0)
    cli.send_signal(signal.SIGINT)
    time.sleep(0.05)
    cli.send_signal(signal.SIGINT)
    ran = time.monotonic() - began
    stdout, stderr = cli.communicate(timeout=60)
    assert cli.returncode == ExitStatus.ABORTED, (stdout, stderr)
    summary = json.loads((out / "summary.json").read_text())
    run = summary["run"]
    killed = run["killed"] or ""
    assert killed.startswith("Locust was killed after a second interrupt; up to "), run
    assert "requests in flight were interrupted and are not counted" in run["killed"]
    if run["partial"] is not None:  # Locust had no time for its final snapshot
        assert ran - 1.5 <= run["elapsed_s"] <= ran + 0.5, (run["elapsed_s"], ran)
    assert "Traceback" not in stdout + stderr
