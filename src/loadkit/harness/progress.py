"""One JSON progress line per second on the file descriptor named by LOADKIT_PROGRESS_FD,
which `loadkit run` turns into its live status line (the last complete second, not an
average); `loadkit ui` also gets each web UI test's end on it."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import MasterRunner

from loadkit.harness.requests import _histograms, _log_noted
from loadkit.harness.state import state
from loadkit.histogram import TRANSACTION_TYPE


def _progress_loop(fd: int, environment: Environment) -> None:
    os.set_blocking(fd, False)  # a slow reader must never block the gevent hub
    state.progress_fd = fd
    # Workers report every 3 s: on a master the last complete second is a few seconds back.
    lag = 4 if isinstance(environment.runner, MasterRunner) else 1
    while True:
        gevent.sleep(1.0)
        runner = environment.runner
        if runner is None:
            continue
        _log_noted()
        # The requests' rows, never the transactions' (Locust's total leaves them out only
        # when the harness logs into Locust's statistics: `_join_locusts_stats`).
        requests_rows = [
            e for e in environment.stats.entries.values() if e.method != TRANSACTION_TYPE
        ]
        started = state.started_at
        second = int(time.time()) - lag
        requests, failures, p95 = _histograms.second_summary(second)
        line = {
            "elapsed": (time.time() - started) if started else 0.0,
            "state": runner.state,
            "users": runner.user_count,
            "requests": sum(e.num_requests for e in requests_rows),
            "failures": sum(e.num_failures for e in requests_rows),
            "second": second,
            "rps": requests,
            "second_failures": failures,
            "p95_ms": p95,
            "failing": list(state.failing or []),
        }
        if not _send_progress(line):
            return


def _send_progress(line: dict[str, Any]) -> bool:
    """One JSON line to `loadkit run`/`loadkit ui`; False once the reader is gone."""
    fd = state.progress_fd
    if fd is None:
        return False
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    except (BlockingIOError, BrokenPipeError):
        pass
    except OSError:
        return False
    return True
