"""The helpers generated locustfiles carry (`loadkit/locustfile_helpers/`), run from the very
source `locustfile_helpers_source` copies into them.

Checks and captures need nothing from Locust, so they run here against a stand-in for
Locust's response object (success/failure: the last call wins, as in
`locust.contrib.fasthttp.ResponseContextManager`). Test data and user ids import Locust and
gevent, so they run in a subprocess: the test process is never monkey-patched (conftest.py).
The last test runs the checks on Locust's real responses from the bundled target.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from helpers import REPO

from loadkit import locustfile_helpers_source
from loadkit.demo_target.process import TargetProcess
from loadkit.scenario.templates import parse_json_path

CHECKS = {
    name for name in locustfile_helpers_source.HELPERS if name.startswith(("expect_", "capture_"))
}
PATHS = ["$.status", "$.user", "$.owner.email", "$.items[1].id", "$.token", "$.nothing.here"]


def helpers(*names: str) -> dict[str, Any]:
    """A namespace holding `names` exactly as a generated locustfile does (with JSON_PATHS)."""
    source = locustfile_helpers_source.helpers_source(set(names))
    assert not [i for i in source.extra_imports if "locust" in i or "gevent" in i]
    namespace: dict[str, Any] = {
        locustfile_helpers_source.JSON_PATHS: {path: parse_json_path(path) for path in PATHS}
    }
    exec("\n".join([*source.extra_imports, source.code]), namespace)
    return namespace


H = helpers(*CHECKS, "basic_auth", "form_body")


class Response:
    """What the helpers use of Locust's response in a `catch_response=True` block."""

    def __init__(
        self,
        status: int = 200,
        body: Any = None,
        *,
        text: str | None = None,
        headers: dict[str, str] | None = None,
        ms: float = 12.0,
    ) -> None:
        self.status_code = status
        self.text = text if text is not None else json.dumps(body)
        self.headers = headers if headers is not None else {}
        self.request_meta = {"response_time": ms}
        self.result: bool | str | None = None  # None: left to Locust's own rule
        self.parsed = 0

    def json(self) -> Any:
        self.parsed += 1
        return json.loads(self.text)

    def success(self) -> None:
        self.result = True

    def failure(self, message: str) -> None:
        self.result = message


def check(name: str, response: Response, *args: Any) -> tuple[bool, bool | str | None]:
    passed = H[name](response, *args)
    return passed, response.result


# --------------------------------------------------------------------------------- checks


def test_expect_status() -> None:
    assert check("expect_status", Response(200), 200) == (True, True)
    # A status Locust counts as failed passes when the scenario names it.
    assert check("expect_status", Response(404), 200, 404) == (True, True)
    assert check("expect_status", Response(503), 200) == (False, "expected status 200, got 503")
    assert check("expect_status", Response(302), 200, 201) == (
        False,
        "expected status 200 or 201, got 302",
    )


@pytest.mark.parametrize(
    ("body", "path", "expected", "outcome"),
    [
        ({"status": "ok"}, "$.status", "ok", (True, None)),
        ({"items": [{}, {"id": 7}]}, "$.items[1].id", 7, (True, None)),
        ({"status": "error"}, "$.status", "ok", (False, "check $.status == 'ok': got 'error'")),
        ({"status": 1}, "$.status", "1", (False, "check $.status == '1': got 1")),
        (
            {"owner": {}},
            "$.owner.email",
            "a",
            (False, "check $.owner.email: not found in response"),
        ),
        (
            {"owner": "x"},
            "$.owner.email",
            "a",
            (False, "check $.owner.email: not found in response"),
        ),
        ({"items": [1]}, "$.items[1].id", 1, (False, "check $.items[1].id: not found in response")),
        # Found values that could be a credential are described, not shown.
        (
            {"user": "x" * 17},
            "$.user",
            "bob",
            (False, "check $.user == 'bob': got a string of 17 characters"),
        ),
        ({"user": "x" * 16}, "$.user", "bob", (False, f"check $.user == 'bob': got '{'x' * 16}'")),
        ({"user": None}, "$.user", "bob", (False, "check $.user == 'bob': got None")),
        ({"user": False}, "$.user", "bob", (False, "check $.user == 'bob': got False")),
        ({"user": 2.5}, "$.user", "bob", (False, "check $.user == 'bob': got 2.5")),
        ({"user": {"a": "b"}}, "$.user", "bob", (False, "check $.user == 'bob': got an object")),
        ({"user": ["bob"]}, "$.user", "bob", (False, "check $.user == 'bob': got a list")),
    ],
)  # fmt: skip
def test_expect_json(body: Any, path: str, expected: Any, outcome: tuple[bool, Any]) -> None:
    assert check("expect_json", Response(200, body), path, expected) == outcome


