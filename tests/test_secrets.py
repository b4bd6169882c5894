"""Secrets (issue 10): a secret's value is never written unmasked, whenever the run ends.

Real `loadkit run` processes against the bundled target. The scenario puts the secret in a
header, in a URL path and in expectations, and a `python:` task leaks it every way test code
can: in a request's statistics name and URL, a failure message, an exception, print, a log
record and a note on the `loadkit` logger. The CLI is then interrupted at each phase (SIGTERM
before Locust starts, mid-run and right after Locust exited, before loadkit's last masking
pass; SIGKILL mid-run) and every file of the run folder, and the terminal output, is searched
for the value.
"""

from __future__ import annotations

import csv
import html
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers import SRC, run_loadkit

from loadkit.demo_target.process import TargetProcess
from loadkit.exit_codes import ExitStatus
from loadkit.masking import Secrets, mask_folder

LEAKY_TASK = """\
import logging
import os


def leak(user):
    secret = os.environ["API_KEY"]
    user.client.get(f"/api/status/503?key={secret}")  # named by its URL, failed by Locust
    with user.client.get("/api/status/500", name=f"refused {secret}", catch_response=True) as r:
        r.failure(f"the target refused {secret}")
    print(f"printed {secret}", flush=True)
    logging.getLogger("leaky").warning("logged %s", secret)
    logging.getLogger("loadkit").warning("a note about %s", secret)
    raise RuntimeError(f"raised with {secret}")
"""


def leaky_scenario(host: str, duration: str) -> str:
    return f"""\
name: leaky
host: {host}
load: {{users: 2, spawn_rate: 10, duration: {duration}, stop_timeout: 1s}}
secrets: [API_KEY]
defaults:
  think_time: {{constant: 0.05}}
  headers: {{X-Api-Key: "${{API_KEY}}"}}
users:
  - name: u
    tasks:
      - request: {{url: "/api/cases/${{API_KEY}}"}}
        expect: {{status: 200, json: {{$.error: "${{API_KEY}}"}}}}
      - request: {{url: "/api/cases/${{API_KEY}}", name: case by key}}
        expect: {{status: 404, json: {{$.error: "${{API_KEY}}"}}, body_contains: "${{API_KEY}}"}}
      - python: leaky:leak
"""


@pytest.fixture
def recorder() -> Iterator[TargetProcess]:
    with TargetProcess(record=True) as target:
        yield target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def new_secret() -> str:
    return "sEcReT-" + secrets.token_hex(8)


def prepare(tmp_path: Path, host: str, duration: str) -> Path:
    (tmp_path / "leaky.py").write_text(LEAKY_TASK)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(leaky_scenario(host, duration))
    return scenario


