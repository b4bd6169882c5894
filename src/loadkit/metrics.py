"""Prometheus metrics of a run while it lasts (`--metrics-port`), served by the harness on the
master (or the one local Locust process) with prometheus-client.

Counts and response times come from loadkit's fine histograms, not Locust's rounded ones:
`Cumulative` adds up what the harness recorded (complete seconds locally, each worker's report
on a master), and a scrape turns it into

- ``loadkit_requests_total`` and ``loadkit_failures_total`` (counters) and
  ``loadkit_response_time_seconds`` (a histogram whose buckets are counted from the fine
  histogram, within 0.5 % of each bound; label ``outcome`` = ok | failed, so its counts add up to
  the requests), all by ``method`` (Locust's request type; transactions are ``TXN``), ``name``
  and ``user_type``;
- ``loadkit_users`` and ``loadkit_target_users`` (gauges), ``loadkit_achieved_rps`` (the last
  complete second's requests);
- ``loadkit_threshold_passing`` (1 pass, 0 fail; absent while a threshold has no data) and
  ``loadkit_threshold_value`` (in the threshold's unit: seconds for times, a fraction for
  rates), by ``threshold``.

Every series carries a ``run`` label (the scenario's name and the run's start time) so several
runs on one dashboard stay apart. Nothing here imports Locust.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from loadkit.histogram import UNTIMED, Histogram, RequestHistogram, RunHistograms, SeriesKey

BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
"""Upper bounds of ``loadkit_response_time_seconds``: 1 ms to a minute, roughly x2.5 apart."""


class Cumulative:
    """Every request recorded so far, per series (type, name, user): ok and failed buckets."""

    def __init__(self) -> None:
        self.series: dict[SeriesKey, RequestHistogram] = {}

    def add_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Add a recorder payload: ``[[second, type, name, user, ok_flat, failed_flat], ...]``."""
        for _second, request_type, name, user, ok, failed in rows:
            key = SeriesKey(str(request_type), str(name), str(user))
            hist = self.series.get(key)
            if hist is None:
                hist = self.series[key] = RequestHistogram()
            hist.merge(RequestHistogram(Histogram.from_flat(ok), Histogram.from_flat(failed)))

    def as_run(self) -> RunHistograms:
        """The totals as a one-second `RunHistograms`, for whole-run measurements."""
        return RunHistograms({key: {0: hist} for key, hist in self.series.items()})


@dataclass(frozen=True)
class ThresholdState:
    expression: str
    value: float | None
    """In the metric's Prometheus unit (seconds for times)."""
    passing: bool | None


@dataclass(frozen=True)
class Snapshot:
    """What one scrape shows."""

    run: str
    cumulative: Cumulative
    users: int
    target_users: int
    achieved_rps: float
    thresholds: list[ThresholdState] = field(default_factory=list)
    corrected: Cumulative | None = None
    """Corrected times (service + start delay), when some starts are scheduled."""
    arrivals: Mapping[str, int] | None = None
    """The open model's counts so far: arrived, started, delayed, dropped, waiting, busy."""


