"""Distributed runs (issue 11): a master and workers through Locust's own master/worker, on
separate network stacks, and the faults a user must be told about."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import SRC
from test_summary_types import mismatches

from loadkit.demo_target.process import TargetProcess
from loadkit.exit_codes import ExitStatus
from loadkit.summary_types import LoadInfo

pytestmark = pytest.mark.e2e

ENV = {**os.environ, "PYTHONPATH": SRC}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def loadkit(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "loadkit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def scenario_file(tmp_path: Path, host: str, *, users: int, duration: str, rows: int = 0) -> Path:
    data = ""
    user_data = ""
    params = ""
    if rows:
        lines = ["username", *(f"citizen{i:03d}" for i in range(1, rows + 1))]
        (tmp_path / "citizens.csv").write_text("\n".join(lines) + "\n")
        data = "data:\n  citizens: {file: citizens.csv, order: unique}\n"
        user_data = "    data: citizens\n"
        params = ', params: {who: "{{ username }}"}'
    path = tmp_path / "scenario.yaml"
    path.write_text(
        f"""\
name: spread
host: {host}
load: {{users: {users}, spawn_rate: 20, duration: {duration}, stop_timeout: 1s}}
defaults: {{think_time: {{constant: 0.1}}}}
{data}users:
  - name: citizen
{user_data}    tasks:
      - request: {{url: /health{params}}}
