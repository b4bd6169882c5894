"""A scenario as YAML a person would have written: block style, small mappings inline, and
comments where a person must decide.

The importers build a tree of `Map`, `Seq` and plain values, with a comment on any entry;
`render` writes it. Strings are written plain when YAML reads them back as the same string,
double-quoted otherwise (JSON's escapes, which YAML reads the same); nothing is spliced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

import yaml

from loadkit.scenario.templates import escape_template

WIDTH = 100
INDENT = "  "

Value: TypeAlias = "Map | Seq | str | int | float | bool | None"


@dataclass
class Entry:
    key: str
    value: Value
    comment: str | None = None
    """Written after the value on the key's line (`# ...`)."""
    above: list[str] = field(default_factory=list)
    """Comment lines written before the entry."""


@dataclass
class Map:
    entries: list[Entry] = field(default_factory=list)
    inline: bool | None = None
    """True/False forces flow or block style; None: flow when it fits and has no comments."""

    def add(
        self, key: str, value: Value, comment: str | None = None, above: Iterable[str] = ()
    ) -> Map:
        self.entries.append(Entry(key, value, comment, list(above)))
        return self

    def get(self, key: str) -> Value:
        for entry in self.entries:
            if entry.key == key:
                return entry.value
        raise KeyError(key)


@dataclass
class Item:
    value: Value
    comment: str | None = None
    above: list[str] = field(default_factory=list)
    commented_out: bool = False
    """Written as comment lines: a person uncomments it after deciding."""


@dataclass
class Seq:
    items: list[Item] = field(default_factory=list)
    inline: bool | None = None
    trailer: list[str] = field(default_factory=list)
    """Comment lines after the last item, at the items' indentation."""

    def add(
        self,
        value: Value,
        comment: str | None = None,
        above: Iterable[str] = (),
        *,
        commented_out: bool = False,
    ) -> Seq:
        self.items.append(Item(value, comment, list(above), commented_out))
        return self


def literal_value(text: str) -> str:
    """Text as a scenario value must spell it to be read back as itself: the loader fills
    `${...}` and reads `$$` as `$`, so a `$` before `$` or `{` is doubled (`$${` is `${`),
    and so is a `$` at the end (the text may be joined to a `{{ template }}`). For values
    that are not templates (names); keys are never filled, and are written as they are."""
    return _LOADER_DOLLAR.sub("$$", text)


def literal_text(text: str) -> str:
    """Recorded or specified text as a templated value (url, params, headers, bodies) must
    spell it: `literal_value`, and every `{{` written as the template language's literal
    `{{`, so data never becomes a variable or reads the environment."""
    return literal_value(escape_template(text))


_LOADER_DOLLAR = re.compile(r"\$(?=[${]|\Z)")


def to_data(value: Value) -> object:
    """The plain data the rendered YAML reads back as (for checks and tests)."""
    if isinstance(value, Map):
        return {e.key: to_data(e.value) for e in value.entries}
    if isinstance(value, Seq):
        return [to_data(i.value) for i in value.items if not i.commented_out]
    return value


# ---------------------------------------------------------------------------------- scalars

_PLAIN = re.compile(r"[A-Za-z0-9_/$.][A-Za-z0-9_./$@()+=-]*(?: [A-Za-z0-9_./$@()+=-]+)*")


def scalar(value: str | int | float | bool | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)
    if _PLAIN.fullmatch(value) and _reads_back(value):
        return value
    return _quoted(value)


def _reads_back(plain: str) -> bool:
    try:
        return bool(yaml.safe_load(f"[{plain}]") == [plain])
    except yaml.YAMLError:
        return False


def _quoted(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    # JSON leaves these as they are; YAML would take them for line breaks or refuse them.
    return re.sub(
        "[\u0085\u2028\u2029\ufeff\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", quoted
    )


# ----------------------------------------------------------------------------------- render


def render(root: Map, header: Iterable[str] = ()) -> str:
    """The document: `header` comment lines, then the root mapping in block style."""
    lines = [f"# {h}" if h else "#" for h in header]
    lines += _block_map(root, 0)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _has_comments(value: Value) -> bool:
    if isinstance(value, Map):
        return any(e.comment or e.above or _has_comments(e.value) for e in value.entries)
    if isinstance(value, Seq):
        return bool(value.trailer) or any(
            i.comment or i.above or i.commented_out or _has_comments(i.value) for i in value.items
        )
    return False


def _flow(value: Value) -> str:
    if isinstance(value, Map):
        return "{" + ", ".join(f"{scalar(e.key)}: {_flow(e.value)}" for e in value.entries) + "}"
    if isinstance(value, Seq):
        return "[" + ", ".join(_flow(i.value) for i in value.items) + "]"
    return scalar(value)


def _inline(value: Value, room: int) -> str | None:
    """The value on one line, if it should be written so."""
    if not isinstance(value, Map | Seq):
        return scalar(value)
    if value.inline is False or _has_comments(value):
        return None
    if not (value.entries if isinstance(value, Map) else value.items):
        return "{}" if isinstance(value, Map) else "[]"
    text = _flow(value)
    if value.inline or len(text) <= room:
        return text
    return None


def _with_comment(line: str, comment: str | None) -> str:
    return f"{line}  # {comment}" if comment else line


def _block_map(node: Map, depth: int) -> list[str]:
    pad = INDENT * depth
    lines: list[str] = []
    for entry in node.entries:
        lines += [f"{pad}# {c}" if c else f"{pad}#" for c in entry.above]
        key = f"{pad}{scalar(entry.key)}:"
        room = WIDTH - len(key) - 1 - (len(entry.comment) + 4 if entry.comment else 0)
        one_line = _inline(entry.value, room)
        if one_line is not None:
            lines.append(_with_comment(f"{key} {one_line}", entry.comment))
        elif isinstance(entry.value, Map):
            lines.append(_with_comment(key, entry.comment))
            lines += _block_map(entry.value, depth + 1)
        else:
            assert isinstance(entry.value, Seq)
            lines.append(_with_comment(key, entry.comment))
            lines += _block_seq(entry.value, depth + 1)
    return lines


def _block_seq(node: Seq, depth: int) -> list[str]:
    pad = INDENT * depth
    lines: list[str] = []
    for item in node.items:
        lines += [f"{pad}# {c}" if c else f"{pad}#" for c in item.above]
        body = _item_lines(item, depth)
        if item.commented_out:
            body = [f"{pad}# {line[len(pad) :]}" for line in body]
        lines += body
    lines += [f"{pad}# {c}" if c else f"{pad}#" for c in node.trailer]
    return lines


def _item_lines(item: Item, depth: int) -> list[str]:
    pad = INDENT * depth
    room = WIDTH - len(pad) - 2 - (len(item.comment) + 4 if item.comment else 0)
    value = item.value
    if isinstance(value, Map) and value.entries and _inline(value, room) is None:
        # `- key: ...` with the rest of the mapping indented under the first key.
        inner = _block_map(value, depth + 1)
        first_key = next(i for i, line in enumerate(inner) if not line.lstrip().startswith("#"))
        head = inner[first_key]
        inner[first_key] = _with_comment(f"{pad}- {head[len(pad) + 2 :]}", item.comment)
        return inner
    one_line = _inline(value, room)
    if one_line is not None:
        return [_with_comment(f"{pad}- {one_line}", item.comment)]
    assert isinstance(value, Seq)
    return [_with_comment(f"{pad}-", item.comment), *_block_seq(value, depth + 1)]
