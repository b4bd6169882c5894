"""The lean request path (`send`, locustfile_helpers/lean_path.py) against Locust's FastHttpSession,
on real servers: the same scenario compiled as loadkit compiles it and, as the reference, with every
`send(self, ...)` turned back into `self.client.request(...)` (what the compiler wrote before
the lean path). Both run under plain `locust -f`; a `quitting` listener appended to each file
dumps Locust's final statistics (the figures its CSVs and web UI show: counts, failures,
content sizes, the failures table with its exception types, the exceptions table), and the
servers count what they received.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from loadkit.compiler import compile_scenario
from loadkit.demo_target.process import TargetProcess
from loadkit.scenario import load_scenario

pytestmark = pytest.mark.e2e

# Appended to both locustfiles: Locust's final statistics as JSON, read after the run.
DUMP = """

from locust import events as _events
from locust.stats import StatsError as _StatsError


@_events.quitting.add_listener
def _dump_statistics(environment, **kwargs):
    import json, os
    stats = environment.stats
    entries = {
        f"{e.method} {e.name}": {
            "requests": e.num_requests,
            "failures": e.num_failures,
            "content": e.total_content_length,
        }
        for e in stats.entries.values()
    }
    errors = sorted(
        [e.method, e.name, type(e.error).__name__, _StatsError.parse_error(e.error)]
        for e in stats.errors.values()
    )
    exceptions = [x["msg"] for x in environment.runner.exceptions.values()]
    lean = globals().get("LEAN_PATH")
    with open(os.environ["LEAN_TEST_DUMP"], "w") as out:
        json.dump({"entries": entries, "errors": errors, "exceptions": exceptions,
                   "lean": lean}, out)
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reference_of(code: str) -> str:
    """The same locustfile with Locust's FastHttpSession doing every request."""
    classes, helpers = code.split("# Helpers copied", 1)
    classes = re.sub(r"send\(\n(\s+)self,\n", r"self.client.request(\n", classes)
    return classes.replace("send(self, ", "self.client.request(") + "# Helpers copied" + helpers


def run_both(
    tmp_path: Path, scenario_text: str, reset: Any, seen: Any, lean_tail: str = ""
) -> dict[str, Any]:
    """Both locustfiles, one after the other: Locust's statistics and the server's counts.
    `lean_tail` is appended to the lean one."""
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(scenario_text)
    lean = compile_scenario(load_scenario(scenario_file, environ={}))
    assert "send(" in lean and "self.client.request(" not in lean.split("# Helpers", 1)[0]
    out: dict[str, Any] = {}
    for kind, code in (("lean", lean + lean_tail), ("reference", reference_of(lean))):
        locustfile = tmp_path / f"{kind}.py"
        locustfile.write_text(code + DUMP)
        dump = tmp_path / f"{kind}.json"
        reset()
        proc = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
             "-u", "12", "-r", "100", "-t", "3s", "--stop-timeout", "3",
             "--exit-code-on-error", "0", "--loglevel", "WARNING"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
            env={**os.environ, "LEAN_TEST_DUMP": str(dump)},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
        out[kind] = {**json.loads(dump.read_text()), "seen": seen(), "stderr": proc.stderr}
    return out


def assert_equivalent(result: dict[str, Any]) -> dict[str, Any]:
    """Every request name: all requests failed, with one and the same error on both paths,
    or none did; the same content per request; the same failures table; no exceptions."""
    lean, reference = result["lean"], result["reference"]
    assert lean["exceptions"] == reference["exceptions"] == []
    assert set(lean["entries"]) == set(reference["entries"])
    errors = {}
    for side in (lean, reference):
        side_errors = {(m, n): (kind, msg) for m, n, kind, msg in side["errors"]}
        assert len(side_errors) == len(side["errors"])  # one error per request name
        for key, entry in side["entries"].items():
            method, name = key.split(" ", 1)
            assert entry["requests"] > 0, key
            failing = (method, name) in side_errors
            assert entry["failures"] == (entry["requests"] if failing else 0), key
            assert entry["content"] % entry["requests"] == 0, key  # deterministic bodies
        errors[id(side)] = side_errors
    assert errors[id(lean)] == errors[id(reference)]
    for key in lean["entries"]:
        per_request = [
            s["entries"][key]["content"] // s["entries"][key]["requests"] for s in (lean, reference)
        ]
        assert per_request[0] == per_request[1], key
    return errors[id(lean)]


