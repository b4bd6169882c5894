"""The fine histograms: the error bound, percentiles and counts against exact data, merging,
the recorder's worker -> master shipping and histograms.json."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest
from helpers import SRC

from loadkit import histogram
from loadkit.histogram import (
    GROWTH,
    MIN_MS,
    OTHER_NAMES,
    RELATIVE_ERROR,
    UNTIMED,
    Histogram,
    HistogramRecorder,
    RunHistograms,
    SeriesKey,
    bucket_index,
    bucket_lower,
    bucket_upper,
    bucket_value,
    busiest_first,
    load_histograms,
)
from loadkit.report import charts
from loadkit.report.console import shown_requests
from loadkit.summary_types import Summary

# Floating-point slack at bucket boundaries (documented in histogram.py as ~1e-12).
FP = 1e-9


def wide_values(n: int = 20_000, seed: int = 1) -> list[float]:
    """Log-uniform from 1 µs to 1000 s, plus round numbers and bucket boundaries."""
    rng = random.Random(seed)
    values = [10 ** rng.uniform(-3, 6) for _ in range(n)]
    values += [1, 2, 5, 10, 50, 100, 250, 300, 500, 1000, 1200, 2000, 10_000, 60_000]
    values += [bucket_lower(i) for i in range(1, 4200, 37)]
    return values


def exact_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered) - 1e-9), 1) - 1]


def test_the_documented_bound() -> None:
    assert GROWTH == 1.005
    assert math.isclose(RELATIVE_ERROR, math.sqrt(1.005) - 1)
    assert RELATIVE_ERROR < 0.0025
    for index in (1, 1386, 2309, 3232, 4156):
        assert bucket_upper(index) / bucket_lower(index) == pytest.approx(GROWTH)
    assert bucket_index(1.0) == 1386
    assert bucket_index(100.0) == 2309
    assert bucket_index(10_000.0) == 3232


def test_every_value_lies_in_its_bucket_and_reads_back_within_the_bound() -> None:
    worst = 0.0
    for value in wide_values():
        index = bucket_index(value)
        assert bucket_lower(index) * (1 - FP) <= value < bucket_upper(index) * (1 + FP)
        worst = max(worst, abs(bucket_value(index) - value) / value)
    assert worst <= RELATIVE_ERROR * (1 + FP)
    assert worst > RELATIVE_ERROR * 0.9  # the bound is tight, not a loose guess


def test_tiny_zero_negative_and_missing_times() -> None:
    assert bucket_index(None) == UNTIMED
    assert bucket_index(0.0) == 0
    assert bucket_index(-3.0) == 0
    assert bucket_index(MIN_MS / 3) == 0
    assert bucket_value(0) == MIN_MS / 2  # within 0.5 µs of anything below 1 µs
    with pytest.raises(ValueError):
        bucket_value(UNTIMED)
    hist = Histogram.of([None, 0.0, 5.0])
    assert (hist.total, hist.timed, hist.untimed) == (3, 2, 1)
    assert hist.percentile(1.0) == pytest.approx(5.0, rel=RELATIVE_ERROR)
    assert Histogram().percentile(0.5) is None
    assert Histogram.of([None]).mean_ms is None


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(wide_values(), id="log-uniform 1us..1000s"),
        pytest.param([random.Random(2).lognormvariate(3, 1) for _ in range(9_999)], id="lognorm"),
        pytest.param([50.0] * 900 + [400.0] * 100, id="two spikes"),
        pytest.param([7.0], id="single"),
        pytest.param([random.Random(3).expovariate(1 / 80) for _ in range(5_000)], id="exp"),
    ],
)
def test_percentiles_match_exact_sorted_data_within_the_bound(values: list[float]) -> None:
    hist = Histogram.of(values)
    qs = [0.0, 0.01, 0.1, 0.5, 0.66, 0.9, 0.95, 0.99, 0.999, 1.0]
    for q, got in zip(qs, hist.percentiles(qs), strict=True):
        exact = exact_percentile(values, q)
        assert got is not None
        assert abs(got - exact) <= exact * RELATIVE_ERROR * (1 + FP), (q, got, exact)
    assert hist.min_ms == pytest.approx(min(values), rel=RELATIVE_ERROR)
    assert hist.max_ms == pytest.approx(max(values), rel=RELATIVE_ERROR)
    mean = sum(values) / len(values)
    assert hist.mean_ms == pytest.approx(mean, rel=RELATIVE_ERROR)


@pytest.mark.parametrize("threshold", [0.5, 10, 99.9, 100, 300, 500, 1200, 2000, 30_000])
def test_count_le_is_exact_but_for_the_thresholds_own_bucket(threshold: float) -> None:
    values = wide_values()
    values += [threshold, threshold * 1.001, threshold * 0.999]  # inside T's bucket
    hist = Histogram.of(values)
    exact = sum(1 for v in values if v <= threshold)
    ambiguous = hist.count_in_bucket_of(threshold)
    assert ambiguous >= 1
    assert abs(hist.count_le(threshold) - exact) <= ambiguous
    near = sum(1 for v in values if threshold / GROWTH <= v <= threshold * GROWTH)
    assert ambiguous <= near  # ambiguous samples are within 0.5 % of T


def test_merge_is_exact_and_order_free() -> None:
    rng = random.Random(4)
    parts = [[rng.lognormvariate(4, 1.5) for _ in range(rng.randint(0, 3000))] for _ in range(6)]
    whole = Histogram.of(v for part in parts for v in part)
    forward, backward = Histogram(), Histogram()
    for part in parts:
        forward.merge(Histogram.of(part))
    for part in reversed(parts):
        backward.merge(Histogram.of(part))
    assert forward == whole == backward
    assert Histogram.from_flat(whole.to_flat()) == whole
    with pytest.raises(ValueError):
        Histogram.from_flat([1, 2, 3])


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The recorder's clock, settable: ``clock[0] = second``."""
    now = [1_700_000_000.25]
    monkeypatch.setattr(histogram, "_time", lambda: now[0])
    return now


