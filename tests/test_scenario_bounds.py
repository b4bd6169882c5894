# ruff: noqa: E501  (pinned one-line messages are long by design)
"""Scenario input that would cost far more than it looks, read what it should not, or pass
validation and then fail at run time: each is refused with one exact line (issue 10, 5-7)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers import run_loadkit

from loadkit.errors import ScenarioError
from loadkit.scenario import limits, load_scenario

BASE = """\
name: bounds
host: http://127.0.0.1:8080
load: {users: 2, spawn_rate: 1, duration: 5s}
users:
  - name: u
    tasks:
      - request: {url: /x}
"""


def error(tmp_path: Path, text: str, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, environ={})
    message = str(caught.value)
    assert all(len(str(p).splitlines()) == 1 for p in caught.value.problems)
    return message.replace(str(tmp_path.resolve()), "TMP").replace(str(tmp_path), "TMP")


def billion_laughs() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- 5: tiny files, huge cost


def test_an_alias_bomb_stops_at_the_limit(tmp_path: Path) -> None:
    bomb = billion_laughs()
    assert len(bomb) < 500
    assert error(tmp_path, bomb) == (
        "TMP/s.yaml:6:1: f[0]: aliases expand to more than 100,000 values in all; "
        "repeat less through anchors and aliases"
    )


def test_an_alias_bomb_exits_2_quickly_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    started = time.monotonic()
    result = run_loadkit("validate", str(path), timeout=60)
    assert time.monotonic() - started < 10  # 72 s and 3.6 GB before
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "aliases expand to more than 100,000 values" in result.stderr


def test_long_text_repeated_by_aliases_stops_at_the_limit(tmp_path: Path) -> None:
    text = f'big: &big "{"x" * 200_000}"\nmany: [' + ", ".join(["*big"] * 60) + "]\n"
    assert error(tmp_path, text) == (
        "TMP/s.yaml:2:1: many[52]: aliases expand to more than 10 MB of text in all; "
        "repeat less through anchors and aliases"
    )


def test_aliases_and_merges_below_the_limit_still_work(tmp_path: Path) -> None:
    text = (
        BASE
        + "variables:\n  base: &base {a: 1, b: [1, 2, 3]}\n  copy: {<<: *base, c: 2}\n  again: *base\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(text)
    scenario = load_scenario(path, environ={})
    assert scenario.variables["copy"] == {"a": 1, "b": [1, 2, 3], "c": 2}
    assert scenario.variables["again"] == {"a": 1, "b": [1, 2, 3]}


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        (51, "TMP/s.yaml:1:54: a: values nest more than 50 levels deep; flatten this value"),
        # libyaml refuses more than 1,000 levels; PyYAML, which words the error, stops at 50
        (5000, "TMP/s.yaml:1:1003: values nest more than 50 levels deep; flatten this value"),
    ],
)
def test_deep_nesting_is_refused(tmp_path: Path, levels: int, expected: str) -> None:
    assert error(tmp_path, "a: " + "[" * levels + "]" * levels + "\n") == expected


def test_fifty_levels_are_fine(tmp_path: Path) -> None:
    nested = "[" * 47 + "1" + "]" * 47  # variables.deep and 48 more levels
    path = tmp_path / "s.yaml"
    path.write_text(BASE + f"variables: {{deep: {nested}}}\n")
    assert load_scenario(path, environ={}).variables["deep"]


def test_deep_block_nesting_is_refused(tmp_path: Path) -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(60)) + "  " * 60 + "x: 1\n"
    assert error(tmp_path, text) == (
        "TMP/s.yaml:52:103: k0: values nest more than 50 levels deep; flatten this value"
    )


def test_deep_nesting_through_aliases_is_refused(tmp_path: Path) -> None:
    level = "[" * 30 + "1" + "]" * 30
    text = f"a: &a {level}\nb: &b [{'[' * 29}*a{']' * 29}]\n"
    assert error(tmp_path, text) == (
        "TMP/s.yaml:1:27: b: values nest more than 50 levels deep; flatten this value"
    )


def test_a_data_file_that_never_ends_is_refused(tmp_path: Path) -> None:
    text = BASE + "files: {allow_outside: [/dev]}\ndata:\n  rows: {file: /dev/zero, format: csv}\n"
    assert error(tmp_path, text) == (
        "TMP/s.yaml:10:16: data.rows.file: data file '/dev/zero' is a character device, "
        "not a regular file; give a file"
    )


def test_a_fifo_as_data_file_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "rows.csv")
    text = BASE + "data:\n  rows: {file: rows.csv}\n"
    (tmp_path / "s.yaml").write_text(text)
    started = time.monotonic()
    result = run_loadkit("validate", str(tmp_path / "s.yaml"), timeout=60)
    assert time.monotonic() - started < 10
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip().replace(str(tmp_path), "TMP") == (
        "loadkit: error: TMP/s.yaml:9:16: data.rows.file: data file 'TMP/rows.csv' is a "
        "FIFO (named pipe), not a regular file; give a file"
    )


def test_a_fifo_as_the_scenario_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "s.yaml")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "s.yaml", environ={})
    assert str(caught.value).replace(str(tmp_path), "TMP") == (
        "TMP/s.yaml:1:1: the scenario is a FIFO (named pipe), not a regular file; give a file"
    )


def test_a_directory_as_data_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rows").mkdir()
    text = BASE + "data:\n  rows: {file: rows, format: csv}\n"
    assert error(tmp_path, text) == (
        "TMP/s.yaml:9:16: data.rows.file: data file 'TMP/rows' is a directory, "
        "not a regular file; give a file"
    )


def test_a_data_file_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    with (tmp_path / "rows.csv").open("wb") as file:
        file.truncate(limits.MAX_DATA_BYTES + 1)  # sparse: nothing is written
    text = BASE + "data:\n  rows: {file: rows.csv}\n"
    assert error(tmp_path, text) == (
        "TMP/s.yaml:9:16: data.rows.file: data file 'TMP/rows.csv' is larger than 50 MB "
        "(50 MB); its rows are embedded in the locustfile every worker receives: use fewer rows"
    )


def test_a_scenario_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    with path.open("wb") as file:
        file.truncate(limits.MAX_SCENARIO_BYTES + 1)
    result = run_loadkit("validate", str(path), timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip().replace(str(tmp_path), "TMP") == (
        "loadkit: error: TMP/s.yaml:1:1: the scenario is larger than 10 MB (10 MB); "
        "split it into several scenarios"
    )


def test_a_ca_bundle_that_is_a_device_is_refused(tmp_path: Path) -> None:
    text = BASE + "files: {allow_outside: [/dev]}\ntls: {ca_bundle: /dev/zero}\n"
    assert error(tmp_path, text) == (
        "TMP/s.yaml:9:18: tls.ca_bundle: CA bundle '/dev/zero' is a character device, "
        "not a regular file; give a file"
    )


def megabyte_scenario() -> str:
    parts = [BASE.rstrip("\n")]
    size, i = len(BASE), 0
    while size < 1_000_000:
        part = f"""\
      - name: task {i}
        weight: 2
        request:
          method: POST
          url: /api/items/{i}
          headers: {{X-Trace: "t{i}"}}
          json: {{id: {i}, tags: [a, b, c], note: "hello {i}"}}
        expect: {{status: [200, 201], json: {{$.id: {i}}}}}"""
        parts.append(part)
        size += len(part) + 1
        i += 1
    return "\n".join(parts) + "\n"


def test_a_one_megabyte_scenario_validates(tmp_path: Path) -> None:
    # Its speed (well under a second) is measured in benchmarks/README.md, not asserted here.
    path = tmp_path / "s.yaml"
    path.write_text(megabyte_scenario())
    assert path.stat().st_size >= 1_000_000
    scenario = load_scenario(path, environ={})
    assert len(scenario.users[0].tasks) > 3000


# ------------------------------------------------------ 6: files outside the scenario's folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A scenario folder `tmp/scenario`, and a data file next to it, outside it."""
    (tmp_path / "scenario").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "rows.csv").write_text("id\n1\n")
    return tmp_path / "scenario"


