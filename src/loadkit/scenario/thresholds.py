"""Thresholds: `[SCOPE:] METRIC OP VALUE [over WINDOW]`, e.g. `p95 < 500ms`, `error_rate < 1%`,
`rps > 20`, `"/api/cases: p99 < 1s"`, `"user=officer: p95 < 800ms"`, `apdex(300ms) >= 0.9`,
`p95 < 500ms over 30s`, `"transaction=file a report: p95 < 3s"`, `tps > 5`. Parsed at load
time (errors before any load is sent), evaluated on the final measurements after the run.

A window (`over 30s`) means the threshold must hold in every 30-second window of the run
(sliding by one second), and the actual value reported is the worst window's.

A threshold judges requests, unless it is scoped to a transaction (`transaction=NAME:`) or its
metric is `tps` (transactions per second, all transactions or the one named): then it judges
transactions (flows timed as one unit), whose counts never mix with the requests'.

A time metric may say which time it judges: `service p95 < 300ms` (from the moment the
request was actually sent) or `corrected p95 < 300ms` (from the moment it should have been
sent: the service time plus how late its iteration started, when iterations start on a
schedule: arrival rates, pacing). Without either word an open model (arrival rates) judges
the corrected time, what a user waits; a closed model the service time.

`server NAME < 3.5 [over 30s]` judges a metric of the system under test: the query NAME of the
scenario's `observe:` (asked of Prometheus, `loadkit.observe`), not the requests. Its value is
the mean of the query's samples over the run (or over each window: the worst window's), of its
worst series when the query returns several.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast, get_args

from loadkit import formatting
from loadkit.apdex import DEFAULT_APDEX_T_MS
from loadkit.errors import did_you_mean_among
from loadkit.request_stats import RequestStats
from loadkit.scenario.durations import parse_duration
from loadkit.summary_types import Timing

_PERCENTILES = {
    "p50": 0.50, "median": 0.50, "p66": 0.66, "p75": 0.75, "p80": 0.80, "p90": 0.90,
    "p95": 0.95, "p98": 0.98, "p99": 0.99, "p99.9": 0.999, "p99.99": 0.9999, "p100": 1.0,
}  # fmt: skip
TIME_METRICS = frozenset([*_PERCENTILES, "avg", "min", "max"])
RATE_METRICS = frozenset(["error_rate"])
COUNT_METRICS = frozenset(["failures", "requests"])
THROUGHPUT_METRICS = frozenset(["rps", "tps"])
TRANSACTION_METRICS = frozenset(["tps"])
"""Metrics only transactions have."""
SCORE_METRICS = frozenset(["apdex"])
METRICS = TIME_METRICS | RATE_METRICS | COUNT_METRICS | THROUGHPUT_METRICS | SCORE_METRICS
TIMINGS: tuple[Timing, ...] = get_args(Timing)
"""The two times of a request whose start was scheduled (see the module's docstring)."""
USER_SCOPE = "user="
TRANSACTION_SCOPE = "transaction="

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq,
}  # fmt: skip
_SYNTAX = re.compile(
    r"^\s*(?:(?P<scope>.+):\s+)?(?:(?P<timing>service|corrected)\s+)?"
    r"(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)(?:\((?P<arg>[^)]*)\))?\s*"
    r"(?P<op><=|>=|==|<|>)\s*(?P<value>\S.*?)(?:\s+over\s+(?P<window>\S.*?))?\s*$"
)
SERVER_METRIC = "server"
"""The metric of a threshold on an `observe:` query (`server NAME < VALUE`)."""
_SERVER_SYNTAX = re.compile(
    r"^\s*server\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op><=|>=|==|<|>)\s*"
    r"(?P<value>\S.*?)(?:\s+over\s+(?P<window>\S.*?))?\s*$"
)
EXAMPLE = "write it like 'p95 < 500ms', 'error_rate < 1%', 'rps > 20' or '/api/x: p99 < 1s'"


