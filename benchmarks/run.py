#!/usr/bin/env python3
"""loadkit's performance benchmark: do compiled scenarios cost nothing?

    python benchmarks/run.py                     # the full run (~30 min), see benchmarks/README.md
    python benchmarks/run.py --quick             # 1 round of 2 s per case, 20 s memory run
    python benchmarks/run.py --cases 1,2 --rounds 3 --seconds 5 --json figures.json

Starts nginx on 127.0.0.1 (its own config in a temporary folder, one worker pinned to core 0;
a second identical one for head-to-head runs), runs every load generator pinned to core 1 and
compares, case by case:

  wrk  calibration: wrk against the same nginx (how far nginx is from being the bottleneck)
  0    A/A: hand-written FastHttpUser GET against itself (the noise band of cases 1-3 and 7)
  1    compiled GET scenario (`locust -f`) vs hand-written FastHttpUser GET      target >= 1.00
  2    compiled POST + templating + checks + capture vs hand-written equivalent  target >= 0.95
  3    compiled GET scenario vs hand-written HttpUser GET                         target >= 4x
  7    `loadkit run` (harness, histograms) GET vs hand-written FastHttpUser GET  (no target)
  4    start-up to the first request: `loadkit run` vs `locust -f` (same file)  target <= +0.3 s
  5    summary + full report of a run with a 1,000,000-row history            target <= 3 s, 1 GiB
  6    RSS of the Locust process in a long `loadkit run` at full speed          target: flat

Throughput is counted by the server, not the generator: nginx's stub_status request counter is
read after a warm-up and again `--seconds` later; the CPU every process used in that window is
read from /proc, so each line shows that the generator (not nginx) was the bottleneck, and how
much CPU other processes took. Two ways, every round (`--method`): each generator alone on the
core (requests per second per core), and A and B at the same time on the same core, each
against its own nginx (their ratio of requests per CPU-second: immune to the machine's drift,
which on a shared virtual machine reaches tens of percent between runs). The figure judged is
the head-to-head median; rounds disturbed by other processes are repeated.

Load goes to 127.0.0.1 only; every process started here is bounded in time and stopped at the
end, on errors and on Ctrl-C. Linux only (taskset, /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SCENARIOS = HERE / "scenarios"
HANDWRITTEN = HERE / "handwritten"
GENERATOR_CPU = "1"
TARGET_CPU = "0"
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MIB = 1024 * 1024
ALL_CASES = ("wrk", "0", "1", "2", "3", "7", "4", "5", "6")
TITLES = {
    "wrk": "calibration: wrk (C, 1 thread, 32 connections) against the same nginx",
    "0": "A/A noise: hand-written FastHttpUser GET vs itself",
    "1": "compiled GET (locust -f) vs hand-written FastHttpUser GET",
    "2": "compiled POST+template+checks+capture vs hand-written FastHttpUser",
    "3": "compiled GET (loadkit default) vs hand-written HttpUser GET",
    "4": "start-up to first request: loadkit run vs locust -f (same file)",
    "5": "summary + report of a run with a big history",
    "6": "RSS of the Locust process in a long loadkit run at full speed",
    "7": "loadkit run GET (harness) vs hand-written FastHttpUser GET",
    "sweep": "users needed to saturate one core (hand-written FastHttpUser GET)",
}
BODY = '{"id": 1, "token": "abc123", "status": "ok"}'


class BenchmarkError(Exception):
    """A measurement could not be made (not: a target was missed)."""


class Interrupted(BaseException):
    """SIGTERM/SIGINT: stop everything we started and leave."""


# --------------------------------------------------------------------------------------- /proc


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses: split after its closing ')'.
    return text[text.rindex(")") + 2 :].split()


def children_of(pid: int) -> list[int]:
    """All descendants of `pid` (scanning /proc for parent ids)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of the given processes (those still alive)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def rss_bytes(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def busy_seconds() -> float:
    """CPU time used by everything on the machine so far (all cores, /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


class OtherCpu:
    """CPU used by processes that are not ours while something runs, in cores: all the
    machine's busy time minus this process, its finished (waited-for) children and their
    descendants, and nginx. Start it before launching, read it after waiting."""

    def __init__(self, extra_pids: Callable[[], list[int]]) -> None:
        self.extra_pids = extra_pids
        self.start = self._ours_and_busy()

    def _ours_and_busy(self) -> tuple[float, float, float]:
        ours = sum(
            r.ru_utime + r.ru_stime
            for r in (
                resource.getrusage(resource.RUSAGE_SELF),
                resource.getrusage(resource.RUSAGE_CHILDREN),
            )
        ) + cpu_seconds(self.extra_pids())
        return busy_seconds(), ours, time.monotonic()

    def share(self) -> float:
        busy, ours, now = self._ours_and_busy()
        busy0, ours0, then = self.start
        return max(0.0, ((busy - busy0) - (ours - ours0)) / max(now - then, 1e-3))


class LoadWatch(threading.Thread):
    """Samples the 1-minute load average every 5 s while the benchmark runs."""

    def __init__(self) -> None:
        super().__init__(name="load-watch", daemon=True)
        self.samples: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.samples.append(os.getloadavg()[0])
            self.stopped.wait(5.0)


# ------------------------------------------------------------------------------- processes


def pinned(cpu: str, command: Sequence[str], pin: bool) -> list[str]:
    return ["taskset", "-c", cpu, *command] if pin else list(command)


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop a process we started and everything it started (SIGTERM, then SIGKILL)."""
    if proc.poll() is not None:
        return
    family = [proc.pid, *children_of(proc.pid)]
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    for pid in family:
        if _stat_fields(pid) is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def python_env() -> dict[str, str]:
    """The environment of every Python process started here: ours, minus loadkit settings,
    and with Python's default bytecode caching.

    Some machines (this one included) set PYTHONDONTWRITEBYTECODE; a normal installation has
    compiled bytecode, but an editable install with that variable set compiles loadkit's own
    sources again on every start, which is no part of what a user pays. The first run of each
    kind writes the cache (`__pycache__/`, ignored by git); start-up timings discard it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOADKIT_", "BENCH_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# ------------------------------------------------------------------------------------ nginx


NGINX_CONF = """\
# Written by benchmarks/run.py: the benchmark's target, on 127.0.0.1 only.
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_buffer_size 16k;
    # Load: throughput cases.
    server {{
        listen 127.0.0.1:{port};
        location = /get {{ default_type application/json; return 200 '{body}'; }}
        # nginx reads (and discards) the body of a POST before `return` answers it.
        location = /post {{ default_type application/json; return 200 '{body}'; }}
        location = /nginx_status {{ stub_status; }}
    }}
    # Start-up case: the same answers, each request logged when it ends with its end time and
    # its duration (ms resolution): start of the first request = $msec - $request_time.
    log_format first_request '$msec $request_time $request_method $uri $status';
    server {{
        listen 127.0.0.1:{log_port};
        access_log {dir}/first_request.log first_request;
        location = /get {{ default_type application/json; return 200 '{body}'; }}
        location = /post {{ default_type application/json; return 200 '{body}'; }}
    }}
}}
"""


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".") if p.isdigit()]
    return tuple(parts) if parts else (0,)


@dataclass
class Nginx:
    workdir: Path
    pin: bool
    port: int = 0
    log_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    version: str = ""
    status_reads: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_url(self) -> str:
        return f"http://127.0.0.1:{self.log_port}"

    @property
    def request_log(self) -> Path:
        return self.workdir / "first_request.log"

    @staticmethod
    def binary() -> str | None:
        return shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
        )

    def start(self) -> Nginx:
        binary = self.binary()
        if binary is None:
            raise BenchmarkError("nginx is not installed (Debian/Ubuntu: apt-get install -y nginx)")
        version = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
        self.version = (version.stderr or version.stdout).strip().split("/")[-1]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port, self.log_port = free_port(), free_port()
        conf = self.workdir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(dir=self.workdir, port=self.port, log_port=self.log_port, body=BODY)
        )
        command = [binary, "-p", str(self.workdir), "-c", str(conf)]
        if _version_tuple(self.version) >= (1, 19, 5):  # -e: no default error log is opened
            command += ["-e", str(self.workdir / "error.log")]
        with open(self.workdir / "stderr.log", "wb") as stderr:
            self.proc = subprocess.Popen(
                pinned(TARGET_CPU, command, self.pin),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchmarkError(
                    "nginx did not start: " + (self.workdir / "stderr.log").read_text()[-500:]
                )
            with contextlib.suppress(OSError):
                self.requests_total()
                return self
            time.sleep(0.05)
        raise BenchmarkError("nginx did not answer within 10 s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=5)
            self.proc = None

    def worker_pids(self) -> list[int]:
        return [] if self.proc is None else children_of(self.proc.pid)

    def pids(self) -> list[int]:
        return [] if self.proc is None else [self.proc.pid, *self.worker_pids()]

    def requests_total(self) -> int:
        """Requests nginx has handled since it started (stub_status), not counting the
        status requests themselves (each reading counts itself)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/nginx_status")
            text = conn.getresponse().read().decode()
        finally:
            conn.close()
        self.status_reads += 1
        return int(text.splitlines()[2].split()[2]) - self.status_reads