CHECKS_SCENARIO = """\
name: lean-equivalence
host: {host}
load: {{users: 12, spawn_rate: 100, duration: 3s}}
defaults:
  think_time: {{constant: 0s}}
  timeout: 0.5s
users:
  - name: checker
    tasks:
      - name: plain get
        request: {{url: /health}}
      - name: bad status
        request: {{url: /api/status/500}}
      - name: expected 404
        request: {{url: /api/status/404}}
        expect: {{status: 404}}
      - name: wrong status
        request: {{url: /api/status/503}}
        expect: {{status: [200, 201]}}
      - name: no status check
        request: {{url: /api/status/502, name: no status check}}
        expect: {{json: {{$.status: 502}}}}
      - name: json equals
        request: {{url: /api/cases/3, name: json equals}}
        expect: {{status: 200, json: {{$.id: 3, $.region: "03"}}}}
      - name: json differs
        request: {{url: /api/cases/3, name: json differs}}
        expect: {{json: {{$.id: 4}}}}
      - name: json exists
        request: {{url: /api/cases/3, name: json exists}}
        expect: {{json_exists: [$.opened, $.missing]}}
      - name: not json
        request: {{url: /api/cases/3, name: not json, headers: {{Accept: text/plain}}}}
        expect: {{body_matches: "^nothing$"}}
      - name: body contains
        request: {{url: /api/cases/3, name: body contains}}
        expect: {{body_contains: closed-or-not}}
      - name: header check
        request: {{url: /api/cases/3, name: header check}}
        expect: {{headers: {{Content-Type: text/html}}}}
      - name: fast enough
        request: {{url: /api/cases/3, name: fast enough}}
        expect: {{max_ms: 30s}}
      - name: capture json missing
        request: {{url: /api/cases/3, name: capture json missing}}
        capture: {{id: $.nothing}}
      - name: capture regex missing
        request: {{url: /api/cases/3, name: capture regex missing}}
        capture: {{id: {{regex: "zzz(\\\\d+)"}}}}
      - name: capture header missing
        request: {{url: /api/cases/3, name: capture header missing}}
        capture: {{id: {{header: X-Nothing}}}}
      - name: post json
        request:
          method: POST
          url: /api/work
          name: post json
          json: {{case: 3, user: "{{{{ user_id }}}}"}}
        expect: {{status: 200, json: {{$.status: done}}}}
      - name: post text
        request: {{method: POST, url: /api/work, name: post text, body: "text {{{{ user_id }}}}"}}
        expect: {{status: 200}}
      - name: post form
        request: {{method: POST, url: /api/work, name: post form, form: {{a: "1", b: two}}}}
      - name: login flow
        flow:
          - request:
              method: POST
              url: /api/login
              json: {{username: alice, password: secret}}
            expect: {{status: 200}}
            capture: {{token: $.token}}
          - request:
              url: /api/me
              headers: {{Authorization: "Bearer {{{{ token }}}}"}}
            expect: {{status: 200, json: {{$.user: alice}}}}
          - request: {{url: /api/me, name: me without token}}
            expect: {{status: 200}}
      - name: refused
        request: {{url: "http://127.0.0.1:{closed}/nothing", name: refused}}
      - name: timeout
        request: {{url: "/api/delay?ms=2000", name: timeout}}
        expect: {{status: 200}}
"""


def test_checks_captures_errors_and_timeouts_match_fasthttpuser(
    tmp_path: Path, target: TargetProcess
) -> None:
    text = CHECKS_SCENARIO.format(host=target.url, closed=closed_port())
    result = run_both(tmp_path, text, target.reset, target.requests_seen)
    errors = assert_equivalent(result)
    for side in ("lean", "reference"):
        entries, seen = result[side]["entries"], result[side]["seen"]
        requests = {k: e for k, e in entries.items() if not k.startswith("TXN ")}
        sent = sum(e["requests"] for key, e in requests.items() if key != "GET refused")
        assert seen["total"] == sent, side  # the target received every request Locust counted
        assert entries["GET timeout"]["requests"] == seen["by_route"]["GET /api/delay"], side
    # What the table says, on both paths alike (checked equal above).
    message = "CatchResponseError('check $.id == 4: got 3')"
    assert errors[("GET", "json differs")] == ("CatchResponseError", message)
    assert errors[("GET", "/api/status/500")][0] == "LocustBadStatusCode"
    assert errors[("GET", "refused")][0] == "ConnectionRefusedError"
    assert errors[("GET", "timeout")][0] in {"RetriesExceeded", "TimeoutError", "timeout"}
    assert ("GET", "json equals") not in errors and ("POST", "post json") not in errors
    assert ("GET", "/api/me") not in errors  # the captured token was sent
    assert ("GET", "me without token") in errors


