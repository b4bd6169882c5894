"""Thresholds: parsing every metric family and unit, then judging hand-built stats."""

from __future__ import annotations

import pytest

from loadkit.request_stats import RequestStats
from loadkit.scenario.thresholds import (
    COUNT_METRICS,
    EXAMPLE,
    METRICS,
    RATE_METRICS,
    SCORE_METRICS,
    THROUGHPUT_METRICS,
    TIME_METRICS,
    Threshold,
    ThresholdResult,
    evaluate,
    measure,
    parse_threshold,
)

# ---------------------------------------------------------------------------------- parse


@pytest.mark.parametrize(
    ("text", "metric", "op", "limit"),
    [
        # times: ms, s, m, bare number = ms
        ("p95 < 500ms", "p95", "<", 500.0),
        ("p95 < 1s", "p95", "<", 1000.0),
        ("p95 < 1.5s", "p95", "<", 1500.0),
        ("p95 < 0.25s", "p95", "<", 250.0),
        ("median < 1m", "median", "<", 60000.0),
        ("p99 < 1m30s", "p99", "<", 90000.0),
        ("p95 < 500", "p95", "<", 500.0),
        ("p95 < 2.5", "p95", "<", 2.5),
        ("p50 < 9ms", "p50", "<", 9.0),  # not 9.000000000000002
        ("p99.9 < 2s", "p99.9", "<", 2000.0),
        ("p99.99 < 3s", "p99.99", "<", 3000.0),
        ("p100 < 5s", "p100", "<", 5000.0),
        ("avg < 200ms", "avg", "<", 200.0),
        ("min > 1ms", "min", ">", 1.0),
        ("max <= 10s", "max", "<=", 10000.0),
        # rates: percent or fraction
        ("error_rate < 1%", "error_rate", "<", 0.01),
        ("error_rate < 0.5%", "error_rate", "<", 0.005),
        ("error_rate <= 0.7%", "error_rate", "<=", 0.007),  # not 0.006999999999999999
        ("error_rate < 100%", "error_rate", "<", 1.0),
        ("error_rate == 0%", "error_rate", "==", 0.0),
        ("error_rate < 0.01", "error_rate", "<", 0.01),
        ("error_rate < 1", "error_rate", "<", 1.0),
        ("error_rate == 0", "error_rate", "==", 0.0),
        # throughput, with and without '/s'
        ("rps > 20", "rps", ">", 20.0),
        ("rps > 20/s", "rps", ">", 20.0),
        ("rps >= 12.5/s", "rps", ">=", 12.5),
        # counts
        ("failures == 0", "failures", "==", 0.0),
        ("requests >= 1000", "requests", ">=", 1000.0),
    ],
)
def test_parse(text: str, metric: str, op: str, limit: float) -> None:
    threshold = parse_threshold(text)
    assert threshold == Threshold(text, metric, op, limit)
    assert threshold.scope is None


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "=="])
def test_every_operator(op: str) -> None:
    assert parse_threshold(f"p95 {op} 1s").op == op
    assert parse_threshold(f"p95{op}1s").op == op


@pytest.mark.parametrize(
    ("text", "expression", "op"),
    [
        ("p95<500ms", "p95<500ms", "<"),
        ("  p95   <=   500ms  ", "p95   <=   500ms", "<="),
        ("\tp95 >\t500ms\n", "p95 >\t500ms", ">"),
    ],
)
def test_whitespace_tolerance(text: str, expression: str, op: str) -> None:
    assert parse_threshold(text) == Threshold(expression, "p95", op, 500.0)


def test_metric_and_unit_are_case_insensitive() -> None:
    assert parse_threshold("P95 < 1S") == Threshold("P95 < 1S", "p95", "<", 1000.0)
    assert parse_threshold("Error_Rate < 1%").metric == "error_rate"


@pytest.mark.parametrize(
    ("text", "scope", "metric", "limit"),
    [
        ("/api/x: p99 < 1s", "/api/x", "p99", 1000.0),
        ("/api/cases:   p95 < 300ms", "/api/cases", "p95", 300.0),
        ("  list cases: error_rate < 1%", "list cases", "error_rate", 0.01),
        # Names may themselves contain ': ' -- the scope ends at the last one.
        ("GET /a: b: p99 < 1s", "GET /a: b", "p99", 1000.0),
        ("http://h:8080/x: rps > 5", "http://h:8080/x", "rps", 5.0),
    ],
)
def test_scoped(text: str, scope: str, metric: str, limit: float) -> None:
    threshold = parse_threshold(text)
    assert (threshold.scope, threshold.metric, threshold.limit) == (scope, metric, limit)
    assert threshold.expression == text.strip()


