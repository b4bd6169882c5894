"""What a user does (pydantic): tasks, flows of steps, requests with their checks and
captures, think time, authentication, TLS and the request defaults."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from loadkit.scenario import limits, templates
from loadkit.scenario.durations import format_duration
from loadkit.scenario.fields import (
    Count,
    Duration,
    Headers,
    Line,
    LineText,
    Model,
    Text,
    TransactionSetting,
    json_compatible,
)


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


class Request(Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: Line = Field(description="A path such as /api/cases, or a full http(s) URL.")
    name: str | None = Field(
        default=None, description="The name in the statistics; defaults to the url."
    )
    params: dict[str, Text] = Field(default_factory=dict)
    headers: Headers = Field(default_factory=dict)
    json_body: Annotated[Any, BeforeValidator(json_compatible)] = Field(default=None, alias="json")
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
