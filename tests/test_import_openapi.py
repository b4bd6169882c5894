"""`loadkit import openapi`: values from a spec's examples and schemas, write operations left
for a person, credentials as secrets; and httpbin's own description (a spec nobody here wrote)
imported and run against a real httpbin with every imported operation passing."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run_loadkit

from loadkit import importers
from loadkit.cli import run_cli
from loadkit.exit_codes import ExitStatus
from loadkit.importers import download, import_openapi
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


# ------------------------------------------------ a description served at a URL, with values

RECORDS_SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Records", "version": "1"},
    "servers": [{"url": "/v1"}],  # relative: to where the description is served
    "components": {
        "parameters": {
            "Bucket": {"name": "bucket_id", "in": "path", "required": True,
                       "schema": {"type": "string"}},
            "Since": {"$ref": "https://schemas.example.com/common.yaml#/Since"},
        },
        "schemas": {
            "Created": {"type": "object", "properties": {
                "data": {"type": "object", "properties": {"id": {"type": "string"},
                                                          "title": {"type": "string"}}}}},
        },
    },
    "paths": {
        "/buckets": {
            "get": {"responses": {"200": {"description": "ok"}}},
            "delete": {"responses": {"200": {"description": "every bucket deleted"}}},
        },
        "/buckets/{bucket_id}": {
            "parameters": [{"$ref": "#/components/parameters/Bucket"}],
            "get": {"responses": {"200": {"description": "ok"}}},
        },
        "/buckets/{bucket_id}/records": {
            "parameters": [{"$ref": "#/components/parameters/Bucket"}],
            "get": {
                "parameters": [{"$ref": "#/components/parameters/Since"}],
                "responses": {"200": {"description": "ok"}},
            },
            "post": {
                "requestBody": {"content": {"application/json": {"schema": {
                    "type": "object", "required": ["data"], "properties": {"data": {
                        "type": "object", "required": ["title"],
                        "properties": {"title": {"type": "string", "example": "hello"}}}}}}}},
                "responses": {"201": {"description": "made", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Created"}}}}},
            },
        },
        "/buckets/{bucket_id}/records/{id}": {
            "parameters": [
                {"$ref": "#/components/parameters/Bucket"},
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": {"responses": {"200": {"description": "ok"}, "404": {"description": "no"}}},
            "delete": {"responses": {"200": {"description": "deleted"}}},
        },
    },
}  # fmt: skip
API_PATH = "/v1/__api__"


class RecordsService(ThreadingHTTPServer):
    """A small REST service on 127.0.0.1 that serves its own description (as Kinto serves
    /v1/__api__), creates records with new ids and reads them back; plus answers that an
    importer must refuse (too big, too slow, not a description)."""

    daemon_threads = True
    records: dict[str, dict[str, Any]]
    seen: list[tuple[str, str, int]]
    big: bytes = b""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the time bounds' tests) is expected here


class RecordsHandler(BaseHTTPRequestHandler):
    server: RecordsService

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def answer(self, code: int, payload: Any = None, kind: str = "application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.server.seen.append((self.command, self.path, code))
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        parts = path.strip("/").split("/")
        if path == API_PATH:
            self.answer(200, RECORDS_SPEC)
        elif path == "/big":
            self.answer(200, self.server.big)
        elif path == "/big-undeclared":  # no length: read until the connection closes
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(self.server.big)
        elif path == "/page":
            self.answer(200, b"<html><body>Welcome</body></html>", "text/html")
        elif path == "/silent":
            time.sleep(3)  # longer than the patched time bound
            self.answer(200, RECORDS_SPEC)
        elif path == "/drip":  # each byte in time, the whole too late
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(30):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        elif path == "/v1/buckets":
            self.answer(200, {"data": [{"id": "default"}]})
        elif parts[:2] == ["v1", "buckets"] and len(parts) == 3:
            self.answer(200 if parts[2] == "default" else 404, {})
        elif parts[:2] == ["v1", "buckets"] and len(parts) == 4 and parts[3] == "records":
            self.answer(200, {"data": list(self.server.records.values())})
        elif parts[:2] == ["v1", "buckets"] and len(parts) == 5:
            record = self.server.records.get(parts[4])
            self.answer(404 if record is None else 200, {"data": record})
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self) -> None:
        parts = self.path.strip("/").split("/")
        length = int(self.headers.get("Content-Length") or 0)
        sent = json.loads(self.rfile.read(length) or b"{}")
        if parts[:2] == ["v1", "buckets"] and len(parts) == 4 and parts[3] == "records":
            record = {"id": uuid.uuid4().hex, "title": sent.get("data", {}).get("title")}
            self.server.records[record["id"]] = record
            self.answer(201, {"data": record})
        else:
            self.answer(404, {})

    def do_DELETE(self) -> None:
        parts = self.path.strip("/").split("/")
        if parts[:2] == ["v1", "buckets"] and len(parts) == 5:
            found = self.server.records.pop(parts[4], None)
            self.answer(404 if found is None else 200, {})
        else:
            self.answer(200, {})  # DELETE /v1/buckets: everything gone


@pytest.fixture
def records_service() -> Iterator[RecordsService]:
    server = RecordsService(("127.0.0.1", 0), RecordsHandler)
    server.records, server.seen = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def import_from(url: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_cli(["import", "openapi", url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_description_at_a_url_imports_with_values_and_chains_create_then_read(
    records_service: RecordsService, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = records_service.url + API_PATH
    code, text, err = import_from(url, capsys=capsys)
    assert code == ExitStatus.PASS, err
    assert "--value NAME=VALUE gives one" in text  # {bucket_id}: no value yet
    code, text, err = import_from(
        url, "--value", "bucket_id=default", "--include-writes", capsys=capsys
    )
    assert code == ExitStatus.PASS, err
    data = yaml.safe_load(text)
    assert data["host"] == "${TARGET_HOST:-" + records_service.url + "}"
    found = tasks(data)
    assert found["GET /v1/buckets/{bucket_id}"]["request"]["url"] == "/v1/buckets/default"
    read = found["GET /v1/buckets/{bucket_id}/records/{id}"]
    create, get = read["flow"]
    assert create["request"]["method"] == "POST"
    assert create["request"]["url"] == "/v1/buckets/default/records"
    assert create["capture"] == {"record_id": "$.data.id"}
    assert get["request"]["url"] == "/v1/buckets/default/records/{{ record_id }}"
    assert get["request"]["name"] == "/v1/buckets/{bucket_id}/records/{id}"
    delete = found["DELETE /v1/buckets/{bucket_id}/records/{id}"]  # deletes what it created
    assert delete["flow"][1]["request"]["url"].endswith("/records/{{ record_id }}")
    # DELETE /v1/buckets destroys every bucket: --include-writes is not enough, and it says so.
    assert "DELETE /v1/buckets" not in found
    assert "# Left out: destructive: deletes what the scenario did not create" in text
    # The parameter behind an outside $ref is named, in the file and on stderr.
    ref = "https://schemas.example.com/common.yaml#/Since"
    assert f"#   $ref {ref} not followed (outside this document)" in text
    assert f"loadkit: note: $ref {ref} not followed (outside this document)" in err
    validates(text, tmp_path)

    code, text, err = import_from(
        url, "--value", "bucket_id=default", "--include-writes", "--include-destructive",
        capsys=capsys,
    )  # fmt: skip
    assert code == ExitStatus.PASS, err
    assert "DELETE /v1/buckets" in tasks(yaml.safe_load(text))
    assert "# DESTRUCTIVE: deletes what the scenario did not create (a whole collection)" in text


@pytest.mark.e2e
def test_the_chained_scenario_reads_what_it_created_against_the_service(
    records_service: RecordsService, tmp_path: Path
) -> None:
    scenario = tmp_path / "records.yaml"
    result = run_loadkit(
        "import", "openapi", records_service.url + API_PATH, "--value", "bucket_id=default",
        "--include-writes", "-o", str(scenario),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    fast = scenario.read_text().replace("between: [1s, 3s]", "constant: 0.05")
    scenario.write_text(fast)
    records_service.seen.clear()
    run = run_loadkit(
        "run", str(scenario), "-u", "2", "-r", "2", "-t", "3s", "--out", str(tmp_path / "run"),
        timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    reads = [(m, p, c) for m, p, c in records_service.seen if m == "GET" and p.count("/") == 5]
    assert reads and all(code == 200 for _, _, code in reads)  # each id was one just created
    assert ("DELETE", "/v1/buckets", 200) not in records_service.seen
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    rows = {(r["method"], r["name"]): r for r in summary["requests"]}
    item = "/v1/buckets/{bucket_id}/records/{id}"  # one readable row for every id
    assert rows[("GET", item)]["requests"] == len(reads)
    deletes = [c for m, p, c in records_service.seen if m == "DELETE" and p.count("/") == 5]
    assert deletes and set(deletes) == {200}  # each deleted what its flow created
    assert rows[("DELETE", item)]["requests"] == len(deletes)
    assert sum(r["failures"] for r in summary["requests"]) == 0


def test_url_errors_are_one_line_naming_the_url_as_given(
    records_service: RecordsService,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = records_service.url

    def error(url: str, *args: str) -> str:
        code, _, err = import_from(url, *args, capsys=capsys)
        assert code == ExitStatus.INVALID_INPUT, err
        assert err.startswith(f"loadkit: error: {url}: ") and len(err.strip().splitlines()) == 1
        return err

    code, _, err = import_from(base + API_PATH, "--value", "bucket_id", capsys=capsys)
    assert code == ExitStatus.INVALID_INPUT
    assert (
        err
        == "loadkit: error: --value 'bucket_id': write NAME=VALUE, e.g. --value bucket_id=default\n"
    )
    assert records_service.seen == []  # refused before anything was downloaded
    assert "the server answered 404 Not Found" in error(base + "/v1/nothing-here")
    assert "the answer (text/html) is no OpenAPI description" in error(base + "/page")
    unknown = error(base + API_PATH, "--value", "bucket=default")
    assert "--value bucket: no parameter is named so; did you mean 'bucket_id'?" in unknown
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}/api"
    assert "connection refused" in error(refused)
    # Size: the declared length, and a body longer than declared limits (read in chunks).
    monkeypatch.setattr(importers, "MAX_INPUT_BYTES", 1000)
    records_service.big = json.dumps({"openapi": "3.0.0", "x": "y" * 2000}).encode()
    assert "the answer is larger than 1,000 bytes" in error(base + "/big")
    assert "the answer is larger than 1,000 bytes" in error(base + "/big-undeclared")
    # Time: an answer that never comes, and one that comes too slowly.
    monkeypatch.setattr(download, "TIMEOUT_S", 0.5)
    started = time.monotonic()
    assert "no complete answer within 0.5 s" in error(base + "/drip")
    assert "no complete answer within 0.5 s" in error(base + "/silent")
    assert time.monotonic() - started < 4  # each bounded, not 3 s of silence and 3 s of drip


def test_an_https_description_is_read_only_from_a_trusted_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    server = RecordsService(("127.0.0.1", 0), RecordsHandler)
    server.records, server.seen = {}, []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{server.server_address[1]}{API_PATH}"
    try:
        code, _, err = import_from(url, capsys=capsys)
        assert code == ExitStatus.INVALID_INPUT
        assert err.startswith(f"loadkit: error: {url}: TLS certificate not trusted (")
        assert server.seen == []  # nothing was asked of an unverified server
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the person trusts it
        code, text, err = import_from(url, capsys=capsys)
        assert code == ExitStatus.PASS, err
        assert yaml.safe_load(text)["host"] == "${TARGET_HOST:-https://" + url.split("/")[2] + "}"
    finally:
        server.shutdown()
        server.server_close()