ALL = ", ".join(sorted(METRICS))
TIME = "a time like 500ms or 1s"
RATE = "a percentage like 1% or a fraction like 0.01"
RPS = "requests per second like 20"
COUNT = "a whole number like 0"


def bad(text: str, kind: str) -> tuple[str, str]:
    """A threshold whose value cannot be read, and the message for it."""
    metric, _, raw = text.split(" ", 2)
    return text, f"invalid value '{raw}' in '{text}'; {metric} takes {kind}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"cannot read threshold ''; {EXAMPLE}"),
        ("p95", f"cannot read threshold 'p95'; {EXAMPLE}"),
        ("p95 is fast", f"cannot read threshold 'p95 is fast'; {EXAMPLE}"),
        ("p95 <", f"cannot read threshold 'p95 <'; {EXAMPLE}"),
        ("p95 => 1s", f"cannot read threshold 'p95 => 1s'; {EXAMPLE}"),
        ("/api/x:p99 < 1s", f"cannot read threshold '/api/x:p99 < 1s'; {EXAMPLE}"),
        (
            "p96 < 500ms",
            f"unknown metric 'p96' in 'p96 < 500ms'; did you mean 'p99'? (metrics: {ALL})",
        ),
        (
            "erorr_rate < 1%",
            "unknown metric 'erorr_rate' in 'erorr_rate < 1%'; did you mean 'error_rate'? "
            f"(metrics: {ALL})",
        ),
        ("latency < 1s", f"unknown metric 'latency' in 'latency < 1s' (metrics: {ALL})"),
        bad("p95 < fast", TIME),
        bad("p95 < 5%", TIME),
        bad("p95 < -5ms", TIME),
        bad("avg < 1s1s", TIME),
        bad("error_rate < 2", RATE),
        bad("error_rate < 150%", RATE),
        bad("error_rate < -1%", RATE),
        bad("error_rate < lots", RATE),
        bad("rps > fast", RPS),
        bad("rps > -5", RPS),
        bad("rps > inf", RPS),
        bad("failures < 1.5", COUNT),
        bad("requests > -1", COUNT),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_threshold(text)
    assert str(info.value) == message
    assert "\n" not in message


def test_metric_families_partition_metrics() -> None:
    families = [TIME_METRICS, RATE_METRICS, COUNT_METRICS, THROUGHPUT_METRICS, SCORE_METRICS]
    assert sum(len(f) for f in families) == len(METRICS)
    assert frozenset().union(*families) == METRICS


@pytest.mark.parametrize(
    ("text", "unit", "value", "shown"),
    [
        ("p95 < 1s", "ms", 123.5, "124 ms"),
        ("p95 < 1s", "ms", 65.4995, "65.5 ms"),
        ("p50 < 1s", "ms", 0.4123, "0.41 ms"),
        ("apdex >= 0.9", "", 0.93456, "0.935"),
        ("error_rate < 1%", "%", 0.01234, "1.23%"),
        ("rps > 20", "req/s", 20.04, "20.0 req/s"),
        ("failures == 0", "", 3.0, "3"),
        ("p95 < 1s", "ms", None, "n/a"),
    ],
)
def test_unit_and_format_value(text: str, unit: str, value: float | None, shown: str) -> None:
    threshold = parse_threshold(text)
    assert threshold.unit == unit
    assert threshold.format_value(value) == shown


# ------------------------------------------------------------------------------- evaluate


def stats(
    name: str = "Aggregated",
    histogram: dict[int, int] | None = None,
    requests: int | None = None,
    failures: int = 0,
    method: str = "",
) -> RequestStats:
    hist = {1: 50, 2: 30, 10: 15, 100: 5} if histogram is None else histogram
    return RequestStats(
        method=method,
        name=name,
        requests=sum(hist.values()) if requests is None else requests,
        failures=failures,
        total_ms=float(sum(k * v for k, v in hist.items())),
        min_ms=float(min(hist)) if hist else None,
        max_ms=float(max(hist)) if hist else 0.0,
        content_bytes=0,
        histogram=hist,
    )


TOTAL = stats(failures=2)  # 100 requests: 50 at 1 ms, 30 at 2, 15 at 10, 5 at 100
EMPTY = stats(histogram={})


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        ("p50", 2.0),
        ("median", 2.0),
        ("p66", 2.0),
        ("p75", 2.0),
        ("p80", 10.0),
        ("p90", 10.0),
        ("p95", 100.0),
        ("p99", 100.0),
        ("p100", 100.0),
        ("avg", 7.6),
        ("min", 1.0),
        ("max", 100.0),
        ("error_rate", 0.02),
        ("failures", 2.0),
        ("requests", 100.0),
        ("rps", 10.0),
    ],
)
def test_measure(metric: str, value: float) -> None:
    assert measure(metric, TOTAL, 10.0) == pytest.approx(value)


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        ("p95", None),
        ("avg", None),
        ("min", None),
        ("max", None),
        ("error_rate", None),
        ("failures", 0.0),
        ("requests", 0.0),
        ("rps", 0.0),
    ],
)
def test_measure_without_requests(metric: str, value: float | None) -> None:
    assert measure(metric, EMPTY, 10.0) == value


