"""The scenario model: a valid file loads, with its defaults and every form a value may take;
values not set where the file is read; the JSON Schema. (Invalid files: test_scenario_errors.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadkit.errors import ScenarioError
from loadkit.scenario import Scenario, load_scenario, validate_source
from loadkit.scenario.source import parse_yaml
from loadkit.scenario.tasks import ThinkTime
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


def swap(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def validate(text: str, environ: dict[str, str] | None = None) -> Scenario:
    return validate_source(parse_yaml(text, "s.yaml", environ={} if environ is None else environ))


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