@dataclass(frozen=True)
class Threshold:
    expression: str
    metric: str
    op: str
    limit: float
    """In the metric's unit: ms for times, a fraction for rates, req/s for rps, a count."""
    scope: str | None = None
    """A request name (Locust's stats name), or None for all requests."""
    user: str | None = None
    """A user type's name (`user=NAME:`), or None for all users."""
    window_s: float | None = None
    """`over 30s`: must hold in every window of this length."""
    apdex_t_ms: float | None = None
    """`apdex(300ms)`: T for this threshold; None takes the scenario's T."""
    transaction: str | None = None
    """A transaction's name (`transaction=NAME:`), or None."""
    abort: bool = False
    """Judged every second while the run lasts; failing, it stops the run early."""
    abort_after_s: float = 0.0
    """Grace before an `abort` threshold may stop the run (warm-up)."""
    timing: Timing | None = None
    """"service" or "corrected" as written; None: the run's default (see the docstring)."""
    server: str | None = None
    """`server NAME ...`: the `observe:` query judged (then `metric` is SERVER_METRIC)."""

    @property
    def on_transactions(self) -> bool:
        """Judged on transactions (scoped to one, or `tps`), not on requests."""
        return self.transaction is not None or self.metric in TRANSACTION_METRICS

    @property
    def unit(self) -> str:
        if self.metric in TIME_METRICS:
            return "ms"
        if self.metric in RATE_METRICS:
            return "%"
        if self.metric in THROUGHPUT_METRICS:
            return "txn/s" if self.on_transactions else "req/s"
        return ""

    def format_value(self, value: float | None) -> str:
        if self.server is not None:  # in the query's unit, which observe: knows, not this
            return formatting.measured(value, "")
        return formatting.metric_value(self.unit, value, metric=self.metric)


@dataclass(frozen=True)
class ThresholdResult:
    threshold: Threshold
    actual: float | None
    passed: bool
    note: str = ""


def parse_threshold(text: str) -> Threshold:
    """Raises ValueError with a message fit for the user."""
    if text.strip().startswith(SERVER_METRIC + " "):
        return _parse_server(text)
    match = _SYNTAX.match(text)
    if not match:
        raise ValueError(f"cannot read threshold {text!r}; {EXAMPLE}")
    metric = match.group("metric").lower()
    if metric not in METRICS:
        hint = did_you_mean_among(metric, sorted(METRICS), "metrics")
        raise ValueError(f"unknown metric '{metric}' in {text!r}{hint}")
    raw = match.group("value").strip()
    limit = _parse_limit(metric, raw, text)
    scope = (match.group("scope") or "").strip() or None
    user = transaction = None
    if scope is not None and scope.startswith(USER_SCOPE):
        user, scope = scope.removeprefix(USER_SCOPE).strip(), None
        if not user:
            raise ValueError(
                f"name the user type after 'user=' in {text!r}, e.g. 'user=citizen: ...'"
            )
    elif scope is not None and scope.startswith(TRANSACTION_SCOPE):
        transaction, scope = scope.removeprefix(TRANSACTION_SCOPE).strip(), None
        if not transaction:
            raise ValueError(
                f"name the transaction after 'transaction=' in {text!r}, "
                "e.g. 'transaction=file a report: p95 < 3s'"
            )
    timing = cast("Timing | None", match.group("timing"))  # the pattern allows only these
    if timing is not None and metric not in TIME_METRICS and metric not in SCORE_METRICS:
        raise ValueError(
            f"'{timing}' says which response time to judge; {metric} is not a time, in {text!r}"
        )
    if metric in TRANSACTION_METRICS and scope is not None:
        raise ValueError(
            f"{metric} counts transactions, not requests named {scope!r}, in {text!r}; "
            f"write 'transaction=NAME: {metric} ...' or '{metric} ...'"
        )
    return Threshold(
        expression=text.strip(),
        metric=metric,
        op=match.group("op"),
        limit=limit,
        scope=scope,
        user=user,
        window_s=_parse_window(match.group("window"), text),
        apdex_t_ms=_parse_apdex_t(metric, match.group("arg"), text),
        transaction=transaction,
        timing=timing,
    )


def _parse_server(text: str) -> Threshold:
    match = _SERVER_SYNTAX.match(text)
    if not match:
        raise ValueError(
            f"cannot read threshold {text!r}; write it like 'server api_cpu < 3.5' "
            "(NAME: a query of observe:, then a number)"
        )
    raw = match.group("value").strip()
    try:
        limit = float(raw)
    except ValueError:
        limit = math.nan
    if not math.isfinite(limit):
        raise ValueError(f"invalid value '{raw}' in {text!r}; a server metric takes a number")
    return Threshold(
        expression=text.strip(),
        metric=SERVER_METRIC,
        op=match.group("op"),
        limit=limit,
        window_s=_parse_window(match.group("window"), text),
        server=match.group("name"),
    )


