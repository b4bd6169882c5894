"""`loadkit ui`: in a real browser (Playwright driving Debian's chromium), the form pre-filled
from the scenario, live Thresholds and Apdex tabs, a judged run folder per swarm; over HTTP
(Locust's own form API, POST only in 2.47), the numbers Locust's UI shows, and how each way of
ending a test is judged."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import NO_HISTORY_ENV, REPO, SRC, run_loadkit

from loadkit.demo_target.process import TargetProcess
from loadkit.exit_codes import ExitStatus
from loadkit.histogram import TRANSACTION_TYPE
from loadkit.masking import TOO_SHORT

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = "screenshots"
"""Under the test's tmp_path: what the browser showed, for a person to look at."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


class Output:
    """The lines a process prints, collected by a thread, searchable while it runs."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(target=lambda: self.lines.extend(stream), daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = re.search(pattern, line)
                if match:
                    return match.group(1)
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} in {self.lines!r}")


def test_a_swarm_in_the_web_ui_is_judged_into_its_own_run_folder(
    target: TargetProcess, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"""\
name: web-swarm
host: {target.url}
load: {{users: 3, spawn_rate: 3, duration: 20s}}
defaults: {{think_time: {{constant: 0.1}}}}
users:
  - name: citizen
    tasks:
      - request: {{url: /api/cases}}
