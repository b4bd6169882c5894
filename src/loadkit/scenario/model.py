"""The scenario model: what a YAML file may say (pydantic), field by field.

Checks that span several keys are in `checks`, pydantic's errors become one-line problems in
`messages`; `loadkit.scenario.load_scenario` is the way in.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from loadkit.apdex import DEFAULT_APDEX_T_MS
from loadkit.errors import did_you_mean
from loadkit.scenario import limits, regressions, shapes, templates, unset
from loadkit.scenario.datasets import DataTable
from loadkit.scenario.durations import format_duration, parse_duration
from loadkit.scenario.thresholds import Threshold, parse_threshold
from loadkit.scenario.unset import UnsetValue


def _duration(value: object) -> float:
    return parse_duration(value)


_THRESHOLD_KEYS = ("threshold", "abort", "after")


def _threshold(value: object) -> Threshold:
    """`'p95 < 500ms'`, or `{threshold: 'error_rate < 1%', abort: true, after: 60s}`: judged
    every second while the run lasts, and failing (after the grace) it stops the run early."""
    if isinstance(value, Threshold):
        return value
    if isinstance(value, dict) and "threshold" not in value:
        raise ValueError(
            "expected a threshold like 'p95 < 500ms' (a quoted string), or "
            "{threshold: 'error_rate < 1%', abort: true}"
        )
    if isinstance(value, dict):
        unknown = [str(k) for k in value if k not in _THRESHOLD_KEYS]
        if unknown:
            raise ValueError(
                f"unknown key '{unknown[0]}'{did_you_mean(unknown[0], _THRESHOLD_KEYS)} "
                f"(allowed: {', '.join(_THRESHOLD_KEYS)})"
            )
        text, abort = value.get("threshold"), value.get("abort", False)
        if not isinstance(text, str):
            raise ValueError(
                "give the threshold as text: {threshold: 'error_rate < 1%', abort: true}"
            )
        if not isinstance(abort, bool):
            raise ValueError(f"abort takes true or false, got {abort!r}")
        if "after" in value and not abort:
            raise ValueError("'after' is the grace before an abort: add abort: true")
        after = parse_duration(value["after"]) if "after" in value else 0.0
        return dataclasses.replace(parse_threshold(text), abort=abort, abort_after_s=after)
    if not isinstance(value, str):
        raise ValueError("expected a threshold like 'p95 < 500ms' (a quoted string)")
    return parse_threshold(value)


def _text(value: object) -> object:
    # Header values and query parameters are text on the wire; let people write numbers.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime.date):  # YAML reads unquoted 2024-01-31 as a date
        return value.isoformat()
    return value


def _whole_number(value: object) -> object:
    # pydantic takes `true` for 1; a count written as true is a mistake, not a number.
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {str(value).lower()}")
    return value


def _number(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    return value


# Control characters (a tab aside) would end a header line and start another: header injection.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 9110's token: what a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _no_control(value: str) -> str:
    found = _CONTROL.search(value)
    if found:
        raise ValueError(
            f"holds the control character {found.group()!r} at position {found.start()}, "
            "which would break the request (header injection); remove it"
        )
    return value


def _header_name(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError(
            f"header name {_short(value)} may hold only letters, digits and "
            "!#$%&'*+-.^_`|~ (no spaces, ':' or control characters); fix the name"
        )
    return value


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[0]}"


# `json_schema_input_type` says what people may write, for the JSON Schema given to editors.
Duration = Annotated[float, BeforeValidator(_duration, json_schema_input_type=float | str)]
Text = Annotated[str, BeforeValidator(_text, json_schema_input_type=str | float | bool)]
Count = Annotated[int, BeforeValidator(_whole_number, json_schema_input_type=int)]
Rate = Annotated[
    float,
    BeforeValidator(_number, json_schema_input_type=float),
    Field(gt=0, le=limits.MAX_USERS, allow_inf_nan=False),
]
"""Users started (or stopped) per second: no more than there can be users."""


def _arrival_rate(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"expected a rate like 50/s, got {str(value).lower()}")
    return shapes.parse_rate(value) if isinstance(value, str) else value


ArrivalRate = Annotated[
    float,
    BeforeValidator(_arrival_rate, json_schema_input_type=float | str),
    Field(ge=0, le=limits.MAX_ARRIVAL_RATE, allow_inf_nan=False),
]
"""Arrivals per second; 50/s, 3000/m and 100/h are read too."""
HeaderName = Annotated[str, AfterValidator(_header_name)]
Line = Annotated[str, AfterValidator(_no_control)]
"""Text sent as part of a line of the request: a URL."""
TransactionSetting = Annotated[str, Field(min_length=1), AfterValidator(_no_control)] | bool | None
"""A transaction's name, true (on, with its default name), false (off), or None (default)."""
LineText = Annotated[Text, AfterValidator(_no_control)]
"""A header value (numbers written as text)."""
Headers = dict[HeaderName, LineText]
class ThresholdEntry(BaseModel):
    """A threshold that may stop the run early (the JSON Schema's shape of it)."""

    model_config = ConfigDict(extra="forbid")
    threshold: str = Field(description="e.g. 'error_rate < 1%'")
    abort: bool = Field(default=False, description="Stop the run as soon as it fails.")
    after: str | float | None = Field(
        default=None, description="Grace before it may stop the run, e.g. 60s."
    )