# ------------------------------------------------------------------------------ the workspace


@dataclass
class Workspace:
    """Everything the cases run: compiled scenarios, hand-written locustfiles, options."""

    dir: Path
    nginx: Nginx
    nginx_b: Nginx
    """A second, identical nginx: in a head-to-head measurement each generator has its own."""
    args: argparse.Namespace
    pin: bool
    env: dict[str, str] = field(default_factory=dict)
    compiled: dict[str, Path] = field(default_factory=dict)
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """Generators running now: stopped on Ctrl-C."""
    folders: int = 0

    def new_folder(self, name: str) -> Path:
        """A run folder path not used before (`loadkit run --out` wants a new one)."""
        self.folders += 1
        return self.dir / "runs" / f"{name}-{self.folders}"

    def compile(self, scenarios: dict[str, str], target_url: str) -> None:
        """`loadkit compile` each scenario (key -> file in benchmarks/scenarios/), all at once
        and on any core (nothing is being measured yet)."""
        cpus = f"0-{(os.cpu_count() or 1) - 1}"
        procs = {}
        for key, scenario in scenarios.items():
            out = self.dir / "compiled" / f"{key}.py"
            command = [sys.executable, "-m", "loadkit", "compile", str(SCENARIOS / scenario)]
            procs[key] = (
                out,
                subprocess.Popen(
                    pinned(cpus, [*command, "-o", str(out)], self.pin),
                    env={**self.env, "BENCH_TARGET": target_url},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        for key, (out, proc) in procs.items():
            _, stderr = proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise BenchmarkError(f"loadkit compile {scenarios[key]} failed: {stderr.strip()}")
            self.compiled[key] = out

    def locust(self, locustfile: Path, seconds: int, users: int, host: str) -> list[str]:
        """Plain Locust, in-process runner (what `loadkit run --processes 1` does)."""
        return [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(locustfile),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            host,
            "--only-summary",
        ]

    def loadkit_run(
        self, scenario: str, seconds: int, users: int, host: str, out: Path
    ) -> list[str]:
        return [
            sys.executable,
            "-m",
            "loadkit",
            "run",
            str(SCENARIOS / scenario),
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            host,
            "--processes",
            "1",
            "--out",
            str(out),
        ]

    def launch(
        self, command: Sequence[str], log: Path, *, all_cpus: bool = False
    ) -> subprocess.Popen[bytes]:
        """Start `command` on the generator's core (or, `all_cpus`, on any core: this process
        keeps to core 0, and children inherit that unless told otherwise)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        cpus = f"0-{(os.cpu_count() or 1) - 1}" if all_cpus else GENERATOR_CPU
        with open(log, "wb") as handle:
            proc = subprocess.Popen(
                pinned(cpus, command, self.pin),
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.dir,
                start_new_session=True,
            )
        self.running.append(proc)
        return proc

    def finish(self, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> int:
        """Wait for a generator to end by itself (bounded); its exit code."""
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(proc)
            raise BenchmarkError(f"{log.name}: did not stop within {timeout:.0f} s") from None
        finally:
            with contextlib.suppress(ValueError):
                self.running.remove(proc)
        return code


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ------------------------------------------------------------------------- throughput runs


@dataclass
class Throughput:
    rps: float
    generator_cpu: float
    """CPU used by the generator's processes during the window, in cores (1.0 = one core)."""
    nginx_cpu: float
    requests: int
    window_s: float
    other_cpu: float = 0.0
    """CPU used by everything else on the machine during the window (noise), in cores."""

    @property
    def per_cpu_second(self) -> float:
        """Requests per CPU-second of the generator: load per core."""
        return self.rps / self.generator_cpu if self.generator_cpu > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.rps:9,.0f} req/s (generator CPU {self.generator_cpu:4.0%}, "
            f"nginx CPU {self.nginx_cpu:4.0%}, other {self.other_cpu:4.0%})"
        )

    def as_json(self) -> dict[str, float]:
        return {
            "rps": round(self.rps, 1),
            "generator_cpu": round(self.generator_cpu, 3),
            "per_cpu_second": round(self.per_cpu_second, 1),
            "nginx_cpu": round(self.nginx_cpu, 3),
            "other_cpu": round(self.other_cpu, 3),
            "requests": self.requests,
            "window_s": round(self.window_s, 3),
        }


@dataclass
class Generator:
    """One load generator of a measurement: its command and the nginx it sends to."""

    command: list[str]
    nginx: Nginx
    label: str
    stop_early: bool = True
    """Stop it (SIGTERM: Locust shuts down cleanly, exit code 0 when no request failed) right
    after the window instead of letting it run out its -t. Not for `loadkit run`: a signal
    makes its verdict "aborted"."""


def measure_together(ws: Workspace, generators: Sequence[Generator]) -> list[Throughput]:
    """Start the generators at once, all pinned to the generator's core, each against its own
    nginx; once every one has sent its first request, wait `--warmup` s, then count the
    requests each nginx served in `--seconds` s and the CPU each generator used meanwhile."""
    args = ws.args
    logs = [ws.dir / "logs" / f"{g.label}.log" for g in generators]
    before = [g.nginx.requests_total() for g in generators]
    procs = [ws.launch(g.command, log) for g, log in zip(generators, logs, strict=True)]
    try:
        deadline = time.monotonic() + 60
        waiting = set(range(len(generators)))
        while waiting:
            for i in list(waiting):
                if generators[i].nginx.requests_total() != before[i]:
                    waiting.discard(i)
                elif procs[i].poll() is not None:
                    raise BenchmarkError(
                        f"{generators[i].label}: ended before any request:\n{log_tail(logs[i])}"
                    )
            if waiting and time.monotonic() > deadline:
                raise BenchmarkError(f"{generators[min(waiting)].label}: no request within 60 s")
            time.sleep(0.02)
        time.sleep(args.warmup)
        families = [[p.pid, *children_of(p.pid)] for p in procs]
        servers = [g.nginx.worker_pids() for g in generators]

        def sample() -> tuple[list[int], list[float], list[float], float, float]:
            counts = [g.nginx.requests_total() for g in generators]
            return (
                counts,
                [cpu_seconds(f) for f in families],
                [cpu_seconds(s) for s in servers],
                busy_seconds(),
                time.monotonic(),
            )

        n1, g1, w1, b1, t1 = sample()
        time.sleep(args.seconds)
        n2, g2, w2, b2, t2 = sample()
        for g, proc, log in zip(generators, procs, logs, strict=True):
            if proc.poll() is not None:
                raise BenchmarkError(f"{g.label}: ended inside the window:\n{log_tail(log)}")
            if g.stop_early:
                proc.send_signal(signal.SIGTERM)
        for g, proc, log in zip(generators, procs, logs, strict=True):
            code = ws.finish(proc, args.warmup + args.seconds + 90, log)
            if code != 0:
                raise BenchmarkError(
                    f"{g.label}: exit code {code} (failed requests?):\n{log_tail(log)}"
                )
    finally:
        for proc in procs:
            if proc.poll() is None:
                stop_process(proc)
            with contextlib.suppress(ValueError):
                ws.running.remove(proc)
    window = t2 - t1
    ours = sum(g2) - sum(g1) + sum(w2) - sum(w1)
    other = max(0.0, ((b2 - b1) - ours) / window)
    return [
        Throughput(
            rps=(n2[i] - n1[i]) / window,
            generator_cpu=(g2[i] - g1[i]) / window,
            nginx_cpu=(w2[i] - w1[i]) / window,
            requests=n2[i] - n1[i],
            window_s=window,
            other_cpu=other,
        )
        for i in range(len(generators))
    ]


def run_seconds(args: argparse.Namespace) -> int:
    """Locust's -t: warm-up + window + margin (first request comes within ~0.1 s of start)."""
    return math.ceil(float(args.warmup) + float(args.seconds) + 2)


@dataclass
class Comparison:
    """A against B, measured two ways (see `compare`)."""

    case: str
    a_label: str
    b_label: str
    a: list[Throughput] = field(default_factory=list)
    """Sequential: A alone on the generator's core, one run per round."""
    b: list[Throughput] = field(default_factory=list)
    together: list[tuple[Throughput, Throughput]] = field(default_factory=list)
    """Head to head: A and B at the same time on the generator's core, one pair per round."""
    discarded: int = 0
    """Rounds repeated because other processes used the CPU."""
    noisy_rounds: int = 0
    """Rounds counted although noisy (no retries left)."""

    @property
    def rounds(self) -> int:
        return max(len(self.a), len(self.together))

    @property
    def a_median(self) -> float | None:
        return statistics.median(t.rps for t in self.a) if self.a else None

    @property
    def b_median(self) -> float | None:
        return statistics.median(t.rps for t in self.b) if self.b else None

    @property
    def sequential_ratio(self) -> float | None:
        a, b = self.a_median, self.b_median
        return a / b if a is not None and b else None

    @property
    def sequential_round_ratios(self) -> list[float]:
        return [a.rps / b.rps for a, b in zip(self.a, self.b, strict=True)]

    @property
    def together_round_ratios(self) -> list[float]:
        """Per round, A's requests per CPU-second over B's, both sharing one core."""
        return [a.per_cpu_second / b.per_cpu_second for a, b in self.together]

    @property
    def together_ratio(self) -> float | None:
        ratios = self.together_round_ratios
        return statistics.median(ratios) if ratios else None

    @property
    def ratio(self) -> float:
        """The figure judged against the target: head to head when measured (it cancels the
        machine's drift), else sequential."""
        together = self.together_ratio
        if together is not None:
            return together
        sequential = self.sequential_ratio
        assert sequential is not None
        return sequential

    def as_json(self) -> dict[str, Any]:
        def ratios(values: list[float]) -> list[float]:
            return [round(r, 4) for r in values]

        return {
            "a": self.a_label,
            "b": self.b_label,
            "ratio": round(self.ratio, 4),
            "head_to_head": {
                "ratio_per_cpu_second_median": None
                if self.together_ratio is None
                else round(self.together_ratio, 4),
                "round_ratios": ratios(self.together_round_ratios),
                "runs": [{"a": a.as_json(), "b": b.as_json()} for a, b in self.together],
            },
            "sequential": {
                "a_median_rps": None if self.a_median is None else round(self.a_median, 1),
                "b_median_rps": None if self.b_median is None else round(self.b_median, 1),
                "ratio": None if self.sequential_ratio is None else round(self.sequential_ratio, 4),
                "round_ratios": ratios(self.sequential_round_ratios),
                "a_runs": [t.as_json() for t in self.a],
                "b_runs": [t.as_json() for t in self.b],
            },
            "noisy_rounds_repeated": self.discarded,
            "noisy_rounds_counted": self.noisy_rounds,
        }


Command = Callable[[int, str], list[str]]
"""(attempt number, target URL) -> the command line of one generator."""


def compare(
    ws: Workspace,
    case: str,
    a_label: str,
    a_command: Command,
    b_label: str,
    b_command: Command,
    *,
    a_is_loadkit_run: bool = False,
) -> Comparison:
    """A against B, `--rounds` times, each round measured in the ways `--method` names:

    - sequential: A alone, then B alone (B first in even rounds), each on the generator's
      core, against the same nginx: absolute requests per second on one core;
    - head-to-head: A and B at the same time, both on the generator's core, each against its
      own nginx: the scheduler gives each half the core, and the ratio of their requests per
      CPU-second is the ratio of their load per core, with whatever the machine does to its
      speed (other virtual machines on the host, frequency) affecting both alike.

    A round in which other processes used more than `--max-other-cpu` of a core is repeated,
    up to `--retries` times per case (after that it counts, flagged).
    """
    args = ws.args
    result = Comparison(case, a_label, b_label)
    attempt = 0
    nginx, other_nginx = ws.nginx, ws.nginx_b
    while result.rounds < args.rounds:
        attempt += 1
        tag = f"case{case}-attempt{attempt}"
        lines: list[str] = []
        other = 0.0
        seq: dict[str, Throughput] = {}
        pair: tuple[Throughput, Throughput] | None = None
        if "head-to-head" in args.method:
            first, second = (nginx, other_nginx) if attempt % 2 else (other_nginx, nginx)
            a, b = measure_together(
                ws,
                [
                    Generator(a_command(attempt, first.url), first, f"{tag}-together-A",
                              stop_early=not a_is_loadkit_run),
                    Generator(b_command(attempt, second.url), second, f"{tag}-together-B"),
                ],
            )  # fmt: skip
            pair = (a, b)
            other = max(other, a.other_cpu)
            lines.append(
                f"together: A {a.rps:6,.0f} req/s at {a.generator_cpu:3.0%} CPU, B {b.rps:6,.0f}"
                f" req/s at {b.generator_cpu:3.0%} CPU: A/B per CPU-second "
                f"{a.per_cpu_second / b.per_cpu_second:.3f} (other {a.other_cpu:.0%})"
            )
        if "sequential" in args.method:
            order = [("A", a_command), ("B", b_command)]
            if attempt % 2 == 0:
                order.reverse()
            for side, command in order:
                (seq[side],) = measure_together(
                    ws,
                    [Generator(command(attempt, nginx.url), nginx, f"{tag}-alone-{side}",
                               stop_early=not (a_is_loadkit_run and side == "A"))],
                )  # fmt: skip
                other = max(other, seq[side].other_cpu)
            lines.append(f"alone:    A {seq['A'].line()}")
            lines.append(f"          B {seq['B'].line()}  A/B {seq['A'].rps / seq['B'].rps:.3f}")
        noisy = other > args.max_other_cpu
        retry = noisy and result.discarded < args.retries
        label = "noisy" if retry else f"round {result.rounds + 1}"
        print(f"  {label:>8}: " + "\n            ".join(lines), flush=True)
        if retry:
            result.discarded += 1
            print(f"            other processes used {other:.0%} of a core: repeating", flush=True)
            continue
        if noisy:
            result.noisy_rounds += 1
            print(f"            counted although noisy (--retries {args.retries} used up)")
        if pair is not None:
            result.together.append(pair)
        if seq:
            result.a.append(seq["A"])
            result.b.append(seq["B"])
        for t in [*seq.values(), *(pair or ())]:
            if t.nginx_cpu > 0.8:
                print(f"            warning: nginx used {t.nginx_cpu:.0%} of its core: it may "
                      "be the bottleneck, not the generator", flush=True)  # fmt: skip
        for t in seq.values():
            if t.generator_cpu < 0.9:
                print(f"            warning: a generator alone used only {t.generator_cpu:.0%} "
                      "of its core (not saturated)", flush=True)  # fmt: skip
    parts = []
    if result.together_ratio is not None:
        r = result.together_round_ratios
        parts.append(
            f"head to head A/B {result.together_ratio:.3f} per CPU-second (rounds "
            f"{min(r):.3f}-{max(r):.3f})"
        )
    if result.sequential_ratio is not None and result.a_median and result.b_median:
        r = result.sequential_round_ratios
        parts.append(
            f"alone: median A {result.a_median:,.0f} req/s, B {result.b_median:,.0f} req/s, "
            f"A/B {result.sequential_ratio:.3f} (rounds {min(r):.3f}-{max(r):.3f})"
        )
    if result.discarded:
        parts.append(f"{result.discarded} noisy round(s) repeated")
    print("  " + "; ".join(parts), flush=True)
    return result


# ---------------------------------------------------------------------------------- the cases


def case_throughput(ws: Workspace, case: str) -> Comparison:
    args = ws.args
    seconds, users = run_seconds(args), args.users

    def hand(name: str) -> Command:
        return lambda _, url: ws.locust(HANDWRITTEN / name, seconds, users, url)

    def compiled(key: str) -> Command:
        return lambda _, url: ws.locust(ws.compiled[key], seconds, users, url)

    def loadkit_run(attempt: int, url: str) -> list[str]:
        return ws.loadkit_run("get.yaml", seconds, users, url, ws.new_folder(f"case7-{attempt}"))

    pairs: dict[str, tuple[str, Command, str, Command]] = {
        "0": ("hand-written FastHttpUser GET", hand("fast_get.py"),
              "the same, again", hand("fast_get.py")),
        "1": ("compiled get.yaml", compiled("get"),
              "hand-written FastHttpUser GET", hand("fast_get.py")),
        "2": ("compiled post.yaml", compiled("post"),
              "hand-written FastHttpUser POST", hand("fast_post.py")),
        "3": ("compiled get.yaml", compiled("get"),
              "hand-written HttpUser GET", hand("http_get.py")),
        "7": ("loadkit run get.yaml", loadkit_run,
              "hand-written FastHttpUser GET", hand("fast_get.py")),
    }  # fmt: skip
    a_label, a_command, b_label, b_command = pairs[case]
    return compare(ws, case, a_label, a_command, b_label, b_command, a_is_loadkit_run=case == "7")


@dataclass
class Startup:
    pinned: bool = True
    """Both commands (and their children) on the generator's core; else on any core."""
    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    a_cli: list[float] = field(default_factory=list)
    """Per A run: from `loadkit run`'s start to the start of its Locust process."""
    discarded: int = 0

    @property
    def a_median(self) -> float:
        return statistics.median(self.a)

    @property
    def b_median(self) -> float:
        return statistics.median(self.b)

    @property
    def overhead(self) -> float:
        """Median of the rounds' A - B: each round's pair ran back to back, so this cancels
        the machine's drift (its speed changes by tens of percent over minutes)."""
        return statistics.median(a - b for a, b in zip(self.a, self.b, strict=True))

    @property
    def cli_median(self) -> float | None:
        return statistics.median(self.a_cli) if self.a_cli else None

    def as_json(self) -> dict[str, Any]:
        return {
            "a": "loadkit run get.yaml",
            "b": "locust -f <the same generated locustfile> --headless",
            "a_median_s": round(self.a_median, 4),
            "b_median_s": round(self.b_median, 4),
            "overhead_s": round(self.overhead, 4),
            "overhead_definition": "median over rounds of (A - B)",
            "a_runs_s": [round(x, 4) for x in self.a],
            "b_runs_s": [round(x, 4) for x in self.b],
            "pinned_to_one_core": self.pinned,
            "a_locust_process_started_after_s": [round(x, 3) for x in self.a_cli],
            "noisy_rounds_repeated": self.discarded,
        }


def first_request_after(log: Path, offset: int) -> float | None:
    """Unix time at which nginx started reading the first request logged after `offset`."""
    with open(log, "rb") as handle:
        handle.seek(offset)
        line = handle.readline().decode()
    if not line.endswith("\n"):
        return None
    ended, took = line.split()[:2]
    return float(ended) - float(took)


def start_ticks(pid: int) -> int | None:
    """When the process was started (clock ticks since boot)."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def time_to_first_request(
    ws: Workspace,
    command: Sequence[str],
    label: str,
    child_marker: str | None = None,
    *,
    all_cpus: bool = False,
) -> tuple[float, float | None, float]:
    """Seconds from just before starting `command` to the start of the first request nginx
    saw; with `child_marker`, how long after the command's own process the child whose
    command line contains it was started (clock-tick resolution); and the share of a core
    other processes used meanwhile."""
    nginx = ws.nginx
    log_file = ws.dir / "logs" / f"{label}.log"
    nginx.request_log.touch()
    offset = nginx.request_log.stat().st_size
    other = OtherCpu(nginx.pids)
    started = time.time()  # just before fork/exec: what a person typing the command waits
    proc = ws.launch(command, log_file, all_cpus=all_cpus)
    child_after: float | None = None
    try:
        parent_ticks = start_ticks(proc.pid)
        deadline = time.monotonic() + 60
        first = None
        while first is None:
            if child_marker is not None and child_after is None and parent_ticks is not None:
                child = next((p for p in children_of(proc.pid) if child_marker in cmdline(p)), None)
                child_ticks = None if child is None else start_ticks(child)
                if child_ticks is not None:
                    child_after = (child_ticks - parent_ticks) / CLK_TCK
            first = first_request_after(nginx.request_log, offset)
            if first is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchmarkError(
                        f"{label}: no request reached nginx:\n{log_tail(log_file)}"
                    )
                time.sleep(0.005)
        code = ws.finish(proc, 120, log_file)
    finally:
        if proc.poll() is None:
            stop_process(proc)
    if code != 0:
        raise BenchmarkError(f"{label}: exit code {code}:\n{log_tail(log_file)}")
    return first - started, child_after, other.share()


def case_startup(ws: Workspace, pinned: bool) -> Startup:
    nginx = ws.nginx
    # The file `loadkit run` generates from get.yaml (its host is overridden by --host, as
    # `loadkit run` does too).
    compiled = ws.compiled["get"]
    result = Startup(pinned=pinned)
    mode = "pinned" if pinned else "any-cpu"

    def a_command(round_no: int) -> list[str]:
        out = ws.dir / "runs" / f"case4-{mode}-round{round_no}"
        return ws.loadkit_run("get.yaml", 1, 1, nginx.log_url, out)

    def b_command(round_no: int) -> list[str]:
        return ws.locust(compiled, 1, 1, nginx.log_url)

    # Attempt 0 warms the bytecode cache and the page cache; it is not counted (--quick skips
    # it: its figures are not for comparing). Noisy rounds are repeated as in `compare`.
    args = ws.args
    attempt = 0 if args.quick else -1
    while len(result.a) < args.rounds:
        attempt += 1
        order = [("A", a_command), ("B", b_command)]
        if attempt % 2 == 0:
            order.reverse()
        measured: dict[str, float] = {}
        cli_part: float | None = None
        other = 0.0
        for side, command in order:
            marker = "loadkit.harness" if side == "A" else None
            seconds, child_after, other_share = time_to_first_request(
                ws, command(attempt), f"case4-{mode}-{attempt}-{side}", marker, all_cpus=not pinned
            )
            measured[side] = seconds
            other = max(other, other_share)
            if side == "A":
                cli_part = child_after
        line = (
            f"A loadkit run {measured['A']:.3f} s "
            + ("" if cli_part is None else f"(its Locust process started after {cli_part:.2f} s) ")
            + f"B locust -f {measured['B']:.3f} s, A-B {measured['A'] - measured['B']:+.3f} s "
            f"(other processes {other:.0%})"
        )
        if attempt == 0:
            print(f"  warm-up: {line}: not counted", flush=True)
            continue
        if other > args.max_other_cpu and result.discarded < args.retries:
            result.discarded += 1
            print(f"     noisy: {line}: not counted, repeating", flush=True)
            continue
        result.a.append(measured["A"])
        result.b.append(measured["B"])
        if cli_part is not None:
            result.a_cli.append(cli_part)
        print(f"  round {len(result.a)}: {line}", flush=True)
    cli = result.cli_median
    print(
        f"  median A {result.a_median:.3f} s, B {result.b_median:.3f} s, "
        f"overhead (median of the rounds' A-B) {result.overhead:+.3f} s"
        + ("" if cli is None else f"; loadkit run started its Locust process after {cli:.2f} s"),
        flush=True,
    )
    return result


# --- case 5: a big run folder, and the report built from it -----------------------------------


HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size"
)
REQUESTS = [  # (method, name, share of the traffic, typical ms)
    ("POST", "/api/login", 0.02, 40.0),
    ("GET", "/api/me", 0.20, 8.0),
    ("GET", "/api/cases", 0.25, 25.0),
    ("GET", "/api/cases/[id]", 0.20, 12.0),
    ("POST", "/api/reports", 0.10, 60.0),
    ("GET", "/api/stats", 0.08, 90.0),
    ("GET", "/api/status", 0.10, 3.0),
    ("POST", "/api/logout", 0.02, 5.0),
    ("GET", "/health", 0.03, 1.0),
]
SYNTH_RPS = 400.0
SYNTH_USERS = 200
PERCENTILE_FACTORS = (1.0, 1.2, 1.4, 1.5, 1.9, 2.4, 3.0, 3.6, 6.0, 9.0, 12.0)


def _bucket(ms: float) -> int:
    """Locust's rounding of a response time into its histogram key."""
    if ms < 100:
        return round(ms)
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


def synthesize_run_folder(folder: Path, history_rows: int, seed: int = 1) -> dict[str, Any]:
    """A run folder as `loadkit run` leaves it after a long soak test: scenario.yaml,
    locust_stats_history.csv with `history_rows` rows in Locust's exact format (one row per
    request name and one Aggregated row per second), and the matching locust_final.json."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_second = len(REQUESTS) + 1
    seconds = max(history_rows // per_second, 2)
    start = 1_780_000_000
    names = [name for _, name, _, _ in REQUESTS]
    tasks = "\n".join(
        f"      - name: task {i}\n        request: {{method: {m}, url: '{n.replace('[id]', '1')}',"
        f" name: '{n}'}}"
        for i, (m, n, _, _) in enumerate(REQUESTS)
    )
    (folder / "scenario.yaml").write_text(
        f"name: soak\nhost: http://127.0.0.1:8080\n"
        f"load: {{users: {SYNTH_USERS}, spawn_rate: 10, duration: {seconds}s}}\n"
        f"users:\n  - name: citizen\n    tasks:\n{tasks}\n"
        'thresholds:\n  - p95 < 500ms\n  - error_rate < 1%\n  - "/api/cases: p99 < 1s"\n'
        "  - rps > 100\n"
    )
    # Per request: totals so far, per-second counts, the response-time histogram.
    totals = {n: [0, 0, 0.0, math.inf, 0.0] for n in [*names, "Aggregated"]}
    per_sec: dict[str, dict[str, int]] = {n: {} for n in [*names, "Aggregated"]}
    fail_sec: dict[str, dict[str, int]] = {n: {} for n in [*names, "Aggregated"]}
    hist: dict[str, dict[int, int]] = {n: {} for n in [*names, "Aggregated"]}
    rows = 0
    with open(folder / "locust_stats_history.csv", "w", encoding="utf-8") as out:
        out.write(HISTORY_HEADER + "\n")
        lines: list[str] = []
        for s in range(seconds):
            ts = start + s
            users = min(SYNTH_USERS, 10 * (s + 1))
            wave = 1.0 + 0.2 * math.sin(s / 600.0)
            agg_reqs = agg_fails = 0
            agg_time = 0.0
            for method, name, share, typical in REQUESTS:
                reqs = max(0, int(SYNTH_RPS * share * users / SYNTH_USERS * rng.uniform(0.8, 1.2)))
                fails = 1 if rng.random() < 0.002 else 0
                t = totals[name]
                ms = typical * wave * rng.uniform(0.8, 1.25)
                t[0] += reqs
                t[1] += fails
                t[2] += ms * reqs
                t[3] = min(t[3], ms * 0.3)
                t[4] = max(t[4], ms * 12)
                agg_reqs, agg_fails, agg_time = (
                    agg_reqs + reqs,
                    agg_fails + fails,
                    agg_time + ms * reqs,
                )
                if reqs:
                    per_sec[name][str(ts)] = reqs
                    key = _bucket(ms)
                    hist[name][key] = hist[name].get(key, 0) + reqs
                if fails:
                    fail_sec[name][str(ts)] = fails
                pct = ",".join(str(_bucket(ms * f)) for f in PERCENTILE_FACTORS)
                avg = t[2] / t[0] if t[0] else 0.0
                lines.append(
                    f"{ts},{users},{method},{name},{reqs * 0.98:.6f},{fails * 0.1:.6f},{pct},"
                    f"{t[0]},{t[1]},{_bucket(avg)},{avg},{t[3]},{t[4]},44.0\n"
                )
            a = totals["Aggregated"]
            a[0] += agg_reqs
            a[1] += agg_fails
            a[2] += agg_time
            a[3] = min(totals[n][3] for n in names)
            a[4] = max(totals[n][4] for n in names)
            if agg_reqs:
                per_sec["Aggregated"][str(ts)] = agg_reqs
            if agg_fails:
                fail_sec["Aggregated"][str(ts)] = agg_fails
            mean = agg_time / agg_reqs if agg_reqs else 0.0
            pct = ",".join(str(_bucket(mean * f)) for f in PERCENTILE_FACTORS)
            avg = a[2] / a[0] if a[0] else 0.0
            lines.append(
                f"{ts},{users},,Aggregated,{agg_reqs * 0.98:.6f},{agg_fails * 0.1:.6f},{pct},"
                f"{a[0]},{a[1]},{_bucket(avg)},{avg},{a[3]},{a[4]},44.0\n"
            )
            if len(lines) >= 50_000:
                out.writelines(lines)
                rows += len(lines)
                lines = []
        out.writelines(lines)
        rows += len(lines)
    for name in names:
        for key, count in hist[name].items():
            hist["Aggregated"][key] = hist["Aggregated"].get(key, 0) + count

    def entry(method: str, name: str) -> dict[str, Any]:
        t = totals[name]
        return {
            "name": name,
            "method": method,
            "last_request_timestamp": start + seconds - 0.01,
            "start_time": start + 0.05,
            "num_requests": t[0],
            "num_none_requests": 0,
            "num_failures": t[1],
            "total_response_time": t[2],
            "max_response_time": t[4],
            "min_response_time": t[3] if t[0] else None,
            "total_content_length": 44 * t[0],
            "response_times": {str(k): v for k, v in sorted(hist[name].items())},
            "num_reqs_per_sec": per_sec[name],
            "num_fail_per_sec": fail_sec[name],
        }

    final = {
        "schema": 1,
        "locust_version": "2.47.0",
        "started_at": start + 0.0,
        "stopped_at": start + seconds + 0.0,
        "written_at": start + seconds + 0.5,
        "locust_exit_code": 0,
        "peak_users": SYNTH_USERS,
        "entries": [entry(m, n) for m, n, _, _ in REQUESTS],
        "total": entry("", "Aggregated"),
        "errors": [
            {
                "method": m,
                "name": n,
                "error": "CatchResponseError('expected status 200, got 503')",
                "occurrences": totals[n][1],
            }
            for m, n, _, _ in REQUESTS
            if totals[n][1]
        ],
        "exceptions": [],
    }
    (folder / "locust_final.json").write_text(json.dumps(final))
    return {"rows": rows, "seconds": seconds, "requests": totals["Aggregated"][0]}


READ_ALONE_REFERENCE_S = 0.43
"""pandas reading a 1,000,000-row history on the machine the targets were set on."""


def child_read(folder: Path) -> None:
    """`run.py --child-read FOLDER`: only what the report does to read the history CSV (the
    "reading alone" calibration: ≈ 0.43 s for 1,000,000 rows where the targets were set)."""
    from loadkit.report.charts import read_history

    t0 = time.perf_counter()
    rows = len(read_history(folder / "locust_stats_history.csv"))
    print(json.dumps({"read_s": time.perf_counter() - t0, "aggregated_rows": rows}))


def child_report(folder: Path) -> None:
    """Runs in a fresh process (`run.py --child-report FOLDER`): what `loadkit run` does after
    Locust has stopped — summary.json/.md from locust_final.json and the scenario, then the
    report (charts, HTML, JUnit) — and prints its timings and its own peak RSS as JSON."""
    t0 = time.perf_counter()
    from loadkit.report.markdown import render_markdown
    from loadkit.report.write import write_report
    from loadkit.scenario import validate_source
    from loadkit.scenario.source import load_yaml
    from loadkit.settings import RunSettings
    from loadkit.summary import build_summary

    t1 = time.perf_counter()
    scenario = validate_source(load_yaml(str(folder / "scenario.yaml")))
    final = json.loads((folder / "locust_final.json").read_text(encoding="utf-8"))
    summary = build_summary(
        final, scenario, RunSettings.resolve(scenario), source_file="scenario.yaml", aborted=False
    )
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (folder / "summary.md").write_text(render_markdown(summary), encoding="utf-8")
    t2 = time.perf_counter()
    files = write_report(folder)
    t3 = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": t1 - t0,
                "summary_s": t2 - t1,
                "report_s": t3 - t2,
                "charts": sorted(files.charts),
                "notes": list(files.notes),
                "verdict": summary["verdict"],
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


@dataclass
class ReportFigures:
    rows: int
    seconds: int
    wall_s: list[float] = field(default_factory=list)
    peak_rss: list[int] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    read_alone_s: list[float] = field(default_factory=list)
    """Per round, right after the report: the history CSV read alone (calibration)."""
    discarded: int = 0

    @property
    def speed_factor(self) -> float | None:
        """How much slower this machine is now than where the targets were set, judged by
        reading the history alone (only meaningful with 1,000,000 rows)."""
        if not self.read_alone_s or self.rows < 900_000:
            return None
        return statistics.median(self.read_alone_s) / READ_ALONE_REFERENCE_S

    @property
    def scaled_wall(self) -> float | None:
        """The report's time scaled to the machine the targets were set on (per round: the
        report's time x 0.43 s / that round's reading alone)."""
        if self.speed_factor is None:
            return None
        return statistics.median(
            w * READ_ALONE_REFERENCE_S / r
            for w, r in zip(self.wall_s, self.read_alone_s, strict=True)
        )

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def rss_max(self) -> int:
        return max(self.peak_rss)

    def as_json(self) -> dict[str, Any]:
        return {
            "history_rows": self.rows,
            "history_seconds": self.seconds,
            "wall_median_s": round(self.wall_median, 3),
            "wall_s": [round(x, 3) for x in self.wall_s],
            "peak_rss_max_bytes": self.rss_max,
            "peak_rss_bytes": self.peak_rss,
            "phases": self.phases,
            "read_alone_s": [round(x, 3) for x in self.read_alone_s],
            "speed_factor_vs_reference": None
            if self.speed_factor is None
            else round(self.speed_factor, 3),
            "wall_scaled_to_reference_s": None
            if self.scaled_wall is None
            else round(self.scaled_wall, 3),
            "noisy_rounds_repeated": self.discarded,
        }


def case_report(ws: Workspace) -> ReportFigures:
    folder = ws.dir / "runs" / "case5-soak"
    started = time.perf_counter()
    made = synthesize_run_folder(folder, ws.args.history_rows)
    print(
        f"  synthesized {made['rows']:,} history rows ({made['seconds']:,} s of a run, "
        f"{made['requests']:,} requests) in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    result = ReportFigures(rows=made["rows"], seconds=made["seconds"])
    attempt = 0
    while len(result.wall_s) < ws.args.report_rounds:
        attempt += 1
        log = ws.dir / "logs" / f"case5-attempt{attempt}.log"
        other = OtherCpu(ws.nginx.pids)
        t0 = time.perf_counter()
        proc = ws.launch(
            [sys.executable, str(Path(__file__).resolve()), "--child-report", str(folder)], log
        )
        code = ws.finish(proc, 300, log)
        wall = time.perf_counter() - t0
        noise = other.share()
        if code != 0:
            raise BenchmarkError(f"report: exit code {code}:\n{log_tail(log)}")
        figures = json.loads(log.read_text().strip().splitlines()[-1])
        inside = figures["import_s"] + figures["summary_s"] + figures["report_s"]
        line = (
            f"{wall:.2f} s wall (imports {figures['import_s']:.2f} s, summary "
            f"{figures['summary_s']:.2f} s, report {figures['report_s']:.2f} s, Python's start "
            f"and exit {wall - inside:.2f} s), peak RSS "
            f"{figures['peak_rss_bytes'] / MIB:.0f} MiB, {len(figures['charts'])} charts, "
            f"verdict {figures['verdict']} (other processes {noise:.0%})"
        )
        if noise > ws.args.max_other_cpu and result.discarded < ws.args.retries:
            result.discarded += 1
            print(f"     noisy: {line}: not counted, repeating", flush=True)
            continue
        result.wall_s.append(wall)
        result.peak_rss.append(int(figures["peak_rss_bytes"]))
        result.phases.append(
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in figures.items()}
        )
        if result.rows < 900_000:  # the calibration is for the 1,000,000-row target
            print(f"  round {len(result.wall_s)}: {line}", flush=True)
            continue
        # Calibration, right after: the history read alone, in a fresh process.
        read_log = ws.dir / "logs" / f"case5-read{attempt}.log"
        reader = ws.launch(
            [sys.executable, str(Path(__file__).resolve()), "--child-read", str(folder)], read_log
        )
        if ws.finish(reader, 120, read_log) != 0:
            raise BenchmarkError(f"reading the history failed:\n{log_tail(read_log)}")
        read_s = float(json.loads(read_log.read_text().strip().splitlines()[-1])["read_s"])
        result.read_alone_s.append(read_s)
        line += f"; the history read alone: {read_s:.2f} s"
        print(f"  round {len(result.wall_s)}: {line}", flush=True)
    return result


# --- case 6: memory of a long run ---------------------------------------------------------


@dataclass
class Memory:
    duration_s: int
    warmup_s: float
    samples: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the first request, RSS bytes of the Locust process)"""
    cli_samples: list[tuple[float, int]] = field(default_factory=list)
    rps: float = 0.0
    generator_cpu: float = 0.0
    other_cpu: float = 0.0

    def rss_at(self, fraction: float) -> int:
        when = fraction * self.duration_s
        return min(self.samples, key=lambda s: abs(s[0] - when))[1]

    def slope(self, samples: list[tuple[float, int]] | None = None) -> float:
        """Least-squares growth after the warm-up, bytes per minute."""
        points = [s for s in (samples or self.samples) if s[0] >= self.warmup_s]
        if len(points) < 3:
            return 0.0
        xs = [p[0] for p in points]
        ys = [float(p[1]) for p in points]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        var = sum((x - mx) ** 2 for x in xs)
        return 60.0 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var

    @property
    def growth_per_min(self) -> float:
        """Slope after warm-up as a fraction of the RSS at the end of the warm-up."""
        return self.slope() / self.rss_at(self.warmup_s / self.duration_s)

    def as_json(self) -> dict[str, Any]:
        return {
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "rps": round(self.rps, 1),
            "generator_cpu": round(self.generator_cpu, 3),
            "other_cpu": round(self.other_cpu, 3),
            "rss_10pct_bytes": self.rss_at(0.1),
            "rss_50pct_bytes": self.rss_at(0.5),
            "rss_100pct_bytes": self.rss_at(1.0),
            "growth_bytes_per_min": round(self.slope()),
            "growth_fraction_per_min": round(self.growth_per_min, 6),
            "cli_growth_bytes_per_min": round(self.slope(self.cli_samples)),
            "samples": [(round(t, 2), rss) for t, rss in self.samples],
        }


