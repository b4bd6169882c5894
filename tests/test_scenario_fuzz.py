"""Generated scenarios (hypothesis): whatever the YAML says, loadkit either refuses it with one
line per problem, each starting with the file's name, or compiles it to Python that parses and
holds every value from the YAML only as data. Never a traceback, never another exception.

Four strategies, each derandomized (the same examples on every run, so a failure reproduces):
a valid scenario with one value replaced by anything (wrong types, unicode, huge and tiny
numbers, injection strings); the numbers of the load and the tasks; injection strings in every
text field; YAML's own features (anchors, aliases, merges, tags, several documents, directives,
tabs, control characters) spliced into a valid file. The bulk runs in-process (this process
never imports Locust); a few examples go through the real CLI.
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run_loadkit
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from loadkit.compiler import compile_scenario
from loadkit.errors import ScenarioError
from loadkit.scenario import Scenario, validate_source
from loadkit.scenario.source import parse_yaml

MARKER = "X_PWNED_X"  # the compiler's identifiers never hold it (snake is lower, camel drops _)
ENVIRON = {"HOST": "http://127.0.0.1:9", "EMPTY": "", "TOKEN": "s3cret-token-value-0123456789"}


def fuzz(examples: int) -> settings:
    """Reproducible (the same examples every run, no example database), no time limit each."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


INJECTIONS = [
    f'"); {MARKER}() #',
    f"'); {MARKER}() #",
    f"'''; {MARKER}(); '''",
    f'"""\n{MARKER}()\n"""',
    f"\\'); __import__('os').system('{MARKER}') #",
    f"{{{{ {MARKER} }}}}",
    f"{{{{ env.{MARKER} }}}}",
    f"${{{MARKER}}}",
    f"${{{MARKER}:-x}}",
    f"$${{{MARKER}}}",
    f"%s %d {{0}} {MARKER}",
    f"{MARKER}\r\nX-Injected: 1",
    f"{MARKER}\x00\x1b[2J\u202e\u2028",
    f"\\x00\\n{MARKER}",
    f"{MARKER}: [a, b]",
    f"*{MARKER}",
    f"&{MARKER} x",
    f"!!python/object:os.system {MARKER}",
    f"# {MARKER}",
    f"--- {MARKER}",
    f"{MARKER}" * 40,
    "\ud800" + MARKER,
    "日本語 " + MARKER,
    "",
    " ",
]

texts = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12).map(lambda t: t + MARKER),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 0.0, -0.0, 1e-300, 1e300, 2**63, 10**29, 0.1, 1.5, 5, 1000]),
    st.sampled_from(
        [
            "1e29",
            "0x10",
            "0o7",
            "1_000",
            ".inf",
            "-.inf",
            ".nan",
            "99999999999999999999h",
            "1h1h",
            "-5s",
            "5",
            "5.0",
            "30s",
            "500ms",
            "1h30m",
            "0s",
            "1e400",
            "true",
            "~",
            "５",
        ]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(texts, st.sampled_from(["url", "users", "name"])), inner, max_size=3
        ),
    ),
    max_leaves=6,
)


