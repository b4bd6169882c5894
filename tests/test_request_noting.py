"""The harness's request path in one Locust process: requests are noted on Locust's critical
path and counted in batches, into loadkit's histograms and, in place of Locust's own listener,
into Locust's statistics, as if Locust had logged each one itself the moment it completed.
Locust and gevent run in a subprocess: the test process is never monkey-patched (conftest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from helpers import SRC

SCRIPT = """\
import locust  # first, as Locust itself does: gevent monkey-patches before anything else
import json
import time
import gevent
import locust.stats
from locust import User, constant, events
from locust.env import Environment
from loadkit.harness import lifecycle, requests as harness
from loadkit.histogram import RunHistograms

class Citizen(User):
    wait_time = constant(0)

class Clock:  # the harness's clock, set here: which second each request completed in
    at = 1_700_000_000.25
    def __call__(self):
        return self.at

clock = Clock()
harness._time = clock
events.request.add_listener(harness._on_request)  # as lifecycle.main() does, before the runner
seen_at_quitting = []
# A locustfile's own quitting listener (added before Locust's init, as a locustfile's are).
events.quitting.add_listener(lambda environment, **kw: seen_at_quitting.append(
    environment.stats.total.num_requests))
env = Environment(user_classes=[Citizen], events=events)
env.create_local_runner()
lifecycle._on_init(env)
out = {
    "handlers": [h.__name__ for h in events.request._handlers],
    "clock_replaced": locust.stats.time is harness._stats_clock,
}

def fire(name, response_time, exception=None):
    events.request.fire(
        request_type="GET", name=name, response_time=response_time, response_length=10,
        response=None, context={}, exception=exception, start_time=None, url=name,
    )

# 300 requests over three seconds (more than a batch: some are counted before the last
# second begins), one failure in the second second.
start = int(clock.at)
for second in range(3):
    clock.at = start + second + 0.5
    for i in range(100):
        failure = RuntimeError("boom") if (second, i) == (1, 7) else None
        fire("/a" if i % 2 else "/b", 10.0 + i, failure)
harness._log_noted()
total = env.stats.total
out.update(
    requests=total.num_requests, failures=total.num_failures,
    per_second=sorted(total.num_reqs_per_sec.items()),
    failures_per_second=sorted(total.num_fail_per_sec.items()),
    a_requests=env.stats.entries[("/a", "GET")].num_requests,
    a_max=env.stats.entries[("/a", "GET")].max_response_time,
    errors=[repr(e.error) for e in env.stats.errors.values()],
    ours=sorted(RunHistograms.from_json(harness._histograms.to_json()).requests_per_second().items()),
    clock_after=harness._stats_clock.time is time.time,
)

# Never more than a moment behind: the loop counts what was noted; `quitting` counts the rest.
gevent.spawn(harness._log_noted_loop)
fire("/c", 5.0)
out["before_loop"] = env.stats.entries[("/c", "GET")].num_requests
gevent.sleep(harness._NOTE_FOR_S * 2)
out["after_loop"] = env.stats.entries[("/c", "GET")].num_requests
fire("/c", None)  # a request without a time, counted as Locust counts it
harness._log_noted()  # as Locust's `quitting` event calls it, before its tables
out["after_quitting"] = env.stats.entries[("/c", "GET")].num_requests
out["untimed"] = env.stats.entries[("/c", "GET")].num_none_requests

# Locust fires `quitting` in reverse order: the harness's flush still comes first.
fire("/c", 6.0)
env.events.quitting.fire(environment=env, reverse=True)
out["seen_at_quitting"] = seen_at_quitting
out["total_at_quitting"] = env.stats.total.num_requests

# What was noted before Locust clears its statistics (a new test) is cleared with them.
fire("/d", 7.0)
env.stats.clear_all()
harness._log_noted()
out["after_clear"] = env.stats.total.num_requests

# A request Locust's statistics cannot log: logged as Locust's EventHook logs it, exit code 2
# (Locust's flag), and the rest of the batch is counted.
import locust.log
fire("/e", 8.0)
events.request.fire(request_type="GET", name="/e", response_time=9.0, response_length=None,
                    response=None, context={}, exception=None, start_time=None, url="/e")
fire("/e", 10.0)
harness._log_noted()
out["unhandled"] = locust.log.unhandled_greenlet_exception
out["e_max"] = env.stats.entries[("/e", "GET")].max_response_time
out["e_ours"] = sum(sum(row[4][1::2]) for row in harness._histograms.payload() if row[2] == "/e")

# A transaction (TXN) gets its own row and error, never a place in Locust's total.
env.stats.clear_all()
fire("/f", 11.0)
for exception in (None, RuntimeError("step 2 failed")):
    events.request.fire(request_type="TXN", name="flow", response_time=30.0, response_length=0,
                        response=None, context={}, exception=exception, start_time=None, url="")
harness._log_noted()
out["txn"] = dict(
    total=[env.stats.total.num_requests, env.stats.total.num_failures],
    row=[env.stats.entries[("flow", "TXN")].num_requests,
         env.stats.entries[("flow", "TXN")].num_failures],
    errors=sorted((e.method, e.name) for e in env.stats.errors.values()),
)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def seen() -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": SRC},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


def test_one_listener_logs_locusts_statistics_and_ours(seen: dict[str, Any]) -> None:
    assert seen["handlers"] == ["_on_request"]  # Locust's own listener replaced, not added to
    assert seen["clock_replaced"]


def test_each_request_is_counted_in_the_second_it_completed_in(seen: dict[str, Any]) -> None:
    start = 1_700_000_000
    assert seen["requests"] == 300 and seen["failures"] == 1
    assert seen["per_second"] == [[start, 100], [start + 1, 100], [start + 2, 100]]
    assert seen["failures_per_second"] == [[start + 1, 1]]
    assert seen["a_requests"] == 150 and seen["a_max"] == 109.0
    assert seen["errors"] == ["RuntimeError('boom')"]
    # loadkit's histograms: the same requests in the same seconds.
    assert seen["ours"] == [[start, [100, 0]], [start + 1, [100, 1]], [start + 2, [100, 0]]]
    assert seen["clock_after"] is True  # locust.stats reads the real clock outside a batch


def test_locusts_statistics_are_never_more_than_a_moment_behind(seen: dict[str, Any]) -> None:
    assert seen["before_loop"] == 0  # noted, not counted yet
    assert seen["after_loop"] == 1
    assert seen["after_quitting"] == 2 and seen["untimed"] == 1
    # A locustfile's quitting listener already sees the request noted just before.
    assert seen["seen_at_quitting"] == [seen["total_at_quitting"]] == [303]


def test_what_locust_clears_or_cannot_log_is_treated_as_locust_would(
    seen: dict[str, Any],
) -> None:
    assert seen["after_clear"] == 0
    assert seen["unhandled"] is True
    assert seen["e_max"] == 10.0  # the request after the bad one still logged
    assert seen["e_ours"] == 3


def test_a_transaction_has_its_row_but_no_place_in_locusts_total(seen: dict[str, Any]) -> None:
    # Locust's total is what its web UI's header and Aggregated row show: requests only.
    assert seen["txn"] == {"total": [1, 0], "row": [2, 1], "errors": [["TXN", "flow"]]}
