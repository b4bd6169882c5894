"""`loadkit import har`: correlation, secrets and filtering on small synthetic recordings, and
a recording made by a real browser (Playwright driving Debian's chromium) replayed against a
fresh target, whose tokens differ from the recorded ones."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import pytest
import yaml
from helpers import REPO, run_loadkit

from loadkit.cli import run_cli
from loadkit.compiler import compile_scenario
from loadkit.demo_target.process import TargetProcess
from loadkit.errors import ScenarioError
from loadkit.exit_codes import ExitStatus
from loadkit.importers import import_har
from loadkit.scenario import load_scenario
from loadkit.scenario.templates import Var, parse_template

HOST = "http://127.0.0.1:8080"
TOKEN = "Zx81_kq0-abcDEF123456789tokenXYZ"
SECRETS = {"PASSWORD": "a-long-password"}


def entry(
    at: float,
    method: str,
    url: str,
    status: int = 200,
    *,
    headers: dict[str, str] | None = None,
    body: Any = None,
    body_type: str = "application/json",
    response: Any = None,
    response_type: str = "application/json",
    response_headers: dict[str, str] | None = None,
    resource_type: str = "fetch",
    time_ms: float = 20,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "headers": [{"name": k, "value": v} for k, v in (headers or {}).items()],
    }
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body)
        request["postData"] = {"mimeType": body_type, "text": text}
    text = response if isinstance(response, str) else json.dumps(response)
    return {
        "startedDateTime": f"2025-01-01T10:00:{at:06.3f}Z",
        "time": time_ms,
        "_resourceType": resource_type,
        "request": request,
        "response": {
            "status": status,
            "headers": [{"name": k, "value": v} for k, v in (response_headers or {}).items()],
            "content": {"mimeType": response_type, "text": text},
        },
    }


def har(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"log": {"version": "1.2", "creator": {"name": "test"}, "entries": list(entries)}}


def login(at: float = 0.0, token: str = TOKEN) -> dict[str, Any]:
    return entry(
        at,
        "POST",
        f"{HOST}/api/login",
        body={"username": "alice", "password": "a-long-password"},
        response={"token": token, "user": "alice"},
    )


def imported(recording: dict[str, Any], **options: Any) -> tuple[str, dict[str, Any]]:
    result = import_har(recording, name="rec", source_file="rec.har", **options)
    return result.text, yaml.safe_load(result.text)


def steps(data: dict[str, Any]) -> list[dict[str, Any]]:
    flow: list[dict[str, Any]] = data["users"][0]["tasks"][0]["flow"]
    return flow


def validates(text: str, tmp_path: Path, environ: dict[str, str] | None = None) -> None:
    path = tmp_path / "imported.yaml"
    path.write_text(text, encoding="utf-8")
    load_scenario(path, environ={**SECRETS, **(environ or {})})


def test_a_token_from_a_json_response_is_captured_and_sent_as_a_template(tmp_path: Path) -> None:
    text, data = imported(
        har(
            login(),
            entry(
                1,
                "GET",
                f"{HOST}/api/me",
                headers={"Authorization": f"Bearer {TOKEN}"},
                response={"user": "alice"},
            ),
        )
    )
    first, second = steps(data)
    assert first["capture"] == {"token": "$.token"}
    assert second["request"]["auth"] == {"bearer": "{{ token }}"}
    assert TOKEN not in text
    validates(text, tmp_path)


def test_a_password_becomes_a_secret_and_the_user_name_stays(tmp_path: Path) -> None:
    text, data = imported(har(login()))
    body = steps(data)[0]["request"]["json"]
    assert body == {"username": "alice", "password": "${secret:PASSWORD}"}
    assert "a-long-password" not in text
    # Said at the top, with how to set it (the loader refuses secrets under 8 characters).
    assert "PASSWORD: password sent in the body of POST /api/login" in text
    assert "at least 8 characters" in text
    validates(text, tmp_path)
    with pytest.raises(ScenarioError, match="PASSWORD is not set"):
        load_scenario(tmp_path / "imported.yaml", environ={})
    with pytest.raises(ScenarioError, match="PASSWORD is shorter than 8 characters"):
        load_scenario(tmp_path / "imported.yaml", environ={"PASSWORD": "short"})


def test_an_echoed_value_the_client_sent_first_is_not_correlated() -> None:
    # The login response echoes the user name; a later request sending it uses the literal.
    _, data = imported(
        har(login(), entry(1, "GET", f"{HOST}/api/users/alice-smith-01", response={}))
    )
    assert steps(data)[1]["request"]["url"] == "/api/users/alice-smith-01"


def test_an_id_keeps_its_type_in_a_json_body_and_templates_the_url(tmp_path: Path) -> None:
    text, data = imported(
        har(
            entry(
                0,
                "POST",
                f"{HOST}/api/reports",
                201,
                body={"region": "01"},
                response={"id": 57, "status": "received"},
            ),
            entry(1, "GET", f"{HOST}/api/reports/57", response={"id": 57}),
            entry(
                2,
                "PUT",
                f"{HOST}/api/reports/57",
                body={"id": 57, "note": "ok"},
                response={"id": 57},
            ),
        )
    )
    create, read, update = steps(data)
    assert create["capture"] == {"report_id": "$.id"}
    assert create["expect"] == {"status": 201}
    assert read["request"]["url"] == "/api/reports/{{ report_id }}"
    assert update["request"]["json"] == {"id": "{{ report_id }}", "note": "ok"}
    validates(text, tmp_path)


def test_a_short_number_in_a_field_not_named_like_an_id_is_left_alone() -> None:
    _, data = imported(
        har(
            entry(0, "GET", f"{HOST}/api/stats", response={"count": 3, "page": 2}),
            entry(1, "GET", f"{HOST}/api/items/3", response={}),
        )
    )
    assert "capture" not in steps(data)[0]
    assert steps(data)[1]["request"]["url"] == "/api/items/3"


def test_a_csrf_value_in_an_html_page_is_captured_by_a_regex(tmp_path: Path) -> None:
    page = '<form><input type="hidden" name="csrf_token" value="c5rf-VALUE-99xx"></form>'
    text, data = imported(
        har(
            entry(
                0,
                "GET",
                f"{HOST}/login",
                response=page,
                response_type="text/html",
                resource_type="document",
            ),
            entry(
                1,
                "POST",
                f"{HOST}/login",
                body="user=alice&csrf_token=c5rf-VALUE-99xx",
                body_type="application/x-www-form-urlencoded",
                response="ok",
                response_type="text/plain",
            ),
        )
    )
    get, post = steps(data)
    pattern = get["capture"]["csrf_token"]["regex"]
    assert pattern.startswith('name="csrf_token" value="(')
    # It finds the new session's value, which is what the replay needs.
    found = re.search(pattern, page.replace("c5rf-VALUE-99xx", "another-Value-123"))
    assert found is not None and found.group(1) == "another-Value-123"
    assert post["request"]["form"] == {"user": "alice", "csrf_token": "{{ csrf_token }}"}
    assert "# decide: built from the recorded page" in text
    validates(text, tmp_path)


def test_a_header_value_from_a_response_header_is_captured_from_it() -> None:
    _, data = imported(
        har(
            entry(
                0,
                "GET",
                f"{HOST}/api/session",
                response={},
                response_headers={"X-Session-Key": "sk-8f3a9b2c7d"},
            ),
            entry(
                1,
                "GET",
                f"{HOST}/api/data",
                headers={"X-Session-Key": "sk-8f3a9b2c7d"},
                response={},
            ),
        )
    )
    first, second = steps(data)
    assert first["capture"] == {"x_session_key": {"header": "X-Session-Key"}}
    assert second["request"]["headers"] == {"X-Session-Key": "{{ x_session_key }}"}


def test_an_authorization_no_response_returned_and_an_api_key_become_secrets(
    tmp_path: Path,
) -> None:
    text, data = imported(
        har(
            entry(
                0,
                "GET",
                f"{HOST}/api/a?api_key=AKIA1234567890",
                headers={"Authorization": "Bearer pre-issued-token-123"},
                response={},
            ),
            entry(1, "GET", f"{HOST}/api/b", headers={"X-API-Key": "key-0123456789"}, response={}),
        )
    )
    first, second = steps(data)
    assert first["request"]["auth"] == {"bearer": "${secret:BEARER_TOKEN}"}
    assert first["request"]["params"] == {"api_key": "${secret:API_KEY}"}
    assert second["request"]["headers"] == {"X-API-Key": "${secret:X_API_KEY}"}
    for value in ("pre-issued-token-123", "AKIA1234567890", "key-0123456789"):
        assert value not in text
    validates(
        text,
        tmp_path,
        {"BEARER_TOKEN": "x" * 8, "API_KEY": "y" * 8, "X_API_KEY": "z" * 8},
    )


def test_static_assets_third_parties_preflights_and_browser_headers_are_dropped() -> None:
    text, data = imported(
        har(
            entry(
                0,
                "GET",
                f"{HOST}/",
                response="<html>",
                response_type="text/html",
                resource_type="document",
                headers={
                    "User-Agent": "Mozilla/5.0",
                    "Accept-Language": "en",
                    "sec-ch-ua": '"Chromium"',
                    "Referer": HOST,
                    "Cookie": "sid=abc123456789xyz",
                    "X-Requested-With": "app",
                },
            ),
            entry(
                0.1,
                "GET",
                f"{HOST}/static/app.js",
                resource_type="script",
                response="x",
                response_type="application/javascript",
            ),
            entry(0.2, "GET", f"{HOST}/logo.png", resource_type="other", response=""),
            entry(0.3, "GET", "https://fonts.example.com/f.woff2", resource_type="font"),
            entry(0.4, "GET", "https://tracker.example.net/collect", response={}),
            entry(
                0.5,
                "OPTIONS",
                f"{HOST}/api/x",
                headers={"Access-Control-Request-Method": "POST"},
                response="",
            ),
            entry(0.6, "GET", f"{HOST}/api/x", response={}),
        )
    )
    urls = [s["request"]["url"] for s in steps(data)]
    assert urls == ["/", "/api/x"]
    page = steps(data)[0]["request"]
    # A cookie the recording never saw set is kept, as a secret (a session from before).
    assert page["headers"] == {"Cookie": "sid=${secret:COOKIE_SID}", "X-Requested-With": "app"}
    assert "3 static asset(s) (--keep-static keeps them)" in text  # the font too
    assert "tracker.example.net" in text and "--include-host HOST" in text
    assert "1 CORS preflight(s)" in text

    _, kept = imported(
        har(
            entry(0, "GET", f"{HOST}/api/x", response={}),
            entry(1, "GET", f"{HOST}/static/app.js", resource_type="script", response="x"),
            entry(2, "GET", "https://cdn.example.com/api/y", response={}),
        ),
        keep_static=True,
        include_hosts=["cdn.example.com"],
    )
    assert [s["request"]["url"] for s in steps(kept)] == [
        "/api/x",
        "/static/app.js",
        "https://cdn.example.com/api/y",
    ]


def test_cookies_a_response_set_are_left_to_the_cookie_jar() -> None:
    _, data = imported(
        har(
            entry(
                0,
                "POST",
                f"{HOST}/login",
                body={"u": "a"},
                response={},
                response_headers={"Set-Cookie": "session=s3cr3t-session-value; Path=/"},
            ),
            entry(
                1,
                "GET",
                f"{HOST}/api/me",
                headers={"Cookie": "session=s3cr3t-session-value"},
                response={},
            ),
        )
    )
    assert "headers" not in steps(data)[1]["request"]


def test_a_redirect_is_followed_by_the_client_and_expects_where_it_led() -> None:
    _, data = imported(
        har(
            entry(
                0,
                "POST",
                f"{HOST}/login",
                302,
                body={"u": "a"},
                response="",
                response_headers={"Location": "/home"},
            ),
            entry(0.1, "GET", f"{HOST}/home", response="<html>", response_type="text/html"),
            entry(0.2, "GET", f"{HOST}/api/x", response={}),
        )
    )
    assert [(s["request"]["url"], s["expect"]) for s in steps(data)] == [
        ("/login", {"status": 200}),
        ("/api/x", {"status": 200}),
    ]


def test_think_times_come_from_the_recorded_pauses_and_common_headers_go_to_defaults() -> None:
    _, data = imported(
        har(
            entry(
                0,
                "GET",
                f"{HOST}/a",
                headers={"Accept": "application/json"},
                response={},
                time_ms=100,
            ),
            entry(2.6, "GET", f"{HOST}/b", headers={"Accept": "application/json"}, response={}),
            entry(2.65, "GET", f"{HOST}/c", headers={"Accept": "application/json"}, response={}),
        )
    )
    a, b, c = steps(data)
    assert a["think_time"] == {"constant": "2.5s"}
    assert "think_time" not in b  # 30 ms: no pause a person made
    assert data["defaults"]["headers"] == {"Accept": "application/json"}
    assert all("headers" not in s["request"] for s in (a, b, c))


def test_recorded_text_that_looks_like_a_template_or_variable_stays_literal(
    tmp_path: Path,
) -> None:
    text, data = imported(
        har(entry(0, "POST", f"{HOST}/api/notes", body={"text": "${HOME} and $x"}, response={}))
    )
    assert steps(data)[0]["request"]["json"] == {"text": "$${HOME} and $x"}
    validates(text, tmp_path)
    scenario = load_scenario(tmp_path / "imported.yaml", environ=SECRETS)
    body = scenario.users[0].tasks[0].steps()[0].request.json_body
    assert body == {"text": "${HOME} and $x"}


PROBE = "{{ env.PROBE_SECRET }}"


def probe_recording(host: str = HOST) -> dict[str, Any]:
    """A recording whose text looks like templates in every place a recorded value lands."""
    return har(
        entry(
            0,
            "POST",
            f"{host}/api/work?q={quote('{{ user_id }}')}&p={quote(PROBE)}",
            headers={"X-T": PROBE, "Authorization": "Bearer {{ token }}"},
            body={
                PROBE: 1,
                "v": PROBE,
                "s": "{{ secret }}",
                "n": ["{{ user_id }}"],
                "d": "${HOME} $$ end$",
            },
            response={"status": "done"},
        ),
        entry(
            0.05,
            "POST",
            f"{host}/api/work",
            headers={"Cookie": "pref={{ a }}"},
            body="f=" + quote(PROBE),
            body_type="application/x-www-form-urlencoded",
            response={"status": "done"},
        ),
        entry(0.1, "POST", f"{host}/api/work", body=PROBE, body_type="text/plain", response={}),
        entry(0.15, "GET", f"{host}/api/{{{{env.PROBE_SECRET}}}}", 404, response={}),
    )


def sent_text(template: str) -> str:
    """What a loaded templated value sends: it must be text only, no variable."""
    parts = parse_template(template)
    assert all(isinstance(p, str) for p in parts), (template, parts)
    return "".join(str(p) for p in parts)


def test_recorded_text_that_looks_like_a_template_stays_text_everywhere(tmp_path: Path) -> None:
    text, _ = imported(probe_recording())  # a JSON body with `{{ secret }}` crashed it
    validates(text, tmp_path, {"BEARER_TOKEN": "b" * 8})  # PROBE_SECRET is not needed
    scenario = load_scenario(tmp_path / "imported.yaml", environ={"BEARER_TOKEN": "b" * 8})
    json_step, form_step, text_step, path_step = scenario.users[0].tasks[0].steps()
    request = json_step.request
    assert {k: sent_text(v) for k, v in request.params.items()} == {
        "q": "{{ user_id }}",
        "p": PROBE,
    }
    assert sent_text(request.headers["X-T"]) == PROBE
    body = request.json_body
    assert body[PROBE] == 1  # keys are sent as written
    assert {k: sent_text(body[k]) for k in ("v", "s", "d")} == {
        "v": PROBE,
        "s": "{{ secret }}",
        "d": "${HOME} $$ end$",
    }
    assert [sent_text(v) for v in body["n"]] == ["{{ user_id }}"]
    assert request.auth is not None and request.auth.bearer == "{{ env.BEARER_TOKEN }}"
    assert sent_text(form_step.request.headers["Cookie"]) == "pref={{ a }}"
    assert form_step.request.form is not None
    assert sent_text(form_step.request.form["f"]) == PROBE
    assert text_step.request.body is not None and sent_text(text_step.request.body) == PROBE
    assert sent_text(path_step.request.url) == "/api/{{env.PROBE_SECRET}}"
    assert path_step.request.name == "/api/{{env.PROBE_SECRET}}"
    code = compile_scenario(scenario)
    assert "PROBE_SECRET'" not in code.replace("PROBE_SECRET }}'", "")  # never os.environ[...]
    assert "os.environ['BEARER_TOKEN']" in code  # the recorded bearer: a secret, as before
    assert not re.search(r"v\['(secret|user_id|a)'\]", code)


def test_text_joined_to_a_correlated_value_keeps_its_braces_and_dollars(tmp_path: Path) -> None:
    _, data = imported(
        har(
            login(),
            entry(1, "GET", f"{HOST}/api/me", headers={"X-W": f"${{{TOKEN}}} ${TOKEN}$"}),
        )
    )
    header = steps(data)[1]["request"]["headers"]["X-W"]
    assert header == "$${{{ token }}} $${{ token }}$$"
    text = yaml.safe_dump(data)
    validates(text, tmp_path)
    scenario = load_scenario(tmp_path / "imported.yaml", environ=SECRETS)
    loaded = scenario.users[0].tasks[0].steps()[1].request.headers["X-W"]
    assert parse_template(loaded) == ["${", Var("token"), "} $", Var("token"), "$"]


def test_a_templated_url_is_named_readably_in_the_statistics(tmp_path: Path) -> None:
    text, data = imported(
        har(
            entry(0, "POST", f"{HOST}/api/data", 201, body={}, response={"id": "d-8f3a9b2c7d"}),
            entry(1, "GET", f"{HOST}/api/data/d-8f3a9b2c7d/records", response={}),
            entry(2, "GET", f"{HOST}/api/data", response={}),
        )
    )
    _, read, listing = steps(data)
    assert read["request"]["url"] == "/api/data/{{ data_id }}/records"
    assert read["request"]["name"] == "/api/data/{data_id}/records"  # as OpenAPI writes paths
    assert "name" not in listing["request"]  # a plain url names itself
    validates(text, tmp_path)


def test_the_output_starts_with_the_schema_line_and_says_what_to_decide() -> None:
    text, _ = imported(har(login()))
    assert text.startswith("# yaml-language-server: $schema=")
    assert "# decide: users, spawn rate and duration" in text
    assert "cookie jar" in text


def test_the_cli_writes_the_scenario_and_finds_the_schema(tmp_path: Path) -> None:
    recording = tmp_path / "flow.har"
    recording.write_text(json.dumps(har(login())), encoding="utf-8")
    out = REPO / "scenarios" / ".imported-test.yaml"
    try:
        assert run_cli(["import", "har", str(recording), "-o", str(out)]) == ExitStatus.PASS
        text = out.read_text(encoding="utf-8")
        assert text.startswith("# yaml-language-server: $schema=../schema/scenario.schema.json\n")
        assert "name: flow\n" in text
    finally:
        out.unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a readable HAR file (JSON)"),
        ('{"log": {}}', "not a HAR file (no log.entries list)"),
        ('{"log": {"entries": []}}', "no request left to replay"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    recording = tmp_path / "bad.har"
    recording.write_text(content, encoding="utf-8")
    assert run_cli(["import", "har", str(recording)]) == ExitStatus.INVALID_INPUT
    err = capsys.readouterr().err
    assert err.startswith("loadkit: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert run_cli(["import", "har", str(tmp_path / "missing.har")]) == ExitStatus.INVALID_INPUT
    assert "no such file" in capsys.readouterr().err


# ------------------------------------------------------------------ a real browser's recording

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The page comes from another origin than the API, as a single-page app from a CDN would;
    # the target sends no CORS headers, so the test browser does not enforce CORS.
    "--disable-web-security",
]
PAGE_ORIGIN = "http://app.test"
# A single-page app: signs in from its form, then works with the token (fetch()).
PAGE = """<!doctype html>
<html><head><title>Cases</title><link rel="stylesheet" href="/app.css"></head>
<body>
<form id="login"><input name="username" value="alice">
<input name="password" type="password" value="correct-horse-battery"></form>
<pre id="out"></pre>
<script>
const API = "__API__";
async function call(path, options) {
  const response = await fetch(API + path, options);
  return response.json();
}
async function walk() {
  const form = document.getElementById("login");
  const login = await call("/api/login", {
    method: "POST",
    headers: {"Content-Type": "application/json", "Accept": "application/json"},
    body: JSON.stringify({username: form.username.value, password: form.password.value}),
  });
  const auth = {"Authorization": "Bearer " + login.token, "Accept": "application/json"};
  await call("/api/me", {headers: auth});
  await new Promise(resolve => setTimeout(resolve, 300));  // a person reading
  const cases = await call("/api/cases?region=01", {headers: auth});
  const detail = await call("/api/cases/" + cases[1].id, {headers: auth});
  const report = await call("/api/reports", {
    method: "POST",
    headers: {...auth, "Content-Type": "application/json"},
    body: JSON.stringify({region: detail.region, about_case: detail.id,
                          seen_status: detail.status}),
  });
  document.getElementById("out").textContent = "done " + report.id;
}
walk();
</script></body></html>
"""


def record_in_chromium(api: str, har_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")

    def serve_app(route: Any) -> None:
        if route.request.url.endswith("/app.css"):
            route.fulfill(body="body { font-family: sans-serif; }", content_type="text/css")
        else:
            route.fulfill(body=PAGE.replace("__API__", api), content_type="text/html")

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            headless=True, executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(record_har_path=str(har_path))
            page = context.new_page()
            page.route(f"{PAGE_ORIGIN}/**", serve_app)
            page.goto(f"{PAGE_ORIGIN}/")
            page.wait_for_function(
                "document.getElementById('out').textContent.startsWith('done')", timeout=15_000
            )
            context.close()  # writes the HAR
        finally:
            browser.close()


@pytest.mark.e2e
def test_a_browser_recording_replays_against_a_fresh_target(tmp_path: Path) -> None:
    recording = tmp_path / "citizen.har"
    with TargetProcess() as recorded_target:
        record_in_chromium(recorded_target.url, recording)
    urls = [e["request"]["url"] for e in json.loads(recording.read_text())["log"]["entries"]]
    assert any(u.endswith("/api/me") for u in urls) and any(u.endswith("/app.css") for u in urls)

    scenario = tmp_path / "citizen.yaml"
    result = run_loadkit("import", "har", str(recording), "-o", str(scenario))
    assert result.returncode == 0, result.stderr
    text = scenario.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    flow = steps(data)
    assert [s["request"]["url"] for s in flow] == [
        "/api/login",
        "/api/me",
        "/api/cases",
        "/api/cases/{{ case_id }}",
        "/api/reports",
    ]
    assert flow[3]["request"]["name"] == "/api/cases/{case_id}"
    assert flow[0]["capture"]["token"] == "$.token"
    assert all(s["request"]["auth"] == {"bearer": "{{ token }}"} for s in flow[1:])
    assert flow[0]["request"]["json"]["password"] == "${secret:PASSWORD}"
    assert "correct-horse-battery" not in text
    assert flow[1]["think_time"]["constant"].endswith("ms")  # the page's 300 ms pause
    assert "app.test" in result.stderr  # the page's own host, dropped

    env = {"PASSWORD": "another-password-1"}
    assert run_loadkit("validate", str(scenario), env=env).returncode == 0
    with TargetProcess() as fresh:  # new tokens: only a correlated replay gets through
        run = run_loadkit(
            "run",
            str(scenario),
            "--host",
            fresh.url,
            "-u",
            "3",
            "-r",
            "3",
            "-t",
            "6s",
            "--out",
            str(tmp_path / "run"),
            env=env,
            timeout=120,
        )
        seen = fresh.requests_seen()
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    rows = {r["name"]: r for r in summary["requests"]}
    assert rows["/api/me"]["requests"] > 0
    assert rows["/api/cases/{case_id}"]["requests"] > 0  # one readable row for every case
    assert sum(r["failures"] for r in summary["requests"]) == 0
    assert seen["by_route"].get("GET /api/me", 0) > 0
    assert "Traceback" not in run.stderr


@pytest.mark.e2e
def test_recorded_template_text_arrives_as_text_and_reads_no_environment(tmp_path: Path) -> None:
    """The probe's finding: a recorded `{{ env.PROBE_SECRET }}` was sent as the load
    generator's environment variable. Replayed now, the target receives the recorded text."""
    recording = tmp_path / "probe.har"
    recording.write_text(json.dumps(probe_recording()), encoding="utf-8")
    scenario = tmp_path / "probe.yaml"
    result = run_loadkit("import", "har", str(recording), "-o", str(scenario))
    assert result.returncode == 0, result.stderr
    leaked = "leaked-probe-value-4711"
    env = {"PROBE_SECRET": leaked, "BEARER_TOKEN": "a-recorded-bearer"}
    with TargetProcess(record=True) as target:
        run = run_loadkit(
            "run", str(scenario), "--host", target.url, "-u", "1", "-r", "1", "-t", "2s",
            "--out", str(tmp_path / "run"), env=env, timeout=120,
        )  # fmt: skip
        log = target.requests_seen()["log"]
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert leaked not in json.dumps(log)
    json_post, form_post, text_post, path_get = log[:4]
    assert parse_qs(json_post["query"]) == {"q": ["{{ user_id }}"], "p": [PROBE]}
    assert json_post["headers"]["x-t"] == PROBE
    assert json.loads(json_post["body"]) == {
        PROBE: 1,
        "v": PROBE,
        "s": "{{ secret }}",
        "n": ["{{ user_id }}"],
        "d": "${HOME} $$ end$",
    }
    assert form_post["headers"]["cookie"] == "pref={{ a }}"
    assert parse_qs(form_post["body"]) == {"f": [PROBE]}
    assert text_post["body"] == PROBE
    assert path_get["path"] == "/api/{{env.PROBE_SECRET}}"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "/api/{{env.PROBE_SECRET}}" in {r["name"] for r in summary["requests"]}
