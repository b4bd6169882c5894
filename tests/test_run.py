"""`loadkit run` end to end: real Locust against the real target on 127.0.0.1."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, SRC, run_loadkit, write

from loadkit.demo_target.process import TargetProcess
from loadkit.exit_codes import ExitStatus

pytestmark = pytest.mark.e2e  # real Locust runs against real servers


def basic_scenario(host: str, *, duration: str = "3s", thresholds: str = "") -> str:
    return f"""\
name: basic
host: {host}
load: {{users: 8, spawn_rate: 8, duration: {duration}}}
defaults:
  think_time: {{constant: 0.02}}
  timeout: 5s
users:
  - name: citizen
    weight: 3
    tasks:
      - name: list cases
        weight: 3
        request: {{method: GET, url: /api/cases, params: {{region: "02"}}}}
        expect: {{status: 200}}
      - name: submit report
        request: {{method: POST, url: /api/reports, json: {{symptoms: [fever]}}}}
        expect: {{status: 201}}
  - name: officer
    tasks:
      - request: {{url: /api/stats}}
{thresholds}"""


def read_summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def csv_aggregated_count(folder: Path) -> int:
    with open(folder / "locust_stats.csv", newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    return int(rows["Aggregated"]["Request Count"])


def test_passing_run_exits_0_and_nothing_is_lost(target: TargetProcess, tmp_path: Path) -> None:
    scenario = write(
        tmp_path, basic_scenario(target.url, thresholds="thresholds: [p95 < 1s, error_rate < 1%]")
    )
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out))

    assert result.returncode == ExitStatus.PASS, result
    assert "Traceback" not in result.stdout + result.stderr
    assert "Verdict: PASS" in result.stdout
    assert f"Run folder: {out}" in result.stdout
    for name in (
        "scenario.yaml",
        "locustfile.py",
        "locust_stats.csv",
        "locust_stats_history.csv",
        "locust_failures.csv",
        "summary.json",
        "summary.md",
        "locust.log",
    ):
        assert (out / name).is_file(), name
    assert (out / "scenario.yaml").read_text() == scenario.read_text()

    summary = read_summary(out)
    seen = target.requests_seen()
    # Every request the server answered is in the verdict, and in the final CSV snapshot.
    assert summary["totals"]["requests"] == seen["total"] > 50
    assert csv_aggregated_count(out) == seen["total"]
    by_route = seen["by_route"]
    rows = {(r["method"], r["name"]): r for r in summary["requests"]}
    assert rows[("GET", "/api/cases")]["requests"] == by_route["GET /api/cases"]
    assert rows[("POST", "/api/reports")]["requests"] == by_route["POST /api/reports"]
    assert rows[("GET", "/api/stats")]["requests"] == by_route["GET /api/stats"]
    assert summary["verdict"] == "pass" and summary["exit_code"] == 0
    assert [t["passed"] for t in summary["thresholds"]] == [True, True]
    assert summary["run"]["users"] == 8 and summary["run"]["duration_s"] == 3
    assert 2.0 <= summary["run"]["elapsed_s"] <= 6.0
    assert "✅" in (out / "summary.md").read_text()


def test_percentiles_agree_with_locust_csv(target: TargetProcess, tmp_path: Path) -> None:
    scenario = write(tmp_path, basic_scenario(target.url, duration="2s"))
    out = tmp_path / "run"
    assert run_loadkit("run", str(scenario), "--out", str(out)).returncode == 0
    summary = read_summary(out)
    assert summary["times_from"] == "loadkit histograms (0.25% resolution)"
    with open(out / "locust_stats.csv", newline="") as handle:
        csv_rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(handle)}
    for row in summary["requests"]:
        theirs = csv_rows[(row["method"], row["name"])]
        assert row["requests"] == int(theirs["Request Count"])
        for ours, column in (("p50_ms", "50%"), ("p95_ms", "95%"), ("p99_ms", "99%")):
            locust = float(theirs[column])
            # Locust rounds to whole ms below 100 ms and 10 ms below 1 s; ours is within 0.25 %.
            bucket = 1.0 if locust < 100 else 10.0
            assert abs(row[ours] - locust) <= bucket, (row["name"], column, row[ours], locust)
        assert abs(row["max_ms"] - float(theirs["Max Response Time"])) <= 0.01 * row["max_ms"]


def test_failed_thresholds_exit_1_with_actuals(target: TargetProcess, tmp_path: Path) -> None:
    text = f"""\
name: slow
host: {target.url}
load: {{users: 4, spawn_rate: 4, duration: 2s}}
users:
  - name: u
    tasks:
      - request: {{url: "/api/delay?ms=40", name: slow}}
      - request: {{url: /api/status/503, name: broken}}
        expect: {{status: 200}}
thresholds:
  - p95 < 10ms
  - "broken: error_rate < 1%"
  - "slow: p50 < 1s"