def test_recorder_buckets_like_bucket_index(clock: list[float]) -> None:
    recorder = HistogramRecorder()
    values: list[float | None] = [*wide_values(2_000), 0.0, -1.0, None, MIN_MS / 2]
    for value in values:
        recorder.record("GET", "/x", value, False)
    expected = Histogram.of(values)
    run = RunHistograms.from_json(recorder.to_json())
    assert run.select().ok == expected
    assert run.select().failed.total == 0


def test_recorder_keys_seconds_and_failures(clock: list[float]) -> None:
    recorder = HistogramRecorder()
    recorder.record("GET", "/a", 10.0, False, "Citizen")
    recorder.record("GET", "/a", 12.0, True, "Citizen")
    recorder.record("POST", "/a", 30.0, False, "Officer")
    clock[0] += 1
    recorder.record("GET", "/b", 400.0, False)
    recorder.record("GET", "/b", 410.0, True)
    run = RunHistograms.from_json(json.loads(json.dumps(recorder.to_json(extra=1))))
    assert run.meta["extra"] == 1
    assert run.keys() == [
        SeriesKey("GET", "/a", "Citizen"),
        SeriesKey("GET", "/b", ""),
        SeriesKey("POST", "/a", "Officer"),
    ]
    assert run.names() == ["/a", "/b"]
    first = int(clock[0]) - 1
    assert run.seconds() == [first, first + 1]
    assert run.requests_per_second() == {first: (3, 1), first + 1: (2, 1)}
    a = run.select(name="/a")
    assert (a.requests, a.failures) == (3, 1)
    assert run.select(name="/a", request_type="POST").requests == 1
    assert run.select(user="Citizen").requests == 2
    assert run.select(start=first + 1).requests == 2
    assert run.select(end=first + 1).requests == 3
    assert run.select(start=first, end=first).requests == 0
    assert {n: h.requests for n, h in run.by_name(start=first + 1).items()} == {"/a": 0, "/b": 2}
    per_second = run.per_second(name="/b")
    assert list(per_second) == [first + 1]
    assert per_second[first + 1].error_rate == 0.5
    # Locust's percentiles are over all requests, failed ones included.
    assert run.select(name="/b").percentile(1.0) == pytest.approx(410, rel=RELATIVE_ERROR)
    assert recorder.requests == 5


def test_workers_ship_and_the_master_merges_exactly(clock: list[float]) -> None:
    rng = random.Random(5)
    reference = HistogramRecorder()
    master = HistogramRecorder()
    workers = [HistogramRecorder() for _ in range(3)]
    for step in range(40):
        clock[0] += rng.random() * 0.6
        for worker in workers:
            for _ in range(rng.randint(0, 30)):
                args = ("GET", rng.choice("xyz"), rng.lognormvariate(4, 1), rng.random() < 0.1)
                worker.record(*args)
                reference.record(*args)
        if step % 5 == 4:  # a report every few seconds, as Locust's workers send them
            for worker in workers:
                master.merge_payload(json.loads(json.dumps(worker.drain())))
            master.seal(int(clock[0]) - 2)
    for worker in workers:
        master.merge_payload(worker.drain())  # the final report on quit
        assert worker.requests == 0
    assert master.to_json() == reference.to_json()
    assert master.requests == reference.requests > 0


