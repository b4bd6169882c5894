"""PyYAML's syntax errors in plain words: `file:line:col: invalid YAML: <what>; <how to fix>`.

PyYAML says what its scanner or parser expected ("mapping values are not allowed here",
"expected <block end>, but found '?'"), which tells a person little about what they wrote. One
small function per kind of error says it in the writer's words, looking at the line when the
token alone is ambiguous; an error none of them knows keeps PyYAML's own words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from loadkit.errors import Location, Problem

DEFAULT_FIX = "check indentation and quoting"
_MAX_SIMPLE_KEY = 1024  # PyYAML reads a longer plain key as a value that lacks its key


@dataclass(frozen=True)
class _Said:
    """What went wrong, where (a PyYAML mark), and how to fix it."""

    mark: yaml.Mark | None
    what: str
    fix: str


_Explain = Callable[[re.Match[str], yaml.MarkedYAMLError, list[str]], "_Said | None"]


def yaml_problem(
    file: str, exc: yaml.MarkedYAMLError, text: str, fix: str = DEFAULT_FIX
) -> Problem:
    """PyYAML's error (several lines, with a source excerpt) as one line at its position."""
    said = _plain_words(exc, text.splitlines()) or _pyyaml_words(exc, fix)
    mark = said.mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return Problem(Location(file, line, col), "", f"invalid YAML: {said.what}; {said.fix}")


