"""One measuring window: generators started at once on the generator's core, requests counted
by nginx (not by the generator) and CPU read from /proc over `--seconds` after a warm-up."""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import BenchmarkError
from .nginx import Nginx
from .options import Options
from .processes import stop_process
from .procfs import busy_seconds, children_of, cpu_seconds
from .workspace import Workspace, log_tail


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
    options = ws.options
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
        time.sleep(options.warmup)
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
        time.sleep(options.seconds)
        n2, g2, w2, b2, t2 = sample()
        for g, proc, log in zip(generators, procs, logs, strict=True):
            if proc.poll() is not None:
                raise BenchmarkError(f"{g.label}: ended inside the window:\n{log_tail(log)}")
            if g.stop_early:
                proc.send_signal(signal.SIGTERM)
        for g, proc, log in zip(generators, procs, logs, strict=True):
            code = ws.finish(proc, options.warmup + options.seconds + 90, log)
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


def run_seconds(options: Options) -> int:
    """Locust's -t: warm-up + window + margin (first request comes within ~0.1 s of start)."""
    return math.ceil(float(options.warmup) + float(options.seconds) + 2)
