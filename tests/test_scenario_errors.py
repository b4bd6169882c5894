# ruff: noqa: E501  (pinned one-line messages are long by design)
"""Every invalid scenario fails with exact one-line messages: each construct of the language
(captures, data, flows, ...) given bad input, then the model's keys and values one by one
(unknown keys with did-you-mean, missing keys, several problems in file order)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_scenario import BASE, swap, validate

from loadkit.errors import ScenarioError
from loadkit.scenario import load_scenario

CONSTRUCTS = """\
name: lang
host: http://127.0.0.1:8080
load: {users: 2, spawn_rate: 1, duration: 5s}
variables: {region: "01"}
data:
  people: {file: people.csv, order: unique}
users:
  - name: u
    data: people
    on_start:
      - request: {method: POST, url: /api/login, json: {username: "{{ username }}"}}
        capture: {token: $.token}
    tasks:
      - name: flow
        flow:
          - request: {url: "/api/cases/{{ region }}"}
            expect: {status: 200, json: {$.id: 1}}
            think_time: {between: [0.1, 0.2]}
          - request: {url: /api/me, auth: {bearer: "{{ token }}"}}
"""

CASES = [
    (
        "capture-two-kinds",
        "capture: {token: $.token}",
        "capture: {token: {json: $.token, header: X}}",
        "s.yaml:12:26: users[0].on_start[0].capture.token: give exactly one of json: $.path, regex: 'id=(\\d+)', header: Name (got json, header)",
    ),
    (
        "capture-bad-path",
        "capture: {token: $.token}",
        'capture: {token: "$.items[*].id"}',
        "s.yaml:12:26: users[0].on_start[0].capture.token: cannot read JSON path '$.items[*].id' at '[*].id'; use $.key, $.list[0] or $['key with spaces'] (no wildcards or filters)",
    ),
    (
        "capture-bad-regex",
        "capture: {token: $.token}",
        "capture: {token: {regex: 'id=(\\d+'}}",
        "s.yaml:12:26: users[0].on_start[0].capture.token: invalid regular expression 'id=(\\\\d+': missing ), unterminated subpattern at position 3",
    ),
    (
        "capture-not-mapping",
        "capture: {token: $.token}",
        "capture: {token: 42}",
        "s.yaml:12:26: users[0].on_start[0].capture.token: expected a mapping (key: value), got 42",
    ),
    (
        "unknown-variable",
        '"{{ token }}"',
        '"{{ tokn }}"',
        "s.yaml:19:52: users[0].tasks[0].flow[1].request.auth.bearer: no variable is named 'tokn'; did you mean 'token'? (variable names: password, region, token, user_id, username)",
    ),
    (
        "bad-template",
        '"/api/cases/{{ region }}"',
        '"/api/cases/{{ region-id }}"',
        "s.yaml:16:28: users[0].tasks[0].flow[0].request.url: invalid template '{{ region-id }}'; write {{ name }} with a variable name (letters, digits, _) or {{ env.NAME }} (a literal {{ is written {{ '{{' }})",
    ),
    (
        "unclosed-template",
        '"/api/cases/{{ region }}"',
        '"/api/cases/{{ region"',
        "s.yaml:16:28: users[0].tasks[0].flow[0].request.url: unclosed '{{' in template; close it with '}}' (a literal {{ is written {{ '{{' }})",
    ),
    (
        "unknown-data-source",
        "    data: people",
        "    data: peple",
        "s.yaml:9:11: users[0].data: no data source is named 'peple'; did you mean 'people'? (data source names: people)",
    ),
    (
        "data-missing-file",
        "{file: people.csv, order: unique}",
        "{file: nobody.csv, order: unique}",
        "s.yaml:6:18: data.people.file: data file 'nobody.csv' not found; paths are relative to the scenario",
    ),
    (
        "data-unique-cycle",
        "{file: people.csv, order: unique}",
        "{file: people.csv, order: unique, on_exhausted: cycle}",
        "s.yaml:6:11: data.people: unique rows cannot cycle; use on_exhausted: stop_user or fail",
    ),
    (
        "data-bad-order",
        "{file: people.csv, order: unique}",
        "{file: people.csv, order: shuffled}",
        "s.yaml:6:37: data.people.order: expected one of 'sequential', 'random' or 'unique', got 'shuffled'",
    ),
    (
        "data-format",
        "{file: people.csv, order: unique}",
        "{file: people.txt}",
        "s.yaml:6:11: data.people: cannot tell the format from the file name; add format: csv or jsonl",
    ),
    (
        "json-path-check",
        "json: {$.id: 1}",
        "json: {id: 1}",
        "s.yaml:17:41: users[0].tasks[0].flow[0].expect.json: JSON path 'id' must start with '$', e.g. $.token or $.items[0].id",
    ),
    (
        "expect-empty",
        "expect: {status: 200, json: {$.id: 1}}",
        "expect: {}",
        "s.yaml:17:21: users[0].tasks[0].flow[0].expect: give at least one check: status, json, json_exists, body_contains, body_matches, headers, max_ms",
    ),
    (
        "bad-regex-check",
        "expect: {status: 200, json: {$.id: 1}}",
        "expect: {body_matches: '(['}",
        "s.yaml:17:36: users[0].tasks[0].flow[0].expect.body_matches: invalid regular expression '([': unterminated character set at position 1",
    ),
    (
        "step-pacing",
        "think_time: {between: [0.1, 0.2]}",
        "think_time: {pacing: 1s}",
        "s.yaml:18:25: users[0].tasks[0].flow[0].think_time: pacing applies to whole tasks; after a step use constant or between",
    ),
    (
        "task-two-kinds",
        "      - name: flow\n        flow:",
        "      - name: flow\n        python: a.b:c\n        flow:",
        "s.yaml:14:9: users[0].tasks[0]: give exactly one of request, flow, python (got flow, python)",
    ),
    (
        "task-none",
        '      - name: flow\n        flow:\n          - request: {url: "/api/cases/{{ region }}"}\n            expect: {status: 200, json: {$.id: 1}}\n            think_time: {between: [0.1, 0.2]}\n          - request: {url: /api/me, auth: {bearer: "{{ token }}"}}',
        "      - name: flow",
        "s.yaml:14:9: users[0].tasks[0]: give exactly one of request, flow, python",
    ),
    (
        "expect-beside-flow",
        "      - name: flow\n        flow:",
        "      - name: flow\n        expect: {status: 200}\n        flow:",
        "s.yaml:14:9: users[0].tasks[0]: expect and capture go with request; inside a flow, put them on its steps",
    ),
    (
        "python-ref",
        "      - name: flow\n",
        "      - python: flows.checkout\n      - name: flow\n",
        "s.yaml:14:17: users[0].tasks[0].python: expected package.module:function, got 'flows.checkout'",
    ),
    (
        "loop-zero",
        "      - name: flow\n",
        "      - name: flow\n        loop: {count: 0}\n",
        "s.yaml:15:23: users[0].tasks[0].loop.count: must be greater than or equal to 1, got 0",
    ),
    (
        "auth-both",
        'auth: {bearer: "{{ token }}"}',
        "auth: {bearer: x, basic: {username: a, password: b}}",
        "s.yaml:19:43: users[0].tasks[0].flow[1].request.auth: give exactly one of basic: {username, password} or bearer: TOKEN",
    ),
    (
        "auth-none",
        'auth: {bearer: "{{ token }}"}',
        "auth: {}",
        "s.yaml:19:43: users[0].tasks[0].flow[1].request.auth: give exactly one of basic: {username, password} or bearer: TOKEN",
    ),
    (
        "stages-and-users",
        "load: {users: 2, spawn_rate: 1, duration: 5s}",
        "load: {users: 2, stages: [{users: 2, duration: 5s}]}",
        "s.yaml:3:7: load: give one of users + spawn_rate + duration, arrival_rate + duration + max_concurrency, stages, step, or spike (got stages, users)",
    ),
    (
        "stage-missing-duration",
        "load: {users: 2, spawn_rate: 1, duration: 5s}",
        "load: {stages: [{users: 2}]}",
        "s.yaml:3:17: load.stages[0]: required key 'duration' is missing",
    ),
    (
        "step-until",
        "load: {users: 2, spawn_rate: 1, duration: 5s}",
        "load: {step: {start: 10, step: 5, every: 10s, until: 5}}",
        "s.yaml:3:14: load.step: until (5) must be at least start (10)",
    ),
    (
        "spike-keys",
        "load: {users: 2, spawn_rate: 1, duration: 5s}",
        "load: {spike: {users: 2, peek: 20}}",
        "s.yaml:3:26: load.spike.peek: unknown key 'peek'; did you mean 'peak'? (allowed: users, peak, before, hold, after, spawn_rate)",
    ),
    (
        "secret-unset",
        '"{{ token }}"',
        '"${secret:NOT_SET_ANYWHERE}"',
        "s.yaml:19:52: users[0].tasks[0].flow[1].request.auth.bearer: secret environment variable NOT_SET_ANYWHERE is not set; export it before the run",
    ),
    (
        "env-template-unset",
        '"{{ token }}"',
        '"{{ env.NOT_SET_ANYWHERE }}"',
        "s.yaml:19:52: users[0].tasks[0].flow[1].request.auth.bearer: environment variable NOT_SET_ANYWHERE is not set (used as {{ env.NOT_SET_ANYWHERE }}); export it before the run",
    ),
    (
        "include-missing",
        "users:\n  - name: u",
        "include: [{locustfile: legacy.py, users: [Legacy]}]\nusers:\n  - name: u",
        "s.yaml:7:24: include[0].locustfile: locustfile 'legacy.py' not found; paths are relative to the scenario",
    ),
    (
        "include-bad-class",
        "users:\n  - name: u",
        "include: [{locustfile: people.csv, users: [legacy-user]}]\nusers:\n  - name: u",
        "s.yaml:7:43: include[0].users: 'legacy-user' is not a Python class name",
    ),
    (
        "variable-name",
        'variables: {region: "01"}',
        'variables: {"my region": "01"}',
        "s.yaml:4:12: variables: name 'my region' must be letters, digits and _ (not first a digit)",
    ),
]


@pytest.mark.parametrize(("label", "old", "new", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_construct(tmp_path: Path, label: str, old: str, new: str, expected: str) -> None:
    (tmp_path / "people.csv").write_text("username,password\nu1,p1\n")
    assert old in CONSTRUCTS
    path = tmp_path / "s.yaml"
    path.write_text(CONSTRUCTS.replace(old, new, 1))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, environ={})
    assert str(caught.value).replace(str(tmp_path) + "/", "") == expected
    assert "\n" not in expected


def test_the_base_scenario_is_valid(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("username,password\nu1,p1\n")
    path = tmp_path / "s.yaml"
    path.write_text(CONSTRUCTS)
    scenario = load_scenario(path, environ={})
    assert scenario.tables["people"].rows == (("u1", "p1"),)


# --- the model's keys and values, on test_scenario.BASE ------------------------------------

LOAD_KEYS = (
    "(allowed: users, spawn_rate, duration, stages, step, spike, arrival_rate, max_concurrency, "
    "spacing, max_backlog, stop_timeout)"
)
TOP_KEYS = (
    "(allowed: name, description, host, load, defaults, tls, variables, secrets, data, users, "
    "include, thresholds, observe, apdex, max_regression, files, trace)"
)
TASK_KEYS = (
    "(allowed: name, weight, request, expect, capture, flow, loop, data, python, transaction)"
)
REQUEST_KEYS = "(allowed: method, url, name, params, headers, json, body, form, auth)"
THINK_KEYS = "(allowed: between, constant, pacing)"
USER_KEYS = (
    "(allowed: name, weight, think_time, headers, auth, data, on_start, on_stop, tasks, "
    "transactions, trace)"
)
METRICS = (
    "(metrics: apdex, avg, error_rate, failures, max, median, min, p100, p50, p66, p75, p80, "
    "p90, p95, p98, p99, p99.9, p99.99, requests, rps, tps)"
)
METHODS = "'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD' or 'OPTIONS'"
DURATION_HINT = "write a duration like 500ms, 30s, 5m or 1h30m"


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        validate(text, environ)
    lines = [str(p) for p in info.value.problems]
    assert lines, "a ScenarioError carries at least one problem"
    for line in lines:
        assert "\n" not in line
    assert str(info.value) == "\n".join(lines)
    return lines


def error(text: str) -> str:
    """The one and only problem for `text`."""
    lines = problems(text)
    assert len(lines) == 1, lines
    return lines[0]


INVALID: list[tuple[str, str, str, str]] = [
    # (id, old, new, the one expected line)
    # -- unknown keys, with did-you-mean
    (
        "unknown-top-level",
        "thresholds:\n",
        "threshold:\n",
        f"s.yaml:22:1: threshold: unknown key 'threshold'; did you mean 'thresholds'? {TOP_KEYS}",
    ),
    (
        "unknown-top-level-no-suggestion",
        "thresholds:\n",
        "zzz: 1\nthresholds:\n",
        f"s.yaml:22:1: zzz: unknown key 'zzz' {TOP_KEYS}",
    ),
    (
        "unknown-load",
        "spawn_rate: 10",
        "spwan_rate: 10",
        "s.yaml:3:19: load.spwan_rate: unknown key 'spwan_rate'; did you mean 'spawn_rate'? "
        + LOAD_KEYS,
    ),
    (
        "unknown-think-time",
        "{between: [0.5, 1.5]}",
        "{betwen: [0.5, 1.5]}",
        "s.yaml:5:16: defaults.think_time.betwen: unknown key 'betwen'; did you mean 'between'? "
        + THINK_KEYS,
    ),
    (
        "unknown-task",
        "weight: 5",
        "wieght: 5",
        "s.yaml:13:9: users[0].tasks[0].wieght: unknown key 'wieght'; did you mean 'weight'? "
        + TASK_KEYS,
    ),
    (
        "unknown-request",
        "url: /api/stats}",
        "url: /api/stats, jsn: {}}",
        "s.yaml:21:49: users[1].tasks[0].request.jsn: unknown key 'jsn'; did you mean 'json'? "
        + REQUEST_KEYS,
    ),
    (
        "unknown-user",
        "    weight: 3\n",
        "    wieght: 3\n",
        "s.yaml:10:5: users[0].wieght: unknown key 'wieght'; did you mean 'weight'? " + USER_KEYS,
    ),
    # -- a misspelt required key: only the did-you-mean line, not also "missing"
    (
        "misspelt-required-top-level",
        "name: citizen-reports",
        "nme: citizen-reports",
        f"s.yaml:1:1: nme: unknown key 'nme'; did you mean 'name'? {TOP_KEYS}",
    ),
    (
        "misspelt-required-request",
        "url: /api/stats}",
        "ur: /api/stats}",
        "s.yaml:21:32: users[1].tasks[0].request.ur: unknown key 'ur'; did you mean 'url'? "
        + REQUEST_KEYS,
    ),
    (
        "misspelt-required-task",
        "      - request: {method: GET, url: /api/stats}",
        "      - reqest: {method: GET, url: /api/stats}",
        "s.yaml:21:9: users[1].tasks[0].reqest: unknown key 'reqest'; did you mean 'request'? "
        + TASK_KEYS,
    ),
    # -- missing required keys
    (
        "missing-top-level",
        "load: {users: 50, spawn_rate: 10, duration: 30s}\n",
        "",
        "s.yaml:1:1: required key 'load' is missing",
    ),
    (
        "missing-in-load",
        "users: 50, ",
        "",
        "s.yaml:3:7: load: missing users; "
        "give users + spawn_rate + duration, arrival_rate + duration + max_concurrency, "
        "stages, step, or spike, "
        "e.g. {users: 50, spawn_rate: 10, duration: 30s}",
    ),
    (
        "missing-tasks",
        "  - name: officer\n    tasks:\n      - request: {method: GET, url: /api/stats}\n",
        "  - name: officer\n",
        "s.yaml:19:5: users[1]: required key 'tasks' is missing",
    ),
    (
        "missing-url",
        "{method: GET, url: /api/stats}",
        "{method: GET}",
        "s.yaml:21:9: users[1].tasks[0].request: required key 'url' is missing",
    ),
    (
        "missing-status",
        "expect: {status: 200}",
        "expect: {}",
        "s.yaml:15:17: users[0].tasks[0].expect: give at least one check: status, json, "
        "json_exists, body_contains, body_matches, headers, max_ms",
    ),
    # -- wrong types
    (
        "load-users-text",
        "users: 50",
        "users: lots",
        "s.yaml:3:15: load.users: expected a whole number, got 'lots'",
    ),
    (
        "load-users-fraction",
        "users: 50",
        "users: 1.5",
        "s.yaml:3:15: load.users: expected a whole number, got 1.5",
    ),
    (
        "spawn-rate-text",
        "spawn_rate: 10",
        "spawn_rate: fast",
        "s.yaml:3:31: load.spawn_rate: expected a number, got 'fast'",
    ),
    (
        "load-not-a-mapping",
        "load: {users: 50, spawn_rate: 10, duration: 30s}",
        "load: [1]",
        "s.yaml:3:7: load: expected a mapping (key: value), got list",
    ),
    (
        "load-empty-value",
        "load: {users: 50, spawn_rate: 10, duration: 30s}",
        "load:",
        "s.yaml:3:6: load: expected a mapping (key: value), got None",
    ),
    (
        "tasks-not-a-list",
        "      - request: {method: GET, url: /api/stats}",
        "      request: {method: GET, url: /api/stats}",
        "s.yaml:21:7: users[1].tasks: expected a list, got dict",
    ),
    (
        "task-not-a-mapping",
        "      - request: {method: GET, url: /api/stats}",
        "      - GET /api/stats",
        "s.yaml:21:9: users[1].tasks[0]: expected a mapping (key: value), got 'GET /api/stats'",
    ),
    (
        "host-number",
        "${TARGET_HOST:-http://127.0.0.1:8080}",
        "8080",
        "s.yaml:2:7: host: expected text, got 8080",
    ),
    (
        "header-null",
        "Accept: application/json",
        "Accept: null",
        "s.yaml:7:21: defaults.headers.Accept: expected text, got None",
    ),
    (
        "status-text",
        "status: [200, 201]",
        "status: ok",
        "s.yaml:18:26: users[0].tasks[1].expect.status: expected a status code or a list of them, "
        "e.g. 201 or [200, 204] (got 'ok')",
    ),
    # -- out of range
    (
        "load-users-negative",
        "users: 50",
        "users: -5",
        "s.yaml:3:15: load.users: must be greater than 0, got -5",
    ),
    (
        "spawn-rate-zero",
        "spawn_rate: 10",
        "spawn_rate: 0",
        "s.yaml:3:31: load.spawn_rate: must be greater than 0, got 0",
    ),
    (
        "status-999",
        "status: [200, 201]",
        "status: [200, 999]",
        "s.yaml:18:32: users[0].tasks[1].expect.status[1]: "
        "must be less than or equal to 599, got 999",
    ),
    (
        "status-99-alone",
        "status: 200",
        "status: 99",
        "s.yaml:15:26: users[0].tasks[0].expect.status: "
        "must be greater than or equal to 100, got 99",
    ),
    (
        "status-empty",
        "status: [200, 201]",
        "status: []",
        "s.yaml:18:26: users[0].tasks[1].expect.status: needs at least 1 item(s)",
    ),
    (
        "task-weight-zero",
        "weight: 5",
        "weight: 0",
        "s.yaml:13:17: users[0].tasks[0].weight: must be greater than or equal to 1, got 0",
    ),
    # -- durations
    (
        "duration-text",
        "duration: 30s",
        "duration: 30 sec",
        f"s.yaml:3:45: load.duration: invalid duration '30 sec'; {DURATION_HINT}",
    ),
    (
        "duration-fractional",
        "duration: 30s",
        "duration: 1500ms",
        "s.yaml:3:45: load.duration: must be a whole number of seconds, at least 1s "
        "(got 1.5s); e.g. 30s or 5m",
    ),
    (
        "duration-zero",
        "duration: 30s",
        "duration: 0s",
        "s.yaml:3:45: load.duration: must be a whole number of seconds, at least 1s "
        "(got 0s); e.g. 30s or 5m",
    ),
    (
        "duration-infinite",
        "duration: 30s",
        "duration: .inf",
        f"s.yaml:3:45: load.duration: expected a finite duration, got inf; {DURATION_HINT}",
    ),
    (
        "duration-repeated-unit",
        "duration: 30s",
        "duration: 1s1s",
        f"s.yaml:3:45: load.duration: unit 's' appears twice in duration '1s1s'; {DURATION_HINT}",
    ),
    (
        "timeout-negative",
        "timeout: 10s",
        "timeout: -1",
        "s.yaml:6:12: defaults.timeout: duration must not be negative, got -1",
    ),
    # -- think time
    (
        "think-time-two-kinds",
        "{between: [0.5, 1.5]}",
        "{between: [0.5, 1.5], constant: 1}",
        "s.yaml:5:15: defaults.think_time: give exactly one of between: [min, max], "
        "constant: 1s, pacing: 2s (got between, constant)",
    ),
    (
        "think-time-none",
        "{between: [0.5, 1.5]}",
        "{}",
        "s.yaml:5:15: defaults.think_time: give exactly one of between: [min, max], "
        "constant: 1s, pacing: 2s",
    ),
    (
        "think-time-min-over-max",
        "{between: [0.5, 1.5]}",
        "{between: [2s, 1s]}",
        "s.yaml:5:15: defaults.think_time: between: [min, max] needs min <= max (got [2s, 1s])",
    ),
    (
        "think-time-between-one-item",
        "{between: [0.5, 1.5]}",
        "{between: [0.5]}",
        "s.yaml:5:25: defaults.think_time.between: expected two durations [min, max], "
        "got 1 item(s)",
    ),
    (
        "think-time-between-three-items",
        "{between: [0.5, 1.5]}",
        "{between: [0.5, 1, 2]}",
        "s.yaml:5:25: defaults.think_time.between: expected two durations [min, max], "
        "got 3 item(s)",
    ),
    (
        "think-time-between-not-a-list",
        "{between: [0.5, 1.5]}",
        "{between: 1s}",
        "s.yaml:5:25: defaults.think_time.between: expected a list, got '1s'",
    ),
    (
        "think-time-bad-shorthand",
        "    weight: 3\n",
        "    weight: 3\n    think_time: fast\n",
        f"s.yaml:11:17: users[0].think_time: invalid duration 'fast'; {DURATION_HINT}",
    ),
    # -- requests
    (
        "bad-method",
        "method: GET, url: /api/cases",
        "method: FETCH, url: /api/cases",
        f"s.yaml:14:27: users[0].tasks[0].request.method: expected one of {METHODS}, got 'FETCH'",
    ),
    (
        "method-number",
        "method: GET, url: /api/stats",
        "method: 5, url: /api/stats",
        f"s.yaml:21:27: users[1].tasks[0].request.method: expected one of {METHODS}, got 5",
    ),
    (
        "bad-url",
        "url: /api/stats",
        "url: api/stats",
        "s.yaml:21:37: users[1].tasks[0].request.url: expected a path starting with '/' or an "
        "http(s):// URL, got 'api/stats'",
    ),
    (
        "two-bodies",
        "json: {symptoms: [fever]}",
        "json: {symptoms: [fever]}, body: x",
        "s.yaml:17:18: users[0].tasks[1].request: give only one of json, body, form "
        "(got json, body)",
    ),
    (
        "json-and-form",
        "json: {symptoms: [fever]}",
        "json: {symptoms: [fever]}, form: {a: b}",
        "s.yaml:17:18: users[0].tasks[1].request: give only one of json, body, form "
        "(got json, form)",
    ),
    (
        "json-infinity",
        "json: {symptoms: [fever]}",
        "json: {symptoms: .inf}",
        "s.yaml:17:58: users[0].tasks[1].request.json: "
        "inf cannot be sent as JSON; quote it to send text",
    ),
    (
        "json-nan-nested",
        "json: {symptoms: [fever]}",
        "json: {symptoms: [.nan]}",
        "s.yaml:17:58: users[0].tasks[1].request.json: "
        "nan cannot be sent as JSON; quote it to send text",
    ),
    # -- host
    (
        "host-without-scheme",
        "${TARGET_HOST:-http://127.0.0.1:8080}",
        "localhost:8080",
        "s.yaml:2:7: host: expected a URL like http://127.0.0.1:8080, got 'localhost:8080'",
    ),
    (
        "host-without-hostname",
        "${TARGET_HOST:-http://127.0.0.1:8080}",
        "http://",
        "s.yaml:2:7: host: expected a URL like http://127.0.0.1:8080, got 'http://'",
    ),
    (
        "host-ftp",
        "${TARGET_HOST:-http://127.0.0.1:8080}",
        "ftp://files.example",
        "s.yaml:2:7: host: expected a URL like http://127.0.0.1:8080, got 'ftp://files.example'",
    ),
    (
        "host-missing-variable",
        "${TARGET_HOST:-http://127.0.0.1:8080}",
        "${TARGET_HOST}",
        "s.yaml:2:7: host: environment variable TARGET_HOST is not set; "
        "export it or give a default: ${TARGET_HOST:-value}",
    ),
    # -- lists and names
    (
        "empty-tasks",
        "    tasks:\n      - request: {method: GET, url: /api/stats}\n",
        "    tasks: []\n",
        "s.yaml:20:12: users[1].tasks: needs at least 1 item(s)",
    ),
    (
        "duplicate-user-names",
        "name: officer",
        "name: citizen",
        "s.yaml:19:11: users[1].name: user name 'citizen' is already used by users[0]; "
        "names must be unique",
    ),
    (
        "empty-user-name",
        "name: officer",
        "name: ''",
        "s.yaml:19:11: users[1].name: string should have at least 1 character, got ''",
    ),
    # -- thresholds
    (
        "threshold-unknown-metric",
        "p95 < 500ms",
        "p96 < 500ms",
        f"s.yaml:23:5: thresholds[0]: unknown metric 'p96' in 'p96 < 500ms'; "
        f"did you mean 'p99'? {METRICS}",
    ),
    (
        "threshold-unknown-metric-no-suggestion",
        "p95 < 500ms",
        "latency < 500ms",
        f"s.yaml:23:5: thresholds[0]: unknown metric 'latency' in 'latency < 500ms' {METRICS}",
    ),
    (
        "threshold-bad-value",
        "p95 < 500ms",
        "p95 < fast",
        "s.yaml:23:5: thresholds[0]: invalid value 'fast' in 'p95 < fast'; "
        "p95 takes a time like 500ms or 1s",
    ),
    (
        "threshold-unreadable",
        "p95 < 500ms",
        "p95 is fast",
        "s.yaml:23:5: thresholds[0]: cannot read threshold 'p95 is fast'; write it like "
        "'p95 < 500ms', 'error_rate < 1%', 'rps > 20' or '/api/x: p99 < 1s'",
    ),
    (
        "threshold-not-text",
        "  - p95 < 500ms",
        "  - p95: 500ms",
        "s.yaml:23:5: thresholds[0]: expected a threshold like 'p95 < 500ms' (a quoted string), "
        "or {threshold: 'error_rate < 1%', abort: true}",
    ),
    (
        "threshold-unknown-scope",
        '"/api/cases: p99',
        '"/api/case: p99',
        "s.yaml:26:5: thresholds[3]: no request is named '/api/case'; did you mean "
        "'/api/cases'? (request names: /api/cases, /api/reports, /api/stats)",
    ),
    (
        "threshold-unknown-scope-no-suggestion",
        '"/api/cases: p99',
        '"zzz: p99',
        "s.yaml:26:5: thresholds[3]: no request is named 'zzz' "
        "(request names: /api/cases, /api/reports, /api/stats)",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid(old: str, new: str, expected: str) -> None:
    assert error(swap(old, new)) == expected


def test_invalid_case_ids_are_unique() -> None:
    ids = [case[0] for case in INVALID]
    assert len(ids) == len(set(ids))


def test_every_missing_key_is_reported() -> None:
    assert problems(swap("{users: 50, spawn_rate: 10, duration: 30s}", "{}")) == [
        "s.yaml:3:7: load: missing users, spawn_rate, duration; "
        "give users + spawn_rate + duration, arrival_rate + duration + max_concurrency, "
        "stages, step, or spike, "
        "e.g. {users: 50, spawn_rate: 10, duration: 30s}",
    ]


def test_misspelt_key_next_to_a_missing_one() -> None:
    # 'spawn_rate' is explained by the did-you-mean line; the load's other gaps show once
    # the keys are right.
    assert problems(swap("users: 50, spawn_rate: 10", "spwan_rate: 10")) == [
        "s.yaml:3:8: load.spwan_rate: unknown key 'spwan_rate'; did you mean 'spawn_rate'? "
        + LOAD_KEYS,
    ]


def test_several_problems_one_per_line_in_file_order() -> None:
    text = swap("users: 50", "users: lots")
    text = swap("url: /api/stats", "url: api/stats", text)
    text = swap("p95 < 500ms", "p95 < fast", text)
    lines = problems(text)
    assert lines == [
        "s.yaml:3:15: load.users: expected a whole number, got 'lots'",
        "s.yaml:21:37: users[1].tasks[0].request.url: expected a path starting with '/' or an "
        "http(s):// URL, got 'api/stats'",
        "s.yaml:23:5: thresholds[0]: invalid value 'fast' in 'p95 < fast'; "
        "p95 takes a time like 500ms or 1s",
    ]


def test_cross_checks_report_every_problem() -> None:
    text = swap("name: officer", "name: citizen")
    text = swap('"/api/cases: p99', '"/api/case: p99', text)
    assert problems(text) == [
        "s.yaml:19:11: users[1].name: user name 'citizen' is already used by users[0]; "
        "names must be unique",
        "s.yaml:26:5: thresholds[3]: no request is named '/api/case'; did you mean "
        "'/api/cases'? (request names: /api/cases, /api/reports, /api/stats)",
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [("- a\n- b\n", "1:1"), ("hello\n", "1:1"), ("42\n", "1:1"), ("---\n", "2:1")],
)
def test_top_level_not_a_mapping(text: str, where: str) -> None:
    assert error(text) == f"s.yaml:{where}: expected a mapping with name, host, load, users"


def test_top_level_users_not_a_list() -> None:
    text = BASE.split("users:\n")[0] + "users: lots\n"
    assert error(text) == "s.yaml:8:8: users: expected a list, got 'lots'"


def test_yaml_errors_come_first(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(swap("  timeout: 10s\n", "  timeout: 10s\n  timeout: 5s\n"), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, environ={})
    assert str(info.value) == (
        f"{path}:7:3: defaults.timeout: duplicate key 'timeout' (first given at line 6); "
        "remove one of them"
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "nope.yaml", environ={})
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}:1:1: file not found; check the path"
