"""summary.json's structure, stated once: one TypedDict per part, documented field by field
(as Locust's `StatsEntryDict` in locust/stats.py). `summary.build_summary` writes a `Summary`;
the renderers (`loadkit.report`), `compare` and `delivery.LoadDelivered.to_dict` are typed
against these, so mypy checks that nobody reads a field that does not exist.

Schema "loadkit.summary/1". Times are milliseconds; absent data is null (None). Response times
(and time thresholds) are those of the *successful* requests: a refused connection answers in
0 ms and must not make a dead target look fast. The failed requests' times are kept apart in
``failed_ms``; Apdex counts every failure as frustrated.

A summary read back from disk may be older or partial (a file from an earlier loadkit, or the
stand-in `report.write.load_summary` makes for an unreadable one): functions that accept one
read it with ``.get`` and never assume a key is there. Its ``verdict`` is then the plain string,
which equals the `Verdict` member of the same value.

Light on purpose (no pandas, no Locust, no loadkit module but `exit_codes`): every renderer and
`delivery` import it.
"""

from __future__ import annotations

from typing import Final, Literal, NotRequired, TypedDict

from loadkit.exit_codes import Verdict

Timing = Literal["service", "corrected"]
"""Which time of a request is judged: its service time (sent to answered) or its corrected
time (from when it was due to start: the service time plus the iteration's start delay, for
users whose iterations start on a schedule)."""
SERVICE: Final[Timing] = "service"
CORRECTED: Final[Timing] = "corrected"

__all__ = [
    "AbortedBy",
    "ApdexEntry",
    "CapacityDict",
    "DriftEntry",
    "ExceptionRow",
    "FailedTimes",
    "FailureRow",
    "GeneratorCpu",
    "GeneratorLag",
    "HistoryPoint",
    "HistoryView",
    "LoadInfo",
    "LoadLevelDict",
    "LostWorker",
    "RequestRow",
    "RunInfo",
    "ScenarioInfo",
    "SlowestRequests",
    "StageInfo",
    "Summary",
    "ThresholdRow",
    "TracedRequest",
    "TransactionRow",
    "UserTypeInfo",
    "UslFitDict",
    "Verdict",
    "WorkersInfo",
]


class ScenarioInfo(TypedDict):
    name: str
    """The scenario's `name:`."""
    file: str | None
    """The scenario file as given on the command line (None only in the stand-in
    `report.write.load_summary` makes for an unreadable summary.json)."""


class AbortedBy(TypedDict):
    threshold: str
    at_s: float
    """Seconds into the run when it failed past its grace."""
    actual: str
    """Its value then, as a person reads it."""


class UserTypeInfo(TypedDict):
    """One of the scenario's user types, as far as it shapes the load."""

    name: str
    weight: int
    think_time: str | None
    """How it waits between tasks, e.g. "pacing 2s", "constant 0s", "between 1s and 3s";
    None in an open model (each arrival starts one task: think time does not apply)."""


class RunInfo(TypedDict):
    host: str
    """The base URL load went to."""
    users: int
    """Planned users (the peak of a shape)."""
    spawn_rate: float
    """Planned users started per second."""
    duration_s: int
    """Planned duration, whole seconds."""
    started_at: float | None
    """Unix seconds; None when Locust wrote no statistics."""
    stopped_at: float | None
    elapsed_s: float
    """Measured: stopped_at - started_at (0 without statistics)."""
    aborted: bool
    """Interrupted by SIGINT/SIGTERM before the planned end."""
    killed: str | None
    """Why Locust had to be killed, or None."""
    partial: str | None
    """Where the numbers came from when Locust wrote no final snapshot, or None."""
    not_started: str | None
    """Why no load was sent at all (e.g. the master's workers never came), or None."""
    aborted_by: AbortedBy | None
    """The `abort: true` threshold that stopped the run early, or None."""
    peak_users: int | None
    """The most users Locust ran at once."""
    locust_version: str | None
    loadkit_version: str
    processes: int
    """--processes: the Locust processes generating load on this machine; 1 without it (and
    for a master, whose workers generate the load)."""
    workers: int
    """--master: the workers the run waited for (each may run several processes); 0 for a run
    on one machine."""
    user_types: list[UserTypeInfo]
    """The scenario's users (not those of an included locustfile), in its order."""


