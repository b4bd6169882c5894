"""The scenario language end to end: what the server saw proves each construct works.

Each test writes a scenario, runs the real `loadkit run` against the bundled target started
with `--record` (it logs method, path, query, headers, body and arrival time of every
request), and checks the server's log and the run folder.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from helpers import run_loadkit

from loadkit.demo_target.process import TargetProcess

pytestmark = pytest.mark.e2e  # real Locust runs against real servers


@pytest.fixture
def recorder() -> Any:
    with TargetProcess(record=True) as target:
        yield target


def run(tmp_path: Path, text: str, *args: str, env: dict[str, str] | None = None) -> Any:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text)
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out), *args, env=env)
    assert "Traceback" not in result.stdout + result.stderr, result
    summary = json.loads((out / "summary.json").read_text()) if out.exists() else None
    return result, summary, out


def write_citizens(tmp_path: Path, count: int) -> None:
    lines = ["username,password,region"]
    lines += [f"citizen{i:03d},pw-{i:03d},{(i - 1) % 3 + 1:02d}" for i in range(1, count + 1)]
    (tmp_path / "citizens.csv").write_text("\n".join(lines) + "\n")


LOGIN_FLOW = """\
name: login
host: {host}
load: {{users: {users}, spawn_rate: 20, duration: {duration}}}
defaults: {{think_time: {{constant: 0.1}}}}
data:
  citizens: {{file: citizens.csv, order: unique, on_exhausted: stop_user}}
users:
  - name: citizen
    data: citizens
    auth: {{bearer: "{{{{ token }}}}"}}
    on_start:
      - request:
          method: POST
          url: /api/login
          json: {{username: "{{{{ username }}}}", password: "{{{{ password }}}}"}}
        expect: {{status: 200, json: {{$.user: "{{{{ username }}}}"}}}}
        capture: {{token: $.token}}
    tasks:
      - request: {{url: /api/me}}
        expect: {{status: 200, json: {{$.user: "{{{{ username }}}}"}}}}
"""


def test_captured_token_is_sent_back_by_the_same_user(
    recorder: TargetProcess, tmp_path: Path
) -> None:
    write_citizens(tmp_path, 30)
    text = LOGIN_FLOW.format(host=recorder.url, users=6, duration="3s")
    result, summary, _ = run(tmp_path, text)
    assert result.returncode == 0, result
    log = recorder.requests_seen()["log"]
    logins = [e for e in log if e["path"] == "/api/login"]
    assert len(logins) == 6
    assert all("authorization" not in e["headers"] for e in logins)  # no token before login
    me = [e for e in log if e["path"] == "/api/me"]
    assert len(me) > 6
    tokens = Counter(e["headers"]["authorization"] for e in me)
    assert all(t.startswith("Bearer ") and len(t) > 20 for t in tokens)
    assert len(tokens) == 6  # one token per user, each sent back many times
    # The server accepted every token, for the user who logged in (checked by expect).
    rows = {r["name"]: r for r in summary["requests"]}
    assert rows["/api/me"]["failures"] == 0 and rows["/api/me"]["requests"] == len(me)


@pytest.mark.parametrize("processes", [1, 2])
def test_unique_rows_are_never_shared(
    recorder: TargetProcess, tmp_path: Path, processes: int
) -> None:
    write_citizens(tmp_path, 8)  # fewer rows than users: the rest must stop, not reuse
    text = LOGIN_FLOW.format(host=recorder.url, users=12, duration="3s")
    result, summary, _ = run(tmp_path, text, "--processes", str(processes))
    assert result.returncode == 0, result
    log = recorder.requests_seen()["log"]
    usernames = [json.loads(e["body"])["username"] for e in log if e["path"] == "/api/login"]
    assert sorted(usernames) == [f"citizen{i:03d}" for i in range(1, 9)]
    assert summary["totals"]["failures"] == 0


def test_data_orders_and_exhaustion(recorder: TargetProcess, tmp_path: Path) -> None:
    write_citizens(tmp_path, 3)
    (tmp_path / "ids.jsonl").write_text('{"case": 1}\n{"case": 2}\n')
    text = f"""\