""",
        encoding="utf-8",
    )
    return path


def summary_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text())


# ------------------------------------------------------------------- separate network stacks


class Network:
    """Network namespaces joined by a bridge in a namespace of their own, on a /24 of
    198.18.0.0/15 (reserved for benchmark networks): hosts that share nothing but this wire."""

    def __init__(self, hosts: list[str]) -> None:
        tag = f"{os.getpid() % 100000}"
        self.subnet = 1 + os.getpid() % 250  # 198.18.N.0/24
        self.switch = f"lk{tag}sw"
        self.names = {host: f"lk{tag}{host}" for host in hosts}
        self.addresses = {
            host: f"198.18.{self.subnet}.{i}" for i, host in enumerate(hosts, start=1)
        }

    def ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def create(self) -> None:
        self.ip("netns", "add", self.switch)
        self.ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        self.ip("-n", self.switch, "link", "set", "br0", "up")
        for i, (host, ns) in enumerate(self.names.items()):
            self.ip("netns", "add", ns)
            self.ip("-n", ns, "link", "set", "lo", "up")
            self.ip("link", "add", f"lk{i}a{os.getpid() % 10000}", "type", "veth", "peer", "name",
                    f"lk{i}b{os.getpid() % 10000}")  # fmt: skip
            self.ip("link", "set", f"lk{i}a{os.getpid() % 10000}", "netns", ns, "name", "eth0")
            self.ip("link", "set", f"lk{i}b{os.getpid() % 10000}", "netns", self.switch,
                    "name", f"p{i}")  # fmt: skip
            self.ip("-n", self.switch, "link", "set", f"p{i}", "master", "br0")
            self.ip("-n", self.switch, "link", "set", f"p{i}", "up")
            self.ip("-n", ns, "addr", "add", f"{self.addresses[host]}/24", "dev", "eth0")
            self.ip("-n", ns, "link", "set", "eth0", "up")

    def remove(self) -> None:
        for ns in [*self.names.values(), self.switch]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def run_in(self, host: str) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.names[host])


@pytest.fixture
def network() -> Iterator[Network]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2 (CI runs as root)")
    net = Network(["master", "worker1", "worker2"])
    try:
        net.create()
    except subprocess.CalledProcessError as exc:
        net.remove()
        pytest.skip(f"cannot make network namespaces here: {exc.stderr.decode().strip()}")
    try:
        yield net
    finally:
        net.remove()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(ns in listed for ns in net.names.values()), "namespaces were left behind"


def seen_by_target(net: Network, url: str) -> dict[str, Any]:
    code = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"
    out = subprocess.run(
        [*net.run_in("master"), sys.executable, "-c", code, url + "/__loadkit/requests"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data: dict[str, Any] = json.loads(out)
    return data


def test_a_master_and_two_workers_on_separate_network_stacks(
    network: Network, tmp_path: Path
) -> None:
    master_ip = network.addresses["master"]
    target = TargetProcess("--bind", master_ip, record=True, wrapper=network.run_in("master"))
    target.start()
    try:
        scenario = scenario_file(tmp_path, target.url, users=6, duration="6s", rows=6)
        out = tmp_path / "run"
        port = str(free_port())
        master = loadkit(
            "run", str(scenario), "--master", "--expect-workers", "2",
            "--master-bind-host", master_ip, "--master-port", port, "--out", str(out),
            prefix=network.run_in("master"),
        )  # fmt: skip
        worker_args = ("worker", "--master-host", master_ip, "--master-port", port)
        workers = [
            loadkit(*worker_args, prefix=network.run_in(host)) for host in ("worker1", "worker2")
        ]
        stdout, stderr = master.communicate(timeout=90)
        for worker in workers:
            worker_out, worker_err = worker.communicate(timeout=30)
            # Each side's output on failure: a worker once exited 4 here (cause not yet known).
            assert worker.returncode == 0, (worker_out[-2000:], worker_err[-3000:], stderr)
        seen = seen_by_target(network, target.url)
    finally:
        target.stop()
    assert master.returncode == ExitStatus.PASS, (stdout, stderr)
    summary = summary_of(out)
    assert summary["totals"]["requests"] == seen["total"] > 0
    workers_info = summary["load"]["workers"]
    assert workers_info["expected"] == 2 and len(workers_info["connected"]) == 2
    assert workers_info["lost"] == []
    # Every user of either host got a row of its own: no row was handed out twice.
    who = {entry["query"] for entry in seen["log"]}
    assert len(who) == 6
    by_client = {}
    for entry in seen["log"]:
        by_client.setdefault(entry["query"], set()).add(entry["client"])
    assert all(len(clients) == 1 for clients in by_client.values()), by_client
    clients = {entry["client"] for entry in seen["log"]}
    assert clients == {network.addresses["worker1"], network.addresses["worker2"]}
    cpu = {p["process"] for p in summary["load"]["generator_cpu"]}
    assert len(cpu - {"master"}) == 2  # each worker's CPU reached the master


# ------------------------------------------------------------------------------------ faults


def harness_children(pid: int, *, timeout: float = 10) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            c for c in psutil.Process(pid).children(recursive=True)
            if "loadkit.harness" in " ".join(c.cmdline())
        ]  # fmt: skip
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("no harness process")


def test_a_lost_worker_fails_the_run_and_says_which(target: TargetProcess, tmp_path: Path) -> None:
    scenario = scenario_file(tmp_path, target.url, users=4, duration="10s")
    out = tmp_path / "run"
    cli = loadkit("run", str(scenario), "--processes", "2", "--out", str(out))
    (master,) = harness_children(cli.pid)
    time.sleep(4.0)
    workers = master.children()
    assert len(workers) == 2
    workers[0].send_signal(signal.SIGKILL)
    stdout, stderr = cli.communicate(timeout=90)
    assert cli.returncode == ExitStatus.THRESHOLDS_FAILED, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    summary = summary_of(out)
    load = summary["load"]
    assert mismatches(load, LoadInfo, "load", set()) == []
    (lost,) = load["workers"]["lost"]
    assert lost["users"] == 2 and 3 <= lost["at_s"] <= 9
    assert any(r.startswith(f"worker {lost['worker']} was lost") for r in summary["reasons"])
    assert f"worker {lost['worker']} was lost" in stdout
    assert "was lost" in (out / "report.html").read_text()


def test_the_last_worker_lost_ends_the_run(target: TargetProcess, tmp_path: Path) -> None:
    scenario = scenario_file(tmp_path, target.url, users=2, duration="60s")
    out = tmp_path / "run"
    port = str(free_port())
    cli = loadkit("run", str(scenario), "--master", "--master-port", port, "--out", str(out))
    worker = loadkit("worker", "--master-host", "127.0.0.1", "--master-port", port)
    time.sleep(5.0)
    (worker_harness,) = harness_children(worker.pid)
    worker_harness.send_signal(signal.SIGKILL)
    started = time.monotonic()
    stdout, stderr = cli.communicate(timeout=60)
    worker.communicate(timeout=10)
    assert time.monotonic() - started < 20  # not the remaining 55 s of run time
    assert cli.returncode not in (ExitStatus.PASS, ExitStatus.INVALID_INPUT), (stdout, stderr)
    summary = summary_of(out)
    assert len(summary["load"]["workers"]["lost"]) == 1
    assert (out / "report.html").is_file() and (out / "junit.xml").is_file()


def test_missing_workers_end_with_a_clear_error_and_no_load(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = scenario_file(tmp_path, target.url, users=2, duration="30s")
    out = tmp_path / "run"
    port = str(free_port())
    cli = loadkit(
        "run", str(scenario), "--master", "--expect-workers", "2", "--master-port", port,
        "--expect-workers-max-wait", "3s", "--out", str(out),
    )  # fmt: skip
    worker = loadkit("worker", "--master-host", "127.0.0.1", "--master-port", port)
    stdout, stderr = cli.communicate(timeout=60)
    worker.communicate(timeout=30)
    assert cli.returncode == ExitStatus.ABORTED, (stdout, stderr)
    assert stderr.strip().splitlines() == [
        "loadkit: error: only 1 of 2 workers connected within 3 s; no load was sent"
    ]
    assert target.requests_seen()["total"] == 0
    assert summary_of(out)["verdict"] == "aborted"


def test_a_processes_run_listens_on_loopback_only(target: TargetProcess, tmp_path: Path) -> None:
    scenario = scenario_file(tmp_path, target.url, users=2, duration="4s")
    cli = loadkit("run", str(scenario), "--processes", "2", "--out", str(tmp_path / "run"))
    (master,) = harness_children(cli.pid)
    time.sleep(2.0)
    listening = [
        c.laddr for c in master.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN
    ]
    cli.communicate(timeout=60)
    assert listening and all(address.ip == "127.0.0.1" for address in listening), listening
    assert cli.returncode == ExitStatus.PASS


def test_a_worker_without_a_master_gives_a_clear_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "loadkit", "worker", "--master-host", "127.0.0.1",
         "--processes", "zero"],
        capture_output=True, text=True, env=ENV, timeout=30,
    )  # fmt: skip
    assert proc.returncode == ExitStatus.INVALID_INPUT
    assert proc.stderr.startswith("loadkit: error: ") and "Traceback" not in proc.stderr


def wait_for_users(out: Path, *, timeout: float = 30) -> None:
    """Until the master's log says the test runs (its workers connected and got users)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = out / "locust.log"
        if log.is_file() and "Sending spawn jobs" in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError("the test never started")