def test_sealed_seconds_still_take_late_reports(clock: list[float]) -> None:
    recorder = HistogramRecorder()
    for value in (10.0, 20.0, 20.0):
        recorder.record("GET", "/x", value, False)
    second = int(clock[0])
    before = recorder.to_json()
    clock[0] += 30
    recorder.record("GET", "/x", 5.0, False)
    recorder.seal(int(clock[0]))
    late = [[second, "GET", "/x", "", [bucket_index(20.0), 2], [bucket_index(99.0), 1]]]
    recorder.merge_payload(late)
    recorder.seal(int(clock[0]))
    run = RunHistograms.from_json(recorder.to_json())
    old = run.select(end=second + 1)
    assert (old.ok.total, old.failed.total) == (5, 1)
    assert old.ok.counts[bucket_index(20.0)] == 4
    assert run.select(start=second + 1).requests == 1
    assert before["series"][0]["seconds"][0][0] == second


def test_memory_grows_with_buckets_not_with_requests(clock: list[float]) -> None:
    recorder = HistogramRecorder()
    values = [float(v) for v in range(1, 51)]  # 50 distinct buckets
    for _ in range(2_000):
        for value in values:
            recorder.record("GET", "/x", value, False)
    (row,) = recorder.payload()
    assert len(row[4]) == 2 * 50  # [index, count] per bucket, whatever the request count
    assert sum(row[4][1::2]) == 100_000
    clock[0] += 60
    recorder.record("GET", "/x", 1.0, False)
    recorder.seal(int(clock[0]))
    assert len(recorder._sealed) == 1 and len(recorder._live) == 1  # old second packed


def test_the_busiest_names_are_ranked_one_way_wherever_names_are_cut(clock: list[float]) -> None:
    """Most requests first, ties by name then method: histograms.json folds the same names the
    per-request charts leave out and the tables hide."""
    counts = {("GET", "/z"): 5, ("DELETE", "/c"): 2, ("GET", "/b"): 2, ("POST", "/a"): 2}
    ranked = [("GET", "/z"), ("POST", "/a"), ("GET", "/b"), ("DELETE", "/c")]
    assert busiest_first(counts) == ranked
    recorder = HistogramRecorder()
    for (method, name), n in counts.items():
        for _ in range(n):
            recorder.record(method, name, 10.0, False)
    document = recorder.to_json(max_names=2)
    kept = {(s["type"], s["name"]) for s in document["series"] if s["name"] != OTHER_NAMES}
    assert kept == set(ranked[:2]) and document["folded_names"] == 2
    assert charts.top_requests(RunHistograms.from_json(recorder.to_json()), 2) == ranked[:2]
    rows = [{"method": m, "name": n, "requests": c} for (m, n), c in sorted(counts.items())]
    shown, more = shown_requests(cast(Summary, {"requests": rows}), 2)
    assert [(r["method"], r["name"]) for r in shown] == ranked[:2]
    assert more == "… and 2 more names (4 requests)"


def test_histograms_json_roundtrip_and_rejects_other_documents(
    tmp_path: Path, clock: list[float]
) -> None:
    recorder = HistogramRecorder()
    recorder.record("GET", "/x", 42.0, False)
    path = tmp_path / "histograms.json"
    recorder.write(path, locust_version="2.47.0")
    text = path.read_text()
    assert "\n" not in text and ": " not in text  # compact
    run = load_histograms(path)
    assert run.meta["schema"] == "loadkit.histograms/1"
    assert run.meta["relative_error"] == RELATIVE_ERROR
    assert run.select().percentile(0.5) == pytest.approx(42.0, rel=RELATIVE_ERROR)
    data = json.loads(text)
    for broken in ({**data, "schema": "other"}, {**data, "buckets": {"growth": 1.01}}):
        (tmp_path / "bad.json").write_text(json.dumps(broken))
        with pytest.raises(ValueError):
            load_histograms(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ValueError):
        load_histograms(tmp_path / "list.json")


def test_importing_it_pulls_in_neither_ssl_nor_locust() -> None:
    code = (
        "import sys, loadkit.histogram, loadkit.apdex;"
        "bad = {'ssl', 'requests', 'locust', 'gevent'} & set(sys.modules);"
        "assert not bad, bad"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": SRC}, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