def test_measure_rps_needs_a_duration() -> None:
    assert measure("rps", TOTAL, 0.0) is None


def test_measure_unknown_metric() -> None:
    with pytest.raises(ValueError, match=r"^unknown metric latency$"):
        measure("latency", TOTAL, 10.0)


@pytest.mark.parametrize(
    ("text", "duration_s", "actual", "passed"),
    [
        ("p95 < 500ms", 10.0, 100.0, True),
        ("p95 < 100", 10.0, 100.0, False),
        ("p95 <= 100", 10.0, 100.0, True),
        ("p95 == 100ms", 10.0, 100.0, True),
        ("p50 > 1", 10.0, 2.0, True),
        ("p50 >= 3", 10.0, 2.0, False),
        ("avg < 10ms", 10.0, 7.6, True),
        ("max < 0.1s", 10.0, 100.0, False),
        ("error_rate < 1%", 10.0, 0.02, False),
        ("error_rate <= 2%", 10.0, 0.02, True),
        ("error_rate < 0.05", 10.0, 0.02, True),
        ("failures == 0", 10.0, 2.0, False),
        ("requests >= 100", 10.0, 100.0, True),
        ("rps > 20", 10.0, 10.0, False),
        ("rps > 20/s", 4.0, 25.0, True),
    ],
)
def test_evaluate_total(text: str, duration_s: float, actual: float, passed: bool) -> None:
    threshold = parse_threshold(text)
    result = evaluate(threshold, TOTAL, {}, duration_s)
    assert result.threshold is threshold
    assert result.actual == pytest.approx(actual)
    assert result.passed is passed
    assert result.note == ""


def test_evaluate_edges_are_exact() -> None:
    # 9 ms and 0.7% parse to exactly the values the stats produce.
    nine = stats(histogram={9: 10})
    assert evaluate(parse_threshold("p95 < 9ms"), nine, {}, 1.0).passed is False
    assert evaluate(parse_threshold("p95 <= 9ms"), nine, {}, 1.0).passed is True
    seven = stats(histogram={1: 1000}, failures=7)
    assert evaluate(parse_threshold("error_rate <= 0.7%"), seven, {}, 1.0).passed is True
    assert evaluate(parse_threshold("error_rate < 0.7%"), seven, {}, 1.0).passed is False


def test_evaluate_scoped() -> None:
    slow = stats("/api/slow", {1000: 10})
    by_name = {"/api/slow": slow, "/api/fast": stats("/api/fast", {5: 10})}
    assert evaluate(parse_threshold("/api/fast: p99 < 1s"), TOTAL, by_name, 1.0) == (
        ThresholdResult(parse_threshold("/api/fast: p99 < 1s"), 5.0, True)
    )
    result = evaluate(parse_threshold("/api/slow: p99 < 1s"), TOTAL, by_name, 1.0)
    assert (result.actual, result.passed, result.note) == (1000.0, False, "")


def test_evaluate_unknown_scope_fails_with_a_note() -> None:
    threshold = parse_threshold("/api/y: p99 < 1s")
    result = evaluate(threshold, TOTAL, {"/api/x": TOTAL}, 10.0)
    assert result == ThresholdResult(threshold, None, False, "no request named '/api/y' was made")


@pytest.mark.parametrize("text", ["p95 < 1s", "avg < 1s", "max < 1s", "error_rate < 1%"])
def test_evaluate_no_data_fails(text: str) -> None:
    threshold = parse_threshold(text)
    assert evaluate(threshold, EMPTY, {}, 10.0) == ThresholdResult(
        threshold, None, False, "no data: no request completed"
    )


def test_evaluate_counts_on_no_requests_have_data() -> None:
    result = evaluate(parse_threshold("failures == 0"), EMPTY, {}, 10.0)
    assert (result.actual, result.passed, result.note) == (0.0, True, "")


def test_evaluate_rps_with_zero_duration_is_no_data() -> None:
    result = evaluate(parse_threshold("rps > 1"), TOTAL, {}, 0.0)
    assert (result.actual, result.passed) == (None, False)
    assert result.note.startswith("no data")
