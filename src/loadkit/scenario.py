"""The scenario model: what a YAML file may say, validated in one place.

`load_scenario(path)` is the only way in: YAML with positions -> pydantic models -> checks that
span several keys. Every problem becomes one line `file:line:col: key.path: what; how to fix`.
"""

from __future__ import annotations

import datetime
import difflib
import math
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from loadkit.durations import format_duration, parse_duration
from loadkit.errors import Problem, ScenarioError
from loadkit.thresholds import Threshold, parse_threshold
from loadkit.yaml_source import KeyPath, SourceDocument, format_key_path, load_yaml

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _duration(value: object) -> float:
    return parse_duration(value)


def _threshold(value: object) -> Threshold:
    if isinstance(value, Threshold):
        return value
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


Duration = Annotated[float, BeforeValidator(_duration)]
Text = Annotated[str, BeforeValidator(_text)]
ThresholdSpec = Annotated[Threshold, BeforeValidator(_threshold)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class Load(Model):
    users: int = Field(gt=0, description="Number of concurrent users at full load.")
    spawn_rate: float = Field(gt=0, description="Users started per second.")
    duration: Duration = Field(description="Total run time including ramp-up, e.g. 30s or 5m.")
    stop_timeout: Duration = Field(
        default=10.0,
        description="At the end, how long users may finish their current task.",
    )

    @field_validator("duration")
    @classmethod
    def _whole_seconds(cls, value: float) -> float:
        if value < 1 or value != int(value):
            raise ValueError(
                f"must be a whole number of seconds, at least 1s (got {value:g}s); e.g. 30s or 5m"
            )
        return value


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


class Defaults(Model):
    think_time: ThinkTime = ThinkTime(constant=0.0)
    timeout: Duration = Field(default=60.0, description="Connect and network timeout per request.")
    headers: dict[str, Text] = Field(default_factory=dict)


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
    return value


class Request(Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str = Field(description="A path such as /api/cases, or a full http(s) URL.")
    name: str | None = Field(
        default=None, description="The name in the statistics; defaults to the url."
    )
    params: dict[str, Text] = Field(default_factory=dict)
    headers: dict[str, Text] = Field(default_factory=dict)
    json_body: Annotated[Any, BeforeValidator(_json_compatible)] = Field(default=None, alias="json")
    body: str | None = None
    form: dict[str, Text] | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not (value.startswith("/") or re.match(r"https?://", value)):
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


def _status_list(value: object) -> object:
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


class Expect(Model):
    status: Annotated[
        list[Annotated[int, Field(ge=100, le=599)]], BeforeValidator(_status_list)
    ] = Field(min_length=1, description="Accepted status code(s).")


class Task(Model):
    name: str | None = None
    weight: int = Field(default=1, ge=1)
    request: Request
    expect: Expect | None = None

    @property
    def label(self) -> str:
        return self.name or f"{self.request.method} {self.request.url}"


class UserSpec(Model):
    name: str = Field(min_length=1)
    weight: int = Field(default=1, ge=1)
    think_time: ThinkTime | None = None
    headers: dict[str, Text] = Field(default_factory=dict)
    tasks: list[Task] = Field(min_length=1)


class Scenario(Model):
    name: str = Field(min_length=1)
    description: str | None = None
    host: str = Field(description="Base URL of the system under test, e.g. http://127.0.0.1:8080.")
    load: Load
    defaults: Defaults = Defaults()
    users: list[UserSpec] = Field(min_length=1)
    thresholds: list[ThresholdSpec] = Field(default_factory=list)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected a URL like http://127.0.0.1:8080, got {value!r}")
        return value.rstrip("/")

    def request_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for user in self.users:
            for task in user.tasks:
                seen.setdefault(task.request.stats_name)
        return list(seen)


# ----------------------------------------------------------------------------------- loading


def load_scenario(path: str | Path, environ: Mapping[str, str] | None = None) -> Scenario:
    """Read, interpolate and validate a scenario. Raises ScenarioError (one line per problem)."""
    source = load_yaml(path, environ)
    return validate_source(source)


def validate_source(source: SourceDocument) -> Scenario:
    if not isinstance(source.data, dict):
        raise ScenarioError(
            [Problem(source.locate(()), "", "expected a mapping with name, host, load, users")]
        )
    try:
        scenario = Scenario.model_validate(source.data)
    except ValidationError as exc:
        raise ScenarioError(_problems_from(exc, source)) from None
    problems = _cross_checks(scenario, source)
    if problems:
        raise ScenarioError(problems)
    return scenario


def _cross_checks(scenario: Scenario, source: SourceDocument) -> list[Problem]:
    problems: list[Problem] = []
    seen_users: dict[str, int] = {}
    for i, user in enumerate(scenario.users):
        if user.name in seen_users:
            path: KeyPath = ("users", i, "name")
            problems.append(
                Problem(
                    source.locate(path),
                    format_key_path(path),
                    f"user name '{user.name}' is already used by users[{seen_users[user.name]}]; "
                    "names must be unique",
                )
            )
        seen_users.setdefault(user.name, i)
    names = scenario.request_names()
    for i, threshold in enumerate(scenario.thresholds):
        if threshold.scope is not None and threshold.scope not in names:
            close = difflib.get_close_matches(threshold.scope, names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            path = ("thresholds", i)
            problems.append(
                Problem(
                    source.locate(path),
                    format_key_path(path),
                    f"no request is named '{threshold.scope}'{hint} "
                    f"(request names: {', '.join(names)})",
                )
            )
    return problems


def _problems_from(exc: ValidationError, source: SourceDocument) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[KeyPath] = set()
    for error in exc.errors(include_url=False):
        path, rest = _data_path(source.data, error["loc"])
        kind = error["type"]
        if kind == "missing":
            key = rest[0] if rest else (path[-1] if path else "")
            message = f"required key '{key}' is missing"
            location = source.locate(path, at_key=True)
        elif kind == "extra_forbidden":
            key = str(path[-1])
            message = f"unknown key '{key}'" + _suggest(key, _allowed_keys(error["loc"][:-1]))
            location = source.locate(path, at_key=True)
        else:
            message = _message(error)
            location = source.locate(path)
        place = (*path, rest[0]) if kind == "missing" and rest else path
        if place in seen:
            continue  # one problem per place: a union reports one error per alternative
        seen.add(place)
        problems.append(Problem(location, format_key_path(path), message))
    return _drop_explained_missing(problems)


def _drop_explained_missing(problems: list[Problem]) -> list[Problem]:
    """A misspelt key shows up twice (unknown 'spwan_rate', missing 'spawn_rate'): keep the
    line that says 'did you mean', which explains both."""
    suggested = {
        (p.key_path.rsplit(".", 1)[0] if "." in p.key_path else "", m.group(1))
        for p in problems
        if (m := re.search(r"did you mean '([^']+)'", p.message))
    }
    return [
        p
        for p in problems
        if not (
            (m := re.fullmatch(r"required key '([^']+)' is missing", p.message))
            and (p.key_path, m.group(1)) in suggested
        )
    ]


def _data_path(data: Any, loc: tuple[int | str, ...]) -> tuple[KeyPath, list[int | str]]:
    """Follow a pydantic error location through the data; skip pydantic's own markers
    (union member tags, 'function-after[...]') and return what could not be followed."""
    path: list[str | int] = []
    node = data
    rest: list[int | str] = []
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and not _is_marker(part):
            rest.append(part)
    return tuple(path), rest


def _is_marker(part: str) -> bool:
    return "[" in part or part in ("int", "str", "float", "list", "dict", "tuple")


_MESSAGES = {
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "string_type": "expected text",
    "dict_type": "expected a mapping (key: value)",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "bool_type": "expected true or false",
}


def _message(error: Any) -> str:
    kind = error["type"]
    got = error.get("input")
    shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
    if kind in _MESSAGES:
        return f"{_MESSAGES[kind]}, got {shown}"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "literal_error":
        return f"expected one of {error['ctx']['expected']}, got {shown}"
    if kind == "too_short":
        return f"needs at least {error['ctx']['min_length']} item(s)"
    msg = str(error["msg"])
    return f"{msg[0].lower()}{msg[1:]}, got {shown}".replace("input should", "must")


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model at `loc` accepts, found by walking the model's type annotations."""
    current: Any = Scenario
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = next(
                (f for n, f in current.model_fields.items() if (f.alias or n) == part), None
            )
            if field is None:
                continue  # a pydantic marker such as 'function-after[...]'
            current = field.annotation
        elif isinstance(part, int):
            current = _item_type(current)
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if models else args[0]
        else:
            return tp


def _item_type(tp: Any) -> Any:
    args = typing.get_args(_unwrap(tp))
    return args[0] if args else Any


def _suggest(key: str, allowed: list[str]) -> str:
    if not allowed:
        return ""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{hint} (allowed: {', '.join(allowed)})"
