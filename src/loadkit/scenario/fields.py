"""The scenario model's building blocks: value types (durations, counts, rates, header
names and values, thresholds) with the validators that parse their shorthands, and `Model`,
the base of every part of the language (unknown keys refused, frozen)."""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from loadkit.errors import did_you_mean
from loadkit.scenario import limits, shapes
from loadkit.scenario.durations import parse_duration
from loadkit.scenario.thresholds import Threshold, parse_threshold


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
            f"header name {short_repr(value)} may hold only letters, digits and "
            "!#$%&'*+-.^_`|~ (no spaces, ':' or control characters); fix the name"
        )
    return value


def short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[0]}"


def json_compatible(value: object) -> object:
    # YAML turns unquoted 2024-01-31 into a date; a JSON body wants the text the user wrote.
    if isinstance(value, dict):
        return {k: json_compatible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_compatible(v) for v in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be sent as JSON; quote it to send text")
    if isinstance(value, bytes):
        raise ValueError("binary data (!!binary) cannot be sent as JSON; give it as text")
    return value


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