"""
    out = tmp_path / "run"
    result = run_loadkit("run", str(write(tmp_path, text)), "--out", str(out))
    assert result.returncode == ExitStatus.THRESHOLDS_FAILED, result
    assert "Verdict: FAIL" in result.stdout
    summary = read_summary(out)
    assert summary["verdict"] == "fail" and summary["exit_code"] == 1
    p95, broken, slow = summary["thresholds"]
    assert not p95["passed"] and p95["actual"] >= 40
    assert not broken["passed"] and broken["actual"] == 1.0
    assert slow["passed"]
    failure = summary["failures"][0]
    assert failure["name"] == "broken"
    assert "expected status 200, got 503" in failure["error"]
    assert failure["occurrences"] == target.requests_seen()["by_route"]["GET /api/status/503"]
    assert "FAIL  p95 < 10ms" in result.stdout


def test_invalid_scenario_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "name: x\nhost: http://127.0.0.1:9\nload: {users: 1, spwan_rate: 1, duration: 1s}\n"
        "users: [{name: u, tasks: [{request: {url: /}}]}]\n",
    )
    reports = tmp_path / "reports"
    result = run_loadkit("run", str(bad), "--reports-dir", str(reports))
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stdout == ""
    assert result.stderr == (
        f"loadkit: error: {bad}:3:18: load.spwan_rate: unknown key 'spwan_rate'; did you mean "
        "'spawn_rate'? (allowed: users, spawn_rate, duration, stages, step, spike, arrival_rate, "
        "max_concurrency, spacing, max_backlog, stop_timeout)\n"
    )
    assert not reports.exists()  # nothing was started


def test_bad_command_line_is_one_line(tmp_path: Path) -> None:
    scenario = write(tmp_path, basic_scenario("http://127.0.0.1:9"))
    result = run_loadkit("run", str(scenario), "--duration", "soon")
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("loadkit: error: Invalid value for '-t' / '--duration'")
    missing = run_loadkit("run", str(tmp_path / "nope.yaml"))
    assert missing.returncode == ExitStatus.INVALID_INPUT
    assert (
        missing.stderr
        == f"loadkit: error: {tmp_path / 'nope.yaml'}:1:1: file not found; check the path\n"
    )


def test_unreachable_target_fails_and_still_reports(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    scenario = write(tmp_path, basic_scenario(f"http://127.0.0.1:{port}", duration="2s"))
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out))
    assert result.returncode == ExitStatus.THRESHOLDS_FAILED, result
    summary = read_summary(out)
    assert summary["totals"]["requests"] > 0
    assert summary["totals"]["failures"] == summary["totals"]["requests"]
    default = summary["thresholds"][0]
    assert default["expression"] == "error_rate < 1%" and default["default"] is True
    assert not default["passed"]
    assert any(
        "Connection refused" in f["error"] or "ConnectionRefused" in f["error"]
        for f in summary["failures"]
    )


def test_sigterm_aborts_but_writes_everything(target: TargetProcess, tmp_path: Path) -> None:
    scenario = write(tmp_path, basic_scenario(target.url, duration="60s"))
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "run", str(scenario), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    time.sleep(3.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - started < 15
    assert proc.returncode == ExitStatus.ABORTED, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert "Verdict: ABORTED" in stdout
    summary = read_summary(out)
    assert summary["verdict"] == "aborted" and summary["run"]["aborted"] is True
    assert summary["totals"]["requests"] > 0
    # Users finish their in-flight request before Locust stops, so nothing is lost here either.
    assert summary["totals"]["requests"] == target.requests_seen()["total"]
    assert csv_aggregated_count(out) == summary["totals"]["requests"]


def test_environment_overrides_and_flags_win(target: TargetProcess, tmp_path: Path) -> None:
    scenario = write(tmp_path, basic_scenario("http://127.0.0.1:9", duration="30s"))
    out = tmp_path / "run"
    env = {"LOADKIT_HOST": target.url, "LOADKIT_USERS": "2", "LOADKIT_DURATION": "2s"}
    result = run_loadkit("run", str(scenario), "--users", "3", "--out", str(out), env=env)
    assert result.returncode == 0, result
    run = read_summary(out)["run"]
    assert (run["host"], run["users"], run["duration_s"]) == (target.url, 3, 2)
    assert target.requests_seen()["total"] > 0


def test_default_run_folder_under_reports_dir(target: TargetProcess, tmp_path: Path) -> None:
    scenario = write(tmp_path, basic_scenario(target.url, duration="1s"))
    result = run_loadkit("run", str(scenario), "--reports-dir", str(tmp_path / "reports"))
    assert result.returncode == 0, result
    (folder,) = (tmp_path / "reports").iterdir()
    assert folder.name.startswith("basic-")
    assert (folder / "summary.json").is_file()
    again = run_loadkit("run", str(scenario), "--out", str(folder))
    assert again.returncode == ExitStatus.INVALID_INPUT
    assert "is not empty" in again.stderr


def test_live_progress_line_on_a_terminal(target: TargetProcess, tmp_path: Path) -> None:
    import pty

    scenario = write(tmp_path, basic_scenario(target.url, duration="3s"))
    primary, secondary = pty.openpty()
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "run", str(scenario), "--out", str(tmp_path / "r")],
        stdout=secondary,
        stderr=secondary,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(primary)
    screen = b"".join(chunks).decode()
    assert proc.returncode == 0, screen
    assert "\r\x1b[2K[0:0" in screen
    assert (
        " / 0:03] users " in screen and "req/s | p95 " in screen and "failures 0 (0.00%)" in screen
    )
    # req/s is the last complete second's own count, not a moving average.
    import re

    from loadkit.histogram import load_histograms

    shown = [float(v) for v in re.findall(r"\| ([\d,.]+) req/s", screen)]
    per_second = load_histograms(tmp_path / "r" / "histograms.json").requests_per_second()
    counts = {float(requests) for requests, _ in per_second.values()} | {0.0}
    assert shown and max(shown) > 0 and set(shown) <= counts, (shown, per_second)


def test_demo_runs_bundled_target_and_scenario(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    history = f"sqlite:///{tmp_path / 'history.db'}"
    result = run_loadkit("demo", "--duration", "3s", "--reports-dir", str(reports),
                         "--history", history, timeout=120)  # fmt: skip
    assert result.returncode == 0, result
    assert "loadkit: demo target listening on http://127.0.0.1:" in result.stdout
    (folder,) = reports.iterdir()
    summary = read_summary(folder)
    assert summary["scenario"]["name"] == "demo" and summary["verdict"] == "pass"
    # Recorded in the run history, as any run.
    assert summary["history"]["store"] == history
    assert f"History: run {summary['history']['run_id']} recorded in {history}" in result.stdout
    names = {r["name"] for r in summary["requests"]}
    assert {"/api/cases", "/api/reports", "/api/login", "/api/stats"} <= names


@pytest.mark.parametrize("extra", [[], ["--processes", "2"]], ids=["local", "processes"])
def test_plain_locust_runs_the_compiled_demo(
    target: TargetProcess, tmp_path: Path, extra: list[str]
) -> None:
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(REPO / "locustfiles" / "demo.py"),
        "--headless",
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "2s",
        "--host",
        target.url,
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert target.requests_seen()["total"] > 0


def test_a_name_that_starts_with_its_method_is_shown_once_and_status_as_text(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = write(
        tmp_path,
        f"""\
