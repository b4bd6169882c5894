"""The bundled target, exercised as a real subprocess over real sockets."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import TargetFactory

import loadkit.demo_target.server
from loadkit.demo_target.process import TargetProcess

pytestmark = pytest.mark.e2e  # real Locust runs against real servers

Response = tuple[int, dict[str, str], Any]


def _connect(target: TargetProcess) -> http.client.HTTPConnection:
    parts = urlsplit(target.url)
    assert parts.hostname is not None and parts.port is not None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def _send(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    payload: bytes | None
    if body is None:
        payload = None
    elif isinstance(body, bytes):
        payload = body
    else:
        payload = json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"} if payload is not None else {}
    all_headers.update(headers or {})
    conn.request(method, path, body=payload, headers=all_headers)
    response = conn.getresponse()
    raw = response.read()
    response_headers = {name.lower(): value for name, value in response.getheaders()}
    return response.status, response_headers, json.loads(raw) if raw else None


def _call(
    target: TargetProcess,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    conn = _connect(target)
    try:
        return _send(conn, method, path, body, headers)
    finally:
        conn.close()


# -- endpoints -------------------------------------------------------------------------


def test_listens_on_loopback_only(shared_target: TargetProcess) -> None:
    assert urlsplit(shared_target.url).hostname == "127.0.0.1"


def test_health_is_json_with_content_length(shared_target: TargetProcess) -> None:
    status, headers, body = _call(shared_target, "GET", "/health")
    assert status == 200
    assert body == {"status": "ok"}
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(b'{"status":"ok"}')


def test_login_token_authenticates_me(shared_target: TargetProcess) -> None:
    status, _, body = _call(
        shared_target, "POST", "/api/login", {"username": "ana", "password": "s3cret"}
    )
    assert status == 200
    assert body["user"] == "ana"
    token = body["token"]
    assert isinstance(token, str) and len(token) >= 16

    status, _, body = _call(
        shared_target, "GET", "/api/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert (status, body) == (200, {"user": "ana"})


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YW5hOng="}],
)
def test_me_rejects_missing_or_unknown_token(
    shared_target: TargetProcess, headers: dict[str, str]
) -> None:
    status, response_headers, body = _call(shared_target, "GET", "/api/me", headers=headers)
    assert status == 401
    assert "error" in body
    assert response_headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "body",
    [b"{not json", {"username": "ana"}, {"password": "x"}, {"username": 3, "password": "x"}, []],
)
def test_login_rejects_bad_bodies(shared_target: TargetProcess, body: Any) -> None:
    status, _, response = _call(shared_target, "POST", "/api/login", body)
    assert status == 400
    assert isinstance(response["error"], str)


def test_cases_list_filter_and_lookup(shared_target: TargetProcess) -> None:
    status, _, cases = _call(shared_target, "GET", "/api/cases")
    assert status == 200
    assert len(cases) == 10
    assert {"id", "region", "status", "opened"} <= set(cases[0])
    # Deterministic across calls (and processes): load tests rely on known ids.
    assert _call(shared_target, "GET", "/api/cases")[2] == cases

    status, _, region_cases = _call(shared_target, "GET", "/api/cases?region=02")
    assert status == 200
    assert region_cases
    assert all(case["region"] == "02" for case in region_cases)
    assert region_cases == [case for case in cases if case["region"] == "02"]

    status, _, case = _call(shared_target, "GET", f"/api/cases/{cases[3]['id']}")
    assert (status, case) == (200, cases[3])
    assert _call(shared_target, "GET", "/api/cases/9999")[0] == 404
    assert _call(shared_target, "GET", "/api/cases/abc")[0] == 404


def test_reports_are_created_and_counted_in_stats(shared_target: TargetProcess) -> None:
    before = _call(shared_target, "GET", "/api/stats")[2]
    assert before["cases"] == 10

    status, _, first = _call(shared_target, "POST", "/api/reports", {"kind": "pothole"})
    assert status == 201
    assert first["status"] == "received"
    status, _, second = _call(shared_target, "POST", "/api/reports", {"kind": "graffiti"})
    assert status == 201
    assert second["id"] == first["id"] + 1

    status, _, after = _call(shared_target, "GET", "/api/stats")
    assert status == 200
    assert after == {"cases": 10, "reports": before["reports"] + 2}

    assert _call(shared_target, "POST", "/api/reports", b"{oops")[0] == 400


def test_unknown_path_404_and_wrong_method_405(shared_target: TargetProcess) -> None:
    status, headers, body = _call(shared_target, "GET", "/nope")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert "error" in body

    status, headers, body = _call(shared_target, "DELETE", "/api/cases")
    assert status == 405
    assert headers["allow"] == "GET"
    assert "error" in body
    assert _call(shared_target, "GET", "/api/login")[0] == 405


def test_delay_really_waits_and_does_not_block_others(shared_target: TargetProcess) -> None:
    started = time.perf_counter()
    status, _, body = _call(shared_target, "GET", "/api/delay?ms=200")
    elapsed = time.perf_counter() - started
    assert (status, body) == (200, {"slept_ms": 200})
    assert 0.19 <= elapsed < 1.0

    # Two concurrent delays overlap: the server sleeps cooperatively.
    results: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(_call(shared_target, "GET", "/api/delay?ms=300")[0])
        )
        for _ in range(2)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200, 200]
    assert time.perf_counter() - started < 0.55

    assert _call(shared_target, "GET", "/api/delay?ms=abc")[0] == 400


@pytest.mark.parametrize("code", [200, 201, 204, 302, 400, 404, 418, 429, 500, 503])
def test_status_endpoint_returns_requested_code(shared_target: TargetProcess, code: int) -> None:
    status, _, body = _call(shared_target, "GET", f"/api/status/{code}")
    assert status == code
    assert body == (None if code == 204 else {"status": code})


def test_status_endpoint_rejects_out_of_range(shared_target: TargetProcess) -> None:
    assert _call(shared_target, "GET", "/api/status/99")[0] == 400
    assert _call(shared_target, "GET", "/api/status/600")[0] == 400


def test_work_without_capacity_model_answers_immediately(shared_target: TargetProcess) -> None:
    started = time.perf_counter()
    status, _, _ = _call(shared_target, "GET", "/api/work")
    assert status == 200
    assert time.perf_counter() - started < 0.1


# -- introspection ---------------------------------------------------------------------


def test_counts_by_route_exclude_introspection(target: TargetProcess) -> None:
    assert target.requests_seen() == {"total": 0, "by_route": {}}
    _call(target, "GET", "/health")
    _call(target, "GET", "/health")
    _call(target, "GET", "/api/cases?region=01")
    _call(target, "GET", "/api/cases/3")
    _call(target, "POST", "/api/reports", {"a": 1})
    _call(target, "GET", "/missing")
    _call(target, "GET", "/__loadkit/requests")

    seen = target.requests_seen()
    assert seen == {
        "total": 6,
        "by_route": {
            "GET /health": 2,
            "GET /api/cases": 1,
            "GET /api/cases/3": 1,
            "POST /api/reports": 1,
            "GET /missing": 1,
        },
    }
    assert "log" not in seen

    target.reset()
    assert target.requests_seen() == {"total": 0, "by_route": {}}


def test_request_is_counted_on_arrival(target: TargetProcess) -> None:
    slow = threading.Thread(target=_call, args=(target, "GET", "/api/delay?ms=600"))
    slow.start()
    try:
        deadline = time.monotonic() + 0.5
        while target.requests_seen()["total"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert target.requests_seen()["by_route"] == {"GET /api/delay": 1}
    finally:
        slow.join()


def test_record_log_captures_headers_and_body(target_factory: TargetFactory) -> None:
    target = target_factory(record=True)
    _call(
        target,
        "POST",
        "/api/reports?source=test",
        {"kind": "noise"},
        headers={"X-Loadkit-Probe": "abc", "Authorization": "Bearer t0k"},
    )
    _call(target, "GET", "/health")
    _call(target, "POST", "/__loadkit/reset")  # not counted, but clears the log
    _call(target, "GET", "/api/cases?region=03", headers={"User-Agent": "probe/1"})

    seen = target.requests_seen()
    assert seen["total"] == 1
    [entry] = seen["log"]
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/cases"
    assert entry["query"] == "region=03"
    assert entry["headers"]["user-agent"] == "probe/1"
    assert entry["body"] == ""

    _call(
        target,
        "POST",
        "/api/reports?source=test",
        {"kind": "noise"},
        headers={"X-Loadkit-Probe": "abc", "Authorization": "Bearer t0k"},
    )
    entry = target.requests_seen()["log"][-1]
    assert entry["method"] == "POST"
    assert entry["path"] == "/api/reports"
    assert entry["query"] == "source=test"
    assert entry["headers"]["x-loadkit-probe"] == "abc"
    assert entry["headers"]["authorization"] == "Bearer t0k"
    assert entry["headers"]["content-type"] == "application/json"
    assert json.loads(entry["body"]) == {"kind": "noise"}

    target.reset()
    assert target.requests_seen() == {"total": 0, "by_route": {}, "log": []}


# -- latency and capacity --------------------------------------------------------------


def test_health_p99_on_keepalive_connection_is_well_under_5ms(
    shared_target: TargetProcess, record_property: Any
) -> None:
    conn = _connect(shared_target)
    try:
        for _ in range(50):
            assert _send(conn, "GET", "/health")[0] == 200
        sock = conn.sock
        samples: list[float] = []
        for _ in range(500):
            started = time.perf_counter()
            conn.request("GET", "/health")
            response = conn.getresponse()
            response.read()
            samples.append(time.perf_counter() - started)
            assert response.status == 200
        # Same socket throughout: HTTP/1.1 keep-alive really held.
        assert conn.sock is sock
    finally:
        conn.close()
    samples.sort()
    p50_ms = samples[len(samples) // 2] * 1000
    p99_ms = samples[int(len(samples) * 0.99) - 1] * 1000
    record_property("health_p50_ms", round(p50_ms, 3))
    record_property("health_p99_ms", round(p99_ms, 3))
    print(f"/health keep-alive latency: p50={p50_ms:.3f} ms p99={p99_ms:.3f} ms")
    assert p99_ms < 5.0


def test_capacity_model_caps_throughput(target_factory: TargetFactory) -> None:
    # 2 slots x 50 ms per request => at most 40 req/s however many clients queue.
    target = target_factory("--max-concurrency", "2", "--service-ms", "50")
    completed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def client() -> None:
        conn = _connect(target)
        done = 0
        try:
            barrier.wait()
            deadline = time.perf_counter() + 1.0
            while time.perf_counter() < deadline:
                assert _send(conn, "GET", "/api/work")[0] == 200
                done += 1
        finally:
            conn.close()
            with lock:
                completed.append(done)

    threads = [threading.Thread(target=client) for _ in range(8)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    throughput = sum(completed) / elapsed
    print(f"capacity model throughput: {throughput:.1f} req/s over {elapsed:.2f} s")
    assert len(completed) == 8
    assert 25.0 <= throughput <= 44.0


# -- process lifecycle -----------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_exits_cleanly_on_signal(target_factory: TargetFactory, signum: int) -> None:
    target = target_factory()
    proc: Any = target._proc
    proc.send_signal(signum)
    assert proc.wait(10) == 0
    target.stop()
    assert target.returncode == 0
    assert "Traceback" not in target.output
    assert target.output.splitlines() == [f"loadkit target listening on {target.url}"]


def test_start_failure_raises_with_output() -> None:
    with pytest.raises(RuntimeError, match="max-concurrency must be at least 1"):
        TargetProcess("--max-concurrency", "0").start()


def test_importing_target_does_not_import_gevent() -> None:
    code = (
        "import sys, loadkit.demo_target.server, loadkit.demo_target.process; "
        "assert 'gevent' not in sys.modules, 'gevent imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(Path(loadkit.demo_target.server.__file__).parents[1])},
    )
    assert result.returncode == 0, result.stderr