class StageInfo(TypedDict):
    """One stage of the planned load (a constant load is one stage)."""

    planned_users: int
    start_s: float
    """Seconds after the start of the test."""
    end_s: float
    reached_users: int | None
    """The fewest users running while all should have been; None: not judged (see
    `loadkit.delivery`)."""


class GeneratorCpu(TypedDict):
    """The CPU of one load-generating process, sampled once a second."""

    process: str
    """"local", "master", or a worker's id."""
    samples: int
    busy_samples: int
    """Samples at or above `delivery.BUSY_CPU_PERCENT` of one core."""
    max_percent: float
    mean_percent: float
    saturated: bool
    """Busy long enough for the run to be flagged (a warning)."""


class GeneratorLag(TypedDict):
    """How late the event loop of one load-generating process was (a timer due every 100 ms;
    per-second values in locust_final.json's ``loop_lag``)."""

    process: str
    """"local", "master", or a worker's id."""
    seconds: int
    """Seconds of the test sampled."""
    lagging_seconds: int
    """Seconds whose p99 lag exceeded `delivery.LAG_P99_MS`."""
    max_ms: float
    """The latest any timer fired, over the whole test."""
    worst_p99_ms: float
    """The highest per-second p99: the worst second's."""
    requests_in_lagging: int | None
    """Requests (every process's) completed in those seconds; None without histograms."""
    lagging: bool
    """Lagging long enough for the run to be flagged (a warning; --strict-generator: fail)."""


class LostWorker(TypedDict):
    worker: str
    """Locust's id of the worker (host name and a random part)."""
    at_s: float
    """Seconds into the run when the master noticed (about 3 s after its last heartbeat)."""
    users: int
    """The users it was running."""
    how: str
    """"left" (its process stopped; its last report arrived) or "missing" (no heartbeat)."""
    returned_s: float | None
    """A missing worker that answered again: seconds into the run; else None."""
    moved_s: float | None
    """Seconds from the loss (a missing worker's: from its last heartbeat) until as many users
    ran as before (on the other workers, or on it once back); None: never."""


class WorkersInfo(TypedDict):
    """A distributed run's workers (all zero/empty for a run on one machine)."""

    expected: int
    connected: list[str]
    """Every worker that joined (before the test started or while it ran), in order."""
    lost: list[LostWorker]


class ArrivalSecond(TypedDict):
    at_s: float
    """Seconds after the start (the harness's sample)."""
    started: int
    """Iterations started since the previous sample."""
    busy: int
    """Users in an iteration (the concurrency the arrivals needed)."""
    waiting: int
    """Arrivals in the backlog."""


class ArrivalStageInfo(TypedDict):
    rate: float
    """Arrivals per second (every process together)."""
    duration_s: float


class ArrivalsInfo(TypedDict):
    """The open model: target against achieved arrivals (`delivery.ArrivalsDelivered`)."""

    target_rate: float
    achieved_rate: float | None
    """Iterations started per second of load."""
    planned: float
    spacing: str
    max_concurrency: int
    max_backlog: int
    arrived: int
    started: int
    delayed: int
    """Started late, from the backlog: every user was busy when they came."""
    dropped: int
    waiting: int
    peak_busy: int
    stages: list[ArrivalStageInfo]
    """The planned rates, one after the other."""
    per_second: list[ArrivalSecond]


