# ruff: noqa: E501  (pinned one-line messages are long by design)
"""Every construct of the scenario language rejects bad input with one exact line."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadkit.errors import ScenarioError
from loadkit.scenario import load_scenario

BASE = """\
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
    assert old in BASE
    path = tmp_path / "s.yaml"
    path.write_text(BASE.replace(old, new, 1))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, environ={})
    assert str(caught.value).replace(str(tmp_path) + "/", "") == expected
    assert "\n" not in expected


def test_the_base_scenario_is_valid(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("username,password\nu1,p1\n")
    path = tmp_path / "s.yaml"
    path.write_text(BASE)
    scenario = load_scenario(path, environ={})
    assert scenario.tables["people"].rows == (("u1", "p1"),)
