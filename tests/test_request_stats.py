"""Per-request statistics: Locust's percentile rule, merging entries, empty rows."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from loadkit.request_stats import RequestStats, histogram_percentile

# 100 requests: 50 took 1 ms, 30 took 2 ms, 15 took 10 ms, 5 took 100 ms.
HIST = {1: 50, 2: 30, 10: 15, 100: 5}


# Locust's rule, by hand: walk buckets from the slowest down; stop at the first bucket after
# which no more than int(count * fraction) requests remain.
@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.0, 1.0),  # may leave 0 below: every bucket down to the fastest
        (0.10, 1.0),
        (0.50, 2.0),  # removing 100, 10, 2 leaves 50 <= 50
        (0.66, 2.0),
        (0.75, 2.0),
        (0.79, 2.0),  # removing 100, 10 leaves 80 > 79
        (0.80, 10.0),  # removing 100, 10 leaves 80 <= 80
        (0.90, 10.0),
        (0.94, 10.0),
        (0.95, 100.0),  # removing 100 leaves 95 <= 95
        (0.99, 100.0),
        (1.00, 100.0),
    ],
)
def test_percentile_follows_locusts_rule(fraction: float, expected: float) -> None:
    assert histogram_percentile(HIST, fraction) == expected


@pytest.mark.parametrize(
    ("histogram", "fraction", "expected"),
    [
        ({42: 1}, 0.5, 42.0),
        ({42: 1}, 0.99, 42.0),
        ({42: 1}, 1.0, 42.0),
        # 4 requests: 120, 250, 250, 3400 ms.
        ({120: 1, 250: 2, 3400: 1}, 0.25, 250.0),  # allowed below int(1): 3 left after 3400
        ({120: 1, 250: 2, 3400: 1}, 0.50, 250.0),
        ({120: 1, 250: 2, 3400: 1}, 0.75, 3400.0),
        ({120: 1, 250: 2, 3400: 1}, 0.74, 250.0),
        # Order of keys does not matter.
        ({100: 5, 1: 50, 10: 15, 2: 30}, 0.95, 100.0),
        # Empty buckets are skipped over.
        ({1: 10, 5: 0, 9: 0}, 0.99, 1.0),
    ],
)
def test_percentile_small_histograms(
    histogram: Mapping[int, int], fraction: float, expected: float
) -> None:
    assert histogram_percentile(histogram, fraction) == expected


@pytest.mark.parametrize("histogram", [{}, {5: 0}])
def test_percentile_without_requests_is_none(histogram: Mapping[int, int]) -> None:
    assert histogram_percentile(histogram, 0.95) is None


def entry(
    method: str = "GET",
    name: str = "/a",
    histogram: Mapping[int, int] | None = None,
    failures: int = 0,
    content_bytes: int = 0,
) -> RequestStats:
    hist = dict(HIST if histogram is None else histogram)
    return RequestStats(
        method=method,
        name=name,
        requests=sum(hist.values()),
        failures=failures,
        total_ms=float(sum(k * v for k, v in hist.items())),
        min_ms=float(min(hist)) if hist else None,
        max_ms=float(max(hist)) if hist else 0.0,
        content_bytes=content_bytes,
        histogram=hist,
    )


def test_properties() -> None:
    stats = entry(failures=5)
    assert stats.requests == 100
    assert stats.timed_requests == 100
    assert stats.avg_ms == pytest.approx(7.6)  # (50 + 60 + 150 + 500) / 100
    assert stats.error_rate == 0.05
    assert stats.percentile(0.95) == 100.0
    assert stats.percentile(0.5) == 2.0


def test_zero_requests() -> None:
    stats = entry(histogram={})
    assert (stats.requests, stats.timed_requests) == (0, 0)
    assert stats.avg_ms is None
    assert stats.error_rate is None
    assert stats.percentile(0.95) is None
    assert stats.min_ms is None


def test_avg_is_over_timed_requests() -> None:
    # Requests without a response time count for the error rate but not for the average.
    stats = RequestStats(
        method="GET",
        name="/a",
        requests=4,
        failures=2,
        total_ms=30.0,
        min_ms=10.0,
        max_ms=20.0,
        content_bytes=0,
        histogram={10: 1, 20: 1},
    )
    assert stats.avg_ms == 15.0
    assert stats.error_rate == 0.5


def test_merge_sums_and_extremes() -> None:
    get = entry(
        "GET",
        histogram={1: 50, 2: 30},
        failures=1,
        content_bytes=1000,
    )
    post = entry(
        "POST",
        histogram={2: 10, 10: 15, 100: 5},
        failures=3,
        content_bytes=24,
    )
    merged = RequestStats.merge("/a", [get, post])
    assert merged.method == ""  # methods differ
    assert merged.name == "/a"
    assert merged.requests == 110
    assert merged.failures == 4
    assert merged.total_ms == get.total_ms + post.total_ms
    assert merged.min_ms == 1.0
    assert merged.max_ms == 100.0
    assert merged.content_bytes == 1024
    assert merged.histogram == {1: 50, 2: 40, 10: 15, 100: 5}
    # Merging histograms is exact: the percentile of the sum, not a mix of percentiles.
    # 110 requests: p95 may leave int(104.5) = 104 below; removing 100 ms leaves 105.
    assert merged.percentile(0.5) == 2.0
    assert merged.percentile(0.95) == 10.0
    assert merged.percentile(0.96) == 100.0  # int(105.6) = 105 may remain
    # The parts are left alone.
    assert get.histogram == {1: 50, 2: 30}


def test_merge_keeps_a_common_method() -> None:
    merged = RequestStats.merge("/a", [entry("GET", histogram={1: 1}), entry("GET")])
    assert merged.method == "GET"
    assert merged.histogram == {1: 51, 2: 30, 10: 15, 100: 5}


def test_merge_ignores_missing_minimums() -> None:
    merged = RequestStats.merge("/a", [entry(histogram={}), entry(histogram={7: 2, 9: 1})])
    assert merged.min_ms == 7.0
    assert merged.max_ms == 9.0
    assert merged.requests == 3


def test_merge_of_empty_rows() -> None:
    merged = RequestStats.merge("/a", [entry(histogram={}), entry("POST", histogram={})])
    assert merged.min_ms is None
    assert merged.max_ms == 0.0
    assert merged.avg_ms is None
    assert merged.error_rate is None
    assert merged.percentile(0.95) is None


def test_merge_of_nothing() -> None:
    merged = RequestStats.merge("Aggregated", [])
    assert (merged.method, merged.name, merged.requests, merged.failures) == (
        "",
        "Aggregated",
        0,
        0,
    )
    assert (merged.min_ms, merged.max_ms, merged.histogram) == (None, 0.0, {})


def test_from_locust_serialized_entry() -> None:
    # The shape of StatsEntry.serialize() after a JSON round trip (string keys).
    serialized = {
        "name": "/api/cases",
        "method": "GET",
        "last_request_timestamp": 1700000002.5,
        "start_time": 1700000000.1,
        "num_requests": 6,
        "num_none_requests": 0,
        "num_failures": 1,
        "total_response_time": 262.0,
        "max_response_time": 130.0,
        "min_response_time": 3.0,
        "total_content_length": 600,
        "response_times": {"3": 2, "12": 3, "130": 1},
        "num_reqs_per_sec": {"1700000000": 4, "1700000001": 2},
        "num_fail_per_sec": {"1700000001": 1},
    }
    stats = RequestStats.from_locust(serialized)
    assert stats == RequestStats(
        method="GET",
        name="/api/cases",
        requests=6,
        failures=1,
        total_ms=262.0,
        min_ms=3.0,
        max_ms=130.0,
        content_bytes=600,
        histogram={3: 2, 12: 3, 130: 1},
    )
    assert stats.percentile(0.5) == 12.0
    assert stats.percentile(0.95) == 130.0


def test_from_locust_aggregated_row_without_method() -> None:
    stats = RequestStats.from_locust(
        {
            "name": "Aggregated",
            "method": None,
            "num_requests": 0,
            "num_failures": 0,
            "total_response_time": 0,
            "max_response_time": 0,
            "min_response_time": None,
            "total_content_length": 0,
            "response_times": {},
        }
    )
    assert (stats.method, stats.min_ms) == ("", None)
    assert stats.avg_ms is None
