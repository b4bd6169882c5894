"""Starting and stopping what the benchmark runs: which core, which environment, and a stop
that leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence

from .procfs import children_of, is_alive

GENERATOR_CPU = "1"
TARGET_CPU = "0"
"""nginx and this process keep to core 0; every load generator runs on core 1."""


def every_cpu() -> str:
    """A taskset list of every core (for what is not being measured)."""
    return f"0-{(os.cpu_count() or 1) - 1}"


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
        if is_alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


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
