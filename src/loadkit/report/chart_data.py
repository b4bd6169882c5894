"""The data the charts of a run draw, read from the run folder with pandas (only the columns
needed) into DataFrames: pure functions, no matplotlib.

- `histograms.json` (and `histograms-corrected.json` when starts are scheduled): loadkit's own
  per-second histograms give each second's true p50/p95/p99 (of the requests completed in that
  second, within 0.25 %), overall and per request, so a spike shows in the second it happened;
- `locust_stats_history.csv` (written with `--csv-full-history`): its Aggregated rows, one per
  second, give the running users (and, only when the histograms are missing, Locust's p50/p95/
  p99 of roughly the last 10 s, which smear a one-second spike over ten);
- `locust_final.json`: the exact number of requests and failures completed in every second
  (the history only has a 10-second moving average of those, which reads 0 for the first
  seconds of a run) and the final response-time histogram of all requests, transactions (request
  type "TXN") kept apart: they are not requests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loadkit import formatting
from loadkit.histogram import TRANSACTION_TYPE, RequestHistogram, RunHistograms, busiest_first

MAX_POINTS = 1200
"""Time series longer than this are shown as buckets of several seconds."""

_HISTORY_COLUMNS = {
    "Timestamp": "float64",
    "User Count": "float64",
    "Type": "category",
    "Name": "category",
    "Requests/s": "float64",
    "Failures/s": "float64",
    "50%": "float64",
    "95%": "float64",
    "99%": "float64",
}
_RENAME = {
    "Timestamp": "timestamp",
    "User Count": "users",
    "Requests/s": "rps",
    "Failures/s": "failures_per_s",
    "50%": "p50_ms",
    "95%": "p95_ms",
    "99%": "p99_ms",
}
HISTORY_COLUMNS = ("timestamp", "users", "rps", "failures_per_s", "p50_ms", "p95_ms", "p99_ms")
SERIES_COLUMNS = ("elapsed_s", "users", "rps", "failures_per_s", "p50_ms", "p95_ms", "p99_ms")
_PERCENTILES = ["p50_ms", "p95_ms", "p99_ms"]
_QUANTILES = (0.50, 0.95, 0.99)
"""The quantiles of `_PERCENTILES`, in the same order."""
CORRECTED_SUFFIX = "_corrected"
CORRECTED_COLUMNS = tuple(c.replace("_ms", f"{CORRECTED_SUFFIX}_ms") for c in _PERCENTILES)
"""A series' corrected percentiles (scheduled starts only): beside the service times."""
TIMES_COLUMNS = ("timestamp", "requests", *_PERCENTILES)
PER_REQUEST_CHARTS = 6
"""The per-request drill-down shows the requests made most often, at most this many."""


