"""The Locust child process seen from this side: when it counts as hung (`Deadline`), its
progress lines read (`RunTimes`: what this process saw of the run), SIGINT/SIGTERM forwarded
to it, and `loadkit worker`'s own Locust worker."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from loadkit.errors import UsageError
from loadkit.harness_protocol import (
    SECRET_NAMES_ENV,
)
from loadkit.masking import MIN_SECRET_LENGTH, TOO_SHORT

if TYPE_CHECKING:
    pass


ProgressCallback = Callable[[dict[str, Any]], None]


# How long Locust may take to start the test (import the locustfile, connect workers), and,
# after the planned duration and the users' grace period, to shut down, before it is
# considered hung and killed.
_STARTUP_GRACE_S = 60.0


_SHUTDOWN_GRACE_S = 30.0


_SIGNAL_KILL_AFTER_S = 5.0


@dataclass
class Deadline:
    """When Locust counts as hung: planned load + grace, from the moment the test started
    (known from the first progress line), or from `begin` plus the start-up grace before."""

    load_s: float
    begun: float
    test_started: float | None = None

    def harness_bound_s(self) -> float:
        """The harness's own deadline, from its start: later than ours, so it acts only when
        this process is gone (it would have killed a hung Locust first)."""
        return _STARTUP_GRACE_S + self.load_s + _SHUTDOWN_GRACE_S + 10.0

    def passed(self, now: float) -> bool:
        if self.test_started is None:
            return now > self.begun + _STARTUP_GRACE_S + self.load_s + _SHUTDOWN_GRACE_S
        return now > self.test_started + self.load_s + _SHUTDOWN_GRACE_S


@dataclass
class RunTimes:
    """What this process saw of the run, by wall clock (from the progress lines and the
    process itself): the span the numbers cover when Locust left no final snapshot (its
    history CSV is flushed only every ~10 s, so its timestamps are no measure of the run)."""

    test_started: float | None = None
    load_stopped: float | None = None
    """The first progress line saying the users are stopping, or None."""
    process_ended: float | None = None
    last_users: int = 0
    """Users running in the last progress line: each one's request in flight, if any, is
    lost when Locust is killed."""


def worker_command(master_host: str, master_port: int, processes: int | None) -> list[str]:
    """A `loadkit worker`: Locust's worker through the harness (fine histograms, CPU samples),
    with the locustfile received from the master (`-f -`), so what runs is the reviewed one."""
    command = [
        sys.executable, "-m", "loadkit.harness", "-f", "-", "--worker",
        "--master-host", master_host, "--master-port", str(master_port),
        # The verdict is the master's: a worker's exit code says only whether it ran cleanly,
        # not whether some request failed (Locust's default exit code 1).
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    if processes is None or processes > 1:
        command += ["--processes", "-1" if processes is None else str(processes)]
    return command


def run_worker(
    master_host: str, master_port: int, processes: int | None, secret_names: tuple[str, ...] = ()
) -> int:
    """Run a worker until its master ends the test (or a signal arrives); its exit code.
    `secret_names`: environment variables holding the scenario's secrets, which the worker's
    harness masks in everything its Locust prints and logs (the master masks what workers
    report in any case, but a worker's own output goes to its own terminal or pod log)."""
    env = {**os.environ, SECRET_NAMES_ENV: worker_secret_names(secret_names, os.environ)}
    command = worker_command(master_host, master_port, processes)
    # Own session: a terminal's Ctrl-C reaches only us, and Locust is stopped once.
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, start_new_session=True, env=env
    ) as process:
        aborted = threading.Event()
        with forward_signals(process, aborted):
            return process.wait()


def worker_secret_names(names: tuple[str, ...], environ: Mapping[str, str]) -> str:
    """LOADKIT_SECRET_NAMES for a worker's harness; UsageError for a name this machine's
    environment does not hold, or whose value is too short to be masked safely (the same
    rule as `loadkit run`'s, which never shows the value nor its length)."""
    for name in names:
        if not environ.get(name):
            raise UsageError(
                f"--secret-env {name}: no such environment variable here; export it (the "
                "value the scenario reads as a secret) before starting the worker"
            )
        if len(environ[name]) < MIN_SECRET_LENGTH:
            raise UsageError(f"--secret-env {name}: {TOO_SHORT}")
    return ",".join(names)


def wait_for_locust(
    process: subprocess.Popen[bytes], deadline: Deadline, aborted: threading.Event
) -> int | None:
    signalled_at: float | None = None
    while True:
        try:
            return process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if aborted.is_set() and signalled_at is None:
            signalled_at = now
        hung = deadline.passed(now)
        if hung or (signalled_at is not None and now - signalled_at > _SIGNAL_KILL_AFTER_S + 30):
            process.kill()
            process.wait()
            return None


@contextmanager
def forward_signals(process: subprocess.Popen[bytes], aborted: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM stop Locust gracefully (it still writes its final stats); a second
    signal kills it. Once Locust has ended, a signal is noted and changes nothing: the run is
    over, and its files are being written (the exit code stays the one summary.json says)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if process.poll() is not None:
            if not noted:
                os.write(
                    sys.stderr.fileno(),
                    f"loadkit: {signal.Signals(signum).name} received while the run's files "
                    "are written; finishing them first\n".encode(),
                )
            noted.append(signum)
            return
        if aborted.is_set():
            process.kill()
        else:
            aborted.set()
            process.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def read_progress(
    fd: int,
    on_progress: ProgressCallback | None,
    deadline: Deadline,
    times: RunTimes | None = None,
) -> None:
    times = times or RunTimes()
    with os.fdopen(fd, "rb") as stream:
        for raw in stream:
            try:
                line = json.loads(raw)
            except (ValueError, TypeError):
                continue
            if not isinstance(line, dict):
                continue
            elapsed = line.get("elapsed")
            if deadline.test_started is None and isinstance(elapsed, int | float) and elapsed > 0:
                deadline.test_started = time.monotonic() - elapsed
                times.test_started = time.time() - elapsed
            _note_times(times, line)
            if on_progress is not None:
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    on_progress(line)


def _note_times(times: RunTimes, line: dict[str, Any]) -> None:
    users = line.get("users")
    if isinstance(users, int):
        times.last_users = users
    if times.load_stopped is None and line.get("state") in _STOPPING_STATES:
        times.load_stopped = time.time()


_STOPPING_STATES = ("stopping", "stopped", "cleanup")
"""Locust's runner states once the users are told to stop (`locust.runners`)."""
