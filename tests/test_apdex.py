"""Apdex from the fine histograms against an exact classification of the same samples."""

from __future__ import annotations

import random

import pytest

from loadkit.apdex import Apdex, apdex, apdex_by_name, rating
from loadkit.histogram import Histogram, HistogramRecorder, RequestHistogram, RunHistograms


def exact_apdex(ok: list[float], failed: int, t: float) -> float:
    satisfied = sum(1 for v in ok if v <= t)
    tolerating = sum(1 for v in ok if t < v <= 4 * t)
    return (satisfied + tolerating / 2) / (len(ok) + failed)


@pytest.mark.parametrize("t_ms", [50, 100, 300, 500, 1000])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_score_is_within_the_stated_error_of_the_exact_one(t_ms: float, seed: int) -> None:
    rng = random.Random(seed)
    ok = [rng.lognormvariate(5.5, 1.2) for _ in range(20_000)]
    ok += [t_ms, t_ms * 1.002, 4 * t_ms, 4 * t_ms * 0.998]  # right at the limits
    failed = [rng.lognormvariate(3, 1) for _ in range(700)]
    result = apdex(RequestHistogram(Histogram.of(ok), Histogram.of(failed)), t_ms)
    exact = exact_apdex(ok, len(failed), t_ms)
    assert result.score is not None
    assert abs(result.score - exact) <= result.max_error + 1e-12
    assert 0 < result.max_error < 0.005  # a smooth distribution: a few thousandths at most
    assert result.total == len(ok) + len(failed)
    assert result.satisfied + result.tolerating + result.frustrated == result.total
    assert result.failed == len(failed)


def test_exact_when_no_request_is_near_the_limits() -> None:
    ok = [50.0] * 600 + [400.0] * 300 + [2000.0] * 50
    result = apdex(RequestHistogram(Histogram.of(ok), Histogram.of([1.0] * 50)), 300)
    assert (result.satisfied, result.tolerating, result.frustrated) == (600, 300, 100)
    assert result.score == (600 + 300 / 2) / 1000
    assert result.max_error == 0


def test_failures_are_frustrated_however_fast() -> None:
    result = apdex(RequestHistogram(Histogram.of([10.0] * 3), Histogram.of([1.0])), 500)
    assert (result.satisfied, result.tolerating, result.frustrated, result.failed) == (3, 0, 1, 1)
    assert result.score == 0.75


def test_no_requests_no_score_and_untimed_successes_are_left_out() -> None:
    assert apdex(RequestHistogram(), 500) == Apdex(500, 0, 0, 0, 0, 0, None, 0.0)
    only_untimed = apdex(RequestHistogram(Histogram.of([None, 10.0])), 500)
    assert (only_untimed.total, only_untimed.score) == (1, 1.0)
    failed_untimed = apdex(RequestHistogram(failed=Histogram.of([None])), 500)
    assert (failed_untimed.frustrated, failed_untimed.score) == (1, 0.0)
    with pytest.raises(ValueError):
        apdex(RequestHistogram(), 0)


def test_per_name_and_time_window() -> None:
    recorder = HistogramRecorder()
    for _ in range(30):
        recorder.record("GET", "fast", 50.0, False)
        recorder.record("POST", "fast", 2500.0, False)
        recorder.record("GET", "slow", 700.0, False)
    run = RunHistograms.from_json(recorder.to_json())
    scores = apdex_by_name(run, 500)
    assert scores["fast"].score == 0.5
    assert scores["slow"].score == 0.5
    assert scores["slow"].rating == "Poor"
    assert apdex_by_name(run, 500, start=run.seconds()[-1] + 1) == {}


@pytest.mark.parametrize(
    ("score", "expected"),
    [(1.0, "Excellent"), (0.94, "Excellent"), (0.9, "Good"), (0.7, "Fair"), (0.5, "Poor"),
     (0.49, "Unacceptable"), (0.0, "Unacceptable")],
)  # fmt: skip
def test_rating(score: float, expected: str) -> None:
    assert rating(score) == expected