def base_scenario() -> dict[str, Any]:
    return {
        "name": "fuzz",
        "description": "a generated scenario",
        "host": "http://127.0.0.1:9",
        "load": {"users": 2, "spawn_rate": 1, "duration": "5s", "stop_timeout": "1s"},
        "defaults": {
            "think_time": {"between": [0.1, 0.2]},
            "timeout": "10s",
            "headers": {"X-Default": "d"},
        },
        "variables": {"region": "01", "limit": 5},
        "data": {"people": {"file": "people.csv", "order": "sequential"}},
        "users": [
            {
                "name": "citizen",
                "weight": 2,
                "data": "people",
                "headers": {"X-User": "{{ username }}"},
                "on_start": [
                    {
                        "request": {
                            "method": "POST",
                            "url": "/login",
                            "json": {"u": "{{ username }}"},
                        },
                        "capture": {"token": "$.token"},
                    }
                ],
                "tasks": [
                    {
                        "name": "list",
                        "weight": 3,
                        "request": {
                            "url": "/api/cases/{{ region }}",
                            "params": {"page": 1},
                            "headers": {"Accept": "application/json"},
                            "auth": {"bearer": "{{ token }}"},
                        },
                        "expect": {"status": [200, 201], "json": {"$.id": 1}, "max_ms": 500},
                        "capture": {"id": {"regex": "id=(\\d+)"}},
                    },
                    {
                        "name": "flow",
                        "loop": {"count": 2},
                        "flow": [
                            {
                                "request": {"method": "PUT", "url": "/api/x", "body": "text"},
                                "expect": {"body_contains": "ok", "headers": {"X-A": "b"}},
                                "think_time": {"constant": "100ms"},
                            }
                        ],
                    },
                ],
            }
        ],
        "thresholds": ["p95 < 500ms", "error_rate < 1%", "user=citizen: p99 < 1s"],
        "apdex": {"t": "300ms"},
        "max_regression": {"p95": "10%"},
    }


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in the document a value can be replaced."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {k: replaced(v, rest, new) if k == head else v for k, v in document.items()}
    return [replaced(v, rest, new) if i == head else v for i, v in enumerate(document)]


BASE = base_scenario()
PLACES = list(paths(BASE))
FREE_TEXT = {
    "name",
    "description",
    "body",
    "body_contains",
    "page",
    "u",
    "region",
    "X-Default",
    "X-User",
    "Accept",
    "X-A",
    "bearer",
}
TEXT_PLACES = [p for p in PLACES if p and p[-1] in FREE_TEXT]


