"""Apdex from the fine response-time histograms (`loadkit.histogram`).

Apdex (Application Performance Index, apdex.org) with target time T:

- *satisfied*: a successful request answered in at most T;
- *tolerating*: a successful request answered in more than T and at most 4T;
- *frustrated*: a successful request slower than 4T, and **every failed request**, whatever its
  time (the Apdex specification counts errors as frustrated);
- score = (satisfied + tolerating / 2) / total, from 0 (all frustrated) to 1 (all satisfied).

Requests that Locust recorded without a response time (``response_time=None``, custom clients
only) cannot be classified and are left out unless they failed.

**Resolution.** The histograms keep times in 0.5 %-wide buckets, so a request whose time lies
in the same bucket as T (i.e. within 0.5 % of T) or as 4T may be counted on the wrong side of
that limit; every other request is classified exactly. `Apdex.max_error` is the resulting
bound on the score's error for the data at hand: (requests in T's bucket + requests in 4T's
bucket) / (2 x total), since moving one request across either limit changes the score by
1 / (2 x total). With a smooth latency distribution that is a few thousandths at most; it is 0
when no request is near the limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from loadkit.histogram import RequestHistogram, RunHistograms

__all__ = ["Apdex", "apdex", "apdex_by_name", "rating"]

DEFAULT_APDEX_T_MS = 500.0
"""Apdex T when a scenario names none: the one default, everywhere."""


@dataclass(frozen=True)
class Apdex:
    t_ms: float
    satisfied: int
    tolerating: int
    frustrated: int
    """Slower than 4T, failures included."""
    failed: int
    """Failed requests (all counted as frustrated)."""
    total: int
    """satisfied + tolerating + frustrated."""
    score: float | None
    """None when there was no request to classify."""
    max_error: float
    """Bound on |score - exact score| caused by the histogram's bucket resolution."""

    @property
    def rating(self) -> str | None:
        return None if self.score is None else rating(self.score)


def apdex(hist: RequestHistogram, t_ms: float) -> Apdex:
    """Apdex with target ``t_ms`` of the requests in ``hist``."""
    if not t_ms > 0:
        raise ValueError(f"the Apdex target time must be positive, not {t_ms}")
    ok = hist.ok
    satisfied = ok.count_le(t_ms)
    tolerating = ok.count_le(4 * t_ms) - satisfied
    failed = hist.failed.total
    frustrated = ok.timed - satisfied - tolerating + failed
    total = satisfied + tolerating + frustrated
    if total == 0:
        return Apdex(t_ms, 0, 0, 0, 0, 0, None, 0.0)
    ambiguous = ok.count_in_bucket_of(t_ms) + ok.count_in_bucket_of(4 * t_ms)
    return Apdex(
        t_ms=t_ms,
        satisfied=satisfied,
        tolerating=tolerating,
        frustrated=frustrated,
        failed=failed,
        total=total,
        score=(satisfied + tolerating / 2) / total,
        max_error=ambiguous / (2 * total),
    )


def apdex_by_name(
    run: RunHistograms, t_ms: float, *, start: float | None = None, end: float | None = None
) -> dict[str, Apdex]:
    """Apdex per statistics name (all methods and user classes together), for the requests
    completed in seconds ``start <= s < end``; names without requests there are left out."""
    result: dict[str, Apdex] = {}
    for name, hist in run.by_name(start=start, end=end).items():
        if hist.requests:
            result[name] = apdex(hist, t_ms)
    return result


def rating(score: float) -> str:
    """The Apdex specification's rating of a score."""
    if score >= 0.94:
        return "Excellent"
    if score >= 0.85:
        return "Good"
    if score >= 0.70:
        return "Fair"
    if score >= 0.50:
        return "Poor"
    return "Unacceptable"