def _parse_window(raw: str | None, text: str) -> float | None:
    if raw is None:
        return None
    try:
        seconds = parse_duration(raw)
    except ValueError:
        seconds = 0.0
    if seconds < 1 or seconds != int(seconds):
        raise ValueError(
            f"invalid window '{raw}' in {text!r}; write a whole number of seconds like 'over 30s'"
        )
    return seconds


def _parse_apdex_t(metric: str, raw: str | None, text: str) -> float | None:
    if raw is None:
        return None
    if metric not in SCORE_METRICS:
        raise ValueError(f"only apdex takes an argument, in {text!r}; e.g. 'apdex(300ms) >= 0.9'")
    try:
        t_ms = round(parse_duration(raw.strip()) * 1000.0, 6)
    except ValueError:
        t_ms = 0.0
    if t_ms <= 0:
        raise ValueError(f"invalid Apdex T '{raw}' in {text!r}; write a time like apdex(300ms)")
    return t_ms


def _parse_limit(metric: str, raw: str, text: str) -> float:
    try:
        if metric in TIME_METRICS:
            if re.fullmatch(r"\d+(\.\d+)?", raw):
                return float(raw)  # a bare number is milliseconds, as in k6
            # Rounded: 0.009 s * 1000 is 9.000000000000002, and `p95 < 9ms` must fail at 9 ms.
            return round(parse_duration(raw) * 1000.0, 6)
        if metric in SCORE_METRICS:
            value = float(raw)
            if not 0 <= value <= 1:
                raise ValueError
            return value
        if metric in RATE_METRICS:
            # Rounded: 0.7 / 100 is 0.006999999999999999, and 7 failures in 1000 must pass <= 0.7%.
            value = round(float(raw[:-1]) / 100.0, 12) if raw.endswith("%") else float(raw)
            if not 0 <= value <= 1:
                raise ValueError
            return value
        value = float(raw.removesuffix("/s")) if metric in THROUGHPUT_METRICS else float(int(raw))
        if not 0 <= value < math.inf:
            raise ValueError
        return value
    except ValueError:
        kinds = {
            **dict.fromkeys(TIME_METRICS, "a time like 500ms or 1s"),
            **dict.fromkeys(RATE_METRICS, "a percentage like 1% or a fraction like 0.01"),
            "rps": "requests per second like 20",
            "tps": "transactions per second like 5",
            **dict.fromkeys(COUNT_METRICS, "a whole number like 0"),
            **dict.fromkeys(SCORE_METRICS, "a score from 0 to 1 like 0.9"),
        }
        raise ValueError(
            f"invalid value '{raw}' in {text!r}; {metric} takes {kinds[metric]}"
        ) from None


class Sample(Protocol):
    """What a threshold is measured on: some requests (a scope, a time window)."""

    @property
    def requests(self) -> int: ...
    @property
    def failures(self) -> int: ...
    @property
    def avg_ms(self) -> float | None: ...
    @property
    def min_ms(self) -> float | None: ...
    @property
    def max_ms(self) -> float | None: ...
    def percentile(self, fraction: float) -> float | None: ...
    def apdex(self, t_ms: float) -> float | None: ...


class Measurements(Protocol):
    """A run's measurements, as thresholds ask for them."""

    @property
    def duration_s(self) -> float: ...
    def sample(
        self,
        *,
        name: str | None,
        user: str | None,
        start: int | None,
        end: int | None,
        transactions: bool = False,
        timing: Timing | None = None,
    ) -> Sample | None:
        """None when nothing matches the scope (no such request, transaction or user was
        measured). With `transactions`, `name` is a transaction's and the sample is made of
        transactions; otherwise of requests only. `timing`: "service", "corrected" or None
        (the run's default) for the times."""

    def seconds(self) -> tuple[int, int] | None:
        """First and last second with data, for windows; None when unknown."""

    def apdex_t_ms(self, name: str | None, *, transaction: bool = False) -> float: ...


def measure(
    metric: str, sample: Sample, duration_s: float, apdex_t_ms: float = DEFAULT_APDEX_T_MS
) -> float | None:
    if metric in TIME_METRICS and sample.requests and sample.failures >= sample.requests:
        return None  # no successful request: no response time to judge (and never a pass)
    if metric in _PERCENTILES:
        return sample.percentile(_PERCENTILES[metric])
    if metric == "avg":
        return sample.avg_ms
    if metric == "min":
        return sample.min_ms
    if metric == "max":
        return sample.max_ms if sample.percentile(1.0) is not None else None
    if metric == "error_rate":
        return sample.failures / sample.requests if sample.requests else None
    if metric == "failures":
        return float(sample.failures)
    if metric == "requests":
        return float(sample.requests)
    if metric in THROUGHPUT_METRICS:  # rps, or tps of a sample of transactions
        return sample.requests / duration_s if duration_s > 0 else None
    if metric == "apdex":
        return sample.apdex(apdex_t_ms)
    raise ValueError(f"unknown metric {metric}")


