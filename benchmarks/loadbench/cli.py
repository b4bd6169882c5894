"""`python benchmarks/run.py`: the command line, the run's lifetime (pinning, the temporary
folder, signals, stopping everything started) and its exit code, decided here alone:
0 every case measured, 2 a case could not be (or nothing could), 130 interrupted."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from .cases.report import child_read, child_report
from .errors import BenchmarkError, Interrupted
from .nginx import Nginx
from .options import parse_args
from .processes import TARGET_CPU, python_env
from .procfs import LoadWatch
from .results import Outcome, print_summary, write_json
from .suite import Measured, run_cases
from .workspace import Workspace


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


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    if options.child_report is not None:
        child_report(options.child_report)
        return 0
    if options.child_read is not None:
        child_read(options.child_read)
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
    ws = Workspace(workdir, nginx, nginx_b, options, pin, env=python_env())
    measured = Measured()
    load_before = os.getloadavg()
    watch = LoadWatch()
    watch.start()
    started = time.time()
    exit_code = 0
    try:
        with interruptible():
            measured = run_cases(ws, load_before)
    except Interrupted:
        print("\ninterrupted: stopping what was started", file=sys.stderr)
        exit_code = 130
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        exit_code = 2
    finally:
        ws.stop_running()
        nginx.stop()
        nginx_b.stop()
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")
    if exit_code:
        return exit_code
    load_after = os.getloadavg()
    watch.stopped.set()
    outcome = Outcome(
        facts=measured.facts,
        results=measured.results,
        errors=measured.errors,
        load_before=load_before,
        load_after=load_after,
        load_max=max(watch.samples, default=load_after[0]),
        elapsed_s=time.time() - started,
    )
    rows = outcome.rows()
    print_summary(outcome, rows)
    if options.json is not None:
        write_json(options.json, outcome, rows)
    return 2 if outcome.errors else 0
