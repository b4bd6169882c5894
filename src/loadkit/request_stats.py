"""Per-request statistics read from Locust's final snapshot: pure data and pure functions.

Percentiles come from Locust's response-time histogram (rounded buckets: 1 ms below 100 ms,
10 ms below 1 s, 100 ms below 10 s, 1 s above) with Locust's own selection rule, so a value
here equals the one in Locust's CSV for the same entry; merging entries (several methods under
one name) adds their histograms, which is exact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestStats:
    method: str
    """HTTP method, or "" for a row that aggregates several methods."""
    name: str
    requests: int
    failures: int
    total_ms: float
    min_ms: float | None
    max_ms: float
    content_bytes: int
    histogram: Mapping[int, int] = field(repr=False)
    """Rounded response time in ms -> number of requests. (Locust's per-second counts are not
    kept: loadkit's histograms.json has them per request and user, and converting Locust's
    costs ~0.5 s per 100,000 seconds of run.)"""
    csv_percentiles: Mapping[float, float] | None = field(default=None, repr=False)
    """Only for numbers recovered from Locust's periodic CSV (no histogram there): its
    percentile columns, fraction -> ms."""

    @classmethod
    def from_locust(cls, entry: Mapping[str, Any]) -> RequestStats:
        """From `StatsEntry.serialize()` as written to locust_final.json (JSON string keys)."""
        return cls(
            method=entry.get("method") or "",
            name=entry["name"],
            requests=int(entry["num_requests"]),
            failures=int(entry["num_failures"]),
            total_ms=float(entry["total_response_time"]),
            min_ms=entry["min_response_time"],
            max_ms=float(entry["max_response_time"]),
            content_bytes=int(entry["total_content_length"]),
            # Whole milliseconds; Locust 2.42 writes its rounded buckets as floats ("340.0").
            histogram={int(float(k)): int(v) for k, v in entry["response_times"].items()},
            csv_percentiles=entry.get("csv_percentiles"),
        )

    @classmethod
    def merge(cls, name: str, parts: Iterable[RequestStats]) -> RequestStats:
        items = list(parts)
        methods = {p.method for p in items}
        mins = [p.min_ms for p in items if p.min_ms is not None]
        hist: Counter[int] = Counter()
        for p in items:
            hist.update(p.histogram)
        return cls(
            method=methods.pop() if len(methods) == 1 else "",
            name=name,
            requests=sum(p.requests for p in items),
            failures=sum(p.failures for p in items),
            total_ms=sum(p.total_ms for p in items),
            min_ms=min(mins) if mins else None,
            max_ms=max((p.max_ms for p in items), default=0.0),
            content_bytes=sum(p.content_bytes for p in items),
            histogram=dict(hist),
            csv_percentiles=items[0].csv_percentiles if len(items) == 1 else None,
        )

    @property
    def timed_requests(self) -> int:
        if self.csv_percentiles is not None:
            return self.requests
        return sum(self.histogram.values())

    @property
    def avg_ms(self) -> float | None:
        timed = self.timed_requests
        return self.total_ms / timed if timed else None

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None

    def percentile(self, fraction: float) -> float | None:
        if self.csv_percentiles is not None:
            return self.csv_percentiles.get(fraction)
        return histogram_percentile(self.histogram, fraction)


    def apdex(self, t_ms: float) -> float | None:
        """Locust's histogram is too coarse for Apdex: see loadkit.apdex."""
        return None


def histogram_percentile(histogram: Mapping[int, int], fraction: float) -> float | None:
    """Locust's rule (`calculate_response_time_percentile`): walk buckets from the slowest
    down and stop once no more than `fraction` of all requests remain below."""
    count = sum(histogram.values())
    if count == 0:
        return None
    allowed_below = int(count * fraction)
    processed = 0
    for bucket in sorted(histogram, reverse=True):
        processed += histogram[bucket]
        if count - processed <= allowed_below:
            return float(bucket)
    return 0.0