TOKEN = "tok-9f8e7d6c5b4a39281706"


@pytest.mark.parametrize(
    ("found", "expected", "message"),
    [
        (TOKEN + "x", TOKEN, "check $.token == {{ token }}: got another value"),
        ("short", "alice", "check $.token == {{ token }}: got another value"),
        (7, "7", "check $.token == {{ token }}: got a number"),
        ("7", 7, "check $.token == {{ token }}: got a string"),
        (None, TOKEN, "check $.token == {{ token }}: got None"),
        ({"t": TOKEN}, TOKEN, "check $.token == {{ token }}: got an object"),
    ],
)
def test_expect_json_against_a_template_never_shows_the_values(
    found: Any, expected: Any, message: str
) -> None:
    """A captured value, a data column or a secret: the message names the template, and
    what was found only by its kind, so live values stay out and failures group."""
    response = Response(200, {"token": found})
    template = "{{ token }}"
    assert H["expect_json"](response, "$.token", expected, template=template) is False
    assert response.result == message


def test_header_and_body_checks_against_a_template() -> None:
    response = Response(200, text=f"hello {TOKEN}", headers={"X-Token": TOKEN + "x"})
    assert not H["expect_header"](response, "X-Token", TOKEN, template="{{ env.API_TOKEN }}")
    assert response.result == "check header X-Token == {{ env.API_TOKEN }}: got another value"
    assert not H["expect_body_contains"](response, "bob", template="hello {{ name }}")
    assert response.result == "check body contains hello {{ name }}: not found"
    assert H["expect_body_contains"](response, TOKEN, template="{{ token }}")


def test_expect_json_exists() -> None:
    assert check("expect_json_exists", Response(200, {"owner": {"email": None}}), "$.owner.email")[
        0
    ]
    assert check("expect_json_exists", Response(200, {"owner": {}}), "$.owner.email") == (
        False,
        "check $.owner.email: not found in response",
    )
    assert check("expect_json_exists", Response(200, text="<html>"), "$.status") == (
        False,
        "check $.status: response is not JSON",
    )


def test_expect_body_and_header() -> None:
    page = Response(200, text="case id=42 open", headers={"Content-Type": "text/html"})
    assert check("expect_body_contains", page, "id=42") == (True, None)
    assert check("expect_body_contains", page, "text") == (
        False,
        "check body contains 'text': not found",
    )
    assert check("expect_body_matches", Response(200, text="id=42"), r"id=\d+") == (True, None)
    assert check("expect_body_matches", Response(200, text="none"), r"id=\d+") == (
        False,
        r"check body matches 'id=\\d+': no match",
    )
    html = Response(200, text="<p>", headers={"Content-Type": "text/html"})
    assert check("expect_header", html, "Content-Type", "text/html") == (True, None)
    assert check("expect_header", html, "Content-Type", "application/json") == (
        False,
        "check header Content-Type == 'application/json': got 'text/html'",
    )
    assert check("expect_header", Response(200), "ETag", "x") == (
        False,
        "check header ETag == 'x': got None",
    )