class LoadkitCollector:
    """A prometheus-client collector that asks for a fresh `Snapshot` at every scrape."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        labels = ["run", "method", "name", "user_type"]
        requests = CounterMetricFamily(
            "loadkit_requests", "Requests completed (transactions: method TXN).", labels=labels
        )
        failures = CounterMetricFamily("loadkit_failures", "Requests that failed.", labels=labels)
        times = HistogramMetricFamily(
            "loadkit_response_time_seconds",
            "Response times from loadkit's fine histograms (0.5 % buckets).",
            labels=[*labels, "outcome"],
        )
        for key, hist in sorted(snap.cumulative.series.items()):
            values = [snap.run, key.request_type, key.name, key.user]
            requests.add_metric(values, float(hist.requests))
            failures.add_metric(values, float(hist.failures))
            for outcome, part in (("ok", hist.ok), ("failed", hist.failed)):
                if part.total:
                    times.add_metric([*values, outcome], *_buckets(part))
        yield requests
        yield failures
        yield times
        if snap.corrected is not None:
            corrected = HistogramMetricFamily(
                "loadkit_corrected_response_time_seconds",
                "Response times from the intended start (service time + how late the "
                "iteration started: coordinated omission corrected).",
                labels=[*labels, "outcome"],
            )
            for key, hist in sorted(snap.corrected.series.items()):
                values = [snap.run, key.request_type, key.name, key.user]
                for outcome, part in (("ok", hist.ok), ("failed", hist.failed)):
                    if part.total:
                        corrected.add_metric([*values, outcome], *_buckets(part))
            yield corrected
        if snap.arrivals is not None:
            arrivals = CounterMetricFamily(
                "loadkit_arrivals",
                "The open model's arrivals: arrived (due), started, delayed (started late, "
                "every user busy), dropped (the backlog was full).",
                labels=["run", "state"],
            )
            for kind in ("arrived", "started", "delayed", "dropped"):
                arrivals.add_metric([snap.run, kind], float(snap.arrivals.get(kind, 0)))
            yield arrivals
            yield _gauge(
                "loadkit_arrivals_waiting",
                "Arrivals waiting for a free user now.",
                snap.run,
                float(snap.arrivals.get("waiting", 0)),
            )
            yield _gauge(
                "loadkit_users_busy",
                "Users in an iteration now (the concurrency the arrivals need).",
                snap.run,
                float(snap.arrivals.get("busy", 0)),
            )
        yield _gauge("loadkit_users", "Users running now.", snap.run, float(snap.users))
        yield _gauge(
            "loadkit_target_users", "Users the load plans now.", snap.run, float(snap.target_users)
        )
        yield _gauge(
            "loadkit_achieved_rps",
            "Requests completed in the last complete second.",
            snap.run,
            snap.achieved_rps,
        )
        passing = GaugeMetricFamily(
            "loadkit_threshold_passing",
            "1 while the threshold holds, 0 while it fails (absent without data).",
            labels=["run", "threshold"],
        )
        value = GaugeMetricFamily(
            "loadkit_threshold_value",
            "The threshold's value so far (seconds for times, fractions for rates).",
            labels=["run", "threshold"],
        )
        for state in snap.thresholds:
            if state.passing is not None:
                passing.add_metric([snap.run, state.expression], 1.0 if state.passing else 0.0)
            if state.value is not None:
                value.add_metric([snap.run, state.expression], state.value)
        yield passing
        yield value


def _gauge(name: str, documentation: str, run: str, number: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=["run"])
    gauge.add_metric([run], number)
    return gauge


def _buckets(hist: Histogram) -> tuple[list[tuple[str, float]], float]:
    """Cumulative bucket counts (``le`` in seconds, ``+Inf`` = every request, timed or not)
    and the sum of the times in seconds."""
    buckets = [(f"{le:g}", float(hist.count_le(le * 1000.0))) for le in BUCKETS_S]
    buckets.append(("+Inf", float(hist.total)))
    mean = hist.mean_ms
    timed = hist.total - hist.counts.get(UNTIMED, 0)
    total_s = (mean or 0.0) * timed / 1000.0
    return buckets, total_s


def render(snapshot: Snapshot) -> bytes:
    """The text a scrape gets (Prometheus' text format) for `snapshot`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LoadkitCollector(lambda: snapshot))
    return generate_latest(registry)


def serve(rendered: Callable[[], bytes], host: str, port: int) -> ThreadingHTTPServer:
    """Serve `rendered()` on http://host:port/metrics from a thread of this process (`loadkit
    run`'s, not the load generator's: serving a scrape in the generator cost ~8 % of its
    throughput at 50 scrapes/s, benchmarks/README.md case 10). `shutdown()` the server when
    done. Raises OSError when the port cannot be bound."""
    server = ThreadingHTTPServer((host, port), _handler(rendered))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="loadkit-metrics", daemon=True).start()
    return server


def rendered_file(path: Path) -> Callable[[], bytes]:
    """The text the harness last rendered into `path` (read again only when it changed);
    empty until the first rendering."""
    last: list[Any] = [None, b""]

    def read() -> bytes:
        try:
            stamp = path.stat().st_mtime_ns
            if stamp != last[0]:
                last[:] = [stamp, path.read_bytes()]
        except OSError:
            pass
        return bytes(last[1])

    return read


def _handler(rendered: Callable[[], bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = rendered()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape is no news: nothing in locust.log

    return Handler


def check_port(host: str, port: int) -> str | None:
    """Why the metrics endpoint could not listen on host:port (e.g. "Address already in use"),
    or None; asked before any load is sent, so that a taken port is a configuration error and
    not a run with no requests. The same bind the server makes (SO_REUSEADDR, as
    http.server's), released at once."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot resolve {host!r} ({exc.strerror or exc})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return str(exc.strerror or exc)
    return None