def start_cli(scenario: Path, out: Path, secret: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADKIT_")}
    return subprocess.Popen(
        [sys.executable, "-m", "loadkit", "run", str(scenario), "--out", str(out), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONPATH": SRC, "API_KEY": secret},
    )


def harness_of(cli: subprocess.Popen[str]) -> psutil.Process:
    for _ in range(100):
        for child in psutil.Process(cli.pid).children():
            if "loadkit.harness" in " ".join(child.cmdline()):
                return child
        time.sleep(0.05)
    raise AssertionError("no harness process")


def wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def assert_nowhere(secret: str, out: Path, *outputs: str) -> list[Path]:
    """The secret is in no file below `out` (as bytes, as JSON would escape it) and in none
    of `outputs`; returns the files searched."""
    files = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    for path in files:
        data = path.read_bytes()
        assert secret.encode() not in data, f"{path.name} holds the secret"
    for text in outputs:
        assert secret not in text, text
    return files


@pytest.mark.parametrize("processes", ["1", "2"])
def test_every_leak_is_masked_in_a_complete_run(
    recorder: TargetProcess, tmp_path: Path, processes: str
) -> None:
    """Also with --processes 2: the workers mask what they record and print."""
    secret = new_secret()
    out = tmp_path / "run"
    cli = start_cli(prepare(tmp_path, recorder.url, "3s"), out, secret, "--processes", processes)
    stdout, stderr = cli.communicate(timeout=90)
    assert cli.returncode == ExitStatus.THRESHOLDS_FAILED, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    # The secret was sent where the scenario put it.
    log = recorder.requests_seen()["log"]
    assert any(e["headers"].get("x-api-key") == secret for e in log)
    assert any(e["path"] == f"/api/cases/{secret}" for e in log)
    assert any(e["query"] == f"key={secret}" for e in log)
    files = assert_nowhere(secret, out, stdout, stderr)
    assert {"locust.log", "locust_report.html", "report.html", "summary.json"} <= {
        p.name for p in files
    }
    # Each leak reached the files, masked.
    summary = json.loads((out / "summary.json").read_text())
    errors = {f["name"]: f["error"] for f in summary["failures"]}
    assert errors["refused ***"] == "the target refused ***"
    assert "/api/status/503?key=***" in errors
    assert errors["case by key"] == "check $.error == {{ env.API_KEY }}: got another value"
    assert "raised with ***" in (out / "locust_exceptions.csv").read_text()
    log_text = (out / "locust.log").read_text()
    assert "printed ***" in log_text and "logged ***" in log_text
    final = json.loads((out / "locust_final.json").read_text())
    assert "a note about ***" in final["notes"]


@pytest.mark.parametrize("processes", ["1", "2"])
def test_sigterm_right_after_locust_exits(
    recorder: TargetProcess, tmp_path: Path, processes: str
) -> None:
    """The CLI is stopped after Locust wrote everything and exited, before loadkit's last
    masking pass: what Locust, the harness and the workers wrote was masked when written.
    (The CLI is frozen with SIGSTOP the moment the final snapshot appears, so the window
    between Locust's exit and loadkit's own writing is hit every time, then killed.)"""
    secret = new_secret()
    out = tmp_path / "run"
    cli = start_cli(prepare(tmp_path, recorder.url, "2s"), out, secret, "--processes", processes)
    harness = harness_of(cli)
    wait_for(out / "locust_final.json")
    cli.send_signal(signal.SIGSTOP)
    deadline = time.monotonic() + 30  # Locust exits: a zombie, as its frozen parent can't reap it
    while harness.is_running() and harness.status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "Locust did not exit"
        time.sleep(0.05)
    cli.send_signal(signal.SIGKILL)
    stdout, stderr = cli.communicate(timeout=60)
    assert not (out / "report.html").exists(), "the run finished before the signal"
    files = assert_nowhere(secret, out, stdout, stderr)
    names = {p.name for p in files}
    assert {"locust.log", "locust_final.json", "histograms.json", "locust_report.html"} <= names
    assert "printed ***" in (out / "locust.log").read_text()
    assert "the target refused ***" in (out / "locust_failures.csv").read_text()


@pytest.mark.parametrize("phase", ["before Locust starts", "mid-run", "SIGKILL mid-run"])
def test_an_interrupted_run_leaves_no_secret(
    recorder: TargetProcess, tmp_path: Path, phase: str
) -> None:
    secret = new_secret()
    out = tmp_path / "run"
    cli = start_cli(prepare(tmp_path, recorder.url, "30s"), out, secret)
    harness = harness_of(cli)
    if phase == "before Locust starts":
        time.sleep(0.3)
        cli.send_signal(signal.SIGTERM)
    else:
        wait_for(out / "locust_stats.csv")  # Locust writes it once a second while running
        time.sleep(1.5)
        cli.send_signal(signal.SIGKILL if phase == "SIGKILL mid-run" else signal.SIGTERM)
    stdout, stderr = cli.communicate(timeout=60)
    harness.wait(timeout=30)  # a killed CLI's harness still writes, masked, then exits
    assert "Traceback" not in stdout + stderr
    files = assert_nowhere(secret, out, stdout, stderr)
    if phase != "before Locust starts":
        assert "locust.log" in {p.name for p in files}
        assert "printed ***" in (out / "locust.log").read_text()
    if phase == "SIGKILL mid-run":
        assert (out / "locust_final.json").exists()


def test_a_secret_too_short_to_mask_is_refused(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "name: short\n"
        "host: http://127.0.0.1:9\n"
        "load: {users: 1, spawn_rate: 1, duration: 1s}\n"
        "users:\n"
        "  - name: u\n"
        "    tasks:\n"
        '      - request: {url: /api/me, headers: {X-Api-Key: "${secret:API_KEY}"}}\n'
    )
    result = run_loadkit("run", str(scenario), "--out", str(tmp_path / "run"), env={"API_KEY": "1"})
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stderr.splitlines() == [
        f"loadkit: error: {scenario}:7:54: users[0].tasks[0].request.headers.X-Api-Key: secret "
        "environment variable API_KEY is shorter than 8 characters, too short to be masked "
        "safely in logs and reports; use a longer value"
    ]
    assert not (tmp_path / "run").exists()


def test_a_secret_inside_numbers_and_hosts_leaves_files_parseable(
    recorder: TargetProcess, tmp_path: Path
) -> None:
    """Secrets of 8 characters that occur in every timestamp (the current Unix time's first
    digits) and in the host: JSON is masked only inside strings, CSV only inside text cells,
    and charts are never touched."""
    in_numbers = str(int(time.time()))[:8]
    in_host = "127.0.0."
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(f"""\
name: numbers
host: {recorder.url}
load: {{users: 2, spawn_rate: 10, duration: 3s}}
defaults:
  think_time: {{constant: 0.05}}
  headers: {{X-Api-Key: "${{secret:IN_NUMBERS}}", X-Host: "${{secret:IN_HOST}}"}}
thresholds: [p95 < 5s]
users:
  - name: u
    tasks:
      - request: {{url: /api/stats}}
""")
    out = tmp_path / "run"
    env = {"IN_NUMBERS": in_numbers, "IN_HOST": in_host}
    result = run_loadkit("run", str(scenario), "--out", str(out), env=env)
    assert result.returncode == ExitStatus.PASS, result
    assert f"http://***1:{recorder.url.rsplit(':', 1)[1]}" in result.stdout
    for path in out.rglob("*.json"):
        document = json.loads(path.read_text())  # still JSON
        assert in_host not in json.dumps(document), path.name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["host"].startswith("http://***1:")
    assert in_numbers in str(summary["run"]["started_at"]), "a timestamp kept its digits"
    history = list(csv.DictReader((out / "locust_stats_history.csv").open(newline="")))
    assert history and all(int(row["Timestamp"]) > 1_700_000_000 for row in history)
    charts = sorted((out / "charts").glob("*.png"))
    assert charts
    import matplotlib.pyplot as plt

    for chart in charts:
        assert plt.imread(chart).size > 0  # decodable


def test_a_failed_check_against_a_captured_token(recorder: TargetProcess, tmp_path: Path) -> None:
    """Every login returns a new token, never the one captured before: the check fails on
    every request, names the template, shows no token, and makes one failure row."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(f"""\
name: tokens
host: {recorder.url}
load: {{users: 3, spawn_rate: 10, duration: 3s}}
defaults: {{think_time: {{constant: 0.05}}}}
users:
  - name: u
    tasks:
      - flow:
          - request: {{method: POST, url: /api/login, json: {{username: "u{{{{ user_id }}}}", password: x}}}}
            capture: {{token: $.token}}
          - request: {{url: /api/me, auth: {{bearer: "{{{{ token }}}}"}}}}
          - request: {{method: POST, url: /api/login, name: login again, json: {{username: a, password: x}}}}
            expect: {{json: {{$.token: "{{{{ token }}}}"}}}}
""")  # noqa: E501
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out))
    assert result.returncode == ExitStatus.THRESHOLDS_FAILED, result
    tokens = {
        e["headers"]["authorization"].removeprefix("Bearer ")
        for e in recorder.requests_seen()["log"]
        if e["path"] == "/api/me"
    }
    assert len(tokens) > 5
    summary = json.loads((out / "summary.json").read_text())
    rows = [f for f in summary["failures"] if f["name"] == "login again"]
    assert len(rows) == 1 and rows[0]["occurrences"] > 5, rows
    assert rows[0]["error"] == "check $.token == {{ token }}: got another value"
    for token in tokens:
        assert_nowhere(token, out, result.stdout, result.stderr)


# ----------------------------------------------------------------- the last pass, on its own


def test_the_last_pass_keeps_every_file_whole(tmp_path: Path) -> None:
    secret = "17123456"  # also the first digits of the timestamps below
    summary = {"host": f"http://{secret}.example", "started_at": 1712345678.5, "n": [17123456]}
    (tmp_path / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    compact = {"series": [{"name": f"/a/{secret}", "seconds": [[1712345678, [1, 2]]]}]}
    (tmp_path / "histograms.json").write_text(json.dumps(compact, separators=(",", ":")))
    (tmp_path / "numbers_only.json").write_text(json.dumps({"t": 1712345678}, indent=4))
    (tmp_path / "locust_failures.csv").write_bytes(
        b'Method,Name,Error,Occurrences\r\nGET,"/a/17123456, b",refused 17123456,17123456\r\n'
    )
    png = b"\x89PNG\r\n\x1a\n" + secret.encode() + b"\x00\xff"
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "rps.png").write_bytes(png)
    (tmp_path / "locust.log").write_text(f"sent {secret}\n")
    changed = mask_folder(tmp_path, [secret])
    assert sorted(p.name for p in changed) == [
        "histograms.json",
        "locust.log",
        "locust_failures.csv",
        "summary.json",
    ]
    assert (tmp_path / "summary.json").read_text() == json.dumps(
        {"host": "http://***.example", "started_at": 1712345678.5, "n": [17123456]}, indent=2
    ) + "\n"
    assert (tmp_path / "histograms.json").read_text() == json.dumps(
        {"series": [{"name": "/a/***", "seconds": [[1712345678, [1, 2]]]}]},
        separators=(",", ":"),
    )
    rows = list(csv.reader((tmp_path / "locust_failures.csv").open(newline="")))
    assert rows[1] == ["GET", "/a/***, b", "refused ***", "17123456"]  # a number stays
    assert (tmp_path / "charts" / "rps.png").read_bytes() == png
    assert (tmp_path / "locust.log").read_text() == "sent ***\n"


def test_secrets_are_masked_as_json_and_html_write_them() -> None:
    secret = 'pa"ss\\wörd<1>'
    masks = Secrets([secret, "", "sEcReT-long-one"])
    assert masks.mask(json.dumps({"k": secret})) == '{"k": "***"}'
    assert masks.mask(f"<td>{html.escape(secret)}</td>") == "<td>***</td>"
    assert masks.mask("x sEcReT-long-one y") == "x *** y"
    assert not Secrets(["", ""])


@pytest.mark.parametrize("named", [True, False])
def test_a_remote_worker_masks_what_it_prints_when_told_the_secrets_names(
    recorder: TargetProcess, tmp_path: Path, named: bool
) -> None:
    """`loadkit worker --secret-env API_KEY`: the worker's own output (its terminal, a pod's
    log) has the secret masked; without the flag the same leaks reach it (the control)."""
    secret = new_secret()
    scenario = prepare(tmp_path, recorder.url, "3s")
    port = str(free_port())
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADKIT_")}
    env.update(PYTHONPATH=os.pathsep.join([SRC, str(tmp_path)]), API_KEY=secret)
    master = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "run", str(scenario), "--master", "--master-port",
         port, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "worker", "--master-host", "127.0.0.1",
         "--master-port", port, *(["--secret-env", "API_KEY"] if named else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    stdout, stderr = master.communicate(timeout=90)
    worker_out, worker_err = worker.communicate(timeout=30)
    assert master.returncode == ExitStatus.THRESHOLDS_FAILED, (stdout, stderr)
    assert_nowhere(secret, out, stdout, stderr)  # the master masks what workers report
    printed = worker_out + worker_err
    assert "printed" in printed and "raised with" in printed, printed
    if named:
        assert secret not in printed, printed
        assert "printed ***" in printed and "raised with ***" in printed
    else:
        assert f"printed {secret}" in printed


def test_a_worker_refuses_a_secret_it_cannot_mask() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADKIT_")}
    env.update(PYTHONPATH=SRC, SHORT_KEY="1234567")
    env.pop("NO_SUCH_KEY", None)
    for name, expected in (
        ("NO_SUCH_KEY", "--secret-env NO_SUCH_KEY: no such environment variable here"),
        ("SHORT_KEY", "--secret-env SHORT_KEY: shorter than 8 characters"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "loadkit", "worker", "--master-host", "127.0.0.1",
             "--secret-env", name],
            capture_output=True, text=True, env=env, timeout=30,
        )  # fmt: skip
        assert proc.returncode == ExitStatus.INVALID_INPUT, proc
        (line,) = proc.stderr.strip().splitlines()
        assert line.startswith(f"loadkit: error: {expected}"), line
        assert "1234567" not in proc.stderr


# --- checking a file needs no secret and no run-stage variable -------------------------------

UNSET = "LK_UNSET_"  # prefix of the variables these tests leave unset (run_loadkit drops none)
PASSWORD = "pw-" + "x" * 12


def login_scenario(tmp_path: Path, host: str = f"${{{UNSET}HOST}}") -> Path:
    """An imported scenario's shape: the password in four places, a host set in the run stage
    only, a token read from the environment."""
    scenario = tmp_path / "imported.yaml"
    scenario.write_text(
        "name: imported\n"
        f"host: {host}\n"
        "load: {users: 2, spawn_rate: 2, duration: 2s}\n"
        f"secrets: [{UNSET}PASSWORD]\n"
        "users:\n"
        "  - name: u\n"
        "    on_start:\n"
        "      - request: {method: POST, url: /api/login,\n"
        f'          json: {{username: alice, password: "${{{UNSET}PASSWORD}}"}}}}\n'
        "    tasks:\n"
        "      - request: {url: /api/cases, name: first,\n"
        f'          headers: {{X-P: "${{{UNSET}PASSWORD}}"}}}}\n'
        f'      - request: {{url: /api/cases, headers: {{X-P: "${{{UNSET}PASSWORD}}"}}}}\n'
        "      - request: {url: /api/stats,\n"
        f'          headers: {{X-P: "${{{UNSET}PASSWORD}}", X-T: "${{{UNSET}TOKEN}}"}}}}\n'
    )
    return scenario


def no_unset_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(UNSET)}


def test_validate_needs_no_secret_and_no_run_stage_variable(tmp_path: Path) -> None:
    scenario = login_scenario(tmp_path)
    result = run_loadkit("validate", str(scenario))
    assert result.returncode == ExitStatus.PASS, result
    assert result.stdout == f"{scenario}: ok (imported: 1 user type(s), 3 task(s))\n"
    # One warning per variable, not per use; the host is not checked without its value.
    assert result.stderr.splitlines() == [
        f"loadkit: warning: {scenario}:2:7: host: environment variable {UNSET}HOST is not set: "
        f"host not checked; a run needs it: export it before the run, or give a default: "
        f"${{{UNSET}HOST:-value}}",
        f"loadkit: warning: {scenario}:9:45: users[0].on_start[0].request.json.password: secret "
        f"environment variable {UNSET}PASSWORD is not set (4 uses): checked without it; a run "
        "needs it: export it before the run",
        f"loadkit: warning: {scenario}:15:55: users[0].tasks[2].request.headers.X-T: environment "
        f"variable {UNSET}TOKEN is not set: checked without it; a run needs it: export it before "
        f"the run, or give a default: ${{{UNSET}TOKEN:-value}}",
    ]
    strict = run_loadkit("validate", "--strict", str(scenario))
    assert strict.returncode == ExitStatus.INVALID_INPUT
    assert strict.stdout == ""
    assert strict.stderr == result.stderr.replace("loadkit: warning: ", "loadkit: error: ")


def test_validate_without_values_still_checks_the_rest_and_a_host_that_is_set(
    tmp_path: Path,
) -> None:
    scenario = login_scenario(tmp_path)
    text = scenario.read_text().replace("users: 2,", "users: 2, spwan_rate: 1,")
    scenario.write_text(text)
    result = run_loadkit("validate", str(scenario))
    assert result.returncode == ExitStatus.INVALID_INPUT
    # The file's own problem, alone: what is not set is no error here.
    (error,) = result.stderr.splitlines()
    assert error.startswith(
        f"loadkit: error: {scenario}:3:18: load.spwan_rate: unknown key 'spwan_rate'; did you "
        "mean 'spawn_rate'?"
    )
    result = run_loadkit(
        "validate", str(login_scenario(tmp_path)), env={f"{UNSET}HOST": "ftp://127.0.0.1"}
    )
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stderr.splitlines() == [
        f"loadkit: error: {scenario}:2:7: host: expected a URL like http://127.0.0.1:8080, got "
        "'ftp://127.0.0.1'"
    ]


def test_compile_needs_no_secret_and_writes_none(tmp_path: Path) -> None:
    scenario = login_scenario(tmp_path)
    # The host is written into the locustfile: compile needs it (one line says so).
    result = run_loadkit("compile", str(scenario))
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stderr.splitlines() == [
        f"loadkit: error: {scenario}:2:7: host: environment variable {UNSET}HOST is not set; "
        f"export it or give a default: ${{{UNSET}HOST:-value}}; compile writes this value into "
        "the locustfile"
    ]
    host = {f"{UNSET}HOST": "http://127.0.0.1:9"}
    without = run_loadkit("compile", str(scenario), env=host)
    assert without.returncode == ExitStatus.PASS, without
    assert without.stderr.splitlines() == [
        f"loadkit: note: {scenario}: the locustfile reads the secret(s) {UNSET}PASSWORD from the "
        "environment when it runs (not set here)",
        f"loadkit: note: {scenario}: the locustfile reads the variable(s) {UNSET}TOKEN from the "
        "environment when it runs (not set here)",
    ]
    # What the secret's value changes: nothing (it is read when the locustfile runs).
    with_secret = run_loadkit(
        "compile", str(scenario), env={**host, f"{UNSET}PASSWORD": PASSWORD}
    )
    assert with_secret.returncode == ExitStatus.PASS
    assert with_secret.stdout == without.stdout
    assert f"os.environ['{UNSET}PASSWORD']" in without.stdout and PASSWORD not in without.stdout


@pytest.mark.e2e
def test_a_run_without_the_secret_fails_in_one_line_and_the_compiled_file_runs(
    recorder: TargetProcess, tmp_path: Path
) -> None:
    scenario = login_scenario(tmp_path, host=recorder.url)
    token = {f"{UNSET}TOKEN": "token-1"}
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out), env=token)
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stderr.splitlines() == [
        f"loadkit: error: {scenario}:9:45: users[0].on_start[0].request.json.password: secret "
        f"environment variable {UNSET}PASSWORD is not set (4 uses); export it before the run"
    ]
    assert not out.exists() and recorder.requests_seen()["total"] == 0
    # compile, without the secret; the locustfile, run by plain Locust with it, sends it.
    compiled = run_loadkit("compile", str(scenario), "-o", str(tmp_path / "lf.py"), env=token)
    assert compiled.returncode == ExitStatus.PASS, compiled
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(tmp_path / "lf.py"), "--headless",
         "-u", "2", "-r", "2", "-t", "2s"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**no_unset_env(), **token, f"{UNSET}PASSWORD": PASSWORD},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    log = recorder.requests_seen()["log"]
    logins = [e for e in log if e["path"] == "/api/login"]
    assert len(logins) == 2 and all(json.loads(e["body"])["password"] == PASSWORD for e in logins)
    stats = [e for e in log if e["path"] == "/api/stats"]
    assert stats and all(
        e["headers"].get("x-p") == PASSWORD and e["headers"].get("x-t") == "token-1" for e in stats
    )


@pytest.mark.e2e
def test_a_run_with_host_needs_no_host_variable(recorder: TargetProcess, tmp_path: Path) -> None:
    scenario = login_scenario(tmp_path)
    env = {f"{UNSET}TOKEN": "token-1", f"{UNSET}PASSWORD": PASSWORD}
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--host", recorder.url, "--out", str(out), env=env)
    assert result.returncode == ExitStatus.PASS, result
    assert recorder.requests_seen()["by_route"]["POST /api/login"] == 2
    # The run's locustfile names the host it was given, nothing that stood in for the variable.
    assert f"host = '{recorder.url}'" in (out / "locustfile.py").read_text()
    # Without --host the run needs the host's variable: one line.
    result = run_loadkit("run", str(scenario), "--out", str(tmp_path / "run2"), env=env)
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stderr.splitlines() == [
        f"loadkit: error: {scenario}:2:7: host: environment variable {UNSET}HOST is not set; "
        f"export it or give a default: ${{{UNSET}HOST:-value}}"
    ]