def test_a_data_file_outside_the_folder_is_refused(outside: Path) -> None:
    text = BASE + "data:\n  rows: {file: ../shared/rows.csv}\n"
    assert error(outside, text).replace(str(outside.parent.resolve()), "ROOT") == (
        "TMP/s.yaml:9:16: data.rows.file: data file '../shared/rows.csv' resolves to "
        "'ROOT/shared/rows.csv', outside the scenario's folder 'TMP'; move it into the folder, "
        "or allow its folder explicitly: files: {allow_outside: [ROOT/shared]}"
    )


def test_etc_is_outside_too(tmp_path: Path) -> None:
    text = BASE + "data:\n  rows: {file: ../../../../../../../../etc/hostname, format: csv}\n"
    message = error(tmp_path, text)
    assert message.startswith("TMP/s.yaml:9:16: data.rows.file: data file '../../")
    assert "outside the scenario's folder 'TMP'" in message


def test_a_folder_allowed_explicitly_may_be_read(outside: Path) -> None:
    path = outside / "s.yaml"
    path.write_text(
        BASE + "files: {allow_outside: [../shared]}\ndata:\n  rows: {file: ../shared/rows.csv}\n"
    )
    assert load_scenario(path, environ={}).tables["rows"].rows == (("1",),)


def test_an_allowed_folder_does_not_open_its_parent(outside: Path) -> None:
    (outside.parent / "secret.csv").write_text("key\nx\n")
    text = (
        BASE
        + "files: {allow_outside: [../shared]}\ndata:\n  rows: {file: ../shared/../secret.csv}\n"
    )
    assert "outside the scenario's folder" in error(outside, text)


