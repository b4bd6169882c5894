"""Prometheus metrics during a real run (issue 15): scraped and parsed with prometheus-client's
own parser, checked against the run's summary.json; the Grafana dashboard names only metrics a
real scrape has."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import REPO, SRC
from prometheus_client.parser import text_string_to_metric_families

from loadkit.demo_target.process import TargetProcess
from loadkit.exit_codes import ExitStatus

DASHBOARD = REPO / "dashboards" / "loadkit.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]] | None:
    """Sample name -> labels -> value, or None while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def total(samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str) -> float:
    return sum(samples.get(name, {}).values())


@pytest.mark.e2e
def test_metrics_rise_during_the_run_and_end_equal_to_the_summary(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"""\
name: watched
host: {target.url}
load: {{users: 4, spawn_rate: 20, duration: 8s}}
defaults: {{think_time: {{constant: 0.05}}}}
users:
  - name: citizen
    tasks:
      - request: {{url: /api/cases}}
      - request: {{url: /api/status/503, name: broken}}
thresholds: [p95 < 500ms, error_rate < 60%, "broken: error_rate < 1%"]
""",
        encoding="utf-8",
    )
    port = free_port()
    out = tmp_path / "run"
    cli = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "run", str(scenario), "--out", str(out),
         "--metrics-port", str(port), "--metrics-linger", "6s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )  # fmt: skip
    scrapes = []
    deadline = time.monotonic() + 40
    last = None
    while cli.poll() is None and time.monotonic() < deadline:
        samples = scrape(port)
        if samples is not None and total(samples, "loadkit_requests_total") > 0:
            scrapes.append(samples)
            last = samples
        time.sleep(1.5)
    stdout, stderr = cli.communicate(timeout=60)
    assert cli.returncode == ExitStatus.THRESHOLDS_FAILED, (stdout, stderr)
    assert len(scrapes) >= 3, len(scrapes)
    counts = [total(s, "loadkit_requests_total") for s in scrapes]
    assert counts == sorted(counts) and counts[0] < counts[-1], counts  # counters that rise
    summary = json.loads((out / "summary.json").read_text())
    assert last is not None
    # The last scrape (during --metrics-linger) holds the final numbers of the summary.
    assert total(last, "loadkit_requests_total") == summary["totals"]["requests"]
    assert total(last, "loadkit_failures_total") == summary["totals"]["failures"]
    assert total(last, "loadkit_response_time_seconds_count") == summary["totals"]["requests"]
    for row in summary["requests"]:
        by_name = {
            labels: value
            for labels, value in last["loadkit_requests_total"].items()
            if dict(labels)["name"] == row["name"]
        }
        assert sum(by_name.values()) == row["requests"]
        assert all(dict(labels)["run"] == f"watched/{out.name}" for labels in by_name)
    states = {dict(k)["threshold"]: v for k, v in last["loadkit_threshold_passing"].items()}
    assert states == {"p95 < 500ms": 1.0, "error_rate < 60%": 1.0, "broken: error_rate < 1%": 0.0}
    assert last["loadkit_users"] and last["loadkit_target_users"]


def dashboard_metric_names() -> set[str]:
    data = json.loads(DASHBOARD.read_text())
    names = set()
    for panel in data["panels"]:
        for target in panel["targets"]:
            names |= set(re.findall(r"\bloadkit_[a-z_]+\b", target["expr"]))
    for variable in data["templating"]["list"]:
        query = variable.get("definition") or ""
        names |= set(re.findall(r"\bloadkit_[a-z_]+\b", query))
    return names


@pytest.mark.e2e
def test_every_dashboard_query_names_metrics_a_real_scrape_has(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"""\
name: dashboard
host: {target.url}
load: {{users: 2, spawn_rate: 20, duration: 4s}}
users:
  - name: u
    tasks:
      - request: {{url: /health}}
thresholds: [p95 < 1s]
""",
        encoding="utf-8",
    )
    port = free_port()
    cli = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "run", str(scenario), "--out", str(tmp_path / "r"),
         "--metrics-port", str(port), "--metrics-linger", "3s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )  # fmt: skip
    seen: set[str] = set()
    while cli.poll() is None:
        samples = scrape(port)
        if samples:
            seen |= set(samples)
        time.sleep(0.5)
    cli.communicate(timeout=30)
    used = dashboard_metric_names()
    assert used, "the dashboard queries no loadkit metric"
    assert used <= seen, used - seen


def test_the_dashboard_is_valid_grafana_json() -> None:
    data = json.loads(DASHBOARD.read_text())
    assert data["title"] == "loadkit" and data["uid"] == "loadkit"
    ids = [panel["id"] for panel in data["panels"]]
    assert len(ids) == len(set(ids)) >= 6
    for panel in data["panels"]:
        assert panel["targets"] and all(t["expr"] for t in panel["targets"])
        assert panel["datasource"]["uid"] == "${datasource}"


WATCHED = """\
name: watched
host: {url}
load: {{users: 4, spawn_rate: 20, duration: {duration}}}
defaults: {{think_time: {{constant: 0.05}}}}
users:
  - name: citizen
    tasks:
      - request: {{url: /api/cases}}
"""


@pytest.mark.e2e
def test_a_metrics_port_in_use_is_a_usage_error_before_any_load(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(WATCHED.format(url=target.url, duration="3s"), encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "loadkit", "run", str(scenario), "--out",
             str(tmp_path / "run"), "--metrics-port", str(port)],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": SRC},
        )  # fmt: skip
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert result.stderr == (
        f"loadkit: error: --metrics-port {port}: cannot listen on 127.0.0.1:{port} "
        "(Address already in use); choose a free port\n"
    )
    assert target.requests_seen()["total"] == 0
    assert not (tmp_path / "run" / "summary.json").exists()


@pytest.mark.e2e
def test_scrapes_are_served_from_a_snapshot_rendered_once_a_second(
    target: TargetProcess, tmp_path: Path
) -> None:
    """Many scrapes within a second get the same text: rendered beforehand, not per scrape."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(WATCHED.format(url=target.url, duration="5s"), encoding="utf-8")
    port = free_port()
    cli = subprocess.Popen(
        [sys.executable, "-m", "loadkit", "run", str(scenario), "--out", str(tmp_path / "run"),
         "--metrics-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while (samples := scrape(port)) is None or not total(samples, "loadkit_requests_total"):
            assert time.monotonic() < deadline and cli.poll() is None, "no requests scraped"
            time.sleep(0.2)
        bodies, began = [], time.monotonic()
        while time.monotonic() - began < 0.9:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                bodies.append(r.read())
        # 0.9 s of back-to-back scrapes straddle at most one rendering
        assert len(bodies) >= 10 and len(set(bodies)) <= 2, (len(bodies), len(set(bodies)))
    finally:
        stdout, stderr = cli.communicate(timeout=60)
    assert cli.returncode == ExitStatus.PASS, (stdout, stderr)