def as_yaml(document: Any, style: int) -> str:
    """Three ways to write the same data: block YAML, flow YAML, JSON (a YAML subset)."""
    if style == 2:
        return json.dumps(document, ensure_ascii=False, allow_nan=True)
    return yaml.safe_dump(
        document, allow_unicode=True, sort_keys=False, default_flow_style=bool(style)
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    (path / "people.csv").write_text(f"username,password\nu1,p1\n{MARKER},x\n")
    return path


def event(name: str) -> None:
    """Counted by `pytest --hypothesis-show-statistics`: how many were refused, compiled."""
    if currently_in_test_context():
        hypothesis_event(name)


def outcome(folder: Path, text: str) -> Scenario | None:
    """The scenario, or None after checking that every problem is one line at the file."""
    file = str(folder / "fuzz.yaml")
    try:
        scenario = validate_source(parse_yaml(text, file, ENVIRON), ENVIRON)
    except ScenarioError as exc:
        event("refused")
        assert exc.problems
        for problem in exc.problems:
            line = str(problem)
            assert len(line.splitlines()) == 1, line
            assert line.startswith(file + ":"), line
        return None
    event("compiled")
    check_compiles_to_data(scenario)
    return scenario


def check_compiles_to_data(scenario: Scenario) -> None:
    code = compile_scenario(scenario, "fuzz.yaml")
    tree = ast.parse(code)
    assert tree.body
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if MARKER not in token.string:
            continue
        # Only inside a plain string literal (an f-string would run what its braces hold) or
        # a comment (whose end the tokenizer, not the YAML, decides).
        assert token.type in (tokenize.STRING, tokenize.COMMENT), f"{token} is code"
        if token.type == tokenize.STRING:
            assert isinstance(ast.literal_eval(token.string), str | bytes), token


# ---------------------------------------------------------------------------- strategies


@fuzz(700)
@given(place=st.sampled_from(PLACES), value=values, style=st.integers(0, 2))
def test_any_value_anywhere(folder: Path, place: tuple[Any, ...], value: Any, style: int) -> None:
    outcome(folder, as_yaml(replaced(BASE, place, value), style))


LOAD_FIELDS = [
    ("load", "users"),
    ("load", "spawn_rate"),
    ("load", "duration"),
    ("load", "stop_timeout"),
    ("defaults", "timeout"),
    ("defaults", "think_time"),
    ("apdex", "t"),
    ("users", 0, "weight"),
    ("users", 0, "tasks", 0, "weight"),
    ("users", 0, "tasks", 1, "loop", "count"),
    ("users", 0, "tasks", 0, "expect", "max_ms"),
    ("users", 0, "tasks", 0, "expect", "status"),
    ("users", 0, "tasks", 0, "request", "json"),
    ("variables", "limit"),
]
SHAPES = [
    None,
    {"stages": [{"users": 1, "duration": "2s"}, {"users": 3, "duration": "2s", "spawn_rate": 2}]},
    {"step": {"start": 1, "step": 2, "every": "2s", "until": 9}},
    {"spike": {"users": 1, "peak": 5, "before": "1s", "hold": "1s", "after": "1s"}},
]


@fuzz(500)
@given(
    shape=st.sampled_from(SHAPES),
    changes=st.lists(st.tuples(st.sampled_from(LOAD_FIELDS), numbers), min_size=1, max_size=3),
    shape_numbers=st.lists(numbers, max_size=3),
)
def test_numbers(
    folder: Path,
    shape: dict[str, Any] | None,
    changes: list[tuple[tuple[Any, ...], Any]],
    shape_numbers: list[Any],
) -> None:
    document = BASE
    if shape is not None:
        document = replaced(document, ("load",), shape)
        kind = next(iter(shape))
        fields = (
            [("load", "stages", 1, k) for k in ("users", "duration", "spawn_rate")]
            if kind == "stages"
            else [("load", kind, k) for k in shape[kind]]
        )
        for field, number in zip(fields, shape_numbers, strict=False):
            document = replaced(document, field, number)
    for field, number in changes:
        if shape is None or field[0] != "load":
            document = replaced(document, field, number)
    outcome(folder, as_yaml(document, 0))


@fuzz(500)
@given(
    chosen=st.lists(st.tuples(st.sampled_from(TEXT_PLACES), texts), min_size=1, max_size=8),
    style=st.integers(0, 2),
)
def test_injection_strings(
    folder: Path, chosen: list[tuple[tuple[Any, ...], str]], style: int
) -> None:
    document = BASE
    for place, text in chosen:
        document = replaced(document, place, text)
    outcome(folder, as_yaml(document, style))


def test_injection_strings_compile_as_data(folder: Path) -> None:
    """Not only refused: a scenario full of injection strings that is valid compiles too."""
    document = BASE
    for place in [
        ("description",),
        ("users", 0, "tasks", 0, "name"),
        ("users", 0, "tasks", 1, "flow", 0, "request", "body"),
        ("users", 0, "tasks", 0, "request", "params", "page"),
        ("users", 0, "tasks", 1, "flow", 0, "expect", "body_contains"),
        ("users", 0, "on_start", 0, "request", "json", "u"),
        ("variables", "region"),
    ]:
        document = replaced(document, place, f'"); {MARKER}() # \'\'\'\n"""')
    document = replaced(document, ("name",), f"'); {MARKER}()")
    assert outcome(folder, as_yaml(document, 0)) is not None


FRAGMENTS = [
    "anchors: &a {x: 1, y: [1, 2]}\n",
    "again: *a\n",
    "merged: {<<: *a, z: 3}\n",
    "merged2: {<<: [*a, *a]}\n",
    "self: &s [*s]\n",
    "bad_alias: *nowhere\n",
    "tagged: !!binary aGVsbG8=\n",
    "tagged: !!python/object/apply:os.system ['true']\n",
    "tagged: !custom x\n",
    "tagged: !!set {a, b}\n",
    "tagged: !!omap [{a: 1}, {b: 2}]\n",
    "tagged: !!timestamp 2024-13-45\n",
    "tagged: !!int abc\n",
    "tagged: !!float 1e999\n",
    "when: 2024-01-31\n",
    "---\nname: second\n",
    "...\n",
    "%YAML 1.1\n---\n",
    "%TAG ! tag:evil.com,2000:\n---\n",
    "? [a, b]\n: c\n",
    "? {a: 1}\n: c\n",
    "=: default\n",
    "<<: {extra: 1}\n",
    "\tindented: tab\n",
    "x:\t1\n",
    'ctl: "\x01"\n',
    "ctl: \x07\n",
    "bom: \ufeffx\n",
    "dup: 1\ndup: 2\n",
    "long: " + "x" * 2000 + "\n",
    "deep: " + "[" * 60 + "]" * 60 + "\n",
    "env: ${HOST}\n",
    "env: ${NOPE}\n",
    "env: ${A:-${B}}\n",
    "env: ${secret:TOKEN}\n",
    "env: ${EMPTY:-fallback}\n",
    "env: $${literal}\n",
    "unclosed: [1, 2\n",
    "quote: 'it''s\n",
    "colon: a: b\n",
    "- list item at top\n",
    "bomb: &b [&c [1, 1, 1], *c, *c]\nbomb2: [*b, *b, *b]\n",
    '"\\ud800": x\n',
    "key with spaces: 1\n",
    "users: true\n",
    "load: {users: 1.0e+29, spawn_rate: .nan, duration: 99999999999999999999h}\n",
    "name: " + "n" * 150 + "\n",
]


@fuzz(700)
@given(
    pieces=st.lists(
        st.tuples(st.integers(0, 60), st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20))),
        min_size=1,
        max_size=4,
    ),
    style=st.integers(0, 1),
    under_variables=st.booleans(),
)
def test_yaml_features(
    folder: Path, pieces: list[tuple[int, str]], style: int, under_variables: bool
) -> None:
    lines = as_yaml(BASE, style).splitlines(keepends=True)
    for at, piece in pieces:
        piece = piece if piece.endswith("\n") or not piece else piece + "\n"
        if under_variables and style == 0:  # `variables:` takes any value: the YAML is what counts
            where = lines.index("variables:\n") + 1
            piece = "".join("  " + line for line in piece.splitlines(keepends=True))
        else:  # anywhere: at the top level, or inside another key's lines
            where = min(at, len(lines))
        lines.insert(where, piece)
    outcome(folder, "".join(lines))


