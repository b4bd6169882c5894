"""Case 4: from just before a command starts to the first request nginx reads, `loadkit run`
against `locust -f` on the file it generates, back to back in alternating order."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BenchmarkError
from ..processes import stop_process
from ..procfs import CLK_TCK, OtherCpu, children_of, cmdline, start_ticks
from ..workspace import Workspace, log_tail


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
    options = ws.options
    attempt = 0 if options.quick else -1
    while len(result.a) < options.rounds:
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
        if other > options.max_other_cpu and result.discarded < options.retries:
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
