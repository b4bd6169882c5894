"""Case 6: the RSS of the Locust process of a long `loadkit run` at full speed, sampled from
/proc; judged by its least-squares growth after the first minute."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import BenchmarkError
from ..processes import stop_process
from ..procfs import MIB, OtherCpu, children_of, cmdline, cpu_seconds, rss_bytes
from ..workspace import Workspace, log_tail


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
    nginx, options = ws.nginx, ws.options
    duration = int(options.memory_seconds)
    interval = max(1.0, min(5.0, duration / 60))
    result = Memory(duration_s=duration, warmup_s=min(60.0, duration / 4))
    out = ws.dir / "runs" / "case6-long"
    log = ws.dir / "logs" / "case6.log"
    command = ws.loadkit_run("get.yaml", duration, options.users, nginx.url, out)
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