def test_without_the_internals_it_needs_send_falls_back_to_locusts_client(
    tmp_path: Path, target: TargetProcess
) -> None:
    """A Locust release that lacks an internal the lean path uses (here: one more name in its
    table of needs, as a rename would look) runs the same file through `self.client.request`,
    says so once, and counts exactly what the reference counts."""
    text = CHECKS_SCENARIO.format(host=target.url, closed=closed_port())
    renamed = '\nLEAN_PATH_NEEDS["HTTPClient"] += ("_renamed_in_a_later_release",)\n'
    result = run_both(tmp_path, text, target.reset, target.requests_seen, lean_tail=renamed)
    assert_equivalent(result)
    lean, reference = result["lean"], result["reference"]
    assert lean["lean"] == {"checked": True, "works": False}  # checked, and found wanting
    assert reference["lean"]["checked"] is False  # Locust's client all along
    notes = re.findall(r"the lean request path is off \(this Locust [^)]*\)", lean["stderr"])
    assert notes == [
        f"the lean request path is off (this Locust {locust_version()} lacks "
        "HTTPClient._renamed_in_a_later_release)"
    ]
    for side in (lean, reference):
        sent = sum(e["requests"] for k, e in side["entries"].items()
                   if not k.startswith("TXN ") and k != "GET refused")  # fmt: skip
        assert side["seen"]["total"] == sent


def test_on_this_locust_the_lean_path_is_on(tmp_path: Path, target: TargetProcess) -> None:
    text = CHECKS_SCENARIO.format(host=target.url, closed=closed_port())
    result = run_both(tmp_path, text, target.reset, target.requests_seen)
    assert result["lean"]["lean"] == {"checked": True, "works": True}
    assert "lean request path is off" not in result["lean"]["stderr"]


