"""What /proc says about processes and the machine: CPU time, RSS, descendants, start times,
and the CPU other processes took while something was measured. Reading only."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MIB = 1024 * 1024


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses: split after its closing ')'.
    return text[text.rindex(")") + 2 :].split()


def is_alive(pid: int) -> bool:
    return _stat_fields(pid) is not None


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


def start_ticks(pid: int) -> int | None:
    """When the process was started (clock ticks since boot)."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


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