# ----------------------------------------------------------------- a few through the CLI


CLI_SAMPLES = [
    "name: x\nhost: http://127.0.0.1:9\n"
    "load: {users: true, spawn_rate: .inf, duration: 99999999999999999999h}\nusers: []\n",
    as_yaml(replaced(BASE, ("users", 0, "headers", "X-User"), "a\r\nX-Injected: 1"), 0),
    as_yaml(BASE, 0)
    + "bomb: &b [&c [1, 1, 1, 1, 1, 1, 1, 1, 1], "
    + ", ".join(["*c"] * 9)
    + "]\n"
    + "".join(
        f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}" if i else "*b"] * 9) + "]\n" for i in range(6)
    ),
    as_yaml(BASE, 0) + "---\nname: second\n",
    as_yaml(replaced(BASE, ("name",), f'"); {MARKER}() #'), 0),
    "a: " + "[" * 3000 + "]" * 3000 + "\n",
    "\x00",
    as_yaml(replaced(BASE, ("users", 0, "tasks", 0, "request", "url"), "/${A:-${B}}"), 1),
]


@pytest.mark.parametrize("text", CLI_SAMPLES, ids=range(len(CLI_SAMPLES)))
def test_through_the_cli(folder: Path, text: str) -> None:
    path = folder / "cli.yaml"
    path.write_text(text, encoding="utf-8")
    result = run_loadkit("validate", str(path), env=ENVIRON, timeout=60)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode in (0, 2), result
    if result.returncode == 2:
        errors = [line for line in result.stderr.splitlines() if "error" in line]
        assert errors, result
        assert all(line.startswith(f"loadkit: error: {path}:") for line in errors), result