def locust_version() -> str:
    return subprocess.run(
        [sys.executable, "-c", "import importlib.metadata as m; print(m.version('locust'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


class CookiesAndRedirects(BaseHTTPRequestHandler):
    """/set sets a cookie, /echo answers with the cookies it got, /redirect sends to /echo,
    /loop redirects to itself; every request is counted by path."""

    protocol_version = "HTTP/1.1"
    counts: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        with self.lock:
            self.counts[path] = self.counts.get(path, 0) + 1
        headers: list[tuple[str, str]] = []
        body = b"{}"
        status = 200
        if path == "/set":
            headers.append(("Set-Cookie", "session=s1; Path=/"))
        elif path == "/echo":
            body = json.dumps({"cookie": self.headers.get("Cookie", "")}).encode()
        elif path == "/redirect":
            status, headers = 302, [("Location", "/echo")]
        elif path == "/loop":
            status, headers = 302, [("Location", "/loop")]
        self.send_response(status)
        for name, value in [*headers, ("Content-Type", "application/json")]:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a connection Locust closed when it stopped


@pytest.fixture
def cookie_server() -> Iterator[ThreadingHTTPServer]:
    server = QuietServer(("127.0.0.1", 0), CookiesAndRedirects)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


COOKIE_SCENARIO = """\
name: lean-cookies
host: http://127.0.0.1:{port}
load: {{users: 4, spawn_rate: 100, duration: 3s}}
defaults:
  think_time: {{constant: 0.02s}}
users:
  - name: browser
    tasks:
      - name: visit
        flow:
          - request: {{url: /set}}
            expect: {{status: 200}}
          - request: {{url: /echo}}
            expect: {{status: 200, json: {{$.cookie: session=s1}}}}
          - request: {{url: /redirect, name: redirect with the cookie}}
            expect: {{status: 200, json: {{$.cookie: session=s1}}}}
  - name: no cookies
    tasks:
      - name: redirected
        request: {{url: /redirect, name: redirect without cookies}}
        expect: {{status: 200, json: {{$.cookie: ""}}}}
      - name: endless redirects
        request: {{url: /loop}}
"""


def test_cookies_and_redirects_match_fasthttpuser(
    tmp_path: Path, cookie_server: ThreadingHTTPServer
) -> None:
    counts = CookiesAndRedirects.counts
    text = COOKIE_SCENARIO.format(port=cookie_server.server_address[1])
    result = run_both(tmp_path, text, counts.clear, lambda: dict(counts))
    errors = assert_equivalent(result)
    assert set(errors) == {("GET", "/loop")}  # every check passed: cookies kept and sent
    assert errors[("GET", "/loop")][0] == "RetriesExceeded"
    for side in ("lean", "reference"):
        entries, seen = result[side]["entries"], result[side]["seen"]
        without = entries["GET redirect without cookies"]["requests"]
        with_cookie = entries["GET redirect with the cookie"]["requests"]
        # A followed redirect is two requests at the server and one in Locust's statistics.
        assert seen["/redirect"] == without + with_cookie, side
        assert seen["/echo"] == without + entries["GET /echo"]["requests"] + with_cookie, side
        assert seen["/set"] == entries["GET /set"]["requests"], side
        # FastHttpUser's max_redirects (30): 31 requests at the server, then RetriesExceeded.
        assert seen["/loop"] == 31 * entries["GET /loop"]["requests"], side


class RawRecorder(threading.Thread):
    """A keep-alive HTTP server that records each request's bytes as they arrived."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.requests: list[bytes] = []

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length: *(\d+)", head)
                size = int(length.group(1)) if length else 0
                while len(rest) < size:
                    rest += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + rest[:size])
                buffer = rest[size:]
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")


WIRE_SCRIPT = """
import locust, json, sys
from locust import FastHttpUser
from locust.env import Environment
from loadkit import locustfile_helpers_source

source = locustfile_helpers_source.helpers_source({"send"})
exec("\\n".join([*source.extra_imports, source.code]))

class Plain(FastHttpUser):
    host = sys.argv[1]
    default_headers = {"X-Default": "d"}

class WithCredentials(FastHttpUser):
    host = sys.argv[1].replace("//", "//user:p%40ss@")

CASES = [
    ("GET", "/a", {}),
    ("GET", "/a", {"params": {"q": "x y", "n": "1"}}),
    ("GET", "/a?b=c", {"headers": {"X-Token": "t", "Accept-Encoding": "identity"}}),
    ("POST", "/p", {"json": {"user": 1, "name": "é"}}),
    ("POST", "/p", {"json": [1], "headers": {"content-type": "application/vnd+json"}}),
    ("POST", "/p", {"data": "plain text é"}),
    ("POST", "/p", {"data": "a=1&b=2",
                    "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
    ("PUT", "/p", {"data": ""}),
    ("PATCH", "/p", {}),
    ("DELETE", "/p/1", {"headers": {"Authorization": "Bearer abc"}}),
    ("GET", sys.argv[1] + "/absolute", {}),
]
env = Environment(user_classes=[Plain, WithCredentials])
for user_class in (Plain, WithCredentials):
    user = user_class(env)
    for method, url, kwargs in CASES:
        user.client.request(method, url, **kwargs)
        send(user, method, url, **kwargs)
"""


def test_the_lean_path_sends_the_same_bytes(tmp_path: Path) -> None:
    """Request line, headers (names, order, values) and body, byte for byte, as Locust's
    FastHttpSession sends them: each case once through Locust, once through `send`."""
    recorder = RawRecorder()
    recorder.start()
    proc = subprocess.run(
        [sys.executable, "-c", WIRE_SCRIPT, f"http://127.0.0.1:{recorder.port}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    recorder.sock.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    sent = recorder.requests
    assert len(sent) == 2 * 2 * 11
    for reference, lean in zip(sent[::2], sent[1::2], strict=True):
        assert lean == reference
    # Credentials in the host's URL ('user:p%40ss'): sent as this Locust sends them (decoded
    # by newer releases, percent-encoded by older ones), by both paths alike (above).
    assert re.search(rb"Authorization: Basic (dXNlcjpwQHNz|dXNlcjpwJTQwc3M=)\r\n", sent[-1])
