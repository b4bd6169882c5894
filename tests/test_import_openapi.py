"""`loadkit import openapi`: values from a spec's examples and schemas, write operations left
for a person, credentials as secrets; and httpbin's own description (a spec nobody here wrote)
imported and run against a real httpbin with every imported operation passing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import run_loadkit

from loadkit.cli import run_cli
from loadkit.exit_codes import ExitStatus
from loadkit.importers import import_openapi
from loadkit.scenario import load_scenario

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Case Service", "version": "1.2"},
    "servers": [
        {"url": "https://{region}.cases.example.com/v1", "variables": {"region": {"default": "eu"}}}
    ],
    "security": [{"token": []}],
    "components": {
        "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        "parameters": {
            "CaseId": {
                "name": "caseId",
                "in": "path",
                "required": True,
                "schema": {"type": "integer"},
                "example": 42,
            },
        },
        "schemas": {
            "Report": {
                "type": "object",
                "required": ["region", "about"],
                "properties": {
                    "region": {"type": "string", "example": "01"},
                    "about": {"type": "integer"},
                    "id": {"type": "integer", "readOnly": True},
                    "note": {"type": "string"},
                },
            },
        },
    },
    "paths": {
        "/cases": {
            "get": {
                "summary": "List cases",
                "parameters": [
                    {
                        "name": "region",
                        "in": "query",
                        "schema": {"type": "string", "default": "01"},
                    },
                    {"name": "page", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {"200": {"description": "ok", "content": {"application/json": {}}}},
            }
        },
        "/cases/{caseId}": {
            "parameters": [{"$ref": "#/components/parameters/CaseId"}],
            "get": {"responses": {"200": {"description": "ok"}, "404": {"description": "no"}}},
            "delete": {"responses": {"204": {"description": "gone"}}},
        },
        "/users/{name}": {
            "get": {
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/pages/{n}": {
            "get": {
                "parameters": [
                    {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "security": [],
                "responses": {"200": {"description": "ok"}, "201": {"description": "ok"}},
            }
        },
        "/reports": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Report"}}
                    },
                },
                "responses": {"201": {"description": "made"}},
            }
        },
        "/debug": {"trace": {"responses": {"200": {"description": "ok"}}}},
    },
}
ENV = {"TOKEN": "a-long-bearer-token"}


def imported(spec: dict[str, Any], **options: Any) -> tuple[str, dict[str, Any]]:
    result = import_openapi(spec, source_file="cases.yaml", **options)
    return result.text, yaml.safe_load(result.text)


def tasks(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in data["users"][0]["tasks"]}


def validates(text: str, tmp_path: Path) -> None:
    path = tmp_path / "imported.yaml"
    path.write_text(text, encoding="utf-8")
    load_scenario(path, environ=ENV)


def test_reads_become_tasks_with_values_from_the_spec(tmp_path: Path) -> None:
    text, data = imported(SPEC)
    assert data["host"] == "${TARGET_HOST:-https://eu.cases.example.com}"
    found = tasks(data)
    assert found["GET /v1/cases"]["request"] == {
        "url": "/v1/cases",
        "params": {"region": "01"},
        "auth": {"bearer": "${secret:TOKEN}"},
        "headers": {"Accept": "application/json"},
    }
    case = found["GET /v1/cases/{caseId}"]
    assert case["request"]["url"] == "/v1/cases/42"  # the example, through a $ref
    assert case["request"]["name"] == "/v1/cases/{caseId}"  # one row in the statistics
    assert case["expect"] == {"status": 200}
    pages = found["GET /v1/pages/{n}"]
    assert pages["request"]["url"] == "/v1/pages/1"  # a number it may guess, and says so
    assert "auth" not in pages["request"]  # `security: []`: no credentials
    assert pages["expect"] == {"status": [200, 201]}
    assert "# decide: guessed n=1 (no example in the spec)" in text
    assert "TOKEN: bearer token (token)" in text
    validates(text, tmp_path)


def test_writes_and_values_only_a_person_knows_are_commented_out(tmp_path: Path) -> None:
    text, data = imported(SPEC)
    assert set(tasks(data)) == {"GET /v1/cases", "GET /v1/cases/{caseId}", "GET /v1/pages/{n}"}
    assert "# Left out: a write operation changes data (--include-writes imports them)" in text
    assert "#     method: DELETE" in text
    assert "# Left out: needs a value the spec does not give: {name}" in text
    assert '# - name: "GET /v1/users/{name}"' in text
    assert "# Not imported: TRACE /debug: not a method scenarios send" in text
    # Uncommenting a left-out task gives valid YAML at the right place.
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith('      # - name: "DELETE'))
    for i in range(at, len(lines)):
        if not lines[i].startswith("      # ") or lines[i].startswith("      # Left out"):
            break
        lines[i] = "      " + lines[i][len("      # ") :]
    assert "DELETE /v1/cases/{caseId}" in tasks(yaml.safe_load("\n".join(lines)))
    validates(text, tmp_path)


def test_include_writes_imports_them_with_a_body_built_from_the_schema(tmp_path: Path) -> None:
    text, data = imported(SPEC, include_writes=True)
    report = tasks(data)["POST /v1/reports"]
    assert report["request"]["json"] == {"region": "01", "about": 1}  # not the readOnly id
    assert report["expect"] == {"status": 201}
    assert "# decide: a write operation; it changes data" in text
    assert "# decide: built from the schema" in text
    validates(text, tmp_path)


def test_swagger_2_api_keys_and_form_parameters(tmp_path: Path) -> None:
    spec = {
        "swagger": "2.0",
        "info": {"title": "Old API"},
        "host": "api.example.com",
        "basePath": "/api",
        "schemes": ["http"],
        "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        "security": [{"key": []}],
        "produces": ["application/json"],
        "paths": {
            "/items": {
                "get": {
                    "parameters": [
                        {"name": "limit", "in": "query", "type": "integer", "default": 10}
                    ],
                    "responses": {"200": {"description": "ok"}},
                },
                "post": {
                    "parameters": [
                        {"name": "title", "in": "formData", "type": "string", "x-example": "hello"}
                    ],
                    "responses": {"201": {"description": "ok"}},
                },
            },
        },
    }
    text, data = imported(spec, include_writes=True)
    assert data["host"] == "${TARGET_HOST:-http://api.example.com}"
    found = tasks(data)
    assert found["GET /api/items"]["request"]["params"] == {"limit": "10"}
    assert found["GET /api/items"]["request"]["headers"] == {
        "Accept": "application/json",
        "X-API-Key": "${secret:KEY}",
    }
    assert found["POST /api/items"]["request"]["form"] == {"title": "hello"}
    path = tmp_path / "old.yaml"
    path.write_text(text, encoding="utf-8")
    load_scenario(path, environ={"KEY": "k" * 12})


def test_not_an_openapi_description_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for content, message in [
        ("a: [", "not a readable OpenAPI description"),
        ("paths: {}\n", "neither OpenAPI 3"),
        ("title: x\n", "not an OpenAPI description (no paths)"),
        (
            'openapi: "3.0.0"\npaths: {/x: {post: {responses: {"200": {}}}}}\n',
            "no operation could be imported as it is (1 write operation(s): --include-writes",
        ),
    ]:
        spec = tmp_path / "spec.yaml"
        spec.write_text(content, encoding="utf-8")
        assert run_cli(["import", "openapi", str(spec)]) == ExitStatus.INVALID_INPUT
        err = capsys.readouterr().err
        assert err.startswith("loadkit: error: ") and message in err, err
        assert len(err.strip().splitlines()) == 1


# --------------------------------------------------------------- httpbin: a spec nobody here wrote

HTTPBIN = "httpbin==0.10.4"
"""Installed by the test with --no-deps: every httpbin release that works with Werkzeug 3
declares greenlet<3 on Python < 3.12, which gevent (and so Locust) cannot run with; httpbin
itself never imports greenlet. Its actual imports (flasgger, brotlicffi, decorator, six) are
in the dev extra."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def httpbin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    target = tmp_path_factory.mktemp("httpbin-package")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            HTTPBIN,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    # PyPI is reachable here and in CI: a failed install is a failure, never a silent skip.
    assert install.returncode == 0, f"cannot install {HTTPBIN}: {install.stderr.strip()[-300:]}"
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, httpbin; from werkzeug.serving import run_simple; "
            "run_simple('127.0.0.1', int(sys.argv[1]), httpbin.app, threaded=True)",
            str(port),
        ],
        env={**os.environ, "PYTHONPATH": str(target)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/get", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"httpbin did not start: {server.stderr}") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.e2e
def test_httpbins_own_description_imports_and_its_read_operations_pass(
    httpbin: str, tmp_path: Path
) -> None:
    spec = tmp_path / "httpbin.json"
    with urllib.request.urlopen(httpbin + "/spec.json", timeout=10) as response:
        spec.write_bytes(response.read())
    scenario = tmp_path / "httpbin.yaml"
    result = run_loadkit("import", "openapi", str(spec), "-o", str(scenario))
    assert result.returncode == 0, result.stderr
    text = scenario.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    imported_tasks = tasks(data)
    assert all(name.startswith("GET ") for name in imported_tasks)  # writes are left out
    assert len(imported_tasks) >= 30
    # What cannot pass without a person's values is written commented out, with the reason.
    assert "# Left out: needs a value the spec does not give: {codes}" in text
    assert "# Left out: needs a value the spec does not give: {user}, {passwd}" in text

    env = {"AUTHORIZATION": "Bearer a-test-token"}  # httpbin's /bearer takes any token
    assert run_loadkit("validate", str(scenario), env=env).returncode == 0
    # Without pauses between tasks, every imported operation runs within seconds.
    fast = tmp_path / "httpbin-fast.yaml"
    fast.write_text(
        text.replace("defaults: {think_time: {between: [1s, 3s]}}", "defaults: {}"),
        encoding="utf-8",
    )
    run = run_loadkit(
        "run",
        str(fast),
        "--host",
        httpbin,
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "15s",
        "--out",
        str(tmp_path / "run"),
        env=env,
        timeout=150,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    rows = {r["name"]: r for r in summary["requests"]}
    names = {t["request"].get("name", t["request"]["url"]) for t in imported_tasks.values()}
    assert names <= set(rows), names - set(rows)  # every imported operation ran...
    assert all(rows[name]["failures"] == 0 for name in names)  # ...and passed
