"""YAML with positions and `${VAR}` interpolation: loadkit.scenario.source."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadkit.errors import Location, Problem, ScenarioError
from loadkit.scenario.source import (
    format_key_path,
    interpolate_env,
    load_yaml,
    parse_yaml,
)

F = "f.yaml"


def error_of(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_yaml(text, F, environ={} if environ is None else environ)
    message = str(info.value)
    for problem in info.value.problems:
        assert "\n" not in str(problem)
    return message


def value_of(text: str, environ: dict[str, str]) -> object:
    data = parse_yaml(f"v: {text}\n", F, environ=environ).data
    assert isinstance(data, dict)
    return data["v"]


# ----------------------------------------------------------------------------- positions

POSITIONS = """\
name: demo
load:
  users: 5
list:
  - a
  - key: v
flow: {users: 50, rate: [1, 2]}
"""


def test_data_is_plain() -> None:
    doc = parse_yaml(POSITIONS, F, environ={})
    assert doc.data == {
        "name": "demo",
        "load": {"users": 5},
        "list": ["a", {"key": "v"}],
        "flow": {"users": 50, "rate": [1, 2]},
    }
    assert doc.file == F
    assert doc.text == POSITIONS
    assert doc.env_used == {}


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        (("name",), 1, 1),
        (("load",), 2, 1),
        (("load", "users"), 3, 3),
        (("list",), 4, 1),
        (("list", 1, "key"), 6, 5),
        (("flow",), 7, 1),
        (("flow", "users"), 7, 8),
        (("flow", "rate"), 7, 19),
    ],
)
def test_key_positions(path: tuple[str | int, ...], line: int, column: int) -> None:
    doc = parse_yaml(POSITIONS, F, environ={})
    assert doc.key_positions[path] == Location(F, line, column)


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        ((), 1, 1),
        (("name",), 1, 7),
        (("load",), 3, 3),
        (("load", "users"), 3, 10),
        (("list",), 5, 3),
        (("list", 0), 5, 5),
        (("list", 1), 6, 5),
        (("list", 1, "key"), 6, 10),
        (("flow",), 7, 7),
        (("flow", "users"), 7, 15),
        (("flow", "rate"), 7, 25),
        (("flow", "rate", 1), 7, 29),
    ],
)
def test_value_positions(path: tuple[str | int, ...], line: int, column: int) -> None:
    doc = parse_yaml(POSITIONS, F, environ={})
    assert doc.value_positions[path] == Location(F, line, column)


def test_locate_prefers_value_and_walks_up() -> None:
    doc = parse_yaml(POSITIONS, F, environ={})
    assert doc.locate(("load", "users")) == Location(F, 3, 10)
    assert doc.locate(("load", "users"), at_key=True) == Location(F, 3, 3)
    # A key that is not in the file: the closest ancestor that is.
    assert doc.locate(("load", "spawn_rate")) == Location(F, 3, 3)
    assert doc.locate(("load", "spawn_rate"), at_key=True) == Location(F, 2, 1)
    assert doc.locate(("list", 7, "x")) == Location(F, 5, 3)
    assert doc.locate(()) == Location(F, 1, 1)
    assert doc.locate(("nothing", "here")) == Location(F, 1, 1)


def test_location_and_problem_format() -> None:
    assert str(Location("a.yaml", 3, 7)) == "a.yaml:3:7"
    problem = Problem(Location("a.yaml", 3, 7), "load.users", "bad")
    assert str(problem) == "a.yaml:3:7: load.users: bad"
    assert str(Problem(Location("a.yaml", 1, 1), "", "bad")) == "a.yaml:1:1: bad"


def test_scenario_error_joins_problems_one_per_line() -> None:
    problems = [
        Problem(Location("a.yaml", 1, 1), "x", "one"),
        Problem(Location("a.yaml", 2, 3), "", "two"),
    ]
    error = ScenarioError(problems)
    assert error.problems == problems
    assert str(error) == "a.yaml:1:1: x: one\na.yaml:2:3: two"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("load",), "load"),
        (("load", "users"), "load.users"),
        (("users", 0, "tasks", 1, "request"), "users[0].tasks[1].request"),
        (("users", 0), "users[0]"),
        ((0,), "[0]"),
        ((0, "a"), "[0].a"),
    ],
)
def test_format_key_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_key_path(path) == text


def test_non_text_keys_become_text() -> None:
    assert parse_yaml("1: a\ntrue: b\n2.5: c\n", F, environ={}).data == {
        "1": "a",
        "True": "b",
        "2.5": "c",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("? [a, b]\n: 1\n", "f.yaml:1:3: keys must be plain text"),
        ("~: 1\n", "f.yaml:1:1: keys must be plain text"),
        ("a:\n  ~: 1\n", "f.yaml:2:3: a: keys must be plain text"),
    ],
)
def test_keys_must_be_plain(text: str, message: str) -> None:
    assert error_of(text) == message


# ------------------------------------------------------------------------- interpolation


def test_plain_variable() -> None:
    doc = parse_yaml("host: ${HOST}\n", F, environ={"HOST": "http://h:1"})
    assert doc.data == {"host": "http://h:1"}
    assert doc.env_used == {"HOST": "http://h:1"}


@pytest.mark.parametrize(
    ("text", "environ", "value"),
    [
        # ${VAR:-default}: the default when unset or empty.
        ("${X:-dflt}", {}, "dflt"),
        ("${X:-dflt}", {"X": ""}, "dflt"),
        ("${X:-dflt}", {"X": "set"}, "set"),
        ("${X:-}", {}, ""),
        # ${VAR-default}: the default only when unset.
        ("${X-dflt}", {}, "dflt"),
        ("${X-dflt}", {"X": ""}, ""),
        ("${X-dflt}", {"X": "set"}, "set"),
        # Defaults may contain what looks like operators; the name ends at the first one.
        ("'${X:-http://a:8080/x-y}'", {}, "http://a:8080/x-y"),
        ("${X-a:-b}", {}, "a:-b"),
        # ${VAR} set but empty is the empty text, not an error.
        ("'${X}'", {"X": ""}, ""),
        # Several references in one value, and text around them.
        ("'${SCHEME:-http}://${HOST}:${PORT-80}/api'", {"HOST": "h"}, "http://h:80/api"),
        # Escapes and lone dollars.
        ("'$${HOME}'", {"HOME": "/root"}, "${HOME}"),
        ("'costs $5'", {}, "costs $5"),
        ("'$HOME'", {"HOME": "/root"}, "$HOME"),
        # Values are text; validation converts them later.
        ("${USERS}", {"USERS": "5"}, "5"),
        ("'${USERS}'", {"USERS": "5"}, "5"),
    ],
)
def test_interpolation(text: str, environ: dict[str, str], value: str) -> None:
    assert value_of(text, environ) == value


def test_env_used_records_variables_read() -> None:
    doc = parse_yaml(
        "a: ${SET}\nb: ${EMPTY:-d}\nc: ${UNSET:-d}\nd: $${ESCAPED}\n",
        F,
        environ={"SET": "s3cret", "EMPTY": "", "ESCAPED": "x", "OTHER": "y"},
    )
    assert doc.data == {"a": "s3cret", "b": "d", "c": "d", "d": "${ESCAPED}"}
    assert doc.env_used == {"SET": "s3cret", "EMPTY": ""}


def test_keys_and_non_text_values_are_not_interpolated() -> None:
    doc = parse_yaml("${K}: 1\nn: 5\n", F, environ={"K": "x"})
    assert doc.data == {"${K}": 1, "n": 5}
    assert doc.env_used == {}


def test_environ_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOADKIT_TEST_YAML_SOURCE", "from-env")
    doc = parse_yaml("v: ${LOADKIT_TEST_YAML_SOURCE}\n", F)
    assert doc.data == {"v": "from-env"}


def test_missing_variable() -> None:
    assert error_of("host: ${NOPE}\n") == (
        "f.yaml:1:7: host: environment variable NOPE is not set; "
        "export it or give a default: ${NOPE:-value}"
    )


def test_missing_variable_is_located_deep() -> None:
    assert error_of('a:\n  b: [x, "${NOPE}"]\n') == (
        "f.yaml:2:10: a.b[1]: environment variable NOPE is not set; "
        "export it or give a default: ${NOPE:-value}"
    )


@pytest.mark.parametrize("inner", ["1X", "", "A B", "A:B", "-x", ":-x"])
def test_invalid_reference(inner: str) -> None:
    text = "v: '${" + inner + "}'\n"
    assert error_of(text) == (
        f"f.yaml:1:4: v: invalid environment reference '${{{inner}}}'; "
        "write ${NAME} or ${NAME:-default}"
    )


def test_every_interpolation_problem_is_reported() -> None:
    assert error_of("a: ${ONE}\nb: ok\nc: ${1X}\n") == (
        "f.yaml:1:4: a: environment variable ONE is not set; "
        "export it or give a default: ${ONE:-value}\n"
        "f.yaml:3:4: c: invalid environment reference '${1X}'; write ${NAME} or ${NAME:-default}"
    )


def test_interpolate_env_directly() -> None:
    used: dict[str, str] = {}
    assert interpolate_env("${A}-${B:-b}-$${C}", {"A": "a"}, used) == "a-b-${C}"
    assert used == {"A": "a"}
    with pytest.raises(ValueError, match=r"^environment variable B is not set; "):
        interpolate_env("${B}", {}, used)


# ------------------------------------------------------------------------ duplicate keys


def test_duplicate_key() -> None:
    assert error_of("a: 1\nb: 2\na: 3\n") == (
        "f.yaml:3:1: a: duplicate key 'a' (first given at line 1); remove one of them"
    )


def test_duplicate_key_nested_and_in_flow() -> None:
    assert error_of("load:\n  users: 1\n  users: 2\nx: {k: 1, k: 2}\n") == (
        "f.yaml:3:3: load.users: duplicate key 'users' (first given at line 2); "
        "remove one of them\n"
        "f.yaml:4:11: x.k: duplicate key 'k' (first given at line 4); remove one of them"
    )


def test_merge_keys_may_be_overridden() -> None:
    text = """\
