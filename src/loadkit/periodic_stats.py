"""The best numbers on disk when Locust died before its final snapshot.

Locust rewrites ``locust_stats.csv`` (and ``locust_failures.csv``) about once a second and
appends a row per second to the history CSV; after a SIGKILL, a crash or a second Ctrl-C these
still hold everything up to the last second or so. This module turns them into the shape of
``locust_final.json`` that `summary.build_summary` reads, so a killed run reports what it
measured (marked partial by the runner) instead of "0 requests". Percentiles come from the
CSV's own percentile columns (Locust's rounded buckets); there are no fine histograms.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from loadkit.harness_protocol import FinalSnapshot
from loadkit.run_folder import RunFolder

_PERCENTILE_COLUMNS = {
    "50%": 0.50, "66%": 0.66, "75%": 0.75, "80%": 0.80, "90%": 0.90, "95%": 0.95,
    "98%": 0.98, "99%": 0.99, "99.9%": 0.999, "99.99%": 0.9999, "100%": 1.0,
}  # fmt: skip


def read_periodic_stats(
    folder: RunFolder, *, started_at: float | None = None, stopped_at: float | None = None
) -> FinalSnapshot | None:
    """A locust_final.json (`FinalSnapshot`) from the periodic CSVs, or None if there are none.
    `started_at`/`stopped_at`: the span the stats CSV covers, as the runner saw the run
    (the history CSV is flushed only every ~10 s: its first and last rows are no measure of
    the run, and req/s computed on them came out up to 2x too high); each one missing is
    taken from the history CSV."""
    rows = _rows(folder.stats_csv)
    if rows is None:
        return None
    entries = [_entry(row) for row in rows if row.get("Name") != "Aggregated"]
    first, last = _time_span(folder.history_csv)
    started = started_at if started_at is not None else first
    stopped = stopped_at if stopped_at is not None else last
    return {
        "schema": 1,
        "source": folder.stats_csv.name,
        "started_at": started,
        "stopped_at": stopped,
        "entries": entries,
        "errors": [
            {
                "method": row.get("Method"),
                "name": row.get("Name"),
                "error": row.get("Error"),
                "occurrences": _int(row.get("Occurrences")),
            }
            for row in _rows(folder.failures_csv) or []
        ],
        "exceptions": [],
    }


def _rows(path: Path) -> list[dict[str, str]] | None:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None


def _entry(row: dict[str, str]) -> dict[str, Any]:
    requests = _int(row.get("Request Count"))
    percentiles = {
        fraction: value
        for column, fraction in _PERCENTILE_COLUMNS.items()
        if (value := _float(row.get(column))) is not None
    }
    return {
        "method": row.get("Type") or "",
        "name": row.get("Name") or "",
        "num_requests": requests,
        "num_failures": _int(row.get("Failure Count")),
        "total_response_time": (_float(row.get("Average Response Time")) or 0.0) * requests,
        "min_response_time": _float(row.get("Min Response Time")) if requests else None,
        "max_response_time": _float(row.get("Max Response Time")) or 0.0,
        "total_content_length": round((_float(row.get("Average Content Size")) or 0.0) * requests),
        "response_times": {},
        "csv_percentiles": percentiles,
    }


def _time_span(history: Path) -> tuple[float | None, float | None]:
    stamps = [_float(row.get("Timestamp")) for row in _rows(history) or []]
    seconds = [s for s in stamps if s is not None]
    return (min(seconds), max(seconds)) if seconds else (None, None)


def _int(text: str | None) -> int:
    value = _float(text)
    return int(value) if value is not None else 0


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None