@pytest.mark.parametrize(
    ("limit", "took", "outcome"),
    [
        (200, 200.0, (True, None)),
        (200, 310.4, (False, "check max_ms 200: took 310 ms")),
        (200, 314.9, (False, "check max_ms 200: took 310 ms")),  # two digits: failures group
        (1000, 1234.5, (False, "check max_ms 1000: took 1200 ms")),
        (0.5, 0.73, (False, "check max_ms 0.5: took 0.73 ms")),
    ],
)
def test_expect_max_ms(limit: float, took: float, outcome: tuple[bool, Any]) -> None:
    assert check("expect_max_ms", Response(200, ms=took), limit) == outcome


CALLS: dict[str, Callable[[Response], bool]] = {
    "expect_status": lambda r: H["expect_status"](r, 200),
    "expect_json": lambda r: H["expect_json"](r, "$.status", "ok"),
    "expect_json_exists": lambda r: H["expect_json_exists"](r, "$.status"),
    "expect_body_contains": lambda r: H["expect_body_contains"](r, "ok"),
    "expect_body_matches": lambda r: H["expect_body_matches"](r, "ok"),
    "expect_header": lambda r: H["expect_header"](r, "ETag", "x"),
    "expect_max_ms": lambda r: H["expect_max_ms"](r, 200),
    "capture_json": lambda r: H["capture_json"](r, {}, "token", "$.token"),
    "capture_regex": lambda r: H["capture_regex"](r, {}, "id", "id=(\\d+)"),
    "capture_header": lambda r: H["capture_header"](r, {}, "etag", "ETag"),
}


def test_every_check_and_capture_is_covered() -> None:
    assert set(CALLS) == CHECKS


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_connection_error_is_left_for_locust_to_report(name: str) -> None:
    response = Response(0, text="")
    assert CALLS[name](response) is False
    assert response.result is None  # Locust reports its own error (ConnectionRefused, ...)


def test_a_chain_reports_the_first_failure_and_stops() -> None:
    """Generated code: `expect_status(...) and expect_json(...) and capture_json(...)`."""
    response = Response(200, {"status": "error", "token": "t"})
    variables: dict[str, Any] = {}
    passed = (
        H["expect_status"](response, 200)
        and H["expect_json"](response, "$.status", "ok")
        and H["capture_json"](response, variables, "token", "$.token")
    )
    assert passed is False
    assert response.result == "check $.status == 'ok': got 'error'"  # overrides the success
    assert variables == {}


def test_a_json_body_is_parsed_once_per_response() -> None:
    response = Response(200, {"status": "ok", "token": "t", "user": "bob"})
    variables: dict[str, Any] = {}
    assert (
        H["expect_json"](response, "$.status", "ok")
        and H["expect_json_exists"](response, "$.user")
        and H["capture_json"](response, variables, "token", "$.token")
    )
    assert response.parsed == 1 and variables == {"token": "t"}


# ------------------------------------------------------------------------------- captures


def test_capture_json() -> None:
    variables: dict[str, Any] = {"user_id": 1}
    response = Response(200, {"token": {"a": [1]}})
    assert H["capture_json"](response, variables, "token", "$.token") is True
    assert variables == {"user_id": 1, "token": {"a": [1]}} and response.result is None
    missing = Response(200, {"token": "t"})
    assert H["capture_json"](missing, variables, "missing", "$.nothing.here") is False
    assert missing.result == "capture missing: $.nothing.here not found in response"
    html = Response(200, text="<html>")
    assert H["capture_json"](html, variables, "token", "$.token") is False
    assert html.result == "capture token: response is not JSON"


def test_capture_regex() -> None:
    variables: dict[str, Any] = {}
    page = Response(200, text="see id=42 and id=43")
    assert H["capture_regex"](page, variables, "id", r"id=(\d+)") is True
    assert H["capture_regex"](page, variables, "whole", r"id=\d+") is True
    assert variables == {"id": "42", "whole": "id=42"}
    other = Response(200, text="nothing")
    assert H["capture_regex"](other, variables, "id", r"id=(\d+)") is False
    assert other.result == r"capture id: 'id=(\\d+)' does not match the body"


