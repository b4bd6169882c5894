"""Fine response-time histograms: log-spaced buckets with a bounded relative error.

Locust's own histogram rounds to 10 ms above 100 ms and to 100 ms above 1 s — too coarse for
Apdex or for comparing load levels. The harness records every response time a second time, here,
per request (method, name, user class) and per wall-clock second, and writes them into the run
folder as ``histograms.json``; this module is the pure data type behind both ends. It imports only
the standard library (the harness imports it inside the Locust process, before anything that
could pull in ``ssl``).

Buckets (all times in milliseconds)
-----------------------------------
With ``GROWTH = 1.005`` and ``MIN_MS = 0.001`` (1 µs):

- bucket ``i >= 1`` holds ``MIN_MS * GROWTH**(i-1) <= v < MIN_MS * GROWTH**i``, i.e.
  ``i = floor(ln(v / MIN_MS) / ln(GROWTH)) + 1``; each bucket is 0.5 % wide relative to its lower
  bound (bucket 1386 holds 1 ms, 2309 holds 100 ms, 3232 holds 10 s, 4156 holds 1000 s);
- bucket ``0`` holds ``0 <= v < MIN_MS`` (and negative times, which do not happen);
- index ``UNTIMED = -1`` counts requests reported without a response time (Locust allows
  ``response_time=None``): they count as requests, but take no part in percentiles or Apdex.

**Error bound.** Every value read back from a bucket (percentiles, min, max, mean) is the bucket's
geometric midpoint ``MIN_MS * GROWTH**(i - 0.5)``, so for any recorded time ``v >= MIN_MS`` the
value reported in its place differs from ``v`` by at most ``RELATIVE_ERROR = sqrt(1.005) - 1``
(< 0.25 %) of ``v``; below 1 µs the error is at most 0.5 µs. A percentile is the nearest-rank
percentile of the recorded samples (the ``ceil(q * n)``-th smallest), so it is within 0.25 % of
the exact nearest-rank percentile of the same samples. Counting "at most T" (``count_le``) can
misclassify only the samples that share T's bucket, i.e. samples within 0.5 % of T
(``count_in_bucket_of`` says how many there are). Floating-point rounding exactly at a bucket
boundary may move a value to the neighbouring bucket, which changes these bounds by ~1e-12.

``histograms.json`` (``"schema": "loadkit.histograms/1"``, compact JSON)
-------------------------------------------------------------------------
::

    {"schema": "loadkit.histograms/1", "unit": "ms",
     "buckets": {"growth": 1.005, "min_ms": 0.001, "untimed_index": -1},
     "relative_error": 0.0024968...,
     ...metadata written by the harness: "locust_version", "started_at", "written_at"...,
     "series": [
       {"type": "GET", "name": "/api/cases", "user": "Citizen",
        "seconds": [[1712345678, [2301, 3, 2304, 1, ...], [2950, 1]], ...]}]}

One series per (request type, statistics name, user class); ``user`` is the ``__name__`` of the
Locust ``User`` class whose greenlet made the request, or ``""`` when a request was made outside
a user's own greenlet. ``seconds`` lists ``[unix_second, ok, failed]`` sorted by second, where the
second is ``int(time.time())`` when the request completed (Locust's ``request`` event; the same
clock and rounding as Locust's per-second counts and its history CSV), ``ok`` the successful
requests' and ``failed`` the failed requests' buckets as a flat ``[index, count, index, count,
...]`` list with ascending indices (``[]`` when none). A failure is what Locust counts as one (the
``request`` event carried an exception). The totals over all series equal Locust's request and
failure counts. Past ``MAX_NAMED_SERIES`` request names the harness keeps the busiest ones and
counts the others' requests under the name ``OTHER_NAMES``, per type, user class and second
(``"folded_names"``: how many names were folded), so the totals stay Locust's.

Transactions (a flow timed as one unit, see ``loadkit.locustfile_helpers.users.Transaction``) are
recorded like requests, with the request type ``TRANSACTION_TYPE`` ("TXN");
``RunHistograms.requests_only`` and ``transactions_only`` keep the two apart, so request counts
stay the target's own count."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "GROWTH",
    "MAX_NAMED_SERIES",
    "MIN_MS",
    "OTHER_NAMES",
    "RELATIVE_ERROR",
    "SCHEMA",
    "TRANSACTION_TYPE",
    "UNTIMED",
    "Histogram",
    "HistogramRecorder",
    "Noted",
    "RequestHistogram",
    "RunHistograms",
    "SeriesKey",
    "bucket_index",
    "bucket_lower",
    "bucket_upper",
    "bucket_value",
    "busiest_first",
    "busiest_order",
    "load_histograms",
]

SCHEMA = "loadkit.histograms/1"
MAX_NAMED_SERIES = 300
"""Request names kept per second in ``histograms.json`` (and in Locust's history CSV): the
busiest ones. Past a few hundred, names hold ids (`python:` code that requests a new URL each
time without Locust's ``name=``): each would add a series, and the run folder would grow
with every distinct URL while telling nothing per name. The rest are counted, second by
second, under ``OTHER_NAMES``: totals stay exact."""
OTHER_NAMES = "(other names)"


def busiest_order(method: str, name: str, requests: int) -> tuple[int, str, str]:
    """The sort key that ranks request names busiest first: most requests, ties by name, then
    method (or request type). The one order wherever names are cut to the busiest after a run
    (``histograms.json`` folded, the summary's note on many names, the tables, the per-request
    charts), so that all of them keep the same names. Locust's history CSV is the exception:
    capped again every second while names arrive, its ties go to the names seen first, so that
    it keeps the same names from one second to the next."""
    return (-requests, name, method)


def busiest_first(counts: Mapping[tuple[str, str], int]) -> list[tuple[str, str]]:
    """The (method, name)s of `counts` (their requests) in `busiest_order`."""
    return sorted(counts, key=lambda key: busiest_order(key[0], key[1], counts[key]))

TRANSACTION_TYPE = "TXN"
"""The request type of a transaction's `request` event (the generated code's helper
`Transaction` fires it with the same literal): counted apart from requests everywhere."""
GROWTH = 1.005
MIN_MS = 0.001
UNTIMED = -1
RELATIVE_ERROR = math.sqrt(GROWTH) - 1.0
"""Largest relative difference between a recorded time (>= MIN_MS) and the value read back."""

_K = 1.0 / math.log(GROWTH)
_C = 1.0 - math.log(MIN_MS) * _K
_log = math.log


def bucket_index(value_ms: float | None) -> int:
    """The bucket a response time (ms) falls in; ``UNTIMED`` for ``None``."""
    if value_ms is None:
        return UNTIMED
    if value_ms <= 0:
        return 0
    return max(int(_log(value_ms) * _K + _C), 0)


def bucket_lower(index: int) -> float:
    """Smallest time (ms) in bucket ``index``."""
    _check_timed(index)
    return 0.0 if index == 0 else MIN_MS * GROWTH ** (index - 1)


def bucket_upper(index: int) -> float:
    """First time (ms) above bucket ``index`` (exclusive upper bound)."""
    _check_timed(index)
    return MIN_MS * GROWTH**index


def bucket_value(index: int) -> float:
    """The value reported for every sample in bucket ``index``: its geometric midpoint
    (half of MIN_MS for bucket 0)."""
    _check_timed(index)
    return MIN_MS / 2 if index == 0 else MIN_MS * GROWTH ** (index - 0.5)


def _check_timed(index: int) -> None:
    if index < 0:
        raise ValueError(f"bucket {index} holds no time")


class Histogram:
    """Sparse bucket counts of response times: bucket index -> number of samples."""

    __slots__ = ("counts",)

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self.counts: dict[int, int] = {k: v for k, v in (counts or {}).items() if v}

    @classmethod
    def of(cls, values_ms: Iterable[float | None]) -> Histogram:
        hist = cls()
        for value in values_ms:
            hist.add(value)
        return hist

    @classmethod
    def from_flat(cls, flat: Sequence[int]) -> Histogram:
        """From ``[index, count, index, count, ...]``."""
        if len(flat) % 2:
            raise ValueError("a flat histogram needs an even number of items")
        hist = cls()
        counts = hist.counts
        for i in range(0, len(flat), 2):
            index, count = int(flat[i]), int(flat[i + 1])
            if index < UNTIMED or count < 0:
                raise ValueError(f"invalid bucket {index}: {count}")
            if count:
                counts[index] = counts.get(index, 0) + count
        return hist

    def to_flat(self) -> list[int]:
        """``[index, count, ...]`` with ascending indices."""
        flat: list[int] = []
        for index in sorted(self.counts):
            flat += (index, self.counts[index])
        return flat

    def add(self, value_ms: float | None, count: int = 1) -> None:
        index = bucket_index(value_ms)
        self.counts[index] = self.counts.get(index, 0) + count

    def merge(self, other: Histogram) -> Histogram:
        """Add ``other``'s samples to this histogram (exact); returns self."""
        counts = self.counts
        for index, count in other.counts.items():
            counts[index] = counts.get(index, 0) + count
        return self

    def copy(self) -> Histogram:
        return Histogram(self.counts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Histogram) and self.counts == other.counts

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Histogram(total={self.total}, p50={self.percentile(0.5)})"

    @property
    def total(self) -> int:
        """All samples, with or without a time."""
        return sum(self.counts.values())

    @property
    def untimed(self) -> int:
        return self.counts.get(UNTIMED, 0)

    @property
    def timed(self) -> int:
        return self.total - self.untimed

    def _timed_buckets(self) -> list[int]:
        return sorted(i for i in self.counts if i != UNTIMED)

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile (``q`` in [0, 1]) of the timed samples; None if there are
        none. Within RELATIVE_ERROR of the exact nearest-rank percentile."""
        return self.percentiles([q])[0]

    def percentiles(self, qs: Sequence[float]) -> list[float | None]:
        """Several percentiles in one pass over the buckets."""
        for q in qs:
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"percentile {q} is not between 0 and 1")
        n = self.timed
        if n == 0:
            return [None for _ in qs]
        ranks = sorted((max(math.ceil(q * n - 1e-9), 1), pos) for pos, q in enumerate(qs))
        results: list[float | None] = [None] * len(qs)
        buckets = self._timed_buckets()
        seen, b = 0, 0
        for rank, pos in ranks:
            while seen + self.counts[buckets[b]] < rank:
                seen += self.counts[buckets[b]]
                b += 1
            results[pos] = bucket_value(buckets[b])
        return results

    def count_le(self, threshold_ms: float) -> int:
        """Timed samples at most ``threshold_ms``, deciding T's own bucket by its midpoint: only
        samples within 0.5 % of the threshold (``count_in_bucket_of``) can be misclassified."""
        edge = bucket_index(threshold_ms)
        if bucket_value(edge) > threshold_ms:
            edge -= 1
        return sum(c for i, c in self.counts.items() if UNTIMED < i <= edge)

    def count_in_bucket_of(self, threshold_ms: float) -> int:
        """Samples in the bucket that holds ``threshold_ms``: the only ones ``count_le`` may
        put on the wrong side of it."""
        return self.counts.get(bucket_index(threshold_ms), 0)

    @property
    def min_ms(self) -> float | None:
        buckets = self._timed_buckets()
        return bucket_value(buckets[0]) if buckets else None

    @property
    def max_ms(self) -> float | None:
        buckets = self._timed_buckets()
        return bucket_value(buckets[-1]) if buckets else None

    @property
    def mean_ms(self) -> float | None:
        """Mean of the timed samples' bucket values (within RELATIVE_ERROR of the exact mean)."""
        n = self.timed
        if n == 0:
            return None
        return sum(bucket_value(i) * c for i, c in self.counts.items() if i != UNTIMED) / n


@dataclass
class RequestHistogram:
    """Successful and failed requests' times, kept apart so Apdex can count failures as
    frustrated whatever their time; ``all()`` is what Locust's percentiles are over."""

    ok: Histogram = field(default_factory=Histogram)
    failed: Histogram = field(default_factory=Histogram)

    @property
    def requests(self) -> int:
        return self.ok.total + self.failed.total

    @property
    def failures(self) -> int:
        return self.failed.total

    @property
    def error_rate(self) -> float | None:
        requests = self.requests
        return self.failures / requests if requests else None

    def all(self) -> Histogram:
        return self.ok.copy().merge(self.failed)

    def merge(self, other: RequestHistogram) -> RequestHistogram:
        self.ok.merge(other.ok)
        self.failed.merge(other.failed)
        return self

    def percentile(self, q: float) -> float | None:
        return self.all().percentile(q)


class SeriesKey(NamedTuple):
    request_type: str
    name: str
    user: str = ""


@dataclass
class RunHistograms:
    """A run's histograms as read from ``histograms.json``: per series, per second."""

    series: dict[SeriesKey, dict[int, RequestHistogram]]
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunHistograms:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} document (schema: {data.get('schema')!r})")
        buckets = data.get("buckets") or {}
        if buckets.get("growth") != GROWTH or buckets.get("min_ms") != MIN_MS:
            raise ValueError(f"unsupported bucket layout {buckets!r}")
        series: dict[SeriesKey, dict[int, RequestHistogram]] = {}
        for item in data.get("series", []):
            key = SeriesKey(str(item["type"]), str(item["name"]), str(item.get("user") or ""))
            per_second = series.setdefault(key, {})
            for second, ok, failed in item["seconds"]:
                hist = RequestHistogram(Histogram.from_flat(ok), Histogram.from_flat(failed))
                existing = per_second.get(int(second))
                if existing is None:
                    per_second[int(second)] = hist
                else:
                    existing.merge(hist)
        meta = {k: v for k, v in data.items() if k != "series"}
        return cls(series, meta)

    def keys(self) -> list[SeriesKey]:
        return sorted(self.series)

    def requests_only(self) -> RunHistograms:
        """The requests' series, without the transactions'."""
        kept = {k: v for k, v in self.series.items() if k.request_type != TRANSACTION_TYPE}
        return RunHistograms(kept, self.meta)

    def transactions_only(self) -> RunHistograms:
        """The transactions' series alone (request type `TRANSACTION_TYPE`)."""
        kept = {k: v for k, v in self.series.items() if k.request_type == TRANSACTION_TYPE}
        return RunHistograms(kept, self.meta)

    def names(self) -> list[str]:
        return sorted({key.name for key in self.series})

    def seconds(self) -> list[int]:
        """Every second in which some request completed, ascending."""
        return sorted({s for per_second in self.series.values() for s in per_second})

    def _matching(
        self, name: str | None, request_type: str | None, user: str | None
    ) -> Iterator[tuple[SeriesKey, dict[int, RequestHistogram]]]:
        for key, per_second in self.series.items():
            if name is not None and key.name != name:
                continue
            if request_type is not None and key.request_type != request_type:
                continue
            if user is not None and key.user != user:
                continue
            yield key, per_second

    def select(
        self,
        *,
        start: float | None = None,
        end: float | None = None,
        name: str | None = None,
        request_type: str | None = None,
        user: str | None = None,
    ) -> RequestHistogram:
        """All matching samples that completed in a second ``s`` with ``start <= s < end``
        (unix seconds; None leaves that side open), merged into one histogram."""
        merged = RequestHistogram()
        for _, per_second in self._matching(name, request_type, user):
            for second, hist in per_second.items():
                if (start is None or second >= start) and (end is None or second < end):
                    merged.merge(hist)
        return merged

    def by_name(
        self, *, start: float | None = None, end: float | None = None
    ) -> dict[str, RequestHistogram]:
        """Per statistics name (all methods and user classes together)."""
        return {name: self.select(start=start, end=end, name=name) for name in self.names()}

    def per_second(
        self,
        *,
        name: str | None = None,
        request_type: str | None = None,
        user: str | None = None,
    ) -> dict[int, RequestHistogram]:
        """Matching samples per second, ascending by second."""
        merged: dict[int, RequestHistogram] = {}
        for _, per_second in self._matching(name, request_type, user):
            for second, hist in per_second.items():
                merged.setdefault(second, RequestHistogram()).merge(hist)
        return dict(sorted(merged.items()))

    def requests_per_second(self) -> dict[int, tuple[int, int]]:
        """Second -> (requests, failures), all series together; cheaper than per_second()."""
        totals: dict[int, list[int]] = {}
        for per_second in self.series.values():
            for second, hist in per_second.items():
                row = totals.setdefault(second, [0, 0])
                row[0] += hist.requests
                row[1] += hist.failures
        return {s: (r[0], r[1]) for s, r in sorted(totals.items())}


