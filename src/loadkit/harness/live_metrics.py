"""While the run lasts: thresholds judged on what was measured so far (the live line's
failing thresholds, `abort: true`) and the Prometheus metrics, rendered into a file once a
second."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import MasterRunner

from loadkit.harness.requests import _corrected, _histograms, _log_noted, _schedules
from loadkit.harness.sampling import _ARRIVAL_COUNTS, _all_arrival_counts
from loadkit.harness.state import state
from loadkit.harness_protocol import (
    LIVE_CONFIG_ENV,
    METRICS_LINGER_ENV,
    METRICS_RUN_ENV,
)
from loadkit.histogram import HistogramRecorder

# -- Prometheus metrics while the run lasts ----------------------------------------------------


def _start_live(environment: Environment) -> None:
    """Count everything recorded so far (`metrics.Cumulative`: complete seconds locally, each
    worker's report on a master) and read the scenario's thresholds, for what is judged while
    the run lasts: the live line's failing thresholds, `abort: true`, the metrics."""
    if state.live.cumulative is not None:
        return
    from loadkit import metrics
    from loadkit.live import LiveConfig

    state.live.cumulative = metrics.Cumulative()
    if _schedules:
        state.live.corrected = metrics.Cumulative()
    config_path = os.environ.get(LIVE_CONFIG_ENV)
    state.live.config = LiveConfig.read(config_path) if config_path else None
    if not isinstance(environment.runner, MasterRunner):  # a master adds workers' reports
        gevent.spawn(_metrics_loop)
    if state.live.config is not None:
        gevent.spawn(_judge_loop, environment)


def _start_metrics(environment: Environment, path: str) -> None:
    _start_live(environment)
    state.live.rendered = path
    _render_metrics(environment)
    gevent.spawn(_render_loop, environment)


def _render_loop(environment: Environment) -> None:
    """What a scrape gets, rendered once a second into a file that `loadkit run` serves: an
    HTTP exchange in this process cost ~1.6 ms of the generator's CPU per scrape (8 % of its
    throughput at 50 scrapes/s, benchmark case 10); a file written once a second, nothing."""
    while True:
        gevent.sleep(1.0)
        _render_metrics(environment)


def _render_metrics(environment: Environment) -> None:
    from loadkit import metrics

    if not isinstance(environment.runner, MasterRunner):
        _add_complete_seconds(int(time.time()))
    path = state.live.rendered
    if path is None:  # set by `_start_metrics` before any rendering
        return
    with contextlib.suppress(OSError):  # a full disk: the scrape shows the last numbers
        with open(path + ".tmp", "wb") as handle:
            handle.write(metrics.render(_metrics_snapshot(environment)))
        os.replace(path + ".tmp", path)


def _judge_loop(environment: Environment) -> None:
    """Once a second: which thresholds fail now (for the live line), and whether one marked
    `abort: true` ends the run — gracefully, so the run folder is complete."""
    from loadkit.live import abort_reason

    config = state.live.config
    if config is None:  # spawned only with one
        return
    while True:
        gevent.sleep(1.0)
        if state.started_at is None or state.stopping_at is not None:
            continue
        elapsed = time.time() - state.started_at
        results = _judged_now(environment)
        state.failing = [t.expression for t, r in results if r.actual is not None and not r.passed]
        reason = abort_reason(results, config, elapsed)
        if reason is not None and state.aborted_by is None:
            state.aborted_by = reason
            logging.getLogger("loadkit").error(
                "threshold '%s' failed %.0f s into the run (actual %s): stopping the run",
                reason["threshold"], elapsed, reason["actual"],
            )  # fmt: skip
            if environment.runner is not None:
                gevent.spawn(environment.runner.quit)
            return


def _judged_now(environment: Environment) -> list[Any]:
    """Every threshold judged on what the run measured so far (at most once a second)."""
    from loadkit.histogram import RunHistograms
    from loadkit.live import server_telemetry, threshold_results

    now = int(time.time())
    cache = state.live.cache
    if cache is not None and cache[0] == now:
        return list(cache[1])
    config, cumulative = state.live.config, state.live.cumulative
    if config is None or cumulative is None or state.started_at is None:
        return []
    _log_noted()
    lag = 4 if isinstance(environment.runner, MasterRunner) else 1
    elapsed = (state.stopping_at or time.time()) - state.started_at

    def recent(seconds: int, recorder: HistogramRecorder = _histograms) -> RunHistograms:
        rows = recorder.payload(start=now - lag - seconds, end=now - lag)
        return RunHistograms.from_json(_histograms_document(rows))

    corrected = state.live.corrected
    results = threshold_results(
        config,
        cumulative.as_run(),
        recent,
        elapsed,
        corrected=None
        if corrected is None
        else (corrected.as_run(), lambda seconds: recent(seconds, _corrected)),
        server=server_telemetry(config),
    )
    state.live.cache = (now, results)
    return results


def _metrics_loop() -> None:
    while True:
        gevent.sleep(1.0)
        _add_complete_seconds(int(time.time()))


def _add_complete_seconds(end: int) -> None:
    """This process's requests of the seconds before `end` not counted yet (the recorder
    writes each request into the second it completed in, so a past second is complete)."""
    _log_noted()
    start, cumulative = state.live.added_until, state.live.cumulative
    if end > start and cumulative is not None:
        cumulative.add_rows(_histograms.payload(start=start, end=end))
        if state.live.corrected is not None:
            state.live.corrected.add_rows(_corrected.payload(start=start, end=end))
        state.live.added_until = end


def _metrics_snapshot(environment: Environment) -> Any:
    """One scrape's numbers (threshold states computed at most once a second)."""
    from loadkit import metrics

    _log_noted()
    runner = environment.runner
    cumulative = state.live.cumulative
    assert cumulative is not None  # rendered only once `_start_live` made it
    lag = 4 if isinstance(runner, MasterRunner) else 1
    now = int(time.time())
    states = []
    for threshold, result in _judged_now(environment):
        value = result.actual
        if value is not None and threshold.unit == "ms":
            value /= 1000.0  # Prometheus' unit of time
        passing = None if result.actual is None else result.passed
        states.append(metrics.ThresholdState(threshold.expression, value, passing))
    return metrics.Snapshot(
        run=os.environ.get(METRICS_RUN_ENV, ""),
        cumulative=cumulative,
        users=runner.user_count if runner is not None else 0,
        target_users=int(getattr(runner, "target_user_count", 0) or 0),
        achieved_rps=float(_histograms.second_summary(now - lag)[0]),
        thresholds=states,
        corrected=state.live.corrected,
        arrivals=_arrivals_now(),
    )


def _arrivals_now() -> dict[str, int] | None:
    counts = _all_arrival_counts()
    return None if counts is None else dict(zip(_ARRIVAL_COUNTS, counts, strict=True))


def _histograms_document(rows: list[list[Any]]) -> dict[str, Any]:
    recorder = HistogramRecorder()
    recorder.merge_payload(rows)
    return recorder.to_json()


def _metrics_at_quit(environment: Environment) -> None:
    """The final numbers on the endpoint, then a last chance to scrape them."""
    if state.live.cumulative is None:
        return
    if not isinstance(environment.runner, MasterRunner):
        _add_complete_seconds(int(time.time()) + 1)
    state.live.cache = None
    if state.live.rendered is not None:  # the endpoint serves the final numbers now
        _render_metrics(environment)
    linger = float(os.environ.get(METRICS_LINGER_ENV) or 0)
    if linger > 0:
        gevent.sleep(linger)