def _plain_words(exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said | None:
    problem = " ".join((exc.problem or "").split())
    for pattern, explain in _EXPLAINERS:
        match = pattern.fullmatch(problem)
        if match:
            said = explain(match, exc, lines)
            if said is not None:
                return said
    return None


def _pyyaml_words(exc: yaml.MarkedYAMLError, fix: str) -> _Said:
    problem = " ".join((exc.problem or "").split())
    context = " ".join((exc.context or "").split())
    if problem and context and problem.startswith("but "):
        what = f"{context}, {problem}"  # 'expected a single document..., but found another...'
    elif problem and context:
        started = exc.context_mark
        at = f" at line {started.line + 1}" if started else ""
        what = f"{problem} ({context}{at})"
    else:
        what = problem or context or "cannot parse"
    return _Said(exc.problem_mark or exc.context_mark, what, fix)


# ------------------------------------------------------------------------ helpers


def _before(mark: yaml.Mark | None, lines: list[str]) -> str:
    """The text of the mark's line before the mark."""
    if mark is None or mark.line >= len(lines):
        return ""
    return lines[mark.line][: mark.column]


def _at(mark: yaml.Mark | None, lines: list[str]) -> str:
    """The character at the mark ('' past the end)."""
    if mark is None or mark.line >= len(lines):
        return ""
    return lines[mark.line][mark.column : mark.column + 1]


def _opened(exc: yaml.MarkedYAMLError) -> int:
    return exc.context_mark.line + 1 if exc.context_mark else 1


_MISALIGNED = (
    "a line indented to match none of the lines above it",
    "indent it exactly like the keys or list items it belongs with",
)


# ---------------------------------------------------------------- one kind each


def _tab(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said:
    return _Said(
        exc.problem_mark,
        "a tab character",
        "YAML indents with spaces only — replace the tab with spaces",
    )


def _reserved_character(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said:
    char = match.group(1)
    why = " (it starts a YAML directive)" if char == "%" else " (YAML reserves it)"
    return _Said(exc.problem_mark, f"a value cannot start with '{char}'{why}", "quote the value")


def _colon_in_value(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said:
    before = _before(exc.problem_mark, lines)
    if re.search(r":\s", before) or not before.strip():
        return _Said(
            exc.problem_mark,
            "a colon followed by a space inside an unquoted value",
            "quote the value",
        )
    key = before.strip().removeprefix("- ").strip()
    if len(key) > _MAX_SIMPLE_KEY:
        return _Said(
            exc.problem_mark,
            f"a key longer than {_MAX_SIMPLE_KEY} characters (YAML's limit for a plain key)",
            "shorten it",
        )
    if len(key) > 40:
        key = key[:37] + "..."
    return _Said(
        exc.problem_mark,
        f"the key '{key}' is indented as if it continued the value above it",
        "indent it like the keys beside it (or quote a value that contains ': ')",
    )


def _no_colon(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said | None:
    if exc.context != "while scanning a simple key":
        return None
    return _Said(
        exc.context_mark,
        "a line that is neither 'key: value' nor a list item",
        "add ': ' after the key, start a list item with '- ', or indent it to continue the "
        "value above",
    )


def _block_end(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said | None:
    found, mark = match.group(1), exc.problem_mark
    if found == "?":  # the start of a key
        return _Said(
            mark,
            "a 'key: value' where a list item ('- ') was expected",
            "start it with '- ', or indent it like the key that holds the list",
        )
    if found == "-":
        return _Said(
            mark,
            "a list item ('- ') where a 'key: value' was expected",
            "indent it under a key that has no value of its own",
        )
    if found in ("]", "}"):
        return _Said(mark, f"a '{found}' that closes nothing", "remove it, or quote the value")
    before = _before(mark, lines)
    if found in ("<block mapping start>", "<block sequence start>") or not before.strip():
        return _Said(mark, *_MISALIGNED)
    if found != "<scalar>":
        return None
    last = before.rstrip()[-1:]
    if last in ("'", '"'):
        return _Said(mark, "text after a closing quote", "quote the whole value")
    if last in ("]", "}"):
        opening = "[" if last == "]" else "{"
        return _Said(
            mark,
            f"text after a closing '{last}' (a value that starts with '{opening}' is read as "
            f"a {'list' if opening == '[' else 'mapping'})",
            "quote the whole value",
        )
    return None


def _flow(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said | None:
    close, got = match.group(1), match.group(2)
    opening = "[" if close == "]" else "{"
    line = _opened(exc)
    if got == "<stream end>":
        return _Said(
            exc.context_mark,
            f"a '{opening}' that is never closed",
            f"close it with '{close}', or quote the value if the bracket is text",
        )
    if got in ("{", "["):  # `{url: ${HOST}/x}`: `{` ends a plain value inside `{...}`
        return _Said(
            exc.problem_mark,
            f"a '{got}' inside a value of the '{opening}' opened at line {line}",
            "quote that value",
        )
    if got in ("]", "}"):
        return _Said(
            exc.problem_mark,
            f"'{got}' where the '{opening}' opened at line {line} needs '{close}'",
            f"close it with '{close}'",
        )
    return _Said(
        exc.problem_mark,
        f"a missing ',' or '{close}' in the '{opening}' opened at line {line}",
        f"separate its items with ', ' and close it with '{close}'",
    )


def _flow_ends(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said | None:
    if exc.context != "while parsing a flow node":
        return None
    return _Said(
        exc.problem_mark,
        "the file ends inside an unclosed '[' or '{'",
        "close it, or quote the value if the bracket is text",
    )


def _unclosed_quote(
    match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]
) -> _Said | None:
    if exc.context != "while scanning a quoted scalar":
        return None
    quote = _at(exc.context_mark, lines) or '"'
    return _Said(
        exc.context_mark,
        f"a quoted value whose {quote} is never closed",
        f"add the closing {quote}",
    )


def _unknown_escape(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said:
    return _Said(
        exc.problem_mark,
        f"'\\{match.group(1)}' is not an escape in a double-quoted value",
        "write '\\\\' for a backslash, or use single quotes",
    )


def _short_escape(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said:
    return _Said(
        exc.problem_mark,
        f"an escape that needs {match.group(1)} hexadecimal digits",
        "complete it (\\u00e9), or use single quotes",
    )


def _undefined_alias(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said:
    name = match.group(1)
    return _Said(
        exc.problem_mark,
        f"'*{name}' refers to no anchor '&{name}' above it",
        f"define &{name} before it, or quote the value if the '*' is text",
    )


def _nameless_anchor(
    match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]
) -> _Said | None:
    kind = {"while scanning an anchor": "&", "while scanning an alias": "*"}.get(exc.context or "")
    if kind is None:
        return None
    return _Said(
        exc.context_mark,
        f"'{kind}' without a name right after it (it starts an "
        f"{'anchor' if kind == '&' else 'alias'})",
        f"quote the value if the '{kind}' is text",
    )


def _duplicate_anchor(
    match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]
) -> _Said | None:
    named = re.fullmatch(r"found duplicate anchor '(.*)'; first occurrence", exc.context or "")
    if named is None:
        return None
    return _Said(
        exc.problem_mark,
        f"the anchor '&{named.group(1)}' is defined twice (first at line {_opened(exc)})",
        "rename one of them",
    )


def _second_document(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said:
    return _Said(
        exc.problem_mark,
        "a second document after '---' (a scenario file holds one)",
        "remove the '---', or move what follows to a file of its own",
    )


def _block_scalar_header(
    match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]
) -> _Said:
    indicator = _at(exc.context_mark, lines) or "|"
    return _Said(
        exc.problem_mark,
        f"text on the same line after '{indicator}'",
        "start the text on the next line, indented",
    )


def _list_after_key(match: re.Match[str], exc: yaml.MarkedYAMLError, lines: list[str]) -> _Said:
    return _Said(
        exc.problem_mark,
        "a list item ('- ') on the same line as its key",
        "start the list on the next line, indented, or write it as [a, b]",
    )


_EXPLAINERS: list[tuple[re.Pattern[str], _Explain]] = [
    (re.compile(r"found character '\\t' that cannot start any token"), _tab),
    (re.compile(r"found character '(.)' that cannot start any token"), _reserved_character),
    (re.compile(r"mapping values are not allowed here"), _colon_in_value),
    (re.compile(r"could not find expected ':'"), _no_colon),
    (re.compile(r"expected <block end>, but found '(.*)'"), _block_end),
    (re.compile(r"expected ',' or '([\]}])', but got '(.*)'"), _flow),
    (re.compile(r"expected the node content, but found '<stream end>'"), _flow_ends),
    (re.compile(r"found unexpected (?:end of stream|document separator)"), _unclosed_quote),
    (re.compile(r"found unknown escape character '(.*)'"), _unknown_escape),
    (
        re.compile(r"expected escape sequence of (\d+) hexadecimal numbers, but found .*"),
        _short_escape,
    ),
    (re.compile(r"found undefined alias '(.*)'"), _undefined_alias),
    (re.compile(r"expected alphabetic or numeric character, but found .*"), _nameless_anchor),
    (re.compile(r"second occurrence"), _duplicate_anchor),
    (re.compile(r"but found another document"), _second_document),
    (
        re.compile(r"expected chomping or indentation indicators, but found .*"),
        _block_scalar_header,
    ),
    (re.compile(r"sequence entries are not allowed here"), _list_after_key),
]