name: data
host: {recorder.url}
load: {{users: 4, spawn_rate: 10, duration: 2s}}
defaults: {{think_time: {{constant: 0.05}}}}
data:
  ids: {{file: ids.jsonl}}
  people: {{file: citizens.csv, order: unique, on_exhausted: fail}}
users:
  - name: reader
    tasks:
      - name: read
        data: ids
        request: {{url: "/api/cases/{{{{ case }}}}", name: /api/cases/N}}
  - name: visitor
    tasks:
      - name: once each
        data: people
        request: {{url: /api/stats, params: {{who: "{{{{ username }}}}"}}}}
"""
    result, summary, _ = run(tmp_path, text)
    assert result.returncode == 1, result  # the exhausted source is a failure
    log = recorder.requests_seen()["log"]
    paths = Counter(e["path"] for e in log if e["path"].startswith("/api/cases/"))
    assert set(paths) == {"/api/cases/1", "/api/cases/2"}
    assert abs(paths["/api/cases/1"] - paths["/api/cases/2"]) <= 2  # sequential, cycling
    who = [e["query"] for e in log if e["path"] == "/api/stats"]
    assert sorted(who) == ["who=citizen001", "who=citizen002", "who=citizen003"]
    failure = next(f for f in summary["failures"] if f["name"] == "data people")
    assert "data source 'people' has no rows left" in failure["error"]


def test_stages_reach_their_user_counts(recorder: TargetProcess, tmp_path: Path) -> None:
    text = f"""\
name: stages
host: {recorder.url}
load:
  stages:
    - {{users: 2, spawn_rate: 20, duration: 3s}}
    - {{users: 6, spawn_rate: 20, duration: 3s}}
    - {{users: 3, spawn_rate: 20, duration: 3s}}
defaults: {{think_time: {{constant: 0.1}}}}
users:
  - name: u
    headers: {{X-User: "{{{{ user_id }}}}"}}
    tasks:
      - request: {{url: /health}}
"""
    result, summary, out = run(tmp_path, text)
    assert result.returncode == 0, result
    assert "3 stages" in result.stdout
    assert "class LoadShape(LoadTestShape):" in (out / "locustfile.py").read_text()
    log = recorder.requests_seen()["log"]
    start = min(e["time"] for e in log)

    def users_between(a: float, b: float) -> int:
        return len({e["headers"]["x-user"] for e in log if a <= e["time"] - start < b})

    # Seen from the server: distinct users in the steady part of each stage.
    assert users_between(1.0, 2.8) == 2
    assert users_between(4.0, 5.8) == 6
    assert users_between(7.0, 8.8) == 3
    assert summary["run"]["users"] == 6 and summary["run"]["duration_s"] == 9


def test_a_failed_check_ends_the_flow(recorder: TargetProcess, tmp_path: Path) -> None:
    text = f"""\
name: checks
host: {recorder.url}
load: {{users: 1, spawn_rate: 1, duration: 2s}}
defaults: {{think_time: {{constant: 0.2}}}}
users:
  - name: u
    tasks:
      - name: all
        flow:
          - request: {{url: /api/cases/1, name: first}}
            expect: {{status: 200}}
          - request: {{url: /api/cases/1, name: json-check}}
            expect: {{json: {{$.region: "99"}}}}
          - request: {{url: /api/stats, name: never-reached}}