def load_histograms(path: str | os.PathLike[str]) -> RunHistograms:
    """Read a ``histograms.json`` file (ValueError if it is not one)."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a {SCHEMA} document")
    return RunHistograms.from_json(data)


# -- recording (inside the Locust process) ------------------------------------------------

_Key = tuple[str, str, str]
_Counts = dict[int, int]
_Pair = tuple[_Counts, _Counts]  # (ok, failed)
_Packed = tuple["array[int]", "array[int]"]  # the same, as flat [index, count, ...] arrays
Noted = tuple[float, str, str, float | None, Any, str, int, float]
"""One request as the harness notes it for `HistogramRecorder.count`: (completed at, type,
name, response time in ms or None, failure (Locust's exception; a failure when truthy, as
Locust counts one), user class, response length, start delay in ms (0 unless scheduled))."""


class HistogramRecorder:
    """Collects response times per (type, name, user) and second, cheaply.

    ``count`` adds a batch of requests (the harness notes each request on Locust's critical
    path and counts a few hundred at a time, see `loadkit.harness`): per request a logarithm
    and a dict increment, nothing allocated but the key tuple. Memory grows with seconds x
    series x distinct buckets, never with the number of requests, and ``seal`` packs seconds
    that will not change any more into arrays (8 bytes per bucket instead of ~70 in dicts: a
    10-minute run at 10,000 req/s with ~1,000 distinct buckets a second keeps ~6 MB instead
    of ~43 MB). A worker ships its data with ``drain`` and starts afresh; the master adds it
    with ``merge_payload``. The payload is a plain list (msgpack-friendly):
    ``[[second, type, name, user, ok_flat, failed_flat], ...]``.
    """

    __slots__ = ("_current", "_live", "_sealed", "_second")

    def __init__(self) -> None:
        self._live: dict[int, dict[_Key, _Pair]] = {}
        self._sealed: dict[int, dict[_Key, _Packed]] = {}
        self._second = -1
        self._current: dict[_Key, _Pair] = {}

    def record(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        failed: bool,
        user: str = "",
    ) -> None:
        """Count one request that completed now."""
        self.count(((_time(), request_type, name, response_time, failed, user, 0, 0.0),))

    def count(self, noted: Iterable[Noted], *, delayed: bool = False) -> None:
        """Count requests as the harness notes them (`Noted`): ``bucket_index`` with the
        arithmetic inlined. `delayed`: count each one's time plus its start delay (the
        corrected times; a request without a time stays without one)."""
        for at, request_type, name, response_time, failure, user, _, delay in noted:
            second = int(at)
            if second != self._second:
                self._switch(second)
            key = (request_type, name, user)
            pair = self._current.get(key)
            if pair is None:
                pair = self._current[key] = ({}, {})
            counts = pair[1] if failure else pair[0]
            if delayed and response_time is not None:
                response_time += delay
            try:
                index = int(_log(response_time) * _K + _C)  # type: ignore[arg-type]
                if index < 0:
                    index = 0
            except TypeError:  # None: Locust counts such a request, without a time
                index = UNTIMED
            except ValueError:  # 0 (or negative)
                index = 0
            except OverflowError:  # infinite: counted, in the last bucket there is
                index = _LAST_INDEX
            counts[index] = counts.get(index, 0) + 1

    def _switch(self, second: int) -> None:
        self._second = second
        current = self._live.get(second)
        if current is None:
            current = self._live[second] = self._unseal(second)
        self._current = current

    def _unseal(self, second: int) -> dict[_Key, _Pair]:
        sealed = self._sealed.pop(second, {})
        return {key: (_unpack(ok), _unpack(failed)) for key, (ok, failed) in sealed.items()}

    def seal(self, before: int) -> None:
        """Pack the seconds before ``before`` (except the one being recorded) into arrays."""
        for second in [s for s in self._live if s < before and s != self._second]:
            per_key = self._live.pop(second)
            for key, pair in self._unseal(second).items():  # a late report reopened it
                _add_pair(per_key.setdefault(key, ({}, {})), pair)
            self._sealed[second] = {
                key: (array("i", _flat(ok)), array("i", _flat(failed)))
                for key, (ok, failed) in per_key.items()
            }

    def second_summary(self, second: int) -> tuple[int, int, float | None]:
        """Requests and failures that completed in ``second``, and their p95 (ms, successful
        requests only; None without any): the live status line's "now". Transactions
        (`TRANSACTION_TYPE`) are not requests and are left out."""
        ok, failed = Histogram(), Histogram()
        for key, (ok_counts, failed_counts) in self._live.get(second, {}).items():
            if key[0] != TRANSACTION_TYPE:
                ok.merge(Histogram(ok_counts))
                failed.merge(Histogram(failed_counts))
        for key, (ok_packed, failed_packed) in self._sealed.get(second, {}).items():
            if key[0] == TRANSACTION_TYPE:
                continue
            ok.merge(Histogram(_unpack(ok_packed)))
            failed.merge(Histogram(_unpack(failed_packed)))
        return ok.total + failed.total, failed.total, ok.percentile(0.95)

    def merge_payload(self, payload: Iterable[Sequence[Any]]) -> None:
        """Add a worker's ``drain()`` payload (the master's side)."""
        for second, request_type, name, user, ok, failed in payload:
            per_key = self._live.get(int(second))
            if per_key is None:
                per_key = self._live[int(second)] = {}
            key = (str(request_type), str(name), str(user))
            pair = per_key.get(key)
            if pair is None:
                pair = per_key[key] = ({}, {})
            _add_pair(pair, (_unpack(ok), _unpack(failed)))

    def payload(self, start: int | None = None, end: int | None = None) -> list[list[Any]]:
        """Everything recorded so far (or in the seconds ``start <= s < end``):
        ``[[second, type, name, user, ok, failed], ...]``."""
        rows: list[list[Any]] = []
        seconds = sorted(set(self._live) | set(self._sealed))
        for second in seconds:
            if (start is not None and second < start) or (end is not None and second >= end):
                continue
            per_key: dict[_Key, _Pair] = {}
            for key, (ok_packed, failed_packed) in self._sealed.get(second, {}).items():
                per_key[key] = (_unpack(ok_packed), _unpack(failed_packed))
            for key, pair in self._live.get(second, {}).items():
                _add_pair(per_key.setdefault(key, ({}, {})), pair)
            for key, (ok, failed) in sorted(per_key.items()):
                rows.append([second, *key, _flat(ok), _flat(failed)])
        return rows

    def drain(self) -> list[list[Any]]:
        """``payload()``, and forget it (a worker's report to the master)."""
        payload = self.payload()
        self._live, self._sealed, self._second, self._current = {}, {}, -1, {}
        return payload

    @property
    def requests(self) -> int:
        """Requests recorded or merged so far."""
        return sum(sum(row[4][1::2]) + sum(row[5][1::2]) for row in self.payload())

    def to_json(self, max_names: int | None = None, **meta: Any) -> dict[str, Any]:
        """The ``histograms.json`` document; ``meta`` adds top-level fields. `max_names`:
        keep that many request names (the busiest), the others' requests under
        ``OTHER_NAMES`` (then ``folded_names`` says how many names were folded)."""
        rows = self.payload()
        folded = _folded_names(rows, max_names)
        if folded:
            rows = _fold(rows, folded)
            meta = {**meta, "folded_names": len(folded)}
        series: dict[_Key, list[list[Any]]] = {}
        for second, request_type, name, user, ok, failed in rows:
            series.setdefault((request_type, name, user), []).append([second, ok, failed])
        return {
            "schema": SCHEMA,
            "unit": "ms",
            "buckets": {"growth": GROWTH, "min_ms": MIN_MS, "untimed_index": UNTIMED},
            "relative_error": RELATIVE_ERROR,
            **meta,
            "series": [
                {"type": key[0], "name": key[1], "user": key[2], "seconds": rows}
                for key, rows in sorted(series.items())
            ],
        }

    def write(
        self, path: str | os.PathLike[str], max_names: int | None = None, **meta: Any
    ) -> None:
        """Write ``histograms.json`` atomically, as compact JSON."""
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(max_names, **meta), handle, separators=(",", ":"))
        os.replace(tmp, path)