def test_an_allowed_folder_must_exist(outside: Path) -> None:
    text = BASE + "files: {allow_outside: [../nowhere]}\n"
    assert error(outside, text).replace(str(outside.parent.resolve()), "ROOT") == (
        "TMP/s.yaml:8:25: files.allow_outside[0]: '../nowhere' resolves to 'ROOT/nowhere', "
        "which is not a folder; give a folder (relative to the scenario, or absolute)"
    )


def test_a_symlink_that_points_outside_is_refused(outside: Path) -> None:
    (outside / "rows.csv").symlink_to(outside.parent / "shared" / "rows.csv")
    text = BASE + "data:\n  rows: {file: rows.csv}\n"
    message = error(outside, text).replace(str(outside.parent.resolve()), "ROOT")
    assert message == (
        "TMP/s.yaml:9:16: data.rows.file: data file 'rows.csv' resolves to "
        "'ROOT/shared/rows.csv', outside the scenario's folder 'TMP'; move it into the folder, "
        "or allow its folder explicitly: files: {allow_outside: [ROOT/shared]}"
    )


def test_a_symlink_inside_the_folder_is_fine(outside: Path) -> None:
    (outside / "data").mkdir()
    (outside / "data" / "rows.csv").write_text("id\n2\n")
    (outside / "rows.csv").symlink_to(outside / "data" / "rows.csv")
    path = outside / "s.yaml"
    path.write_text(BASE + "data:\n  rows: {file: rows.csv}\n")
    assert load_scenario(path, environ={}).tables["rows"].rows == (("2",),)


def test_tls_files_outside_the_folder_are_refused(outside: Path) -> None:
    (outside.parent / "shared" / "ca.pem").write_text("not read\n")
    text = BASE + "tls: {ca_bundle: ../shared/ca.pem}\n"
    message = error(outside, text)
    assert message.startswith(
        "TMP/s.yaml:8:18: tls.ca_bundle: ca_bundle '../shared/ca.pem' resolves to '"
    )
    assert message.endswith("/shared]}")


def test_an_included_locustfile_outside_the_folder_is_refused(outside: Path) -> None:
    (outside.parent / "shared" / "legacy.py").write_text("")
    text = BASE + "include:\n  - {locustfile: ../shared/legacy.py, users: [Legacy]}\n"
    message = error(outside, text)
    assert message.startswith(
        "TMP/s.yaml:9:18: include[0].locustfile: locustfile '../shared/legacy.py' resolves to '"
    )


# ------------------------------------------------------------ 7: values that cannot run