"""
    result, summary, _ = run(tmp_path, text)
    assert result.returncode == 1
    # Requests' failures (a flow is also a transaction, failing with its first failure: TXN).
    errors = {f["name"]: f["error"] for f in summary["failures"] if f["method"] != "TXN"}
    assert errors == {"json-check": "check $.region == '99': got '01'"}
    names = {r["name"] for r in summary["requests"]}
    assert names == {"first", "json-check"}
    assert "/api/stats" not in recorder.requests_seen()["by_route"]


def test_each_check_on_its_own_step(recorder: TargetProcess, tmp_path: Path) -> None:
    checks = {
        "exists-check": "{json_exists: $.owner.email}",
        "contains-check": '{body_contains: "nobody says this"}',
        "header-check": "{headers: {Content-Type: text/html}}",
        "slow-check": "{max_ms: 20}",
    }
    tasks = "\n".join(
        f"      - request: {{url: '{'/api/delay?ms=60' if n == 'slow-check' else '/api/cases/1'}'"
        f", name: {n}}}\n        expect: {c}"
        for n, c in checks.items()
    )
    text = f"""\
name: checks
host: {recorder.url}
load: {{users: 2, spawn_rate: 2, duration: 2s}}
defaults: {{think_time: {{constant: 0.1}}}}
users:
  - name: u
    tasks:
{tasks}
      - request: {{url: /api/stats, name: capture-check}}
        capture: {{missing: $.nothing.here}}
"""
    result, summary, _ = run(tmp_path, text)
    assert result.returncode == 1
    errors = {f["name"]: f["error"] for f in summary["failures"]}
    slow = re.fullmatch(r"check max_ms 20: took (\d+) ms", errors.pop("slow-check"))
    assert slow and int(slow.group(1)) >= 58  # the target waits 60 ms
    assert errors == {
        "exists-check": "check $.owner.email: not found in response",
        "contains-check": "check body contains 'nobody says this': not found",
        "header-check": "check header Content-Type == 'text/html': got 'application/json'",
        "capture-check": "capture missing: $.nothing.here not found in response",
    }


def test_secrets_are_sent_but_masked_everywhere(recorder: TargetProcess, tmp_path: Path) -> None:
    secret = "sekrit-4f9a1c"
    other = "pa55-Word-77"
    text = f"""\
name: secrets
host: {recorder.url}
load: {{users: 2, spawn_rate: 2, duration: 2s}}
secrets: [API_PASSWORD]
defaults:
  think_time: {{constant: 0.1}}
  headers: {{X-Api-Key: "${{secret:API_KEY}}"}}
users:
  - name: u
    auth: {{basic: {{username: admin, password: "${{API_PASSWORD}}"}}}}
    tasks:
      - request: {{url: /api/stats, params: {{key: "${{secret:API_KEY}}"}}}}
      - request: {{url: "/api/status/500", name: "fails"}}
"""
    env = {"API_KEY": secret, "API_PASSWORD": other}
    result, _, out = run(tmp_path, text, env=env)
    log = recorder.requests_seen()["log"]
    stats = [e for e in log if e["path"] == "/api/stats"]
    assert stats and all(e["headers"]["x-api-key"] == secret for e in stats)
    assert all(e["query"] == f"key={secret}" for e in stats)
    import base64

    expected = "Basic " + base64.b64encode(f"admin:{other}".encode()).decode()
    assert all(e["headers"]["authorization"] == expected for e in stats)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 8
    for path in files:
        data = path.read_bytes()
        assert secret.encode() not in data and other.encode() not in data, path
    assert "os.environ['API_KEY']" in (out / "locustfile.py").read_text()
    assert secret not in result.stdout + result.stderr


def test_python_task_loop_and_include(recorder: TargetProcess, tmp_path: Path) -> None:
    (tmp_path / "custom_flows.py").write_text(
        "def officer_round(user):\n"
        "    for region in ('01', '02'):\n"
        "        user.client.get('/api/cases', params={'region': region}, name='custom')\n"
    )
    (tmp_path / "legacy.py").write_text(
        "from locust import FastHttpUser, constant, task\n\n"
        "class LegacyUser(FastHttpUser):\n"
        "    wait_time = constant(0.2)\n\n"
        "    @task\n"
        "    def ping(self):\n"
        "        self.client.get('/health', name='legacy')\n"
    )
    text = f"""\
