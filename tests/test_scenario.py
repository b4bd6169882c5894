"""The scenario model: a valid file loads; every invalid one fails with exact one-line messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadkit.errors import ScenarioError
from loadkit.scenario import Scenario, load_scenario, validate_source
from loadkit.scenario.model import ThinkTime
from loadkit.scenario.source import parse_yaml
from loadkit.scenario.thresholds import Threshold

BASE = """\
name: citizen-reports
host: ${TARGET_HOST:-http://127.0.0.1:8080}   # ${VAR} / ${VAR:-default} from the environment
load: {users: 50, spawn_rate: 10, duration: 30s}
defaults:
  think_time: {between: [0.5, 1.5]}    # also {constant: 1s}, {pacing: 2s}
  timeout: 10s
  headers: {Accept: application/json}
users:
  - name: citizen
    weight: 3
    tasks:
      - name: list cases
        weight: 5
        request: {method: GET, url: /api/cases, params: {region: "32"}}
        expect: {status: 200}
      - name: submit report
        request: {method: POST, url: /api/reports, json: {symptoms: [fever]}}
        expect: {status: [200, 201]}
  - name: officer
    tasks:
      - request: {method: GET, url: /api/stats}
thresholds:
  - p95 < 500ms
  - error_rate < 1%
  - rps > 20
  - "/api/cases: p99 < 1s"          # per request name (the Locust stats name)
"""

REPO = Path(__file__).resolve().parent.parent
LOAD_KEYS = (
    "(allowed: users, spawn_rate, duration, stages, step, spike, arrival_rate, max_concurrency, "
    "spacing, max_backlog, stop_timeout)"
)
TOP_KEYS = (
    "(allowed: name, description, host, load, defaults, tls, variables, secrets, data, users, "
    "include, thresholds, apdex, max_regression, files)"
)
TASK_KEYS = (
    "(allowed: name, weight, request, expect, capture, flow, loop, data, python, transaction)"
)
REQUEST_KEYS = "(allowed: method, url, name, params, headers, json, body, form, auth)"
THINK_KEYS = "(allowed: between, constant, pacing)"
USER_KEYS = (
    "(allowed: name, weight, think_time, headers, auth, data, on_start, on_stop, tasks, "
    "transactions)"
)
METRICS = (
    "(metrics: apdex, avg, error_rate, failures, max, median, min, p100, p50, p66, p75, p80, "
    "p90, p95, p98, p99, p99.9, p99.99, requests, rps, tps)"
)
METHODS = "'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD' or 'OPTIONS'"
DURATION_HINT = "write a duration like 500ms, 30s, 5m or 1h30m"


def swap(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def validate(text: str, environ: dict[str, str] | None = None) -> Scenario:
    return validate_source(parse_yaml(text, "s.yaml", environ={} if environ is None else environ))


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


# --------------------------------------------------------------------------------- valid


def test_valid_scenario() -> None:
    s = validate(BASE)
    assert s.name == "citizen-reports"
    assert s.description is None
    assert s.host == "http://127.0.0.1:8080"
    assert (s.load.users, s.load.spawn_rate, s.load.duration) == (50, 10.0, 30.0)
    assert s.load.stop_timeout == 10.0
    assert s.defaults.think_time == ThinkTime(between=(0.5, 1.5))
    assert s.defaults.timeout == 10.0
    assert s.defaults.headers == {"Accept": "application/json"}

    citizen, officer = s.users
    assert (citizen.name, citizen.weight, citizen.think_time) == ("citizen", 3, None)
    listing, submit = citizen.tasks
    assert (listing.name, listing.weight, listing.label) == ("list cases", 5, "list cases")
    assert listing.request.method == "GET"
    assert listing.request.url == "/api/cases"
    assert listing.request.params == {"region": "32"}
    assert listing.request.json_body is None
    assert listing.expect is not None and listing.expect.status == [200]
    assert submit.weight == 1
    assert submit.request.method == "POST"
    assert submit.request.json_body == {"symptoms": ["fever"]}
    assert submit.expect is not None and submit.expect.status == [200, 201]

    assert (officer.name, officer.weight) == ("officer", 1)
    (stats,) = officer.tasks
    assert stats.name is None
    assert stats.label == "GET /api/stats"
    assert stats.request.stats_name == "/api/stats"
    assert stats.expect is None

    assert s.request_names() == ["/api/cases", "/api/reports", "/api/stats"]
    assert s.thresholds == [
        Threshold("p95 < 500ms", "p95", "<", 500.0),
        Threshold("error_rate < 1%", "error_rate", "<", 0.01),
        Threshold("rps > 20", "rps", ">", 20.0),
        Threshold("/api/cases: p99 < 1s", "p99", "<", 1000.0, scope="/api/cases"),
    ]


def test_host_from_environment_without_trailing_slash() -> None:
    s = validate(BASE, environ={"TARGET_HOST": "https://staging.example.org/"})
    assert s.host == "https://staging.example.org"


def test_empty_host_variable_falls_back_to_default() -> None:
    assert validate(BASE, environ={"TARGET_HOST": ""}).host == "http://127.0.0.1:8080"


def test_minimal_scenario_uses_defaults() -> None:
    s = validate(
        "name: m\nhost: http://h\nload: {users: 1, spawn_rate: 1, duration: 1s}\n"
        "users: [{name: u, tasks: [{request: {url: /}}]}]\n"
    )
    assert s.defaults.think_time == ThinkTime(constant=0.0)
    assert s.defaults.timeout == 60.0
    assert s.defaults.headers == {}
    assert s.users[0].tasks[0].request.method == "GET"
    assert s.thresholds == []


def test_load_scenario_from_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(BASE, encoding="utf-8")
    s = load_scenario(path, environ={"TARGET_HOST": "http://10.0.0.1:9000"})
    assert s.host == "http://10.0.0.1:9000"
    bad = tmp_path / "bad.yaml"
    bad.write_text(swap("users: 50", "users: lots"), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad, environ={})
    assert str(info.value) == f"{bad}:3:15: load.users: expected a whole number, got 'lots'"


def test_bundled_demo_is_valid() -> None:
    s = load_scenario(REPO / "src" / "loadkit" / "scenarios" / "demo.yaml", environ={})
    assert s.name == "demo"
    assert s.users[1].think_time == ThinkTime(constant=1.0)


@pytest.mark.parametrize(
    ("think_time", "expected"),
    [
        ("1s", ThinkTime(constant=1.0)),
        ("2", ThinkTime(constant=2.0)),
        ("0.5", ThinkTime(constant=0.5)),
        ("{constant: 250ms}", ThinkTime(constant=0.25)),
        ("{pacing: 2s}", ThinkTime(pacing=2.0)),
        ("{between: [1s, 1s]}", ThinkTime(between=(1.0, 1.0))),
        ("{between: [500ms, 2s]}", ThinkTime(between=(0.5, 2.0))),
    ],
)
def test_think_time_forms(think_time: str, expected: ThinkTime) -> None:
    s = validate(swap("{between: [0.5, 1.5]}", think_time))
    assert s.defaults.think_time == expected


def test_user_think_time_shorthand() -> None:
    s = validate(swap("    weight: 3\n", "    weight: 3\n    think_time: 3s\n"))
    assert s.users[0].think_time == ThinkTime(constant=3.0)


@pytest.mark.parametrize("method", ["post", "Post", "delete", "options"])
def test_method_is_case_insensitive(method: str) -> None:
    s = validate(swap("method: GET, url: /api/stats", f"method: {method}, url: /api/stats"))
    assert s.users[1].tasks[0].request.method == method.upper()


def test_full_url_is_accepted() -> None:
    s = validate(swap("url: /api/stats", "url: https://other.example/x"))
    assert s.users[1].tasks[0].request.url == "https://other.example/x"


def test_text_values_accept_numbers_bools_and_dates() -> None:
    s = validate(
        swap(
            'params: {region: "32"}',
            "params: {region: 32, all: true, since: 2024-01-31, ratio: 0.5}",
        )
    )
    assert s.users[0].tasks[0].request.params == {
        "region": "32",
        "all": "true",
        "since": "2024-01-31",
        "ratio": "0.5",
    }


def test_unquoted_dates_in_json_become_iso_text() -> None:
    s = validate(
        swap(
            "json: {symptoms: [fever]}",
            "json: {onset: 2024-01-31, at: 2024-01-31T10:00:00Z, days: [2024-02-01], n: 1}",
        )
    )
    assert s.users[0].tasks[1].request.json_body == {
        "onset": "2024-01-31",
        "at": "2024-01-31T10:00:00+00:00",
        "days": ["2024-02-01"],
        "n": 1,
    }


def test_anchors_and_merge_keys_share_request_settings() -> None:
    text = swap(
        "request: {method: POST, url: /api/reports, json: {symptoms: [fever]}}",
        "request: &report {method: POST, url: /api/reports, json: {symptoms: [fever]}}",
    )
    text = swap(
        "      - request: {method: GET, url: /api/stats}",
        "      - request: {<<: *report, url: /api/reports/urgent}",
        text,
    )
    request = validate(text).users[1].tasks[0].request
    assert (request.method, request.url) == ("POST", "/api/reports/urgent")
    assert request.json_body == {"symptoms": ["fever"]}


def test_status_accepts_one_code_or_a_list() -> None:
    s = validate(swap("status: [200, 201]", "status: 204"))
    assert s.users[0].tasks[1].expect is not None
    assert s.users[0].tasks[1].expect.status == [204]


def test_scenario_is_frozen() -> None:
    s = validate(BASE)
    with pytest.raises(ValueError):
        s.name = "other"  # type: ignore[misc]


# ------------------------------------------------------------------------------- invalid

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


# --- values not set where the file is read ---------------------------------------------------

UNSET_TEXT = """\
name: unset
host: ${U_HOST}
load: {users: "${U_USERS}", spawn_rate: 1, duration: 1m}
secrets: [U_KEY]
data:
  rows: {file: "${U_DIR}/rows.csv"}
users:
  - name: u
    tasks:
      - request: {url: /a, headers: {X-Key: "${U_KEY}", X-T: "{{ env.U_T }}"}}
      - request: {url: /b, headers: {X-Key: "${U_KEY}"}}
"""


def test_what_is_not_set_is_noted_and_its_fields_left_unchecked(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(UNSET_TEXT)
    scenario = load_scenario(path, environ={}, allow_unset=True)
    noted = {(u.name, u.key_path, u.secret, u.unchecked, u.template) for u in scenario.unset}
    assert noted == {
        ("U_HOST", "host", False, True, False),
        ("U_USERS", "load.users", False, True, False),
        ("U_DIR", "data.rows.file", False, True, False),
        ("U_KEY", "users[0].tasks[0].request.headers.X-Key", True, False, False),
        ("U_KEY", "users[0].tasks[1].request.headers.X-Key", True, False, False),
        ("U_T", "users[0].tasks[0].request.headers.X-T", False, False, True),
    }
    assert scenario.secret_names == ["U_KEY"]  # known, though not set: k8s asks for a Secret
    # A value that is set is checked as ever, the others still not.
    path.write_text(UNSET_TEXT.replace("${U_HOST}", "ftp://x"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, environ={}, allow_unset=True)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2:7: host: expected a URL like http://127.0.0.1:8080, got 'ftp://x'"
    ]


def test_a_run_needs_every_value_one_line_per_variable(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(UNSET_TEXT.replace("${U_DIR}/", ""))
    (tmp_path / "rows.csv").write_text("a\n1\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, environ={})
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2:7: host: environment variable U_HOST is not set; export it or give a "
        "default: ${U_HOST:-value}",
        f"{path}:3:15: load.users: environment variable U_USERS is not set; export it or give "
        "a default: ${U_USERS:-value}",
        f"{path}:10:45: users[0].tasks[0].request.headers.X-Key: secret environment variable "
        "U_KEY is not set (2 uses); export it before the run",
    ]


def test_schema_accepts_every_shipped_scenario_and_is_up_to_date() -> None:
    import jsonschema
    import yaml
    from helpers import REPO

    from loadkit.scenario.schema import scenario_schema, scenario_schema_json

    committed = REPO / "schema" / "scenario.schema.json"
    assert committed.read_text() == scenario_schema_json(), "run: loadkit schema -o " + str(
        committed
    )
    validator = jsonschema.Draft202012Validator(scenario_schema())
    shipped = sorted((REPO / "scenarios").glob("*.yaml"))
    assert len(shipped) >= 4
    for path in shipped:
        data = yaml.safe_load(path.read_text())
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], (path.name, errors)
        first = path.read_text().splitlines()[0]
        if path.name != "demo.yaml":
            assert first == "# yaml-language-server: $schema=../schema/scenario.schema.json"
    bad = yaml.safe_load((REPO / "scenarios" / "demo.yaml").read_text())
    bad["load"]["spwan_rate"] = 3
    assert any("spwan_rate" in e.message for e in validator.iter_errors(bad))