VALUES = [
    (
        "duration-overflow",
        "duration: 5s",
        "duration: 99999999999999999999h",
        "s.yaml:3:43: load.duration: duration '99999999999999999999h' is longer than 720h (30 days), the longest loadkit runs or waits; give a shorter one",
    ),
    (
        "stages-too-long-in-all",
        "{users: 2, spawn_rate: 1, duration: 5s}",
        "{stages: [{users: 1, duration: 700h}, {users: 2, duration: 700h}]}",
        "s.yaml:3:7: load: the load lasts 1400h in all, longer than 720h (30 days); shorten it",
    ),
    (
        "timeout-zero",
        "users:\n",
        "defaults: {timeout: 0}\nusers:\n",
        "s.yaml:4:21: defaults.timeout: a timeout of 0 fails every request; give one above 0, e.g. 10s",
    ),
    (
        "max-ms-zero",
        "{url: /x}",
        "{url: /x}\n        expect: {max_ms: 0}",
        "s.yaml:8:26: users[0].tasks[0].expect.max_ms: max_ms 0 fails every request; give a time above 0, e.g. 200",
    ),
    (
        "header-crlf",
        "{url: /x}",
        '{url: /x, headers: {X-A: "a\\r\\nX-Injected: 1"}}',
        "s.yaml:7:43: users[0].tasks[0].request.headers.X-A: holds the control character '\\r' at position 1, which would break the request (header injection); remove it",
    ),
    (
        "header-nul",
        "users:\n",
        'defaults: {headers: {X-A: "a\\0"}}\nusers:\n',
        "s.yaml:4:27: defaults.headers.X-A: holds the control character '\\x00' at position 1, which would break the request (header injection); remove it",
    ),
    (
        "header-name-crlf",
        "  - name: u\n",
        '  - name: u\n    headers: {"X-A\\r\\nX-B": v}\n',
        "s.yaml:6:29: users[0].headers.X-A\\r\\nX-B: header name 'X-A\\r\\nX-B' may hold only letters, digits and !#$%&'*+-.^_`|~ (no spaces, ':' or control characters); fix the name",
    ),
    (
        "header-name-colon",
        "  - name: u\n",
        '  - name: u\n    headers: {"X-A: b": v}\n',
        "s.yaml:6:25: users[0].headers.X-A: b: header name 'X-A: b' may hold only letters, digits and !#$%&'*+-.^_`|~ (no spaces, ':' or control characters); fix the name",
    ),
    (
        "bearer-newline",
        "{url: /x}",
        '{url: /x, auth: {bearer: "t\\nX-Injected: 1"}}',
        "s.yaml:7:43: users[0].tasks[0].request.auth.bearer: holds the control character '\\n' at position 1, which would break the request (header injection); remove it",
    ),
    (
        "url-crlf",
        "{url: /x}",
        '{url: "/x HTTP/1.1\\r\\nHost: evil\\r\\n\\r\\nGET /"}',
        "s.yaml:7:24: users[0].tasks[0].request.url: holds the control character '\\r' at position 11, which would break the request (header injection); remove it",
    ),
    (
        "users-true",
        "users: 2,",
        "users: true,",
        "s.yaml:3:15: load.users: expected a whole number, got true",
    ),
    (
        "users-1e29",
        "users: 2,",
        "users: 100000000000000000000000000000,",
        "s.yaml:3:15: load.users: must be less than or equal to 1000000, got 100000000000000000000000000000",
    ),
    (
        "users-float-1e29",
        "users: 2,",
        "users: 1.0e+29,",
        "s.yaml:3:15: load.users: unable to parse input string as an integer, exceeded maximum size, got 1e+29",
    ),
    (
        "spawn-rate-true",
        "spawn_rate: 1",
        "spawn_rate: true",
        "s.yaml:3:30: load.spawn_rate: expected a number, got true",
    ),
    (
        "spawn-rate-inf",
        "spawn_rate: 1",
        "spawn_rate: .inf",
        "s.yaml:3:30: load.spawn_rate: must be less than or equal to 1000000, got inf",
    ),
    (
        "spawn-rate-nan",
        "spawn_rate: 1",
        "spawn_rate: .nan",
        "s.yaml:3:30: load.spawn_rate: must be greater than 0, got nan",
    ),
    (
        "spawn-rate-huge",
        "spawn_rate: 1",
        "spawn_rate: 1.0e+12",
        "s.yaml:3:30: load.spawn_rate: must be less than or equal to 1000000, got 1000000000000.0",
    ),
    (
        "stage-users-bool",
        "{users: 2, spawn_rate: 1, duration: 5s}",
        "{stages: [{users: false, duration: 5s}]}",
        "s.yaml:3:25: load.stages[0].users: expected a whole number, got false",
    ),
    (
        "task-weight-huge",
        "      - request: {url: /x}",
        "      - weight: 1000000000\n        request: {url: /x}",
        "s.yaml:7:17: users[0].tasks[0].weight: must be less than or equal to 10000, got 1000000000",
    ),
    (
        "task-weight-negative",
        "      - request: {url: /x}",
        "      - weight: -3\n        request: {url: /x}",
        "s.yaml:7:17: users[0].tasks[0].weight: must be greater than or equal to 1, got -3",
    ),
    (
        "user-weight-bool",
        "  - name: u\n",
        "  - name: u\n    weight: true\n",
        "s.yaml:6:13: users[0].weight: expected a whole number, got true",
    ),
    (
        "loop-count-bool",
        "      - request: {url: /x}",
        "      - request: {url: /x}\n        loop: {count: true}",
        "s.yaml:8:23: users[0].tasks[0].loop.count: expected a whole number, got true",
    ),
    (
        "step-ramp-too-many-steps",
        "{users: 2, spawn_rate: 1, duration: 5s}",
        "{step: {start: 1, step: 1, every: 1s, until: 100000}}",
        "s.yaml:3:14: load.step: this ramp has 100000 steps, more than 1000; take bigger steps or stop earlier",
    ),
    (
        "nested-reference",
        "{url: /x}",
        '{url: "/x/${A:-${B}}"}',
        "s.yaml:7:24: users[0].tasks[0].request.url: nested references are not supported (the default of ${A} holds '${'); give a plain default",
    ),
    (
        "name-too-long",
        "name: bounds",
        "name: " + "a" * 101,
        "s.yaml:1:7: name: is 101 characters long; the run folder is named after it, so give at most 100 (put the rest in description)",
    ),
    (
        "lone-surrogate",
        "{url: /x}",
        '{url: /x, json: {a: "\\ud800"}}',
        "s.yaml:7:38: users[0].tasks[0].request.json.a: '\\ud800' holds a lone surrogate ('\\ud800'-'\\udfff'), which is not a character; write the character itself or its \\U escape",
    ),
    (
        "binary-json",
        "{url: /x}",
        "{url: /x, json: !!binary aGVsbG8=}",
        "s.yaml:7:34: users[0].tasks[0].request.json: binary data (!!binary) cannot be sent as JSON; give it as text",
    ),
    (
        "number-of-a-thousand-digits",
        "{url: /x}",
        "{url: /x, json: 0x" + "f" * 1000 + "}",
        "s.yaml:7:34: users[0].tasks[0].request.json: '0xffffffffffffffffffffffffffffffffffffffffffffffffffff...' is a number of more than 100 digits; quote it to keep it as text",
    ),
    (
        "key-with-a-line-break",
        "{url: /x}",
        '{url: /x, "sp\\nam": 1}',
        "s.yaml:7:28: users[0].tasks[0].request.sp\\nam: unknown key 'sp\\nam' (allowed: method, url, name, params, headers, json, body, form, auth)",
    ),
]


@pytest.mark.parametrize(("label", "old", "new", "expected"), VALUES, ids=[v[0] for v in VALUES])
def test_a_value_that_cannot_run_is_refused(
    tmp_path: Path, label: str, old: str, new: str, expected: str
) -> None:
    assert old in BASE
    assert error(tmp_path, BASE.replace(old, new, 1)) == "TMP/" + expected


def test_a_name_that_slugifies_to_nothing_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(BASE.replace("name: bounds", 'name: "日本語 — ✓"'))
    assert load_scenario(path, environ={}).name == "日本語 — ✓"


@pytest.mark.parametrize(
    "label", ["duration-overflow", "header-crlf", "users-true", "nested-reference"]
)
def test_through_the_cli_each_is_one_line_and_exit_2(tmp_path: Path, label: str) -> None:
    _, old, new, expected = next(v for v in VALUES if v[0] == label)
    path = tmp_path / "s.yaml"
    path.write_text(BASE.replace(old, new, 1))
    result = run_loadkit("validate", str(path), timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.replace(str(tmp_path) + "/", "") == f"loadkit: error: {expected}\n"