class LoadInfo(TypedDict):
    """Planned against delivered load (`delivery.LoadDelivered.to_dict`)."""

    planned_users: int
    peak_users: int | None
    planned_s: float
    delivered_s: float | None
    """From the start to the moment the load stopped; None if not known."""
    stages: list[StageInfo]
    delivered: bool
    """Every judged stage reached its planned users."""
    notes: list[str]
    """What the generated code said about users stopping (e.g. test data exhausted)."""
    generator_cpu: list[GeneratorCpu]
    generator_lag: list[GeneratorLag]
    workers: WorkersInfo
    arrivals: ArrivalsInfo | None
    """The open model's arrivals; None for a closed model."""


class ApdexEntry(TypedDict):
    t_ms: float
    """The Apdex target T."""
    score: float | None
    """0..1, None without requests."""
    rating: str | None
    """Excellent, Good, Fair, Poor or Unacceptable; None without requests."""
    max_error: float
    """How far the score may be off through the histogram's resolution."""


class FailedTimes(TypedDict):
    """The times of the failed requests, kept apart from the successful ones'."""

    requests: int
    avg_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


class CorrectedTimes(TypedDict):
    """Times from when each request should have started (its service time plus how late its
    iteration started: arrival rates, pacing), successful requests only."""

    avg_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    apdex: float | None
    """Apdex score of the corrected times (same T)."""


class RequestRow(TypedDict):
    """One request (method, name), or all of them (`Summary.totals`: method "", name
    "Aggregated")."""

    method: str
    name: str
    requests: int
    failures: int
    error_rate: float | None
    """failures / requests, None without requests."""
    rps: float | None
    """Requests per second over the measured run, None when it lasted 0 s."""
    avg_ms: float | None
    min_ms: float | None
    max_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    avg_bytes: int | None
    """Mean response size."""
    failed_ms: FailedTimes | None
    """None when no failed request was timed (or without loadkit's histograms)."""
    apdex: ApdexEntry | None
    """None without loadkit's histograms."""
    corrected: CorrectedTimes | None
    """None unless some iterations started on a schedule (then the times above are service
    times, from the actual send)."""


class TransactionRow(TypedDict):
    """One transaction (a flow timed as one unit, all user types together), or all of them
    (`Summary.transaction_totals`: name "All transactions"). Its time runs from the first
    request's start to the last response, think time excluded; it failed when any of its
    requests or checks failed. Not counted among the requests anywhere."""

    name: str
    transactions: int
    """Completed transactions (a user stopped mid-flow completes none)."""
    failures: int
    error_rate: float | None
    tps: float | None
    """Transactions per second over the measured run."""
    avg_ms: float | None
    min_ms: float | None
    max_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    failed_ms: FailedTimes | None
    apdex: ApdexEntry | None
    """With the transaction's own T (`apdex.transactions`), else the scenario's."""
    corrected: CorrectedTimes | None


class FailureRow(TypedDict):
    """Failed requests grouped as Locust groups them, most frequent first."""

    method: str | None
    name: str | None
    error: str
    """The message (a check's message unwrapped from Locust's CatchResponseError repr)."""
    occurrences: int | None


class ExceptionRow(TypedDict):
    """An exception raised by the test code (not by the target)."""

    count: int
    message: str


class ThresholdRow(TypedDict):
    expression: str
    """As written in the scenario, e.g. "/api/cases: p95 < 500ms"."""
    scope: str | None
    """The request name it applies to; None: all requests."""
    transaction: str | None
    """The transaction it applies to (`transaction=NAME:`); None: none, or all transactions
    for `tps`."""
    metric: str
    """p50, p95, error_rate, rps, tps, apdex, ... (see `loadkit.scenario.thresholds`)."""
    op: str
    """<, <=, >, >=."""
    limit: float
    """In the metric's base unit (ms, a fraction for %, req/s)."""
    unit: str
    """How the limit was written: ms, %, req/s, txn/s, or ""."""
    user: str | None
    """The user type it applies to; None: all users."""
    window_s: float | None
    """Judged over every window of this many seconds; None: the whole run."""
    actual: float | None
    """The measured value (rounded to 6 digits); None when there was nothing to measure."""
    passed: bool
    note: str
    """Why there is no value (e.g. "no requests"), or ""."""
    default: bool
    """Applied because the scenario lists no thresholds (`summary.DEFAULT_THRESHOLDS`)."""