thresholds: [p95 < 500ms, error_rate < 1%]
""",
        encoding="utf-8",
    )
    reports, shots = tmp_path / "reports", tmp_path / SCREENSHOTS
    shots.mkdir()
    port = free_port()
    history = tmp_path / "history.db"
    ui = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "ui", str(scenario), "--web-port", str(port),
         "--reports-dir", str(reports), "--history", f"sqlite:///{history}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**{k: v for k, v in os.environ.items() if k != NO_HISTORY_ENV}, "PYTHONPATH": SRC},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    output = Output(ui)
    try:
        wait_for(url + "/")
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                headless=True, executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url + "/")
            # The form opens with the scenario's load.
            values = {
                name: page.locator(f"input[name={name}]").input_value()
                for name in ("userCount", "spawnRate", "host", "runTime")
            }
            assert values == {
                "userCount": "3", "spawnRate": "3", "host": target.url, "runTime": "20",
            }  # fmt: skip
            page.screenshot(path=shots / "1-form.png")
            # No run time: this test ends when the person presses Stop (ended as planned; a
            # Stop before a run time ends is judged as stopped early, tested below).
            page.get_by_text("Advanced options").click()
            page.locator("input[name=runTime]").fill("")
            page.get_by_role("button", name="START").click()

            # Request counts rise in Locust's own statistics table...
            def aggregated_requests() -> int:
                text = page.get_by_role("table").first.inner_text()
                match = re.search(r"Aggregated\s+([\d,]+)", text)
                assert match, text
                return int(match.group(1).replace(",", ""))

            def changes(read: Callable[[], object], timeout_s: float = 20) -> bool:
                """The page refreshes every 2 s (slower on a busy machine): wait for it."""
                before = read()
                deadline = time.monotonic() + timeout_s
                while time.monotonic() < deadline:
                    page.wait_for_timeout(500)
                    if read() != before:
                        return True
                return False

            page.wait_for_timeout(3000)
            assert aggregated_requests() > 0
            first = aggregated_requests()
            assert changes(aggregated_requests)
            assert aggregated_requests() > first
            page.screenshot(path=shots / "2-statistics.png")
            # ...and so do the thresholds and Apdex tabs, judged on the fine histograms.
            page.get_by_role("tab", name="Thresholds").click()
            page.wait_for_timeout(2500)
            table = page.get_by_role("table").first.inner_text()
            assert "p95 < 500ms" in table and "error_rate < 1%" in table
            assert table.count("pass") == 2, table
            page.screenshot(path=shots / "3-thresholds.png")
            page.get_by_role("tab", name="Apdex").click()
            page.wait_for_timeout(2200)

            def apdex_table() -> str:
                return str(page.get_by_role("table").first.inner_text())

            assert changes(apdex_table)  # the request count moved on
            after = apdex_table()
            assert "All requests (T=500 ms)" in after and "Excellent" in after
            page.screenshot(path=shots / "4-apdex.png")
            page.get_by_role("button", name="STOP").click()
            folder = Path(output.wait_for(r"run folder: (\S+)"))
            # The History tab lists the test, recorded in the run history, with its verdict.
            run_id = output.wait_for(r"History: run (\w+) recorded")
            with urllib.request.urlopen(url + "/stats/requests") as response:
                tabs = {t["key"]: t["data"] for t in json.load(response)["extended_stats"]}
            [row] = tabs["loadkit-history"]
            assert (row["run_id"], row["verdict"]) == (run_id, "PASS")
            # Locust's page polls while a test runs: a reload shows the list now.
            page.reload()
            page.wait_for_timeout(1500)
            page.get_by_role("tab", name="History").click()
            page.wait_for_timeout(1000)
            history_table = page.get_by_role("table").first.inner_text()
            assert run_id in history_table and "PASS" in history_table, history_table
            assert f"/loadkit/history/{run_id}" in history_table
            page.screenshot(path=shots / "6-history.png")
            page.wait_for_timeout(1500)
            page.get_by_role("tab", name="Download Data").click()
            page.wait_for_timeout(800)
            page.screenshot(path=shots / "5-download.png")
            link = page.get_by_role("link", name="loadkit report of the test that ended last")
            assert link.get_attribute("href") == "/loadkit/reports/latest"
            browser.close()

        summary = json.loads((folder / "summary.json").read_text())
        assert summary["verdict"] == "pass", summary["reasons"]
        assert summary["run"]["duration_s"] >= 10  # as long as it ran
        assert summary["totals"]["requests"] == target.requests_seen()["total"] > 0
        assert (folder / "report.html").is_file() and (folder / "junit.xml").is_file()
        with urllib.request.urlopen(url + "/loadkit/reports/latest") as response:
            assert "web-swarm" in response.read().decode()
        with urllib.request.urlopen(f"{url}/loadkit/history/{run_id}") as response:
            assert '<section id="history">' in response.read().decode()
        assert run_loadkit("report", str(folder)).returncode == ExitStatus.PASS

        # A second swarm (through Locust's own form API) gets a second folder.
        form = f"user_count=2&spawn_rate=4&host={target.url}&run_time=3s".encode()
        urllib.request.urlopen(urllib.request.Request(url + "/swarm", data=form))
        second = Path(output.wait_for(r"run folder: (?!" + re.escape(str(folder)) + r")(\S+)"))
        assert second != folder and (second / "summary.json").is_file()
        second_summary = json.loads((second / "summary.json").read_text())
        assert second_summary["run"]["users"] == 2 and second_summary["run"]["duration_s"] == 3
        assert sorted(p.name for p in reports.iterdir()) == sorted([folder.name, second.name])
    finally:
        ui.send_signal(signal.SIGINT)
        ui.wait(timeout=30)
    stderr = ui.stderr.read() if ui.stderr else ""
    assert ui.returncode == ExitStatus.PASS, stderr
    assert "Traceback" not in "".join(output.lines) + stderr
    kept = REPO / "reports" / "webui-screenshots"  # gitignored: for a person after a local run
    shutil.copytree(shots, kept, dirs_exist_ok=True)


def test_the_ui_listens_beyond_loopback_only_behind_a_login(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: s\nhost: http://127.0.0.1:9\nload: {users: 1, spawn_rate: 1, duration: 5s}\n"
        "users:\n  - name: u\n    tasks:\n      - request: {url: /}\n"
    )
    result = run_loadkit("ui", str(scenario), "--web-host", "0.0.0.0", timeout=60)
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stderr.strip().startswith("loadkit: error: --web-host 0.0.0.0 exposes the web UI")
    assert "--web-login" in result.stderr


# -- over HTTP: Locust's form API, what its UI shows, how each end of a test is judged --------


class UiSession:
    """A real `loadkit ui` process on a free port, driven as Locust's frontend drives it."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url
        self.output = Output(proc)

    def post(self, path: str, form: dict[str, Any] | None = None) -> dict[str, Any]:
        data = urllib.parse.urlencode(form or {}).encode()
        with urllib.request.urlopen(urllib.request.Request(self.url + path, data=data)) as r:
            body = r.read().decode()
        return json.loads(body) if body.startswith("{") else {}

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def command(self, path: str) -> None:
        """/stop or /stats/reset as the frontend of this Locust sends it: a POST (2.47 allows
        nothing else), or a GET where an older Locust (2.42) allows only that."""
        try:
            self.post(path)
        except urllib.error.HTTPError as error:
            if error.code != 405:
                raise
            with urllib.request.urlopen(self.url + path) as response:
                response.read()

    def swarm(self, users: int, rate: float, host: str, run_time: str = "") -> None:
        form = {"user_count": users, "spawn_rate": rate, "host": host, "run_time": run_time}
        assert self.post("/swarm", form)["success"]

    def folder(self, after: tuple[Path, ...] = (), timeout: float = 60) -> Path:
        """The run folder of the next test that ends (printed with its verdict)."""
        known = "".join(rf"(?!{re.escape(str(f))}(?:\s|$))" for f in after)
        return Path(self.output.wait_for(rf"run folder: {known}(\S+)", timeout))

    def finish(self) -> tuple[int, str]:
        """Ctrl-C, as a person closes the UI: its exit code and everything it printed."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=60)
        stderr = self.proc.stderr.read() if self.proc.stderr else ""
        return code, "".join(self.output.lines) + stderr


@contextlib.contextmanager
def ui_session(scenario: Path, reports: Path) -> Iterator[UiSession]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "ui", str(scenario), "--web-port", str(port),
         "--reports-dir", str(reports)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )  # fmt: skip
    session = UiSession(proc, f"http://127.0.0.1:{port}")
    try:
        wait_for(session.url + "/")
        yield session
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def summary_of(folder: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((folder / "summary.json").read_text())
    return result


FLOW_SCENARIO = """\
name: web-numbers
host: {host}
load: {{users: 2, spawn_rate: 2, duration: 4s}}
defaults: {{think_time: {{constant: 0.05}}}}
users:
  - name: citizen
    tasks:
      - name: browse
        flow:
          - request: {{url: /api/cases}}
          - request: {{url: /api/cases/7}}