ThresholdSpec = Annotated[
    Threshold, BeforeValidator(_threshold, json_schema_input_type=str | ThresholdEntry)
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class Stage(Model):
    users: Count | None = Field(
        default=None, ge=0, le=limits.MAX_USERS, description="Users during this stage."
    )
    arrival_rate: ArrivalRate | None = Field(
        default=None, description="Or arrivals per second during this stage (the open model)."
    )
    spawn_rate: Rate | None = Field(
        default=None, description="Users started (or stopped) per second to get there."
    )
    duration: Duration = Field(description="How long the stage lasts, e.g. 30s.")

    @model_validator(mode="after")
    def _users_or_arrivals(self) -> Stage:
        if (self.users is None) == (self.arrival_rate is None):
            raise ValueError(
                "give a stage either users (closed model) or arrival_rate (open model), "
                "e.g. {users: 50, duration: 1m} or {arrival_rate: 20/s, duration: 1m}"
            )
        if self.arrival_rate is not None and self.spawn_rate is not None:
            raise ValueError("an arrival_rate stage has no spawn_rate (arrivals start no users)")
        return self


class StepLoad(Model):
    """The capacity-search ramp: start users, add `step` every `every`, up to `until`."""

    start: Count = Field(ge=1, le=limits.MAX_USERS)
    step: Count = Field(ge=1, le=limits.MAX_USERS)
    every: Duration
    until: Count = Field(ge=1, le=limits.MAX_USERS)
    spawn_rate: Rate | None = None

    @model_validator(mode="after")
    def _order(self) -> StepLoad:
        if self.until < self.start:
            raise ValueError(f"until ({self.until}) must be at least start ({self.start})")
        if self.every < 1:
            raise ValueError("every must be at least 1s")
        steps = (self.until - self.start) // self.step + 1
        if steps > limits.MAX_STAGES:
            raise ValueError(
                f"this ramp has {steps} steps, more than {limits.MAX_STAGES}; "
                "take bigger steps or stop earlier"
            )
        return self


class SpikeLoad(Model):
    """Base load, a sudden peak, base load again."""

    users: Count = Field(ge=1, le=limits.MAX_USERS, description="Base users before and after.")
    peak: Count = Field(ge=1, le=limits.MAX_USERS)
    before: Duration = 30.0
    hold: Duration = 30.0
    after: Duration = 30.0
    spawn_rate: Rate | None = None


_LOAD_FORMS = (
    "users + spawn_rate + duration, arrival_rate + duration + max_concurrency, stages, step, "
    "or spike"
)


class Load(Model):
    users: Count | None = Field(
        default=None, gt=0, le=limits.MAX_USERS, description="Concurrent users at full load."
    )
    spawn_rate: Rate | None = Field(default=None, description="Users started per second.")
    duration: Duration | None = Field(
        default=None, description="Total run time including ramp-up, e.g. 30s or 5m."
    )
    stages: list[Stage] | None = Field(default=None, min_length=1, max_length=limits.MAX_STAGES)
    step: StepLoad | None = None
    spike: SpikeLoad | None = None
    arrival_rate: ArrivalRate | None = Field(
        default=None,
        description="The open model: arrivals per second (50/s, 3000/m), each starting one "
        "task on a free user, whether or not the target keeps up.",
    )
    max_concurrency: Count | None = Field(
        default=None,
        gt=0,
        le=limits.MAX_USERS,
        description="The open model: users ready for arrivals (the most iterations at once).",
    )
    spacing: Literal["constant", "poisson"] = Field(
        default="constant",
        description="The open model: arrivals evenly spaced, or at random (a Poisson process).",
    )
    max_backlog: Count | None = Field(
        default=None,
        gt=0,
        le=limits.MAX_BACKLOG,
        description="The open model: arrivals that may wait for a free user before more are "
        "dropped (default: 30 s of arrivals at the peak rate).",
    )
    stop_timeout: Duration = Field(
        default=10.0,
        description="At the end, how long users may finish their current task.",
    )

    @field_validator("duration")
    @classmethod
    def _whole_seconds(cls, value: float | None) -> float | None:
        if value is not None and (value < 1 or value != int(value)):
            raise ValueError(
                f"must be a whole number of seconds, at least 1s (got {value:g}s); e.g. 30s or 5m"
            )
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Load:
        shapes = [k for k in ("stages", "step", "spike") if getattr(self, k) is not None]
        constant = [k for k in ("users", "duration") if getattr(self, k) is not None]
        if self.is_open:
            self._check_open()
        elif len(shapes) > 1 or (shapes and constant):
            raise ValueError(f"give one of {_LOAD_FORMS} (got {', '.join(shapes + constant)})")
        elif open_keys := [
            k for k in ("max_concurrency", "max_backlog") if getattr(self, k) is not None
        ] + (["spacing"] if "spacing" in self.model_fields_set else []):
            verb = "belongs" if len(open_keys) == 1 else "belong"
            raise ValueError(
                f"{', '.join(open_keys)} {verb} to the open model; give arrival_rate (or stages "
                "with arrival_rate) too, or leave them out"
            )
        if not shapes and not self.is_open:
            missing = [k for k in ("users", "spawn_rate", "duration") if getattr(self, k) is None]
            if missing:
                raise ValueError(
                    f"missing {', '.join(missing)}; give {_LOAD_FORMS}, "
                    "e.g. {users: 50, spawn_rate: 10, duration: 30s}"
                )
        if self.total_duration > limits.MAX_DURATION_S:
            raise ValueError(
                f"the load lasts {format_duration(self.total_duration)} in all, longer than "
                f"{format_duration(limits.MAX_DURATION_S)} (30 days); shorten it"
            )
        return self

    @property
    def is_open(self) -> bool:
        """Arrival rates (the open model) rather than users (closed)."""
        return self.arrival_rate is not None or any(
            s.arrival_rate is not None for s in self.stages or []
        )

    def _check_open(self) -> None:
        closed = [k for k in ("users", "step", "spike") if getattr(self, k) is not None]
        if closed:
            raise ValueError(
                f"arrival rates (the open model) do not mix with {', '.join(closed)}; "
                "give arrival_rate + duration + max_concurrency, or stages with arrival_rate"
            )
        if self.stages is not None:
            if self.arrival_rate is not None or self.duration is not None:
                raise ValueError(
                    "give arrival_rate + duration, or stages with arrival_rate, not both"
                )
            if any(s.arrival_rate is None for s in self.stages):
                raise ValueError(
                    "every stage needs an arrival_rate once one has (no mixing of users and "
                    "arrival rates)"
                )
        elif self.duration is None:
            raise ValueError("missing duration; e.g. {arrival_rate: 50/s, duration: 5m, "
                             "max_concurrency: 400}")
        if self.max_concurrency is None:
            raise ValueError(
                "missing max_concurrency: the most users that may be busy with arrivals at "
                "once, e.g. max_concurrency: 400 (about the peak rate times the slowest "
                "iteration, with room to spare)"
            )
        plan = self.arrivals_plan()
        if plan is not None and plan.peak_rate <= 0:
            raise ValueError("every arrival_rate is 0: no arrival would come")

    def arrivals_plan(self) -> shapes.Arrivals | None:
        """The open model's arrivals, or None for a closed model."""
        if not self.is_open or self.max_concurrency is None:
            return None
        if self.stages is not None:
            stages = tuple(
                shapes.ArrivalStage(s.arrival_rate or 0.0, s.duration) for s in self.stages
            )
        else:
            stages = (shapes.ArrivalStage(self.arrival_rate or 0.0, float(self.duration or 0)),)
        peak = max(s.rate for s in stages)
        return shapes.Arrivals(
            stages=stages,
            max_concurrency=self.max_concurrency,
            spacing=self.spacing,
            max_backlog=self.max_backlog or shapes.default_backlog(peak),
        )

    def stage_list(self) -> list[shapes.Stage] | None:
        """The shape as stages, or None for a constant load (users, spawn_rate, duration).
        The open model holds its pool of max_concurrency users for the arrivals' duration."""
        arrivals = self.arrivals_plan()
        if arrivals is not None:
            pool = arrivals.max_concurrency
            spawn = shapes.pool_spawn_rate(pool, self.spawn_rate)
            return [shapes.Stage(pool, spawn, arrivals.duration_s)]
        if self.stages is not None:
            default_rate = self.spawn_rate
            return [
                shapes.Stage(
                    s.users or 0,
                    s.spawn_rate or default_rate or float(max(s.users or 0, 1)),
                    s.duration,
                )
                for s in self.stages
            ]
        if self.step is not None:
            st = self.step
            return shapes.step_stages(st.start, st.step, st.every, st.until, st.spawn_rate)
        if self.spike is not None:
            sp = self.spike
            return shapes.spike_stages(
                sp.users, sp.peak, sp.before, sp.hold, sp.after, sp.spawn_rate
            )
        return None

    @property
    def total_duration(self) -> float:
        stages = self.stage_list()
        return shapes.total_duration(stages) if stages is not None else float(self.duration or 0)

    @property
    def peak_users(self) -> int:
        stages = self.stage_list()
        return max(s.users for s in stages) if stages is not None else int(self.users or 0)


class ThinkTime(Model):
    """Wait between tasks: exactly one of `between`, `constant`, `pacing`."""

    between: tuple[Duration, Duration] | None = None
    constant: Duration | None = None
    pacing: Duration | None = None

    @field_validator("between", mode="before")
    @classmethod
    def _two(cls, value: object) -> object:
        if isinstance(value, list | tuple) and len(value) != 2:
            raise ValueError(f"expected two durations [min, max], got {len(value)} item(s)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            return {"constant": value}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ThinkTime:
        given = [k for k in ("between", "constant", "pacing") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of between: [min, max], constant: 1s, pacing: 2s"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.between is not None and self.between[0] > self.between[1]:
            low, high = (format_duration(v) for v in self.between)
            raise ValueError(f"between: [min, max] needs min <= max (got [{low}, {high}])")
        return self


def _as_is(value: object) -> object:
    return value


# The models turn a shorthand into their full form themselves; these tell editors about it.
ThinkTimeSpec = Annotated[
    ThinkTime, BeforeValidator(_as_is, json_schema_input_type=ThinkTime | float | str)
]
OptionalThinkTime = Annotated[
    ThinkTime | None,
    BeforeValidator(_as_is, json_schema_input_type=ThinkTime | float | str | None),
]


class BasicAuth(Model):
    username: Text
    password: Text


class Auth(Model):
    """Exactly one of `basic: {username, password}` or `bearer: TOKEN` (templates allowed)."""

    basic: BasicAuth | None = None
    bearer: LineText | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Auth:
        if (self.basic is None) == (self.bearer is None):
            raise ValueError("give exactly one of basic: {username, password} or bearer: TOKEN")
        return self


class TLS(Model):
    """How HTTPS connections are checked. The server's certificate and host name are verified
    by default (as requests and k6 do); `verify: false` turns that off, explicitly."""

    verify: bool = Field(
        default=True, description="Verify server certificates; false accepts any certificate."
    )
    ca_bundle: str | None = Field(
        default=None,
        description="PEM file of the CA certificates to trust instead of the system's; "
        "relative to the scenario. Embedded in the generated locustfile.",
    )
    client_cert: str | None = Field(
        default=None,
        description="PEM client certificate for mutual TLS (may hold the key too); relative "
        "to the scenario. Read at run time from this path, never copied.",
    )
    client_key: str | None = Field(
        default=None,
        description="PEM private key of client_cert when the certificate file does not hold "
        "it; relative to the scenario. Read at run time, never copied.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TLS:
        if not self.verify and self.ca_bundle is not None:
            raise ValueError(
                "verify: false accepts any certificate, so ca_bundle would be ignored; "
                "remove one of them"
            )
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key needs client_cert, the certificate the key belongs to")
        return self

    @property
    def needs_context(self) -> bool:
        """Whether connections need more than Locust's own verified or unverified context."""
        return self.ca_bundle is not None or self.client_cert is not None


class Defaults(Model):
    think_time: ThinkTimeSpec = ThinkTime(constant=0.0)
    timeout: Duration = Field(default=60.0, description="Connect and network timeout per request.")
    headers: Headers = Field(default_factory=dict)

    @field_validator("timeout")
    @classmethod
    def _some_time(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("a timeout of 0 fails every request; give one above 0, e.g. 10s")
        return value


def _json_compatible(value: object) -> object:
    # YAML turns unquoted 2024-01-31 into a date; a JSON body wants the text the user wrote.
    if isinstance(value, dict):
        return {k: _json_compatible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_compatible(v) for v in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be sent as JSON; quote it to send text")
    if isinstance(value, bytes):
        raise ValueError("binary data (!!binary) cannot be sent as JSON; give it as text")
    return value


class Request(Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: Line = Field(description="A path such as /api/cases, or a full http(s) URL.")
    name: str | None = Field(
        default=None, description="The name in the statistics; defaults to the url."
    )
    params: dict[str, Text] = Field(default_factory=dict)
    headers: Headers = Field(default_factory=dict)
    json_body: Annotated[Any, BeforeValidator(_json_compatible)] = Field(default=None, alias="json")
    body: str | None = None
    form: dict[str, Text] | None = None
    auth: Auth | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not (value.startswith(("/", "{{")) or re.match(r"https?://", value)):
            raise ValueError(
                f"expected a path starting with '/' or an http(s):// URL, got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _one_body(self) -> Request:
        given = [
            k
            for k, v in (("json", self.json_body), ("body", self.body), ("form", self.form))
            if v is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give only one of json, body, form (got {', '.join(given)})")
        return self

    @property
    def stats_name(self) -> str:
        return self.name or self.url


_STATUS_CODES = re.compile(r"\s*\d+\s*(,\s*\d+\s*)*")


def _status_list(value: object) -> object:
    """One code (201, or "201" as text), codes in one text ("201, 204") or a list of them."""
    if value is None:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str) and _STATUS_CODES.fullmatch(value):
        return [int(code) for code in value.split(",")]
    if isinstance(value, list):
        return [int(v) if isinstance(v, str) and v.strip().isdigit() else v for v in value]
    raise ValueError(
        f"expected a status code or a list of them, e.g. 201 or [200, 204] (got {value!r})"
    )


def _path_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class Expect(Model):
    """Checks on a response; a failed check fails the request with a message naming it."""

    status: Annotated[
        list[Annotated[int, Field(ge=100, le=599)]] | None,
        BeforeValidator(_status_list, json_schema_input_type=int | str | list[int] | None),
    ] = Field(
        default=None,
        min_length=1,
        description='Accepted status code(s): 201, [200, 204], or as text: "201, 204".',
    )
    json_equals: dict[str, Any] | None = Field(
        default=None, alias="json", description="JSON path -> expected value."
    )
    json_exists: Annotated[
        list[str] | None, BeforeValidator(_path_list, json_schema_input_type=str | list[str] | None)
    ] = None
    body_contains: str | None = None
    body_matches: str | None = None
    headers: Headers | None = Field(
        default=None, description="Header name -> expected value (names are case-insensitive)."
    )
    max_ms: Duration | None = Field(default=None, description="Slowest acceptable response.")

    @model_validator(mode="after")
    def _some_check(self) -> Expect:
        if not self.model_fields_set:
            raise ValueError(
                "give at least one check: status, json, json_exists, body_contains, "
                "body_matches, headers, max_ms"
            )
        return self

    @field_validator("json_equals")
    @classmethod
    def _json_paths(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for path in value or {}:
            templates.parse_json_path(path)
        return value

    @field_validator("json_exists")
    @classmethod
    def _exist_paths(cls, value: list[str] | None) -> list[str] | None:
        for path in value or []:
            templates.parse_json_path(path)
        return value

    @field_validator("body_matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            _check_regex(value)
        return value

    @field_validator("max_ms", mode="before")
    @classmethod
    def _ms(cls, value: object) -> object:
        # `max_ms: 200` means milliseconds, as the name says; `max_ms: 1s` also works.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value / 1000.0
        return value

    @field_validator("max_ms")
    @classmethod
    def _some_ms(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("max_ms 0 fails every request; give a time above 0, e.g. 200")
        return value


def _check_regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None


class Capture(Model):
    """Where a captured value comes from: exactly one of json, regex, header."""

    json_path: str | None = Field(default=None, alias="json", description="e.g. $.token")
    regex: str | None = Field(default=None, description="Group 1 if the pattern has groups.")
    header: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if isinstance(value, str) and value.startswith("$"):
            return {"json": value}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Capture:
        given = [
            k
            for k, v in (("json", self.json_path), ("regex", self.regex), ("header", self.header))
            if v is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of json: $.path, regex: 'id=(\\d+)', header: Name"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.json_path is not None:
            templates.parse_json_path(self.json_path)
        if self.regex is not None:
            _check_regex(self.regex)
        return self


class StepThinkTime(ThinkTime):
    @model_validator(mode="after")
    def _no_pacing(self) -> StepThinkTime:
        if self.pacing is not None:
            raise ValueError("pacing applies to whole tasks; after a step use constant or between")
        return self


CaptureSpec = Annotated[Capture, BeforeValidator(_as_is, json_schema_input_type=Capture | str)]
StepThinkTimeSpec = Annotated[
    StepThinkTime | None,
    BeforeValidator(_as_is, json_schema_input_type=StepThinkTime | float | str | None),
]


class Step(Model):
    """One request of a flow, with its checks, captures and the pause after it."""

    name: str | None = None
    request: Request
    expect: Expect | None = None
    capture: dict[str, CaptureSpec] = Field(default_factory=dict)
    think_time: StepThinkTimeSpec = Field(default=None, description="Pause after this step.")


class Loop(Model):
    count: Count = Field(ge=1, description="How many times to run the flow per task run.")


class Task(Model):
    """One of: a single `request`, an ordered `flow` of steps, or a `python` function."""

    name: str | None = None
    weight: Count = Field(default=1, ge=1, le=limits.MAX_WEIGHT)
    request: Request | None = None
    expect: Expect | None = None
    capture: dict[str, CaptureSpec] = Field(default_factory=dict)
    flow: list[Step] | None = Field(default=None, min_length=1)
    loop: Loop | None = None
    data: str | None = Field(
        default=None, description="Take a new row of this data source per run."
    )
    python: str | None = Field(
        default=None, description="package.module:function, called with the Locust user."
    )
    transaction: TransactionSetting = Field(
        default=None,
        description="Time the task as one transaction: a name, true (named after the task) "
        "or false. Default: on for a flow or a loop, off for a single request.",
    )

    @field_validator("python")
    @classmethod
    def _python_ref(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", value):
            raise ValueError(f"expected package.module:function, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Task:
        kinds = [k for k in ("request", "flow", "python") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "give exactly one of request, flow, python"
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        if self.request is None and (self.expect is not None or self.capture):
            raise ValueError(
                "expect and capture go with request; inside a flow, put them on its steps"
            )
        if self.python is not None and (self.loop is not None or self.data is not None):
            raise ValueError("loop and data do not apply to a python task")
        if self.python is not None and self.transaction not in (None, False):
            raise ValueError(
                "a python task is not timed as a transaction; remove transaction "
                "(the function may fire its own)"
            )
        return self

    def transaction_name(self) -> str | None:
        """The transaction this task is timed as, or None: a flow or a loop is one by
        default, named after the task; `transaction:` names it, turns it off, or turns one
        on for a single request."""
        if self.python is not None or self.transaction is False:
            return None
        if isinstance(self.transaction, str):
            return self.transaction
        if self.transaction is True or self.flow is not None or self.loop is not None:
            return self.label
        return None

    def steps(self) -> list[Step]:
        if self.flow is not None:
            return list(self.flow)
        if self.request is not None:
            return [Step(request=self.request, expect=self.expect, capture=self.capture)]
        return []

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.python:
            return self.python.rsplit(":", 1)[1]
        first = self.steps()[0].request
        return f"{first.method} {first.url}"


class UserTransactions(Model):
    """Whether the user's on_start and on_stop flows are timed as transactions, and their
    names: a name, true (default: "<user> on_start", "<user> on_stop") or false."""

    on_start: TransactionSetting = None
    on_stop: TransactionSetting = None


class UserSpec(Model):
    name: str = Field(min_length=1)
    weight: Count = Field(default=1, ge=1, le=limits.MAX_WEIGHT)
    think_time: OptionalThinkTime = None
    headers: Headers = Field(default_factory=dict)
    auth: Auth | None = None
    data: str | None = Field(default=None, description="Each user takes one row when it starts.")
    on_start: list[Step] = Field(default_factory=list)
    on_stop: list[Step] = Field(default_factory=list)
    tasks: list[Task] = Field(min_length=1)
    transactions: UserTransactions = UserTransactions()
    trace: bool | None = Field(
        default=None, description="This user's `trace:` (else the scenario's)."
    )

    def flow_transaction(self, which: Literal["on_start", "on_stop"]) -> str | None:
        """The transaction `on_start` or `on_stop` is timed as (None: off, or no such flow)."""
        steps = self.on_start if which == "on_start" else self.on_stop
        setting = getattr(self.transactions, which)
        if not steps or setting is False:
            return None
        return setting if isinstance(setting, str) else f"{self.name} {which}"


class DataSource(Model):
    file: str = Field(description="CSV with a header row, or JSON lines; relative to the scenario.")
    format: Literal["csv", "jsonl"] | None = Field(
        default=None, description="Default: from the file name (.csv, .jsonl/.ndjson)."
    )
    order: Literal["sequential", "random", "unique"] = "sequential"
    on_exhausted: Literal["cycle", "stop_user", "fail"] | None = Field(
        default=None,
        description="When no row is left: default cycle (sequential) or stop_user (unique).",
    )
    secret: bool = Field(
        default=False,
        description="The file holds secrets (e.g. passwords): `loadkit k8s` ships it in a "
        "Kubernetes Secret, not the ConfigMap.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> DataSource:
        if self.order == "unique" and self.on_exhausted == "cycle":
            raise ValueError("unique rows cannot cycle; use on_exhausted: stop_user or fail")
        if self.order == "random" and self.on_exhausted not in (None, "cycle"):
            raise ValueError("random order never runs out of rows; remove on_exhausted")
        if self.format is None and not self.file.endswith((".csv", ".jsonl", ".ndjson")):
            raise ValueError("cannot tell the format from the file name; add format: csv or jsonl")
        return self

    @property
    def file_format(self) -> str:
        return self.format or ("csv" if self.file.endswith(".csv") else "jsonl")

    @property
    def exhausted_action(self) -> str:
        if self.on_exhausted is not None:
            return self.on_exhausted
        return "stop_user" if self.order == "unique" else "cycle"


class Include(Model):
    """User classes taken as they are from an existing locustfile."""

    locustfile: str = Field(description="Path relative to the scenario.")
    users: list[str] = Field(min_length=1, description="Class names to include.")

    @field_validator("users")
    @classmethod
    def _identifiers(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name.isidentifier():
                raise ValueError(f"{name!r} is not a Python class name")
        return value


class ApdexConfig(Model):
    """Apdex target time T: satisfied <= T, tolerating <= 4T, frustrated above (or failed)."""

    t: Duration = Field(
        default=DEFAULT_APDEX_T_MS / 1000, description="T for all requests (default 500ms)."
    )
    requests: dict[str, Duration] = Field(
        default_factory=dict, description="T for single request names."
    )
    transactions: dict[str, Duration] = Field(
        default_factory=dict, description="T for single transactions (default: t)."
    )

    @field_validator("t")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("T must be more than 0, e.g. 300ms")
        return value

    @field_validator("requests", "transactions")
    @classmethod
    def _each_positive(cls, value: dict[str, float]) -> dict[str, float]:
        for name, t in value.items():
            if t <= 0:
                raise ValueError(f"T of {_short(name)} must be more than 0, e.g. 300ms")
        return value


class Files(Model):
    """Which folders, besides the scenario's own, its data, tls and include files may be in.
    Whatever those files hold can end up in the locustfile, the run folder and CI artifacts,
    so a file elsewhere has to be allowed here, in the open, where a reviewer sees it."""

    allow_outside: list[str] = Field(
        default_factory=list,
        description="Folders outside the scenario's folder (relative to it, or absolute) "
        "whose files data, tls and include may name.",
    )


class Scenario(Model):
    name: str = Field(
        min_length=1, description="Also names the run folder: at most 100 characters."
    )
    description: str | None = None
    host: Line = Field(description="Base URL of the system under test, e.g. http://127.0.0.1:8080.")
    load: Load
    defaults: Defaults = Defaults()
    tls: TLS = TLS()
    variables: dict[str, Annotated[Any, BeforeValidator(_json_compatible)]] = Field(
        default_factory=dict, description="Constants usable as {{ name }}."
    )
    secrets: list[str] = Field(
        default_factory=list,
        description="Environment variables whose values are secret: read at run time, masked.",
    )
    data: dict[str, DataSource] = Field(default_factory=dict)
    users: list[UserSpec] = Field(default_factory=list)
    include: list[Include] = Field(default_factory=list)
    thresholds: list[ThresholdSpec] = Field(default_factory=list)
    apdex: ApdexConfig = ApdexConfig()
    max_regression: dict[str, str] = Field(
        default_factory=dict,
        description="For `loadkit compare`: how much worse a metric may get, e.g. {p95: 10%}.",
    )
    files: Files = Files()
    trace: bool = Field(
        default=False,
        description="A W3C traceparent header (a new trace) on every request; the report lists "
        "the slowest requests' trace ids.",
    )

    _tables: dict[str, DataTable] = PrivateAttr(default_factory=dict)
    _base_dir: Path = PrivateAttr(default=Path("."))
    _secret_values: dict[str, str] = PrivateAttr(default_factory=dict)
    _unset: list[UnsetValue] = PrivateAttr(default_factory=list)
    _ca_certificates: str | None = PrivateAttr(default=None)
    _outside_folders: list[Path] = PrivateAttr(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_fits_a_folder(cls, value: str) -> str:
        if len(value) > limits.MAX_NAME_LENGTH:
            raise ValueError(
                f"is {len(value)} characters long; the run folder is named after it, so give "
                f"at most {limits.MAX_NAME_LENGTH} (put the rest in description)"
            )
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or "{{" in value:
            raise ValueError(f"expected a URL like http://127.0.0.1:8080, got {value!r}")
        return value.rstrip("/")

    @field_validator("variables", "data")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"name {name!r} must be letters, digits and _ (not first a digit)")
        return value

    @field_validator("max_regression", mode="before")
    @classmethod
    def _regressions(cls, value: object) -> object:
        if isinstance(value, dict):
            for metric, limit in value.items():
                regressions.parse_limit(f"{metric}:{limit}")  # ValueError: a one-line problem
            return {k: str(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _some_users(self) -> Scenario:
        if not self.users and not self.include:
            raise ValueError("give at least one entry in users (or include a locustfile)")
        return self

    @property
    def tables(self) -> dict[str, DataTable]:
        """Rows of every data source, read when the scenario was loaded."""
        return self._tables

    @property
    def base_dir(self) -> Path:
        """The scenario file's folder: data files, includes and python tasks are relative to it."""
        return self._base_dir

    @property
    def ca_certificates(self) -> str | None:
        """The PEM text of `tls.ca_bundle`, read when the scenario was loaded."""
        return self._ca_certificates

    @property
    def secret_values(self) -> list[str]:
        """Values of the secret environment variables, to mask in every artifact."""
        return list(self._secret_values.values())

    @property
    def secret_names(self) -> list[str]:
        """Names of the secret environment variables the scenario reads (never their values),
        set or not (`unset`)."""
        return sorted({*self._secret_values, *unset.names(self._unset, secret=True)})

    @property
    def unset(self) -> list[UnsetValue]:
        """Each use of a variable or secret that was not set when the file was read (only
        when it was read with `allow_unset`): the command decides what that means."""
        return list(self._unset)

    def transaction_names(self) -> list[str]:
        """Every transaction the generated users time, in scenario order, without repeats."""
        seen: dict[str, None] = {}
        for user in self.users:
            names = [
                user.flow_transaction("on_start"),
                *(t.transaction_name() for t in user.tasks),
                user.flow_transaction("on_stop"),
            ]
            for name in names:
                if name is not None:
                    seen.setdefault(name)
        return list(seen)

    def request_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for user in self.users:
            steps = [*user.on_start, *(s for t in user.tasks for s in t.steps()), *user.on_stop]
            for step in steps:
                seen.setdefault(step.request.stats_name)
        return list(seen)