def test_a_worker_that_leaves_hands_its_users_over_and_a_late_one_is_listed(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = scenario_file(tmp_path, target.url, users=10, duration="14s")
    out = tmp_path / "run"
    port = str(free_port())
    cli = loadkit(
        "run", str(scenario), "--master", "--expect-workers", "2", "--master-port", port,
        "--out", str(out),
    )  # fmt: skip
    worker_args = ("worker", "--master-host", "127.0.0.1", "--master-port", port)
    workers = [loadkit(*worker_args) for _ in range(2)]
    wait_for_users(out)
    time.sleep(2.0)
    workers.append(loadkit(*worker_args))  # joins while the test runs
    time.sleep(4.0)
    workers[0].kill()  # its harness gets SIGTERM: it quits mid-test
    stdout, stderr = cli.communicate(timeout=90)
    for worker in workers:
        worker.communicate(timeout=30)
    seen = target.requests_seen()["total"]
    assert cli.returncode == ExitStatus.PASS, (stdout, stderr)
    summary = summary_of(out)
    load = summary["load"]
    assert mismatches(load, LoadInfo, "load", set()) == []
    assert len(load["workers"]["connected"]) == 3
    (lost,) = load["workers"]["lost"]
    assert lost["how"] == "left" and lost["moved_s"] is not None and lost["moved_s"] <= 5
    assert load["delivered"] and load["stages"][0]["reached_users"] == 10
    assert any("its users moved to the others within" in w for w in summary["warnings"])
    assert "its users moved to the others within" in stdout
    # The leaver sent what it measured before going: only requests in flight may be missing.
    assert seen - 10 <= summary["totals"]["requests"] <= seen
    everything = stdout + stderr + (out / "locust.log").read_text()
    assert "the last worker was lost" not in everything
    assert "Traceback" not in stdout + stderr


def test_a_frozen_worker_that_comes_back_loses_no_measurements(
    target: TargetProcess, tmp_path: Path
) -> None:
    scenario = scenario_file(tmp_path, target.url, users=4, duration="16s")
    out = tmp_path / "run"
    port = str(free_port())
    cli = loadkit(
        "run", str(scenario), "--master", "--expect-workers", "2", "--master-port", port,
        "--out", str(out),
    )  # fmt: skip
    worker_args = ("worker", "--master-host", "127.0.0.1", "--master-port", port)
    workers = [loadkit(*worker_args) for _ in range(2)]
    wait_for_users(out)
    time.sleep(2.0)
    (frozen,) = harness_children(workers[1].pid)
    frozen.send_signal(signal.SIGSTOP)
    time.sleep(7.0)  # missing after ~3 s without a heartbeat
    frozen.send_signal(signal.SIGCONT)
    stdout, stderr = cli.communicate(timeout=90)
    for worker in workers:
        worker.communicate(timeout=30)
    seen = target.requests_seen()["total"]
    summary = summary_of(out)
    (lost,) = summary["load"]["workers"]["lost"]
    assert lost["how"] == "missing" and lost["returned_s"] is not None
    assert summary["totals"]["requests"] == seen  # nothing it measured went missing
    text = " ".join(summary["reasons"] + summary["warnings"])
    assert "answered again" in text and "are missing" not in text, text
    everything = stdout + stderr + (out / "locust.log").read_text()
    assert "the last worker was lost" not in everything
    assert "Traceback" not in stdout + stderr