def judge(threshold: Threshold, run: Measurements) -> ThresholdResult:
    t = threshold
    if t.server is not None:  # the system's metric: `telemetry.judge_server`, not requests
        return ThresholdResult(t, None, False, "no data: the system's metrics were not read")
    on_txn = t.on_transactions
    name = t.transaction if on_txn else t.scope
    t_ms = t.apdex_t_ms if t.apdex_t_ms is not None else run.apdex_t_ms(name, transaction=on_txn)
    whole = run.sample(
        name=name, user=t.user, start=None, end=None, transactions=on_txn, timing=t.timing
    )
    if whole is None:
        if on_txn:
            what = (
                f"transaction named {name!r} was completed"
                if name is not None
                else "transaction was completed"
                + (f" by user type {t.user!r}" if t.user is not None else "")
            )
        else:
            what = (
                f"request named {t.scope!r} was made"
                if t.scope is not None
                else f"request by user type {t.user!r} was made"
            )
        return ThresholdResult(t, None, False, f"no {what}")
    if t.window_s is None:
        actual = measure(t.metric, whole, run.duration_s, t_ms)
        note = ""
    else:
        actual, note = _worst_window(t, run, t_ms)
    if actual is None:
        if t.metric == "apdex":
            why = "apdex needs histograms.json"
        elif t.metric in TIME_METRICS and whole.requests:
            kind = "transaction" if on_txn else "request"
            why = f"no {kind} succeeded (times are those of successful {kind}s)"
        else:
            why = "no transaction completed" if on_txn else "no request completed"
        return ThresholdResult(t, None, False, f"no data: {why}")
    return ThresholdResult(t, actual, OPERATORS[t.op](actual, t.limit), note)


def _worst_window(t: Threshold, run: Measurements, t_ms: float) -> tuple[float | None, str]:
    span = run.seconds()
    window = int(t.window_s or 0)
    if span is None:
        return None, "windows need histograms.json"
    first, last = span
    starts = range(first, max(first, last - window + 1) + 1)
    values = []
    for start in starts:
        sample = run.sample(
            name=t.transaction if t.on_transactions else t.scope,
            user=t.user,
            start=start,
            end=start + window,
            transactions=t.on_transactions,
            timing=t.timing,
        )
        if sample is None or sample.requests == 0:
            continue
        value = measure(t.metric, sample, float(window), t_ms)
        if value is not None:
            values.append((value, start))
    if not values:
        return None, ""
    # The worst window is the one that comes closest to (or goes past) the limit.
    worst = max(values) if t.op in ("<", "<=") else min(values)
    note = f"worst {window}s window starts at {worst[1] - first}s"
    if last - first + 1 < window:
        note += f" (the run was shorter than {window}s)"
    return worst[0], note


@dataclass(frozen=True)
class _WholeRun:
    """Measurements made only of Locust's whole-run statistics (no per-second data)."""

    total: RequestStats
    by_name: dict[str, RequestStats]
    duration_s: float
    transactions: dict[str, RequestStats]

    def sample(
        self,
        *,
        name: str | None,
        user: str | None,
        start: int | None,
        end: int | None,
        transactions: bool = False,
        timing: Timing | None = None,
    ) -> Sample | None:
        # Locust's own statistics know only service times.
        if user is not None:
            return None
        if transactions:
            if name is None:
                parts = self.transactions.values()
                return RequestStats.merge("Transactions", parts) if parts else None
            return self.transactions.get(name)
        return self.total if name is None else self.by_name.get(name)

    def seconds(self) -> tuple[int, int] | None:
        return None

    def apdex_t_ms(self, name: str | None, *, transaction: bool = False) -> float:
        return DEFAULT_APDEX_T_MS


def evaluate(
    threshold: Threshold,
    total: RequestStats,
    by_name: dict[str, RequestStats],
    duration_s: float,
    transactions: dict[str, RequestStats] | None = None,
) -> ThresholdResult:
    """Judge a threshold on Locust's whole-run statistics alone (`total` and `by_name` of the
    requests, `transactions` by name)."""
    return judge(threshold, _WholeRun(total, by_name, duration_s, transactions or {}))