name: hatch
host: {recorder.url}
load: {{users: 3, spawn_rate: 10, duration: 2s}}
defaults: {{think_time: {{constant: 0.2}}}}
include:
  - {{locustfile: legacy.py, users: [LegacyUser]}}
users:
  - name: officer
    tasks:
      - python: custom_flows:officer_round
      - name: triple
        loop: {{count: 3}}
        request: {{url: /api/stats, headers: {{X-Run: "{{{{ user_id }}}}"}}}}
"""
    result, summary, _ = run(tmp_path, text)
    assert result.returncode == 0, result
    names = {r["name"]: r["requests"] for r in summary["requests"]}
    assert names["custom"] > 0 and names["custom"] % 2 == 0
    assert names["legacy"] > 0
    assert names["/api/stats"] > 0 and names["/api/stats"] % 3 == 0
    log = recorder.requests_seen()["log"]
    regions = Counter(e["query"] for e in log if e["path"] == "/api/cases")
    assert set(regions) == {"region=01", "region=02"}


def test_variables_and_env_templates_are_filled(recorder: TargetProcess, tmp_path: Path) -> None:
    text = f"""\
name: vars
host: {recorder.url}
load: {{users: 1, spawn_rate: 1, duration: 1s}}
variables: {{region: "03", count: 2, flag: true}}
users:
  - name: u
    tasks:
      - request:
          method: POST
          url: "/api/reports?region={{{{ region }}}}"
          headers: {{X-Trace: "run-{{{{ env.RUN_ID }}}}-{{{{ region }}}}"}}
          json: {{region: "{{{{ region }}}}", count: "{{{{ count }}}}", flag: "{{{{ flag }}}}",
                 label: "n={{{{ count }}}}"}}
        expect: {{status: 201}}
"""
    result, _, out = run(tmp_path, text, env={"RUN_ID": "r42"})
    assert result.returncode == 0, result
    posts = [e for e in recorder.requests_seen()["log"] if e["method"] == "POST"]
    assert posts
    assert posts[0]["query"] == "region=03"
    assert posts[0]["headers"]["x-trace"] == "run-r42-03"
    assert json.loads(posts[0]["body"]) == {
        "region": "03",
        "count": 2,
        "flag": True,
        "label": "n=2",
    }
    code = (out / "locustfile.py").read_text()
    assert "os.environ['RUN_ID']" in code and "r42" not in code


def test_a_literal_open_brace_is_sent_as_text(recorder: TargetProcess, tmp_path: Path) -> None:
    """`{{ '{{' }}` writes a literal `{{`: what follows is text, never a variable or the
    environment, wherever a template is filled."""
    text = f"""\
name: literal
host: {recorder.url}
load: {{users: 1, spawn_rate: 1, duration: 1s}}
users:
  - name: u
    tasks:
      - request:
          method: POST
          url: "/api/work/{{{{ '{{{{' }}}}env.PROBE}}}}"
          params: {{q: "{{{{ '{{{{' }}}} user_id }}}}"}}
          headers: {{X-T: "a{{{{ '{{{{' }}}} env.PROBE }}}}b{{{{{{ '{{{{' }}}}{{{{ user_id }}}}"}}
          json: {{v: "{{{{ '{{{{' }}}} env.PROBE }}}}"}}
        expect: {{status: 404}}
"""
    result, _, out = run(tmp_path, text, env={"PROBE": "leaked-probe-value"})
    assert result.returncode == 0, result
    log = recorder.requests_seen()["log"]
    assert log
    seen = log[0]
    assert seen["path"] == "/api/work/{{env.PROBE}}"
    assert parse_qs(seen["query"]) == {"q": ["{{ user_id }}"]}
    assert seen["headers"]["x-t"] == "a{{ env.PROBE }}b{{{1"  # `{`, `{{`, then user_id
    assert json.loads(seen["body"]) == {"v": "{{ env.PROBE }}"}
    assert "leaked-probe-value" not in json.dumps(log)
    code = (out / "locustfile.py").read_text()
    assert "os.environ" not in code