"""


def test_locusts_header_and_aggregated_row_count_requests_not_transactions(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(FLOW_SCENARIO.format(host=target.url), encoding="utf-8")
    with ui_session(scenario, tmp_path / "reports") as ui:
        ui.swarm(2, 2, target.url, "4s")
        folder = ui.folder()
        stats = ui.get("/stats/requests")  # the test has ended: Locust keeps its numbers
        code, output = ui.finish()
    served = target.requests_seen()["total"]
    aggregated = stats["stats"][-1]  # Locust's total, last
    assert aggregated["name"] == "Aggregated"
    rows = {(row["method"], row["name"]): row for row in stats["stats"][:-1]}
    transactions = rows[(TRANSACTION_TYPE, "browse")]["num_requests"]
    assert transactions > 10  # the flows ran, each a Locust row of its own...
    # ...and the Aggregated row and the header count the requests the target served.
    assert aggregated["num_requests"] == served == sum(
        row["num_requests"] for (method, _), row in rows.items() if method != TRANSACTION_TYPE
    )
    # The header's rate is the requests' alone: the whole test's rate (each row's count over
    # the same span) where Locust reports `current_rps` beside it (2.47), the rate of the last
    # seconds where it does not (2.42).
    field = "total_rps" if "current_rps" in stats else "current_rps"
    request_rps = sum(r[field] for (m, _), r in rows.items() if m != TRANSACTION_TYPE)
    assert stats["total_rps"] == aggregated[field] == pytest.approx(request_rps, rel=1e-9)
    assert stats["total_rps"] > 0
    # The run folder's Locust CSV says the same.
    with open(folder / "locust_stats.csv", newline="", encoding="utf-8") as handle:
        csv_rows = {row["Name"]: row for row in csv.DictReader(handle)}
    assert int(csv_rows["Aggregated"]["Request Count"]) == served
    summary = summary_of(folder)
    assert summary["verdict"] == "pass", summary["reasons"]
    assert summary["totals"]["requests"] == served
    # The generator's CPU, sampled each second of the test as `loadkit run` does.
    cpu = summary["load"]["generator_cpu"]
    assert [p["process"] for p in cpu] == ["local"] and cpu[0]["samples"] >= 3, cpu
    assert code == ExitStatus.PASS and "Traceback" not in output


SLOW_RAMP = """\
name: web-ends
host: {host}
load: {{users: 10, spawn_rate: 2, duration: 120s}}
defaults: {{think_time: {{constant: 0.2}}}}
users:
  - name: citizen
    tasks:
      - request: {{url: /api/cases}}
