"""`loadkit ui` in a real browser (Playwright driving Debian's chromium): the form pre-filled
from the scenario, live Thresholds and Apdex tabs, a judged run folder per swarm."""

from __future__ import annotations

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
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import _SRC, REPO, run_loadkit

from loadkit.exit_codes import ExitStatus
from loadkit.target import TargetProcess

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
    ui = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "ui", str(scenario), "--web-port", str(port),
         "--reports-dir", str(reports)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": _SRC},
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
            page.wait_for_timeout(1500)
            page.get_by_role("tab", name="Download Data").click()
            page.wait_for_timeout(800)
            page.screenshot(path=shots / "5-download.png")
            link = page.get_by_role("link", name="loadkit report of the test that ended last")
            assert link.get_attribute("href") == "/loadkit/reports/latest"
            browser.close()

        summary = json.loads((folder / "summary.json").read_text())
        assert summary["verdict"] == "pass", summary["reasons"]
        assert summary["totals"]["requests"] == target.requests_seen()["total"] > 0
        assert (folder / "report.html").is_file() and (folder / "junit.xml").is_file()
        with urllib.request.urlopen(url + "/loadkit/reports/latest") as response:
            assert "web-swarm" in response.read().decode()
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
