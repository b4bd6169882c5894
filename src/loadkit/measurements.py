"""A run's measurements from loadkit's fine histograms (histograms.json), as thresholds,
the summary and `loadkit compare` ask for them: by request name, user type and time window;
requests and transactions (request type `histogram.TRANSACTION_TYPE`) always apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from loadkit.apdex import DEFAULT_APDEX_T_MS, apdex
from loadkit.histogram import RequestHistogram, RunHistograms
from loadkit.summary_types import CORRECTED, SERVICE, Timing


@dataclass(frozen=True)
class HistogramSample:
    """Some requests, measured on a fine histogram (0.25 % resolution). Times are those of the
    successful requests (a refused connection is fast, and must not make a dead target look
    healthy); counts, error rate and Apdex take every request."""

    hist: RequestHistogram

    @property
    def requests(self) -> int:
        return self.hist.requests

    @property
    def failures(self) -> int:
        return self.hist.failures

    @property
    def avg_ms(self) -> float | None:
        return self.hist.ok.mean_ms

    @property
    def min_ms(self) -> float | None:
        return self.hist.ok.min_ms

    @property
    def max_ms(self) -> float | None:
        return self.hist.ok.max_ms

    def percentile(self, fraction: float) -> float | None:
        return self.hist.ok.percentile(fraction)

    def apdex(self, t_ms: float) -> float | None:
        return apdex(self.hist, t_ms).score


@dataclass(frozen=True)
class ApdexTargets:
    """Apdex T: one for the scenario, optionally one per request name and per transaction."""

    t_ms: float = DEFAULT_APDEX_T_MS
    per_request: Mapping[str, float] = field(default_factory=dict)
    per_transaction: Mapping[str, float] = field(default_factory=dict)

    def for_request(self, name: str | None) -> float:
        return self.per_request.get(name, self.t_ms) if name is not None else self.t_ms

    def for_transaction(self, name: str | None) -> float:
        return self.per_transaction.get(name, self.t_ms) if name is not None else self.t_ms


@dataclass(frozen=True)
class RunMeasurements:
    histograms: RunHistograms
    duration_s: float
    user_classes: Mapping[str, str]
    """User type name in the scenario -> Locust class name (what the histograms record)."""
    apdex_targets: ApdexTargets = ApdexTargets()
    corrected: RunHistograms | None = None
    """The corrected times (histograms-corrected.json), when iterations started on a schedule;
    without them the corrected time is the service time (no start was late)."""
    default_timing: Timing = SERVICE
    """What a threshold that names neither judges: "corrected" for an open model."""

    @cached_property
    def requests(self) -> RunHistograms:
        return self.histograms.requests_only()

    @cached_property
    def transactions(self) -> RunHistograms:
        return self.histograms.transactions_only()

    @cached_property
    def corrected_requests(self) -> RunHistograms:
        return self.corrected.requests_only() if self.corrected is not None else self.requests

    @cached_property
    def corrected_transactions(self) -> RunHistograms:
        if self.corrected is None:
            return self.transactions
        return self.corrected.transactions_only()

    def sample(
        self,
        *,
        name: str | None,
        user: str | None,
        start: int | None,
        end: int | None,
        transactions: bool = False,
        timing: Timing | None = None,
    ) -> HistogramSample | None:
        if (timing or self.default_timing) == CORRECTED:
            histograms = self.corrected_transactions if transactions else self.corrected_requests
        else:
            histograms = self.transactions if transactions else self.requests
        if name is not None and name not in histograms.names():
            return None
        if transactions and not histograms.series:
            return None
        class_name = None
        if user is not None:
            class_name = self.user_classes.get(user)
            if class_name is None or class_name not in {k.user for k in histograms.keys()}:  # noqa: SIM118
                return None
        hist = histograms.select(start=start, end=end, name=name, user=class_name)
        return HistogramSample(hist)

    def seconds(self) -> tuple[int, int] | None:
        seconds = self.histograms.seconds()
        return (seconds[0], seconds[-1]) if seconds else None

    def apdex_t_ms(self, name: str | None, *, transaction: bool = False) -> float:
        if transaction:
            return self.apdex_targets.for_transaction(name)
        return self.apdex_targets.for_request(name)