def test_capture_header() -> None:
    variables: dict[str, Any] = {}
    response = Response(200, headers={"ETag": '"v1"'})
    assert H["capture_header"](response, variables, "etag", "ETag") is True
    assert variables == {"etag": '"v1"'}
    assert H["capture_header"](response, variables, "id", "X-Id") is False
    assert response.result == "capture id: no X-Id header in response"


# ----------------------------------------------------------------------------- small ones


def test_basic_auth_and_form_body() -> None:
    expected = "Basic " + base64.b64encode("anna:p@ss:wörd".encode()).decode()
    assert H["basic_auth"]("anna", "p@ss:wörd") == expected
    assert H["form_body"]({"q": "a b&c", "n": "1"}) == "q=a+b%26c&n=1"


# ------------------------------------------------- test data and user ids (Locust imported)

DATA_SCRIPT = """\
import locust  # first, as Locust itself does: gevent monkey-patches before anything else
import json, logging, sys
from types import SimpleNamespace
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner
from loadkit import locustfile_helpers_source

source = locustfile_helpers_source.helpers_source({"DataSource", "next_user_id"})
ns = {}
exec("\\n".join([*source.extra_imports, source.code]), ns)
DataSource = ns["DataSource"]

said = []
class Notes(logging.Handler):
    def emit(self, record):
        said.append([record.name, record.levelname, record.getMessage()])
logging.getLogger("loadkit").addHandler(Notes())
fired = []
events = SimpleNamespace(request=SimpleNamespace(fire=lambda **kw: fired.append(
    [kw["request_type"], kw["name"], repr(kw["exception"])])))

def user(runner=None, worker_index=0):
    runner = runner or SimpleNamespace(worker_index=worker_index)
    return SimpleNamespace(environment=SimpleNamespace(runner=runner, events=events))

def take(source, n, u=None):
    got = []
    for _ in range(n):
        try:
            got.append(source.take(u or user())["n"])
        except StopUser:
            got.append("StopUser")
    return got

rows = tuple((str(i),) for i in range(1, 4))
out = {}
out["sequential"] = take(DataSource("seq", "sequential", "cycle", ("n",), rows), 7)
out["unique"] = take(DataSource("once", "unique", "stop_user", ("n",), rows), 5)
out["fail"] = take(DataSource("strict", "sequential", "fail", ("n",), rows), 5)
import random
random.seed(1)
out["random"] = sorted(set(take(DataSource("any", "random", "cycle", ("n",), rows), 60)))
out["row"] = DataSource("cols", "sequential", "cycle", ("a", "b"), (("1", "x"),)).take(user())

# Unique rows in a distributed run: two workers ask the master, which hands out row numbers.
class Master(MasterRunner):
    def __init__(self):
        self.handlers = {}
    def register_message(self, kind, handler):
        self.handlers[kind] = handler
    def send_message(self, kind, data, client_id=None):
        workers[client_id].handlers[kind](environment=workers[client_id].env,
                                          msg=SimpleNamespace(data=data))

class Worker(WorkerRunner):
    def __init__(self, name):
        self.name, self.handlers = name, {}
        self.env = SimpleNamespace(runner=self, events=events)
    def register_message(self, kind, handler):
        self.handlers[kind] = handler
    def send_message(self, kind, data, client_id=None):
        master.handlers[kind](environment=master_env,
                              msg=SimpleNamespace(data=data, node_id=self.name))

master = Master()
master_env = SimpleNamespace(runner=master)
workers = {"w1": Worker("w1"), "w2": Worker("w2")}
for runner in [master, *workers.values()]:
    ns["hand_out_rows_from_master"](environment=SimpleNamespace(runner=runner))
shared = DataSource("shared", "unique", "stop_user", ("n",), rows)
out["distributed"] = [
    take(shared, 1, SimpleNamespace(environment=workers[w].env))[0]
    for w in ["w1", "w2", "w1", "w2"]
]
out["said"], out["fired"] = said, fired
out["user_ids"] = [ns["next_user_id"](user(worker_index=i)) for i in (0, 0, 2)]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def data_run() -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", DATA_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_data_orders(data_run: dict[str, Any]) -> None:
    assert data_run["sequential"] == ["1", "2", "3", "1", "2", "3", "1"]  # cycle
    assert data_run["random"] == ["1", "2", "3"]
    assert data_run["row"] == {"a": "1", "b": "x"}


def test_data_exhaustion(data_run: dict[str, Any]) -> None:
    assert data_run["unique"] == ["1", "2", "3", "StopUser", "StopUser"]
    assert data_run["fail"] == ["1", "2", "3", "StopUser", "StopUser"]
    # fail: each user stopped counts as one failure named after the data.
    message = "LookupError(\"data source 'strict' has no rows left\")"
    assert data_run["fired"] == [["DATA", "data strict", message]] * 2


def test_exhaustion_is_said_once_on_the_loadkit_logger(data_run: dict[str, Any]) -> None:
    """`loadkit run` reads these lines to name the cause when fewer users ran than planned."""
    assert data_run["said"] == [
        ["loadkit", "WARNING", "test data 'once' exhausted after 3 rows (on_exhausted: stop_user)"],
        ["loadkit", "WARNING", "test data 'strict' exhausted after 3 rows (on_exhausted: fail)"],
        [
            "loadkit",
            "WARNING",
            "test data 'shared' exhausted after 3 rows (on_exhausted: stop_user)",
        ],
    ]


def test_unique_rows_come_from_the_master(data_run: dict[str, Any]) -> None:
    assert data_run["distributed"] == ["1", "2", "3", "StopUser"]


def test_user_ids_are_unique_across_workers(data_run: dict[str, Any]) -> None:
    assert data_run["user_ids"] == [1, 2, 2_000_003]


# ------------------------------------------------------------ on Locust's real responses

REAL_SCRIPT = """\
import locust  # first: gevent monkey-patching
import json, sys
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook
from loadkit import locustfile_helpers_source