class TracedRequest(TypedDict):
    """One of the slowest requests of its name, sent with a W3C traceparent header."""

    trace_id: str
    """32 hex digits: what an APM (Jaeger, Tempo, Datadog...) finds the request's trace by."""
    span_id: str
    """16 hex digits: the client's span, the parent of the server's first one."""
    response_time_ms: float
    started_at: float
    """Unix seconds."""
    failed: bool


class SlowestRequests(TypedDict):
    """Trace links (`trace: true`): one request (method, name) and its slowest requests."""

    method: str
    name: str
    slowest: list[TracedRequest]
    """At most `harness_protocol.SLOWEST_KEPT` (10), slowest first, failed ones included."""


class LoadLevelDict(TypedDict):
    """`capacity.LoadLevel`: one steady stretch of a constant user count."""

    users: int
    start: float
    """Unix seconds: the steady window is [start, end)."""
    end: float
    requests: int
    throughput_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float
    apdex: float | None
    arrival_rate: NotRequired[float | None]
    """Open model: the stage's offered arrivals per second (the level's load; ``users`` is the
    pool held). Written for an open model's levels only."""


class UslFitDict(TypedDict):
    """`capacity.UslFit`: the Universal Scalability Law fitted to the levels."""

    sigma: float
    kappa: float
    lambda_rps: float
    r_squared: float
    peak_users: float | None
    """A model parameter, not a saturation point (see `loadkit.capacity`)."""
    peak_rps: float | None


class JudgedStageDict(TypedDict):
    """An open model's stage judged by the SLO as a `loadkit capacity` step is
    (`capacity_judge`), on its steady window: rates per second."""

    rate: float
    """Offered arrivals per second."""
    requests_per_s: float | None
    transactions_per_s: float | None
    """None when the flow has no transactions."""
    p95_ms: float | None
    """Corrected p95 of the steady window."""
    reasons: list[str]
    """Why it broke the SLO (empty when it held)."""


class CapacityDict(TypedDict):
    """`capacity.CapacityReport` and its one-line headline."""

    headline: str
    levels: list[LoadLevelDict]
    knee_users: int | None
    """The saturation point; None when not saturated or insufficient data."""
    usl: UslFitDict | None
    max_users_within_slo: int | None
    max_rps_within_slo: float | None
    insufficient: str | None
    """Why the data supports no capacity estimate, or None."""
    capacity_rps: float | None
    """The highest steady throughput measured at any level (in `throughput_unit`)."""
    slo_given: bool
    throughput_unit: str
    """"txn/s" when the run completed transactions (then every level's throughput counts
    transactions), else "req/s"."""
    # The open model's keys (`capacity.CapacityReport`'s): written only when ``load_axis`` is
    # "arrivals/s", so a closed model's capacity reads as it always has (levels by users).
    load_axis: NotRequired[str]
    """"arrivals/s": an open model's levels, by offered arrival rate; absent: "users"."""
    knee_rate: NotRequired[float | None]
    """The open model's saturation point, an arrival rate (then ``knee_users`` is None)."""
    max_rate_within_slo: NotRequired[float | None]
    """Open model: the arrival rate of the last level meeting the SLO."""
    sustained_rate: NotRequired[float | None]
    """Open model with service-level thresholds: the highest stage rate (arrivals/s) that held
    them, below every stage that broke them (judged and bracketed as `loadkit capacity`
    judges its steps); a stage of the user's grid, not a searched figure."""
    breaking_rate: NotRequired[float | None]
    """Open model: the lowest stage rate above ``sustained_rate`` that broke the SLO."""
    sustained: NotRequired[JudgedStageDict | None]
    breaking: NotRequired[JudgedStageDict | None]
    saturated_at_lowest: bool
    """Closed model: the throughput peaked at the lowest user count tested (and fell after)."""