def case_memory(ws: Workspace) -> Memory:
    nginx, args = ws.nginx, ws.args
    duration = int(args.memory_seconds)
    interval = max(1.0, min(5.0, duration / 60))
    result = Memory(duration_s=duration, warmup_s=min(60.0, duration / 4))
    out = ws.dir / "runs" / "case6-long"
    log = ws.dir / "logs" / "case6.log"
    command = ws.loadkit_run("get.yaml", duration, args.users, nginx.url, out)
    before = nginx.requests_total()
    proc = ws.launch(command, log)
    try:
        deadline = time.monotonic() + 60
        while nginx.requests_total() == before:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchmarkError(f"memory run: no request:\n{log_tail(log)}")
            time.sleep(0.02)
        first = time.monotonic()
        locust_pid = next(
            (p for p in children_of(proc.pid) if "loadkit.harness" in cmdline(p)), None
        )
        if locust_pid is None:
            raise BenchmarkError("memory run: no `python -m loadkit.harness` child found")
        n0, g0, t0 = nginx.requests_total(), cpu_seconds([locust_pid]), time.monotonic()
        other = OtherCpu(lambda: [locust_pid, proc.pid, *nginx.pids()])
        # Sample until 1 s before Locust's planned end (its clock started a little before the
        # first request); the last sample is the "100 %" one.
        last = duration - 1.0
        times = [k * interval for k in range(int(last // interval) + 1)]
        if last - times[-1] > interval / 4:
            times.append(last)
        next_report = duration / 10
        n1, g1, t1 = n0, g0, t0
        for when in times:
            delay = first + when - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = time.monotonic() - first
            rss, cli_rss = rss_bytes(locust_pid), rss_bytes(proc.pid)
            n1, g1, t1 = nginx.requests_total(), cpu_seconds([locust_pid]), time.monotonic()
            if rss is None or cli_rss is None:
                raise BenchmarkError(f"memory run: Locust ended early:\n{log_tail(log)}")
            result.samples.append((now, rss))
            result.cli_samples.append((now, cli_rss))
            if now >= next_report:
                print(f"  {now:5.0f} s: Locust RSS {rss / MIB:.1f} MiB", flush=True)
                next_report += duration / 10
        result.rps = (n1 - n0) / (t1 - t0)
        result.generator_cpu = (g1 - g0) / (t1 - t0)
        result.other_cpu = other.share()
        code = ws.finish(proc, 120, log)
    finally:
        if proc.poll() is None:
            stop_process(proc)
    if code != 0:
        raise BenchmarkError(f"memory run: loadkit exit code {code}:\n{log_tail(log)}")
    print(
        f"  {result.rps:,.0f} req/s at {result.generator_cpu:.0%} CPU (other processes "
        f"{result.other_cpu:.0%}); Locust RSS at 10/50/100 %: "
        f"{result.rss_at(0.1) / MIB:.1f} / {result.rss_at(0.5) / MIB:.1f} / "
        f"{result.rss_at(1.0) / MIB:.1f} MiB; after {result.warmup_s:.0f} s: "
        f"{result.slope() / MIB:+.2f} MiB/min ({result.growth_per_min:+.2%}/min)",
        flush=True,
    )
    return result


# ------------------------------------------------------------------------------ calibration


def case_wrk(ws: Workspace) -> dict[str, Any] | None:
    """What nginx can serve to a client that costs almost nothing: how far the target is
    from being the bottleneck, and how this machine compares with others."""
    if shutil.which("wrk") is None:
        print("  skipped: wrk is not installed (apt-get install -y wrk)", flush=True)
        return None
    seconds = max(1, round(ws.args.seconds))
    workers = ws.nginx.worker_pids()
    w1, t1 = cpu_seconds(workers), time.monotonic()
    proc = subprocess.run(
        pinned(
            GENERATOR_CPU, ["wrk", "-t1", "-c32", f"-d{seconds}s", ws.nginx.url + "/get"], ws.pin
        ),
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    nginx_cpu = (cpu_seconds(workers) - w1) / (time.monotonic() - t1)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("Requests/sec:")), None)
    if proc.returncode != 0 or line is None:
        raise BenchmarkError(f"wrk failed: {proc.stdout[-300:]}{proc.stderr[-300:]}")
    rps = float(line.split()[1])
    print(f"  wrk: {rps:,.0f} req/s, nginx CPU {nginx_cpu:.0%}", flush=True)
    return {"rps": round(rps, 1), "nginx_cpu": round(nginx_cpu, 3), "seconds": seconds}


# ------------------------------------------------------------------------------------ sweep


def case_sweep(ws: Workspace) -> dict[str, Any]:
    seconds = run_seconds(ws.args)
    found: dict[str, Any] = {}
    for users in (1, 2, 5, 10, 20, 32, 50, 100):
        command = ws.locust(HANDWRITTEN / "fast_get.py", seconds, users, ws.nginx.url)
        (t,) = measure_together(ws, [Generator(command, ws.nginx, f"sweep-{users}")])
        found[str(users)] = {
            "rps": round(t.rps, 1),
            "generator_cpu": round(t.generator_cpu, 3),
            "nginx_cpu": round(t.nginx_cpu, 3),
        }
        print(f"  {users:3d} users: {t.line()}", flush=True)
    return found


# ----------------------------------------------------------------------------- the verdicts


@dataclass
class Row:
    case: str
    what: str
    a: str
    b: str
    figure: str
    target: str
    verdict: str


def noise_band(aa: Comparison) -> float:
    """The largest deviation from 1 of a round's A/A ratio, in the method judged on."""
    ratios = aa.together_round_ratios or aa.sequential_round_ratios
    return max((abs(r - 1) for r in ratios), default=0.0)


def verdict_ratio(ratio: float, target: float, noise: float | None) -> str:
    if ratio >= target:
        return "met"
    if noise is not None and ratio >= target - noise:
        return "within noise"
    return "MISSED"


def summarize(results: dict[str, Any], noise: float | None) -> list[Row]:
    rows: list[Row] = []
    wrk = results.get("wrk")
    if isinstance(wrk, dict):
        rows.append(Row("wrk", "calibration: wrk -> nginx /get", f"{wrk['rps']:,.0f}/s", "-",
                        f"nginx CPU {wrk['nginx_cpu']:.0%}", "-", "-"))  # fmt: skip
    targets = {"0": None, "1": 1.00, "2": 0.95, "3": 4.0, "7": None}
    what = {
        "0": "A/A: hand GET vs itself",
        "1": "compiled GET vs hand FastHttpUser",
        "2": "compiled POST+checks vs hand Fast",
        "3": "compiled GET vs hand HttpUser",
        "7": "loadkit run GET vs hand Fast",
    }
    for case, target in targets.items():
        result = results.get(case)
        if not isinstance(result, Comparison):
            continue
        unit = "×" if case == "3" else ""
        figure = f"{result.ratio:.3f}{unit}"
        if result.together_ratio is not None and result.sequential_ratio is not None:
            figure += f" (alone {result.sequential_ratio:.2f}{unit})"
        a = "-" if result.a_median is None else f"{result.a_median:,.0f}/s"
        b = "-" if result.b_median is None else f"{result.b_median:,.0f}/s"
        if case == "0":
            band = noise_band(result)
            rows.append(Row(case, what[case], a, b, figure, f"noise ±{band:.1%}", "-"))
            continue
        shown_target = (
            "-" if target is None else (f"≥ {target:.2f}" if target < 2 else f"≥ {target:.0f}×")
        )
        verdict = "-" if target is None else verdict_ratio(result.ratio, target, noise)
        rows.append(Row(case, what[case], a, b, figure, shown_target, verdict))
    for key in ("4", "4u"):
        startup = results.get(key)
        if not isinstance(startup, Startup):
            continue
        rows.append(
            Row(
                key,
                "start-up to first request, " + ("one core" if startup.pinned else "any core"),
                f"{startup.a_median:.3f} s",
                f"{startup.b_median:.3f} s",
                f"{startup.overhead:+.3f} s",
                "≤ +0.300 s",
                "met" if startup.overhead <= 0.3 else "MISSED",
            )
        )
    report = results.get("5")
    if isinstance(report, ReportFigures):
        memory_ok = report.rss_max <= 1024 * MIB
        ok = report.wall_median <= 3.0 and memory_ok
        scaled = report.scaled_wall
        figure = "time, peak RSS"
        verdict = "met" if ok else "MISSED"
        if scaled is not None:
            figure = f"scaled {scaled:.2f} s (machine ×{report.speed_factor:.2f})"
            if not ok and memory_ok and scaled <= 3.0:
                verdict = "MISSED here, met scaled"
        rows.append(
            Row(
                "5",
                f"report, {report.rows:,}-row history",
                f"{report.wall_median:.2f} s",
                f"{report.rss_max / MIB:.0f} MiB",
                figure,
                "≤ 3 s, ≤ 1024 MiB",
                verdict,
            )
        )
    memory = results.get("6")
    if isinstance(memory, Memory):
        rows.append(
            Row(
                "6",
                f"Locust RSS, {memory.duration_s} s loadkit run",
                f"{memory.rss_at(0.1) / MIB:.1f}/{memory.rss_at(0.5) / MIB:.1f}/"
                f"{memory.rss_at(1.0) / MIB:.1f} MiB",
                f"{memory.rps:,.0f}/s",
                f"{memory.growth_per_min:+.2%}/min",
                "< 1 %/min",
                "met" if memory.growth_per_min < 0.01 else "MISSED",
            )
        )
    return rows


def print_table(rows: list[Row]) -> None:
    header = Row("case", "what", "A", "B", "figure", "target", "verdict")
    cells = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in cells) for f in Row.__dataclass_fields__]
    for i, row in enumerate(cells):
        print(
            "  ".join(
                getattr(row, f).ljust(w)
                for f, w in zip(Row.__dataclass_fields__, widths, strict=True)
            ).rstrip()
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))


