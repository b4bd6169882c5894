"""pydantic's validation errors as one-line problems: the position of the key at fault, what
is wrong in plain words, what is allowed (with "did you mean")."""

from __future__ import annotations

import re
import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError

from loadkit.errors import Problem, did_you_mean_among
from loadkit.scenario.model import Scenario
from loadkit.scenario.source import KeyPath, SourceDocument, format_key_path


def problems_from(exc: ValidationError, source: SourceDocument) -> list[Problem]:
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
            allowed = _allowed_keys(error["loc"][:-1])
            message = f"unknown key '{key}'" + did_you_mean_among(key, allowed)
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


def refused_paths(exc: ValidationError, data: Any) -> set[KeyPath]:
    """Where in `data` the values pydantic refused are (the keys found of each error's place)."""
    return {_data_path(data, error["loc"])[0] for error in exc.errors(include_url=False)}


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
    "bool_parsing": "expected true or false",
}


def _message(error: Any) -> str:
    kind = error["type"]
    got = error.get("input")
    shown = _shorten(repr(got)) if not isinstance(got, dict | list) else type(got).__name__
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


def _shorten(shown: str, limit: int = 80) -> str:
    """A value as the message shows it, cut to fit a line (a value may be megabytes long)."""
    return shown if len(shown) <= limit else f"{shown[: limit - 5]}...{shown[0]}"


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
        elif typing.get_origin(current) is dict and isinstance(part, str):
            current = typing.get_args(current)[1]
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