def read_history(path: Path) -> pd.DataFrame:
    """The Aggregated rows of a `locust_stats_history.csv` as columns `HISTORY_COLUMNS`, one
    row per second (`timestamp`: Unix seconds). Empty when the file has no rows.

    Reads only the needed columns with explicit dtypes (1,000,000 rows in well under a second).
    Percentiles Locust could not compute yet ("N/A", or 0 before any response in its window)
    become NaN so that lines show a gap instead of a false zero. A last line cut short (the
    process was killed while writing) is kept with what it has. Raises OSError when the file
    cannot be read and ValueError when it is not a Locust history CSV.
    """
    try:
        frame = pd.read_csv(
            path,
            usecols=list(_HISTORY_COLUMNS),
            dtype=_HISTORY_COLUMNS,
            na_values={c: ["N/A", ""] for c, t in _HISTORY_COLUMNS.items() if t == "float64"},
            keep_default_na=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        return empty_history()
    aggregated = frame[(frame["Name"] == "Aggregated") & (frame["Type"] == "")]
    history = aggregated.rename(columns=_RENAME).dropna(subset=["timestamp"])
    history = history.drop_duplicates("timestamp", keep="last").sort_values("timestamp")
    history = history[list(HISTORY_COLUMNS)].reset_index(drop=True)
    no_window = history[_PERCENTILES].fillna(0).eq(0).all(axis=1)
    history.loc[no_window, _PERCENTILES] = np.nan
    return history


def _sources(final: Mapping[str, Any], *, transactions: bool = False) -> list[Mapping[str, Any]]:
    """The entries of a `locust_final.json` to add up: its `total` when the run had no
    transactions (Locust's total counts them), else the requests' (or the transactions')
    entries."""
    entries = [e for e in final.get("entries") or [] if isinstance(e, Mapping)]
    timed = [e for e in entries if e.get("method") == TRANSACTION_TYPE]
    if transactions:
        return timed
    total = final.get("total")
    if isinstance(total, Mapping) and not timed:
        return [total]
    return [e for e in entries if e.get("method") != TRANSACTION_TYPE]


def per_second_counts(final: Mapping[str, Any], *, transactions: bool = False) -> pd.DataFrame:
    """Requests and failures completed in each second of the run (columns timestamp,
    requests, failures), exact, from a `locust_final.json` document (its `total` entry, or the
    entries added up); with `transactions`, the transactions' instead. Locust's history CSV
    only has a 10-second moving average of these, which reads 0 for the first seconds of a run."""
    sources = _sources(final, transactions=transactions)
    parts = []
    for entry in sources:
        for column, key in (("requests", "num_reqs_per_sec"), ("failures", "num_fail_per_sec")):
            counts = entry.get(key) or {}
            parts.append(
                pd.DataFrame(
                    {
                        "timestamp": np.fromiter(
                            map(int, counts.keys()), dtype="float64", count=len(counts)
                        ),
                        column: np.fromiter(counts.values(), dtype="float64", count=len(counts)),
                    }
                )
            )
    if not parts:
        return _empty(("timestamp", "requests", "failures"))
    frame = pd.concat(parts, ignore_index=True).groupby("timestamp", sort=True).sum()
    frame = frame.reindex(columns=["requests", "failures"], fill_value=0.0).fillna(0.0)
    return frame.reset_index()


def time_series(
    history: pd.DataFrame,
    counts: pd.DataFrame | None = None,
    times: pd.DataFrame | None = None,
    corrected: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The run second by second as columns `SERIES_COLUMNS` (and `CORRECTED_COLUMNS` when
    `corrected` is given), `elapsed_s` counted from its first second. Users come from the
    history; req/s and failures/s are the exact `counts` when given (seconds without any
    request count 0), else the history's moving averages; the percentiles are each second's
    own from `times` (see `request_times`; a second without a response is a gap) when given,
    else Locust's 10-second windows from the history."""
    merged = history.copy()
    if times is not None:
        merged = merged.drop(columns=_PERCENTILES).merge(
            times[["timestamp", *_PERCENTILES]], on="timestamp", how="outer"
        )
    if corrected is not None:
        renamed = corrected[["timestamp", *_PERCENTILES]].rename(
            columns=dict(zip(_PERCENTILES, CORRECTED_COLUMNS, strict=True))
        )
        merged = merged.merge(renamed, on="timestamp", how="outer")
    exact = counts is not None and not counts.empty
    if exact:
        assert counts is not None
        merged = merged.drop(columns=["rps", "failures_per_s"]).merge(
            counts, on="timestamp", how="outer"
        )
    if merged.empty:
        return empty_series()
    if exact or times is not None or corrected is not None:
        first, last = merged["timestamp"].min(), merged["timestamp"].max()
        every = pd.DataFrame({"timestamp": np.arange(first, last + 1, dtype="float64")})
        merged = every.merge(merged, on="timestamp", how="left")
        merged["users"] = merged["users"].ffill()
    series = merged
    if exact:
        series["rps"] = series["requests"].fillna(0)
        series["failures_per_s"] = series["failures"].fillna(0)
    series["elapsed_s"] = series["timestamp"] - series["timestamp"].min()
    columns = list(SERIES_COLUMNS) + (list(CORRECTED_COLUMNS) if corrected is not None else [])
    return series[columns].reset_index(drop=True)


def second_percentiles(per_second: Mapping[int, RequestHistogram]) -> pd.DataFrame:
    """Each second's own p50, p95 and p99 (ms) as columns `TIMES_COLUMNS`: of every request
    completed in that second, failed ones too (as Locust's percentiles are), from loadkit's
    fine histograms, so within 0.25 % of the exact values. A second whose requests all came
    without a time has NaN percentiles."""
    rows = []
    for second, hist in sorted(per_second.items()):
        values = hist.all().percentiles(_QUANTILES)
        rows.append(
            (float(second), float(hist.requests), *(np.nan if v is None else v for v in values))
        )
    if not rows:
        return _empty(TIMES_COLUMNS)
    return pd.DataFrame(rows, columns=list(TIMES_COLUMNS))


RequestKey = tuple[str, str]
"""A request as the statistics name it: (method, name)."""


def request_times(histograms: RunHistograms, request: RequestKey | None = None) -> pd.DataFrame:
    """Each second's p50/p95/p99 (`second_percentiles`) of all requests (transactions left
    out: they are not requests), or of one `request` (method, name; every user type)."""
    requests = histograms.requests_only()
    if request is None:
        return second_percentiles(requests.per_second())
    method, name = request
    return second_percentiles(requests.per_second(name=name, request_type=method))


def top_requests(
    histograms: RunHistograms, limit: int | None = PER_REQUEST_CHARTS
) -> list[RequestKey]:
    """The requests made most often (method, name), most first (ties by name), at most
    `limit` (None: all); transactions left out."""
    totals: dict[RequestKey, int] = {}
    for key, per_second in histograms.requests_only().series.items():
        request = (key.request_type, key.name)
        totals[request] = totals.get(request, 0) + sum(h.requests for h in per_second.values())
    return [request for request in busiest_first(totals) if totals[request] > 0][:limit]


def per_request_series(
    histograms: RunHistograms,
    requests: Sequence[RequestKey],
    corrected: RunHistograms | None = None,
    *,
    origin: float | None = None,
) -> dict[str, pd.DataFrame]:
    """Request label -> its per-second percentiles (service, and corrected beside them when
    given) as a series with `elapsed_s` from `origin` (the whole run's first second, so every
    request shares the time axis; default the request's own first second)."""
    result: dict[str, pd.DataFrame] = {}
    for request in requests:
        times = request_times(histograms, request)
        fixed = request_times(corrected, request) if corrected is not None else None
        series = time_series(empty_history(), None, times, fixed)
        if origin is not None and not series.empty:
            first = float(times["timestamp"].min()) if not times.empty else origin
            if fixed is not None and not fixed.empty:
                first = min(first, float(fixed["timestamp"].min()))
            series["elapsed_s"] += first - origin
        result[formatting.request_label(*request)] = series
    return result


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})