base: &base {method: GET, url: /a, headers: {A: "1"}}
one:
  <<: *base
  url: /b
two: {<<: [{url: /c, name: n}, *base]}
alias: *base
"""
    data = parse_yaml(text, F, environ={}).data
    assert data["one"] == {"method": "GET", "url": "/b", "headers": {"A": "1"}}
    # In a list of merge sources the first one wins, as YAML specifies.
    assert data["two"] == {"method": "GET", "url": "/c", "name": "n", "headers": {"A": "1"}}
    assert data["alias"] == data["base"]


def test_merge_keys_do_not_hide_duplicate_own_keys() -> None:
    assert error_of("x: &x {a: 1}\ny: {<<: *x, b: 2, b: 3}\n") == (
        "f.yaml:2:19: y.b: duplicate key 'b' (first given at line 2); remove one of them"
    )


MERGES = """\
a: &a {x: a, y: a, only_a: 1}
b: &b {x: b, y: b, z: b, only_b: 2}
own_after: {<<: *a, x: own}
own_before: {x: own, <<: *a}
first_wins: {<<: [*a, *b]}
second_first: {<<: [*b, *a]}
nested: &nested {<<: *a, y: nested, n: 1}
deeper: {<<: *nested, n: 2}
alias: *nested
merge_of_merged_list: {<<: [*nested, *b]}
inline: {<<: {x: inline}, y: own}
shallow: {<<: {h: {A: 1, B: 2}}, h: {C: 3}}
"""


def test_merge_semantics() -> None:
    data = parse_yaml(MERGES, F, environ={}).data
    # The mapping's own keys override merged ones, wherever the `<<` is written.
    assert data["own_after"] == {"x": "own", "y": "a", "only_a": 1}
    assert data["own_before"] == {"x": "own", "y": "a", "only_a": 1}
    # Of several sources the first one that has a key wins.
    assert data["first_wins"] == {"x": "a", "y": "a", "only_a": 1, "z": "b", "only_b": 2}
    assert data["second_first"] == {"x": "b", "y": "b", "z": "b", "only_b": 2, "only_a": 1}
    # A merged mapping that merges itself; aliases of it are the merged result.
    assert data["nested"] == {"x": "a", "y": "nested", "only_a": 1, "n": 1}
    assert data["deeper"] == {"x": "a", "y": "nested", "only_a": 1, "n": 2}
    assert data["alias"] == data["nested"]
    assert data["merge_of_merged_list"] == {
        "x": "a",
        "y": "nested",
        "only_a": 1,
        "n": 1,
        "z": "b",
        "only_b": 2,
    }
    assert data["inline"] == {"x": "inline", "y": "own"}
    # Merging is one level deep: an own mapping replaces a merged one whole.
    assert data["shallow"] == {"h": {"C": 3}}
    # The anchored mappings themselves are untouched.
    assert data["a"] == {"x": "a", "y": "a", "only_a": 1}


def test_merged_keys_come_first_in_their_order() -> None:
    data = parse_yaml(MERGES, F, environ={}).data
    assert list(data["own_before"]) == ["x", "y", "only_a"]
    assert list(data["first_wins"]) == ["x", "y", "only_a", "z", "only_b"]
    assert list(data["nested"]) == ["x", "y", "only_a", "n"]


def test_merged_keys_point_where_they_were_written() -> None:
    doc = parse_yaml(MERGES, F, environ={})
    # Merged from `a` on line 1: its key and value there.
    assert doc.key_positions[("own_after", "y")] == Location(F, 1, 14)
    assert doc.value_positions[("own_after", "y")] == Location(F, 1, 17)
    # An own key that overrides a merged one: where it is written.
    assert doc.key_positions[("own_after", "x")] == Location(F, 3, 21)
    # Through two merges: where the key was written first.
    assert doc.key_positions[("deeper", "only_a")] == Location(F, 1, 20)
    assert doc.key_positions[("deeper", "y")] == Location(F, 7, 26)
    assert doc.key_positions[("first_wins", "z")] == Location(F, 2, 20)


def test_a_bad_merged_value_is_reported_once_where_it_was_written() -> None:
    text = "x: &x\n  a: ${NOPE}\ny: {<<: *x}\nz: {<<: [*x]}\n"
    assert error_of(text) == (
        "f.yaml:2:6: x.a: environment variable NOPE is not set; "
        "export it or give a default: ${NOPE:-value}"
    )


def test_merge_keys_are_not_duplicates_but_own_keys_are() -> None:
    text = "a: &a {k: 1}\nb: &b {k: 2}\nc: {<<: [*a, *b], k: 3}\n"
    assert parse_yaml(text, F, environ={}).data["c"] == {"k": 3}
    assert error_of("x: &x {a: 1}\ny: {<<: *x, a: 2, a: 3}\n") == (
        "f.yaml:2:19: y.a: duplicate key 'a' (first given at line 2); remove one of them"
    )


def test_a_plain_equals_key_is_text() -> None:
    assert parse_yaml("a: {=: 1}\n", F, environ={}).data == {"a": {"=": 1}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: {<<: 5}\n",
            "f.yaml:1:9: a.<<: '<<' merges mappings, but this is the value '5'; "
            "name a mapping by its anchor, e.g. <<: *defaults",
        ),
        (
            "a:\n  <<:\n  b: 1\n",
            "f.yaml:2:6: a.<<: '<<' merges mappings, but this is empty; "
            "name a mapping by its anchor, e.g. <<: *defaults",
        ),
        (
            # An alias has no position of its own in PyYAML: `*l` is located at its anchor.
            "m: &m {x: 1}\nl: &l [1]\na: {<<: [*m, 5, *l]}\n",
            "f.yaml:2:4: a.<<[2]: '<<' merges mappings, but this is a list; "
            "name a mapping by its anchor, e.g. <<: *defaults\n"
            "f.yaml:3:14: a.<<[1]: '<<' merges mappings, but this is the value '5'; "
            "name a mapping by its anchor, e.g. <<: *defaults",
        ),
        (
            "x: &x {a: 1}\ny: &y {b: 1}\na: {<<: *x, <<: *y}\n",
            "f.yaml:3:13: a.<<: a second '<<' (the first is at line 3); "
            "merge several mappings with one list: <<: [*first, *second]",
        ),
        (
            "a: &a {b: 1, <<: *a}\n",
            "f.yaml:1:14: a.<<: a mapping cannot merge itself (the alias points at a mapping "
            "around this '<<'); merge a mapping defined elsewhere",
        ),
        (
            "a: &a\n  b: [*a]\n",
            "f.yaml:2:3: a.b[0]: this alias points at a value that contains it, which would "
            "never end; point it at another value",
        ),
    ],
)
def test_merge_errors(text: str, message: str) -> None:
    assert error_of(text) == message


# -------------------------------------------------------------------- syntax and reading


SYNTAX_ERRORS = [
    # What people get wrong, as PyYAML reports it, in plain words: what, then how to fix it.
    pytest.param(
        "users:\n\t- name: a\n",
        "f.yaml:2:1: invalid YAML: a tab character; YAML indents with spaces only — "
        "replace the tab with spaces",
        id="tab-indent",
    ),
    pytest.param(
        "a:\tb\n",
        "f.yaml:1:3: invalid YAML: a tab character; YAML indents with spaces only — "
        "replace the tab with spaces",
        id="tab-after-colon",
    ),
    pytest.param(
        "name: a: b\n",
        "f.yaml:1:8: invalid YAML: a colon followed by a space inside an unquoted value; "
        "quote the value",
        id="colon-in-value",
    ),
    pytest.param(
        "users:\n  - name: x\n    url: /api?a=1: b\n",
        "f.yaml:3:18: invalid YAML: a colon followed by a space inside an unquoted value; "
        "quote the value",
        id="colon-in-url",
    ),
    pytest.param(
        "a: 1\n  b: 2\n",
        "f.yaml:2:4: invalid YAML: the key 'b' is indented as if it continued the value above "
        "it; indent it like the keys beside it (or quote a value that contains ': ')",
        id="key-continues-value",
    ),
    pytest.param(
        "a" * 1030 + ": 1\n",
        "f.yaml:1:1031: invalid YAML: a key longer than 1024 characters (YAML's limit for a "
        "plain key); shorten it",
        id="key-too-long",
    ),
    pytest.param(
        "a: b\nc\nd: e\n",
        "f.yaml:2:1: invalid YAML: a line that is neither 'key: value' nor a list item; "
        "add ': ' after the key, start a list item with '- ', or indent it to continue the "
        "value above",
        id="no-colon",
    ),
    pytest.param(
        "a:\n  - 1\n  b: 2\n",
        "f.yaml:3:3: invalid YAML: a 'key: value' where a list item ('- ') was expected; "
        "start it with '- ', or indent it like the key that holds the list",
        id="key-among-list-items",
    ),
    pytest.param(
        "a: 1\n- b\n",
        "f.yaml:2:1: invalid YAML: a list item ('- ') where a 'key: value' was expected; "
        "indent it under a key that has no value of its own",
        id="list-item-among-keys",
    ),
    pytest.param(
        "a:\n  b: 1\n c: 2\n",
        "f.yaml:3:2: invalid YAML: a line indented to match none of the lines above it; "
        "indent it exactly like the keys or list items it belongs with",
        id="misaligned-key",
    ),
    pytest.param(
        "users:\n  - name: a\n bad\n",
        "f.yaml:3:2: invalid YAML: a line indented to match none of the lines above it; "
        "indent it exactly like the keys or list items it belongs with",
        id="misaligned-text",
    ),
    pytest.param(
        "users:\n  - name: a\n    tasks:\n   - x\n",
        "f.yaml:4:4: invalid YAML: a line indented to match none of the lines above it; "
        "indent it exactly like the keys or list items it belongs with",
        id="misaligned-list-item",
    ),
    pytest.param(
        "a: 'x'y\n",
        "f.yaml:1:7: invalid YAML: text after a closing quote; quote the whole value",
        id="text-after-quote",
    ),
    pytest.param(
        "url: {{ base }}/x\n",
        "f.yaml:1:16: invalid YAML: text after a closing '}' (a value that starts with '{' is "
        "read as a mapping); quote the whole value",
        id="template-starts-value",
    ),
    pytest.param(
        "a: [1, 2]]\n",
        "f.yaml:1:10: invalid YAML: a ']' that closes nothing; remove it, or quote the value",
        id="stray-bracket",
    ),
    pytest.param(
        'a: "abc\nb: 1\n',
        'f.yaml:1:4: invalid YAML: a quoted value whose " is never closed; add the closing "',
        id="unclosed-double-quote",
    ),
    pytest.param(
        "a: 'abc\n",
        "f.yaml:1:4: invalid YAML: a quoted value whose ' is never closed; add the closing '",
        id="unclosed-single-quote",
    ),
    pytest.param(
        "a: [1, 2\n",
        "f.yaml:1:4: invalid YAML: a '[' that is never closed; close it with ']', or quote the "
        "value if the bracket is text",
        id="unclosed-bracket",
    ),
    pytest.param(
        "a: {b: 1\nc: 2\n",
        "f.yaml:2:2: invalid YAML: a missing ',' or '}' in the '{' opened at line 1; "
        "separate its items with ', ' and close it with '}'",
        id="unclosed-brace-before-key",
    ),
    pytest.param(
        "a: {b: 1 c: 2}\n",
        "f.yaml:1:11: invalid YAML: a missing ',' or '}' in the '{' opened at line 1; "
        "separate its items with ', ' and close it with '}'",
        id="missing-comma",
    ),
    pytest.param(
        "a: [1, 2}\n",
        "f.yaml:1:9: invalid YAML: '}' where the '[' opened at line 1 needs ']'; close it with ']'",
        id="wrong-closer",
    ),
    pytest.param(
        "r: {url: ${HOST}/x}\n",
        "f.yaml:1:11: invalid YAML: a '{' inside a value of the '{' opened at line 1; "
        "quote that value",
        id="variable-in-flow",
    ),
    pytest.param(
        "name: [\n",
        "f.yaml:2:1: invalid YAML: the file ends inside an unclosed '[' or '{'; close it, or "
        "quote the value if the bracket is text",
        id="file-ends-in-bracket",
    ),
    pytest.param(
        "a: @home\n",
        "f.yaml:1:4: invalid YAML: a value cannot start with '@' (YAML reserves it); "
        "quote the value",
        id="reserved-at",
    ),
    pytest.param(
        "a: %x\n",
        "f.yaml:1:4: invalid YAML: a value cannot start with '%' (it starts a YAML directive); "
        "quote the value",
        id="directive-percent",
    ),
    pytest.param(
        'a: "C:\\dir"\n',
        "f.yaml:1:8: invalid YAML: '\\d' is not an escape in a double-quoted value; "
        "write '\\\\' for a backslash, or use single quotes",
        id="unknown-escape",
    ),
    pytest.param(
        'a: "\\u00"\n',
        "f.yaml:1:7: invalid YAML: an escape that needs 4 hexadecimal digits; "
        "complete it (\\u00e9), or use single quotes",
        id="short-unicode-escape",
    ),
    pytest.param(
        "a: *nope\n",
        "f.yaml:1:4: invalid YAML: '*nope' refers to no anchor '&nope' above it; "
        "define &nope before it, or quote the value if the '*' is text",
        id="undefined-alias",
    ),
    pytest.param(
        "a: & x\n",
        "f.yaml:1:4: invalid YAML: '&' without a name right after it (it starts an anchor); "
        "quote the value if the '&' is text",
        id="nameless-anchor",
    ),
    pytest.param(
        "a: &x 1\nb: &x 2\n",
        "f.yaml:2:4: invalid YAML: the anchor '&x' is defined twice (first at line 1); "
        "rename one of them",
        id="duplicate-anchor",
    ),
    pytest.param(
        "a: 1\n---\nb: 2\n",
        "f.yaml:2:1: invalid YAML: a second document after '---' (a scenario file holds one); "
        "remove the '---', or move what follows to a file of its own",
        id="second-document",
    ),
    pytest.param(
        "a: |x\n  b\n",
        "f.yaml:1:5: invalid YAML: text on the same line after '|'; start the text on the "
        "next line, indented",
        id="text-after-block-indicator",
    ),
    pytest.param(
        "a: - b\n",
        "f.yaml:1:4: invalid YAML: a list item ('- ') on the same line as its key; start the "
        "list on the next line, indented, or write it as [a, b]",
        id="list-on-key-line",
    ),
    pytest.param(
        # Not one of the usual mistakes: PyYAML's own words, still one line at its position.
        "a: !<x y\n",
        "f.yaml:1:7: invalid YAML: expected '>', but found ' ' (while parsing a tag at line 1); "
        "check indentation and quoting",
        id="other-pyyaml-error",
    ),
    pytest.param(
        "a: ok\nb: x\x07y\n",
        "f.yaml:2:5: invalid YAML: unacceptable character #x0007: special characters are "
        "not allowed; remove it or write it as an escape",
        id="control-character",
    ),
]


@pytest.mark.parametrize(("text", "message"), SYNTAX_ERRORS)
def test_syntax_error_is_one_line_in_plain_words(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_yaml(path, environ={})
    assert [str(p) for p in info.value.problems] == [message.replace(F, str(path), 1)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "d: 2024-13-01\n",
            "f.yaml:1:4: d: cannot read '2024-13-01': month must be in 1..12; "
            "quote it to keep it as text",
        ),
        (
            "a:\n  n: !!int x\n",
            "f.yaml:2:6: a.n: cannot read 'x': invalid literal for int() with base 10: 'x'; "
            "quote it to keep it as text",
        ),
        (
            "d: !!python/object:os.system x\n",
            "f.yaml:1:4: d: invalid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'; quote the value to keep it as text",
        ),
    ],
)
def test_unreadable_values(text: str, message: str) -> None:
    assert error_of(text) == message


def test_dates_stay_dates_here() -> None:
    # Turning them into text is the scenario model's job (JSON bodies, params).
    import datetime

    assert parse_yaml("d: 2024-01-31\n", F, environ={}).data == {"d": datetime.date(2024, 1, 31)}


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(text: str) -> None:
    assert error_of(text) == "f.yaml:1:1: the file is empty; see scenarios/ for examples"


def test_load_yaml_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("a:\n  b: ${B:-x}\n", encoding="utf-8")
    doc = load_yaml(path, environ={})
    assert doc.data == {"a": {"b": "x"}}
    assert doc.file == str(path)
    assert doc.value_positions[("a", "b")] == Location(str(path), 2, 6)


def test_load_yaml_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("a: 1\na: 2\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_yaml(path, environ={})
    assert str(info.value) == (
        f"{path}:2:1: a: duplicate key 'a' (first given at line 1); remove one of them"
    )


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as info:
        load_yaml(path, environ={})
    assert str(info.value) == f"{path}:1:1: file not found; check the path"


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ScenarioError) as info:
        load_yaml(path, environ={})
    assert str(info.value) == (
        f"{path}:1:1: cannot read file: 'utf-8' codec can't decode byte 0xe9 in position 9: "
        "invalid continuation byte"
    )