"""


def test_a_test_stopped_during_its_ramp_is_judged_on_what_it_delivered(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SLOW_RAMP.format(host=target.url), encoding="utf-8")
    with ui_session(scenario, tmp_path / "reports") as ui:
        ui.swarm(10, 2, target.url, "120s")
        time.sleep(2.2)
        ui.command("/stop")
        folder = ui.folder()
        code, output = ui.finish()
    summary = summary_of(folder)
    assert summary["verdict"] == "fail"
    assert summary["load"]["delivered"] is False
    reason = summary["reasons"][0]
    match = re.fullmatch(
        r"stopped by the user after (\d+) s of 120 s planned; (\d+) of 10 users reached", reason
    )
    assert match, summary["reasons"]
    assert 2 <= int(match.group(1)) <= 4 and 3 <= int(match.group(2)) <= 8
    assert summary["load"]["peak_users"] == int(match.group(2))
    assert "loadkit: test ended: FAIL" in output and reason in output
    assert summary["totals"]["requests"] == target.requests_seen()["total"] > 0
    assert code == ExitStatus.PASS  # the test had ended when the UI was closed


def test_each_swarm_and_reset_gets_its_folder_and_ctrl_c_aborts_the_running_test(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SLOW_RAMP.format(host=target.url), encoding="utf-8")
    reports = tmp_path / "reports"
    with ui_session(scenario, reports) as ui:
        ui.swarm(2, 10, target.url, "60s")
        time.sleep(2.5)
        ui.swarm(3, 10, target.url, "60s")  # while the first runs: it ends that test
        first = ui.folder()
        time.sleep(2.5)
        ui.command("/stats/reset")  # the second test's folder closes, it goes on in a third
        second = ui.folder(after=(first,))
        time.sleep(2.5)
        code, output = ui.finish()  # Ctrl-C while the third one runs
    third = ui.folder(after=(first, second), timeout=5)
    assert sorted(p.name for p in reports.iterdir()) == sorted(
        f.name for f in (first, second, third)
    )
    one, two, three = (summary_of(f) for f in (first, second, third))
    assert one["verdict"] == "fail" and one["run"]["users"] == 2, one["reasons"]
    assert re.fullmatch(r"ended by a new swarm after \d s of 60 s planned; 2 of 2 users reached",
                        one["reasons"][0]), one["reasons"]  # fmt: skip
    assert two["verdict"] == "fail" and two["run"]["users"] == 3, two["reasons"]
    assert re.fullmatch(r"ended by a reset of the statistics after \d s of 60 s planned; "
                        r"3 of 3 users reached", two["reasons"][0]), two["reasons"]  # fmt: skip
    assert three["verdict"] == "aborted" and three["run"]["aborted"] is True
    assert three["run"]["users"] == 3 and three["load"]["peak_users"] == 3
    assert json.loads((third / "locust_final.json").read_text())["ended_by"] == "interrupt"
    # Nothing measured is lost where one test ends and the next begins.
    served = target.requests_seen()["total"]
    assert sum(s["totals"]["requests"] for s in (one, two, three)) == served > 0
    assert code == ExitStatus.ABORTED, output
    assert "Traceback" not in output


def test_the_login_password_needs_the_secrets_length(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: s\nhost: http://127.0.0.1:9\nload: {users: 1, spawn_rate: 1, duration: 5s}\n"
        "users:\n  - name: u\n    tasks:\n      - request: {url: /}\n"
    )
    env = {"LOADKIT_WEB_USER": "admin", "LOADKIT_WEB_PASSWORD": "x"}
    result = run_loadkit("ui", str(scenario), "--web-login", env=env, timeout=60)
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stderr == f"loadkit: error: --web-login: LOADKIT_WEB_PASSWORD is {TOO_SHORT}\n"