def _folded_names(rows: list[list[Any]], max_names: int | None) -> set[tuple[str, str]]:
    """The (type, name)s beyond the `max_names` busiest requests (transactions are kept:
    their names come from the scenario)."""
    counts: dict[tuple[str, str], int] = {}
    for _, request_type, name, _, ok, failed in rows:
        if request_type != TRANSACTION_TYPE:
            key = (request_type, name)
            counts[key] = counts.get(key, 0) + sum(ok[1::2]) + sum(failed[1::2])
    if max_names is None or len(counts) <= max_names:
        return set()
    return set(busiest_first(counts)[max_names:])


def _fold(rows: list[list[Any]], folded: set[tuple[str, str]]) -> list[list[Any]]:
    """`rows` with the `folded` names' counts added up per second, type and user class."""
    kept: list[list[Any]] = []
    other: dict[tuple[int, str, str], _Pair] = {}
    for second, request_type, name, user, ok, failed in rows:
        if (request_type, name) not in folded:
            kept.append([second, request_type, name, user, ok, failed])
            continue
        pair = other.setdefault((second, request_type, user), ({}, {}))
        _add_pair(pair, (_unpack(ok), _unpack(failed)))
    for (second, request_type, user), (ok_counts, failed_counts) in sorted(other.items()):
        kept.append(
            [second, request_type, OTHER_NAMES, user, _flat(ok_counts), _flat(failed_counts)]
        )
    return kept


_time = time.time
_LAST_INDEX = bucket_index(sys.float_info.max)


def _flat(counts: _Counts) -> list[int]:
    flat: list[int] = []
    for index in sorted(counts):
        flat += (index, counts[index])
    return flat


def _unpack(flat: Sequence[int]) -> _Counts:
    counts: _Counts = {}
    for i in range(0, len(flat), 2):
        index = int(flat[i])
        counts[index] = counts.get(index, 0) + int(flat[i + 1])
    return counts


def _add_pair(into: _Pair, other: _Pair) -> None:
    for target, source in zip(into, other, strict=True):
        for index, count in source.items():
            target[index] = target.get(index, 0) + count
