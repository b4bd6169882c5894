"""Distributed runs: what a worker adds to each report to its master, what the master merges
from them (masked first), and the workers that join, leave or go silent during the test."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import StatsError

from loadkit.harness.requests import _corrected, _histograms, _log_noted, _schedules
from loadkit.harness.sampling import _add_note, _arrival_counts, _cpu_samples, _lag_samples
from loadkit.harness.state import state

_HISTOGRAMS_REPORT_KEY = "loadkit_histograms"

_CORRECTED_REPORT_KEY = "loadkit_corrected"
_ARRIVALS_REPORT_KEY = "loadkit_arrivals"

_CPU_REPORT_KEY = "loadkit_cpu"
_NOTES_REPORT_KEY = "loadkit_notes"

_LAG_REPORT_KEY = "loadkit_loop_lag"


def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    _log_noted()  # before Locust's listener (added after this one) serializes its stats
    data[_HISTOGRAMS_REPORT_KEY] = _histograms.drain()
    if _schedules:
        data[_CORRECTED_REPORT_KEY] = _corrected.drain()
        data[_ARRIVALS_REPORT_KEY] = _arrival_counts()
    data[_CPU_REPORT_KEY] = _cpu_samples[:]
    del _cpu_samples[:]
    data[_LAG_REPORT_KEY] = _lag_samples[:]
    del _lag_samples[:]
    data[_NOTES_REPORT_KEY] = list(state.notes)


def _last_report(environment: Environment, **_: Any) -> None:
    """A worker that quits while its test runs (a signal, its `loadkit worker` killed):
    stop its users, then send what they measured since the last report, which Locust sends
    only when the master ends the test. Its requests stay among the totals, and the master
    gives its users to the others."""
    runner = environment.runner
    if not isinstance(runner, WorkerRunner) or runner.state not in ("spawning", "running"):
        return  # stopped by its master, which asks for the last report itself
    from locust.rpc import Message

    with contextlib.suppress(Exception):  # the master may be gone too: nothing to tell
        runner.stop()
        data: dict[str, Any] = {}
        environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
        runner.client.send(Message("stats", data, runner.client_id))


def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if state.secrets:  # before Locust's own listener merges the report
        _mask_report(data)
    payload = data.get(_HISTOGRAMS_REPORT_KEY)
    if payload:
        _histograms.merge_payload(payload)
        if state.live.cumulative is not None:
            state.live.cumulative.add_rows(payload)
    corrected = data.get(_CORRECTED_REPORT_KEY)
    if corrected:
        _corrected.merge_payload(corrected)
        if state.live.corrected is not None:
            state.live.corrected.add_rows(corrected)
    if data.get(_ARRIVALS_REPORT_KEY):
        state.worker_arrivals[client_id] = list(data[_ARRIVALS_REPORT_KEY])
    state.cpu.setdefault(client_id, []).extend(data.get(_CPU_REPORT_KEY) or [])
    lags = data.get(_LAG_REPORT_KEY)
    if lags:
        state.loop_lag.setdefault(client_id, []).extend(lags)
    for note in data.get(_NOTES_REPORT_KEY) or []:
        _add_note(str(note))


def _worker_joined(client_id: str, **_: Any) -> None:
    """Every worker that joined the run, in the order they came (also Locust's
    `worker_connect`): a worker that joins once the test runs gets users and the locustfile
    like the others, and its requests are among the totals."""
    connected: list[str] = state.workers["connected"]
    if client_id not in connected:
        connected.append(client_id)


def _workers_loop(environment: Environment) -> None:
    """Notice a worker that leaves (its process stopped: it said goodbye with a last report)
    or goes silent (Locust marks it missing after ~3 s without a heartbeat, takes its users
    off the count and gives them to nobody) during the test, and one that comes back; end the
    run when a loss leaves no worker at all rather than wait out the run time. Workers that
    quit as the test ends are no loss."""
    runner = environment.runner
    assert isinstance(runner, MasterRunner)
    users: dict[str, int] = {}  # worker id -> its users when last seen alive
    lost: list[dict[str, Any]] = state.workers["lost"]
    while True:
        gevent.sleep(1.0)
        if state.started_at is None:
            for worker_id in sorted(runner.clients.keys()):  # who came while the master waits
                _worker_joined(worker_id)
            continue
        now = time.time()
        stopping = state.stopping_at is not None
        present = dict(runner.clients.items())
        for worker_id, client in present.items():
            if client.state != "missing" and not stopping:
                users[worker_id] = sum(client.user_classes_count.values())
        _note_returns(present, lost, now)
        new_loss = False
        for worker_id, how in _losses(users, present, stopping):
            if any(e["worker"] == worker_id and e["returned_at"] is None for e in lost):
                continue
            lost.append(
                {"worker": worker_id, "at": round(now, 3), "users": users[worker_id],
                 "how": how, "returned_at": None}
            )  # fmt: skip
            new_loss = True
            # Info, not a note (warnings are the generated code's notes): the summary says it.
            logging.getLogger("loadkit").info(
                "worker %s %s %.0f s into the run (it ran %d users)", worker_id,
                "left" if how == "left" else "stopped answering", now - state.started_at,
                users[worker_id],
            )  # fmt: skip
        alive = [w for w, c in present.items() if c.state != "missing"]
        if new_loss and not alive:
            logging.getLogger("loadkit").error("the last worker was lost; ending the run")
            gevent.spawn(runner.quit)
            return
        if not new_loss and alive and not stopping:
            _move_lost_users(runner, lost, now)


def _move_lost_users(runner: MasterRunner, lost: list[dict[str, Any]], now: float) -> None:
    """Give a lost worker's users to the others when Locust did not within a second: it
    does when a worker quits, unless it is busy (a worker that just joined) and never for a
    missing one (without --enable-rebalancing). The plan is its users, on whatever workers."""
    pending = [e for e in lost if not e.get("moved") and now - e["at"] >= 1.0]
    if not pending:
        return
    for entry in pending:
        entry["moved"] = True
    if runner.state == "running" and runner.user_count < runner.target_user_count:
        logging.getLogger("loadkit").info(
            "moving the users of %s to the other workers",
            ", ".join(e["worker"] for e in pending),
        )
        gevent.spawn(runner.start, runner.target_user_count, runner.spawn_rate)


def _losses(
    users: dict[str, int], present: dict[str, Any], stopping: bool
) -> list[tuple[str, str]]:
    """(worker id, "missing" | "left") of the workers lost now. Missing (no heartbeat) is a
    loss whenever it happens; Locust itself stops the test when the last worker goes
    missing. A worker that leaves while the test stops has said goodbye (client_stopped)."""
    out = []
    for worker_id in users:
        if worker_id in present and present[worker_id].state == "missing":
            out.append((worker_id, "missing"))
        elif worker_id not in present and not stopping:
            out.append((worker_id, "left"))
    return out


def _note_returns(present: dict[str, Any], lost: list[dict[str, Any]], now: float) -> None:
    """A missing worker that heartbeats again is back (Locust gives it users again)."""
    for entry in lost:
        client = present.get(entry["worker"])
        back = client is not None and client.state != "missing"
        if entry["how"] == "missing" and entry["returned_at"] is None and back:
            entry["returned_at"] = round(now, 3)


def _mask_report(data: dict[str, Any]) -> None:
    """A worker's report, masked before the master merges it."""
    for entry in data.get("stats") or ():
        entry["name"] = state.secrets.mask(entry["name"])
    for row in data.get(_HISTOGRAMS_REPORT_KEY) or ():
        row[2] = state.secrets.mask(row[2])  # [second, type, name, user, ok, failed]
    notes = data.get(_NOTES_REPORT_KEY) or ()
    data[_NOTES_REPORT_KEY] = [state.secrets.mask(str(n)) for n in notes]
    errors: dict[str, dict[str, Any]] = {}
    for key, error in (data.get("errors") or {}).items():
        if state.secrets.found_in(f"{error['name']} {error['error']}"):
            error["name"] = state.secrets.mask(error["name"])
            error["error"] = state.secrets.mask(error["error"])
            key = StatsError.create_key(error["method"], error["name"], error["error"])
        same = errors.get(key)
        if same is None:
            errors[key] = error
        else:  # two errors that differed only by a secret
            same["occurrences"] += error["occurrences"]
            seen = [t for t in (same.get("first_seen"), error.get("first_seen")) if t]
            same["first_seen"] = min(seen, default=None)
            seen = [t for t in (same.get("last_seen"), error.get("last_seen")) if t]
            same["last_seen"] = max(seen, default=None)
    if "errors" in data:
        data["errors"] = errors