class QueryStats(TypedDict):
    """summary.json's `telemetry.queries[NAME]`: an `observe:` query over the run (`telemetry`)."""

    query: str
    unit: str
    limit: float | None
    series: int
    min: float | None
    mean: float | None
    max: float | None
    at_saturation: float | None
    """Its value at the saturation point (`level_value` of the knee level), when there is one."""
    error: NotRequired[str]


class TelemetrySummary(TypedDict):
    prometheus: str
    step_s: float
    queries: dict[str, QueryStats]


class HistoryPoint(TypedDict):
    """One earlier run of the same scenario, as the run history holds it (`loadkit.history`)."""

    run_id: str
    recorded_at: float
    """Unix seconds."""
    verdict: str
    same_load: bool
    """Same host and planned load as this run: only these are compared with it."""
    git_commit: str | None
    git_branch: str | None
    p95_ms: float | None
    """Of the times the run's thresholds judge by default (summary.json ``timing``)."""
    error_rate: float | None
    throughput_rps: float | None
    apdex: float | None
    capacity_rps: float | None
    folder: str


class DriftEntry(TypedDict):
    """A passing run significantly worse than the median of the last passing runs."""

    metric: str
    current: float
    median: float
    worse_by: float
    """Relative (a fraction), or points of a fraction for error_rate."""
    noise: float
    """Half-width of the 95 % band of worse_by: the runs' spread and this run's resampling."""
    runs: int
    """How many passing runs the median is of."""
    headroom_used: float | None
    """How much of the threshold's headroom above the median this run uses (a fraction)."""
    message: str


class HistoryView(TypedDict):
    """This run among the earlier runs of its scenario (`loadkit.history`), for the renderers."""

    store: str
    """Where the history is, its password masked."""
    run_id: str
    runs: list[HistoryPoint]
    """The last runs of the scenario before this one, oldest first."""
    baseline: HistoryPoint | None
    """The run pinned as the baseline (`loadkit history pin`), if any."""
    thresholds: dict[str, float]
    """Whole-run limits by metric (p95, error_rate, rps, apdex), drawn on the charts."""
    drift: list[DriftEntry]
    trend: str
    """One line: this run's p95 against the median of the comparable passing runs."""


class Summary(TypedDict):
    """summary.json."""

    schema: str
    """`summary.SCHEMA`, "loadkit.summary/1"."""
    scenario: ScenarioInfo
    run: RunInfo
    load: LoadInfo | None
    """None when Locust wrote no final snapshot."""
    times_from: str
    """Whose histograms the times come from: loadkit's (0.25 % resolution) or Locust's."""
    timing: Timing
    """What thresholds that name neither judge: "corrected" (an open model) or "service"."""
    totals: RequestRow
    """All requests together."""
    requests: list[RequestRow]
    """One per (method, name), sorted by name then method. Transactions are not among them."""
    transactions: list[TransactionRow]
    """One per transaction name, sorted by name; empty when no task is timed as one."""
    transaction_totals: TransactionRow | None
    """All transactions together; None when there were none."""
    failures: list[FailureRow]
    """Requests' failures and transactions' (method "TXN") as Locust groups them."""
    slowest: list[SlowestRequests]
    """Trace links, one per (method, name) sorted as `requests`; empty when no user class
    traced its requests (`trace: true`)."""
    exceptions: list[ExceptionRow]
    thresholds: list[ThresholdRow]
    capacity: CapacityDict | None
    """None when no capacity analysis was made (or it failed)."""
    verdict: Verdict
    reasons: list[str]
    """Why the verdict is not "pass" (empty when it is)."""
    warnings: list[str]
    """What a reader must know although it does not decide the verdict."""
    exit_code: int
    """The process exit code, `Verdict.exit_status` (see `exit_codes.ExitStatus`)."""
    telemetry: TelemetrySummary | None
    """The system under test's metrics (`observe:`); None when the scenario observes nothing
    (or Prometheus was not asked: then a warning says so)."""
    history: NotRequired[HistoryView]
    """Written when the run was recorded in a run history (`--history`)."""