def empty_series() -> pd.DataFrame:
    return _empty(SERIES_COLUMNS)


def empty_history() -> pd.DataFrame:
    return _empty(HISTORY_COLUMNS)


def downsample(series: pd.DataFrame, max_points: int = MAX_POINTS) -> tuple[pd.DataFrame, int]:
    """At most `max_points` rows: buckets of whole seconds (users and percentiles keep the
    bucket's maximum, so spikes stay visible; rates keep its mean). Returns the frame and the
    bucket width in seconds (1 when nothing was merged)."""
    if len(series) <= max_points:
        return series, 1
    span = float(series["elapsed_s"].max()) + 1
    bucket = max(2, math.ceil(span / max_points))
    keys = (series["elapsed_s"] // bucket) * bucket
    grouped = series.groupby(keys, sort=True)
    result = pd.DataFrame(
        {
            "elapsed_s": grouped["elapsed_s"].min(),
            "users": grouped["users"].max(),
            "rps": grouped["rps"].mean(),
            "failures_per_s": grouped["failures_per_s"].mean(),
            **{c: grouped[c].max() for c in (*_PERCENTILES, *CORRECTED_COLUMNS) if c in series},
        }
    )
    return result.reset_index(drop=True), bucket


def response_time_histogram(final: Mapping[str, Any]) -> dict[float, int]:
    """Response time (ms, Locust's rounded buckets) -> number of requests, for all requests,
    from a `locust_final.json` document: its `total` entry, or the entries added up."""
    sources = _sources(final)
    histogram: dict[float, int] = {}
    for entry in sources:
        for key, count in (entry.get("response_times") or {}).items():
            ms = float(key)
            histogram[ms] = histogram.get(ms, 0) + int(count)
    return {k: v for k, v in sorted(histogram.items()) if v > 0}