# ------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 round of 2 s, 2 s warm-up, 20 s memory run (a smoke test)",
    )
    parser.add_argument("--rounds", type=int, help="A/B rounds per case (default 5; quick 1)")
    parser.add_argument(
        "--seconds", type=float, help="measuring window per run, s (default 10; quick 2)"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        help="s between the first request and the window (default 3; quick 1)",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=32,
        help="users per generator run (default 32: saturates one core)",
    )
    parser.add_argument(
        "--cases",
        default=",".join(ALL_CASES),
        help=f"comma-separated, from {','.join(ALL_CASES)},sweep (default all)",
    )
    parser.add_argument(
        "--history-rows",
        type=int,
        default=1_000_000,
        help="rows of the synthesized history for case 5 (default 1,000,000)",
    )
    parser.add_argument("--report-rounds", type=int, help="case 5 repetitions (default 3; quick 1)")
    parser.add_argument(
        "--memory-seconds", type=int, help="duration of the case 6 run, s (default 600; quick 20)"
    )
    parser.add_argument(
        "--max-other-cpu",
        type=float,
        default=0.10,
        help="a round in which other processes used more than this share of a core is "
        "repeated (default 0.10)",
    )
    parser.add_argument(
        "--retries", type=int, help="noisy rounds repeated per case at most (default 2 x rounds)"
    )
    parser.add_argument(
        "--startup-modes",
        help="case 4: 'pinned' (both commands on the generator's core), 'any-cpu' (on any "
        "core), or both, comma-separated (default both; quick: pinned)",
    )
    parser.add_argument(
        "--method",
        default="head-to-head,sequential",
        help="cases 0-3, 7: 'head-to-head' (A and B at once on one core: the ratio), "
        "'sequential' (each alone: req/s per core), or both (default)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--child-report", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-read", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    if args.retries is None:
        args.retries = 0 if quick else 2 * (args.rounds or 5)
    for name, full, fast in (
        ("rounds", 5, 1),
        ("seconds", 10.0, 2.0),
        ("warmup", 3.0, 1.0),
        ("report_rounds", 3, 1),
        ("memory_seconds", 600, 20),
    ):
        if getattr(args, name) is None:
            setattr(args, name, fast if quick else full)
    args.case_list = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.method = [m.strip() for m in args.method.split(",") if m.strip()]
    if not args.method or set(args.method) - {"head-to-head", "sequential"}:
        parser.error("--method: head-to-head, sequential or both")
    modes = args.startup_modes or ("pinned" if quick else "pinned,any-cpu")
    args.startup_modes = [m.strip() for m in modes.split(",") if m.strip()]
    if not args.startup_modes or set(args.startup_modes) - {"pinned", "any-cpu"}:
        parser.error("--startup-modes: pinned, any-cpu or both")
    unknown = [c for c in args.case_list if c not in (*ALL_CASES, "sweep")]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}")
    if args.rounds < 1 or args.seconds <= 0 or args.users < 1 or args.memory_seconds < 3:
        parser.error("--rounds, --seconds and --users must be positive, --memory-seconds >= 3")
    return args


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def environment_facts(nginx: Nginx, args: argparse.Namespace, pin: bool) -> dict[str, Any]:
    import platform

    locust_version = subprocess.run(
        [sys.executable, "-c", "import importlib.metadata as m; print(m.version('locust'))"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "python": platform.python_version(),
        "locust": locust_version,
        "nginx": nginx.version,
        "pinned": pin,
        "users": args.users,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "warmup": args.warmup,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_report is not None:
        child_report(args.child_report)
        return 0
    if args.child_read is not None:
        child_read(args.child_read)
        return 0
    pin = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    if not pin:
        print("warning: no taskset or fewer than 2 CPUs: nothing is pinned", file=sys.stderr)
    if pin:
        # This process only polls and sleeps; it must never take the generator's core.
        os.sched_setaffinity(0, {int(TARGET_CPU)})
    workdir = Path(tempfile.mkdtemp(prefix="loadkit-bench-"))
    nginx = Nginx(workdir / "nginx", pin)
    nginx_b = Nginx(workdir / "nginx-b", pin)
    ws = Workspace(workdir, nginx, nginx_b, args, pin, env=python_env())
    results: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    errors: dict[str, str] = {}
    load_before = load_average()
    watch = LoadWatch()
    watch.start()
    started = time.time()
    exit_code = 0
    try:
        with interruptible():
            nginx.start()
            if "head-to-head" in args.method:
                nginx_b.start()
            facts = environment_facts(nginx, args, pin)
            print(
                f"loadkit benchmark: {facts['cpus']} CPUs ({facts['cpu_model']}), Python "
                f"{facts['python']}, Locust {facts['locust']}, nginx {facts['nginx']}"
                + (" on core 0, generators on core 1" if pin else " (not pinned)")
                + f"\n{args.users} users, {args.rounds} round(s) of {args.seconds:g} s after "
                f"{args.warmup:g} s warm-up; load average before: "
                + " ".join(f"{x:.2f}" for x in load_before),
                flush=True,
            )
            needs = set(args.case_list)
            wanted = {"get": "get.yaml"} if needs & {"1", "3", "4"} else {}
            if "2" in needs:
                wanted["post"] = "post.yaml"
            ws.compile(wanted, nginx.url)
            for case in args.case_list:
                print(f"\n[{case}] {TITLES[case]}", flush=True)
                try:
                    if case in ("0", "1", "2", "3", "7"):
                        results[case] = case_throughput(ws, case)
                    elif case == "4":
                        for mode in args.startup_modes:
                            if mode == "any-cpu":
                                print("  the same, with both commands free to use every core:")
                            key = "4" if mode == "pinned" else "4u"
                            results[key] = case_startup(ws, pinned=mode == "pinned")
                    elif case == "5":
                        results[case] = case_report(ws)
                    elif case == "6":
                        results[case] = case_memory(ws)
                    elif case == "wrk":
                        calibration = case_wrk(ws)
                        if calibration is not None:
                            results[case] = calibration
                    elif case == "sweep":
                        results[case] = case_sweep(ws)
                except BenchmarkError as exc:
                    errors[case] = str(exc)
                    print(f"  error: {exc}", flush=True)
    except Interrupted:
        print("\ninterrupted: stopping what was started", file=sys.stderr)
        exit_code = 130
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        exit_code = 2
    finally:
        for proc in list(ws.running):
            stop_process(proc)
        nginx.stop()
        nginx_b.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")
    if exit_code:
        return exit_code
    load_after = load_average()
    watch.stopped.set()
    load_max = max(watch.samples, default=load_after[0])
    others = [
        t.other_cpu
        for r in results.values()
        if isinstance(r, Comparison)
        for t in (*r.a, *r.b, *(pair[0] for pair in r.together))
    ]
    comparison_0 = results.get("0")
    noise = noise_band(comparison_0) if isinstance(comparison_0, Comparison) else None
    rows = summarize(results, noise)
    print(
        f"\nSummary ({time.time() - started:.0f} s; load average after: "
        + " ".join(f"{x:.2f}" for x in load_after)
        + f", highest 1-min load average seen: {load_max:.2f}"
        + (
            f"; CPU of other processes in the windows: median {statistics.median(others):.0%}, "
            f"max {max(others):.0%} of a core"
            if others
            else ""
        )
        + ")"
    )
    print_table(rows)
    for case, message in errors.items():
        print(f"case {case}: not measured: {message.splitlines()[0]}")
    if args.json is not None:
        data = {
            "environment": facts,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "load_average_1min_max": load_max,
            "other_cpu_in_windows": {"median": statistics.median(others), "max": max(others)}
            if others
            else None,
            "noise_band": noise,
            "cases": {
                case: (r.as_json() if hasattr(r, "as_json") else r) for case, r in results.items()
            },
            "table": [vars(r) for r in rows],
            "errors": errors,
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