name: names
host: {target.url}
load: {{users: 2, spawn_rate: 2, duration: 2s}}
defaults: {{think_time: {{constant: 0.05}}}}
users:
  - name: u
    tasks:
      - request: {{method: POST, url: /api/reports, json: {{s: [x]}}, name: "POST reports/{{id}}"}}
        expect: {{status: "201"}}
      - request: {{url: /api/cases, name: "get cases"}}
        expect: {{status: "200, 204"}}
      - request: {{url: /api/stats, name: stats}}
        expect: {{status: "204"}}
""",
    )
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out))
    summary = read_summary(out)
    assert result.returncode == summary["exit_code"], result
    rows = {(r["method"], r["name"]): r for r in summary["requests"]}
    # "201" and "200, 204" as text are the codes: these passed; "204" failed every stats call.
    created = rows[("POST", "POST reports/{id}")]
    assert created["failures"] == 0 < created["requests"]
    assert rows[("GET", "get cases")]["failures"] == 0
    assert rows[("GET", "stats")]["failures"] == rows[("GET", "stats")]["requests"] > 0
    shown = {
        "terminal": result.stdout,
        "summary.md": (out / "summary.md").read_text(),
        "report.html": (out / "report.html").read_text(),
    }
    for where, text in shown.items():
        assert "POST reports/{id}" in text, where
        assert "POST POST" not in text, where
        assert "GET get cases" not in text and "get cases" in text, where
        assert "GET stats" in text, where


def test_a_signal_while_the_files_are_written_changes_nothing(
    target: TargetProcess, tmp_path: Path
) -> None:
    """SIGTERM right after Locust ended (and again while the report is drawn): the run is
    over, so the signal is noted, every file is written and the exit code is summary.json's."""
    from test_faults import harness_of

    scenario = write(tmp_path, basic_scenario(target.url, duration="2s"))
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "run", str(scenario), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    harness_of(proc).wait(timeout=60)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.4)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert "Traceback" not in stdout + stderr
    assert "received while the run's files are written; finishing them first" in stderr, stderr
    summary = read_summary(out)
    assert proc.returncode == summary["exit_code"] == ExitStatus.PASS, (stdout, stderr)
    assert summary["run"]["aborted"] is False  # the load had ended as planned
    for name in ("summary.md", "junit.xml", "report.html"):
        assert (out / name).is_file(), name