source = locustfile_helpers_source.helpers_source({"expect_status", "expect_json", "capture_json"})
exec("\\n".join([*source.extra_imports, source.code]))
JSON_PATHS = {"$.region": ("region",), "$.id": ("id",), "$.status": ("status",)}
reported = {}
request_event = EventHook()
request_event.add_listener(lambda name, exception, **kw: reported.__setitem__(
    name, None if exception is None else str(exception)))
session = FastHttpSession(sys.argv[1], request_event, user=None)
v, flows = {}, {}

def get(url, name):
    return session.request("GET", url, name=name, catch_response=True)

with get("/api/cases/1", "status then json") as response:
    flows["status then json"] = bool(
        expect_status(response, 200) and expect_json(response, "$.region", "99")
    )
with get("/api/cases/1", "capture") as response:
    flows["capture"] = bool(
        expect_status(response, 200) and expect_json(response, "$.region", "01")
        and capture_json(response, v, "case", "$.id")
    )
with get("/api/status/404", "named 404") as response:
    flows["named 404"] = bool(expect_status(response, 404))
with get("/api/status/500", "no status check") as response:
    flows["no status check"] = bool(expect_json(response, "$.status", 500) and response.ok)
with get("http://127.0.0.1:1/", "refused") as response:
    flows["refused"] = bool(expect_status(response, 200))
print(json.dumps({"reported": reported, "flows": flows, "v": v}))
"""


@pytest.mark.e2e
def test_checks_on_locusts_own_responses(target: TargetProcess) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", REAL_SCRIPT, target.url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    reported, flows = result["reported"], result["flows"]
    assert flows == {
        "status then json": False,
        "capture": True,
        "named 404": True,
        "no status check": False,  # Locust's rule, and the flow ends
        "refused": False,
    }
    assert result["v"] == {"case": 1}
    assert reported["status then json"] == "check $.region == '99': got '01'"
    assert reported["capture"] is None and reported["named 404"] is None
    assert "500" in reported["no status check"]  # Locust's own message for the status
    assert "onnection" in reported["refused"] or "refused" in reported["refused"].lower()
