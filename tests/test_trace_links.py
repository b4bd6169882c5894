"""Trace links (`trace: true`): a W3C traceparent header on every request of a traced user
class, on the lean path, on Locust's own client and from `python:` code's `self.client`, and
the slowest requests' trace ids in locust_final.json, summary.json and report.html. The e2e
runs check the ids against what the bundled target received, in one process and with
--processes 2 (workers merged)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import SRC, TargetFactory, run_loadkit, write
from test_lean_path import WIRE_SCRIPT, RawRecorder
from test_summary_types import mismatches

from loadkit import locustfile_helpers_source
from loadkit.compiler import compile_scenario
from loadkit.exit_codes import ExitStatus
from loadkit.harness_protocol import SLOWEST_KEPT, TRACE_CONTEXT_KEY
from loadkit.scenario import load_scenario
from loadkit.summary_sections import slowest_requests
from loadkit.summary_types import SlowestRequests, Summary, TracedRequest

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")

SCENARIO = """\
name: traced
host: {host}
trace: true
load: {{users: 4, spawn_rate: 20, duration: 3s}}
users:
  - name: api
    weight: 3
    think_time: {{constant: 0.01}}
    tasks:
      - name: slow
        request: {{method: GET, url: /api/delay, params: {{ms: "5"}}}}
      - name: health
        weight: 2
        request: {{method: GET, url: /health}}
        expect: {{status: 200}}
      - python: traced_code:lookup
  - name: quiet
    trace: false
    think_time: {{constant: 0.01}}
    tasks:
      - name: cases
        request: {{method: GET, url: /api/cases}}
"""


# A `python:` task: its requests go through the user's own `self.client`.
PYTHON_TASK = """\
def lookup(user):
    user.client.get("/api/delay", params={"ms": "2"}, name="lookup")
"""


def traced_scenario(tmp_path: Path, host: str) -> Path:
    (tmp_path / "traced_code.py").write_text(PYTHON_TASK, encoding="utf-8")
    return write(tmp_path, SCENARIO.format(host=host))


def helper_namespace(*names: str) -> dict[str, Any]:
    source = locustfile_helpers_source.helpers_source(set(names))
    namespace: dict[str, Any] = {}
    exec(compile("\n".join([*source.extra_imports, source.code]), "helpers", "exec"), namespace)
    return namespace


# ------------------------------------------------------------------------------ the header


def test_a_traceparent_is_version_00_new_random_ids_and_sampled() -> None:
    new_traceparent = helper_namespace("new_traceparent")["new_traceparent"]
    made = [new_traceparent() for _ in range(2000)]
    assert all(TRACEPARENT.match(t) for t in made), made[:3]
    assert len({t.split("-")[1] for t in made}) == len(made)  # a new trace each
    assert len({t.split("-")[2] for t in made}) == len(made)


def test_a_traceparent_never_has_the_all_zero_ids_the_spec_forbids() -> None:
    namespace = helper_namespace("new_traceparent")
    namespace["random"] = type("Zeros", (), {"getrandbits": staticmethod(lambda bits: 0)})
    assert namespace["new_traceparent"]() == f"00-{1:032x}-{1:016x}-01"


def test_the_generated_code_and_the_harness_agree_on_the_context_key() -> None:
    namespace = helper_namespace("TRACE_HEADER")
    assert namespace["TRACE_HEADER"] == TRACE_CONTEXT_KEY == "traceparent"


# ------------------------------------------------------------------------------ the compiler


def test_trace_is_set_for_the_scenario_and_overridden_per_user(tmp_path: Path) -> None:
    code = compile_scenario(load_scenario(traced_scenario(tmp_path, "http://127.0.0.1:9")))
    assert code.count("trace_requests(") == 2  # its definition, and one call
    assert "\ntrace_requests(ApiUser)\n" in code
    assert "class TracedClient(LeanClient):" in code and "def trace_session(" in code
    api = code.split("class ApiUser")[1].split("\nclass ")[0]
    assert "# trace: true: a W3C traceparent header on each request" in api
    quiet = code.split("class QuietUser")[1].split("\n\n\n")[0]
    assert "trace" not in quiet


def test_an_untraced_locustfile_carries_none_of_it(tmp_path: Path) -> None:
    text = SCENARIO.format(host="http://127.0.0.1:9").replace("trace: true\n", "")
    code = compile_scenario(load_scenario(write(tmp_path, text)))
    assert "Traced" not in code and "traceparent" not in code


# ------------------------------------------------------------------------------ the summary


def test_the_summary_groups_the_slowest_by_request_slowest_first() -> None:
    def row(name: str, ms: float, n: int) -> dict[str, Any]:
        return {"method": "GET", "name": name, "response_time_ms": ms, "trace_id": f"{n:032x}",
                "span_id": f"{n:016x}", "started_at": 100.0 + n, "failed": n == 2}  # fmt: skip

    final = {"slowest": [row("/b", 5.0, 1), row("/a", 1.0, 2), row("/b", 9.12345, 3)]}
    assert slowest_requests(final) == [
        {"method": "GET", "name": "/a", "slowest": [
            {"trace_id": f"{2:032x}", "span_id": f"{2:016x}", "response_time_ms": 1.0,
             "started_at": 102.0, "failed": True}]},
        {"method": "GET", "name": "/b", "slowest": [
            {"trace_id": f"{3:032x}", "span_id": f"{3:016x}", "response_time_ms": 9.123,
             "started_at": 103.0, "failed": False},
            {"trace_id": f"{1:032x}", "span_id": f"{1:016x}", "response_time_ms": 5.0,
             "started_at": 101.0, "failed": False}]},
    ]  # fmt: skip
    assert slowest_requests({}) == slowest_requests(None) == []


# ------------------------------------------------------------------------------ end to end


@pytest.mark.e2e
@pytest.mark.parametrize("processes", [1, 2], ids=["one process", "two processes"])
def test_every_traced_request_carries_a_distinct_traceparent_and_the_report_links_the_slowest(
    processes: int, target_factory: TargetFactory, tmp_path: Path
) -> None:
    target = target_factory(record=True)
    scenario = traced_scenario(tmp_path, target.url)
    out = tmp_path / "run"
    args = ["run", str(scenario), "--out", str(out)]
    result = run_loadkit(*args, *(["--processes", str(processes)] if processes > 1 else []))
    assert result.returncode == ExitStatus.PASS, result
    assert "Traceback" not in result.stdout + result.stderr

    log = target.requests_seen()["log"]
    received = {}
    for entry in log:
        header = entry["headers"].get(TRACE_CONTEXT_KEY)
        if entry["path"] == "/api/cases":
            assert header is None  # the user class with trace: false
            continue
        assert header is not None and TRACEPARENT.match(header), entry
        received[header] = entry
    traced = [e for e in log if e["path"] != "/api/cases"]
    assert len(traced) > 200
    # The python: task's requests, sent through the user's own self.client, carry one too.
    assert sum(1 for e in traced if e["query"] == "ms=2") > 20, log[:5]
    trace_ids = {t.split("-")[1] for t in received}
    assert len(received) == len(trace_ids) == len(traced)  # distinct, across processes too

    summary: Summary = json.loads((out / "summary.json").read_text())
    seen_types: set[type] = set()
    assert mismatches(summary["slowest"], list[SlowestRequests], "slowest", seen_types) == []
    assert seen_types == {SlowestRequests, TracedRequest}
    if processes > 1:
        assert len(summary["load"]["workers"]["connected"]) == 2  # type: ignore[index]
    groups = {(g["method"], g["name"]): g["slowest"] for g in summary["slowest"]}
    rows = {(r["method"], r["name"]): r for r in summary["requests"]}
    assert set(groups) == {k for k in rows if k[1] != "/api/cases"}
    report = (out / "report.html").read_text()
    assert "Slowest requests" in report
    for key, slowest in groups.items():
        assert len(slowest) == SLOWEST_KEPT < rows[key]["requests"]
        times = [r["response_time_ms"] for r in slowest]
        assert times == sorted(times, reverse=True)
        # The slowest of all processes: the first is the run's max, the last is beyond its p90.
        assert times[0] == pytest.approx(rows[key]["max_ms"], rel=0.01, abs=0.05)
        assert times[-1] >= rows[key]["p90_ms"] * 0.99  # type: ignore[operator]
        for kept in slowest:
            traceparent = f"00-{kept['trace_id']}-{kept['span_id']}-01"
            seen = received[traceparent]  # the target received exactly this header...
            path = {"lookup": "/api/delay"}.get(rows[key]["name"], rows[key]["name"])
            assert f"{seen['method']} {seen['path']}" == f"{key[0]} {path}"
            assert abs(seen["time"] - kept["started_at"]) < 1.0  # ...about when it was sent
            assert kept["trace_id"] in report


# Each case of test_lean_path's byte-for-byte test, traced: once through `send`, then through
# Locust's FastHttpSession with the traceparent `send` used given as a header of the request.
TRACED_WIRE_SCRIPT = (
    WIRE_SCRIPT.replace('{"send"}', '{"send", "TracedClient"}')
    .replace(
        """        user.client.request(method, url, **kwargs)
        send(user, method, url, **kwargs)""",
        """        send(user, method, url, **kwargs)
        traceparent = user.lean_client.traceparent
        headers = {**kwargs.get("headers", {}), "traceparent": traceparent}
        user.client.request(method, url, **{**kwargs, "headers": headers})""",
    )
    .replace(
        "for user_class in (Plain, WithCredentials):",
        """for user_class in (Plain, WithCredentials):
    user_class.lean_client_kind = TracedClient""",
    )
)


@pytest.mark.e2e
def test_the_traced_lean_path_sends_the_same_bytes_with_its_header(tmp_path: Path) -> None:
    """Request line, headers and body as Locust's FastHttpSession sends them with the same
    traceparent header, which the lean path writes last."""
    for changed in ("= user.lean_client.traceparent", ".lean_client_kind = TracedClient"):
        assert changed in TRACED_WIRE_SCRIPT
    recorder = RawRecorder()
    recorder.start()
    proc = subprocess.run(
        [sys.executable, "-c", TRACED_WIRE_SCRIPT, f"http://127.0.0.1:{recorder.port}"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": SRC},
    )  # fmt: skip
    recorder.sock.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    sent = recorder.requests
    assert len(sent) == 2 * 2 * 11
    header = re.compile(rb"traceparent: (00-[0-9a-f]{32}-[0-9a-f]{16}-01)\r\n")
    for lean, reference in zip(sent[::2], sent[1::2], strict=True):
        (ids,) = header.findall(lean)
        assert header.findall(reference) == [ids]
        assert header.sub(b"", lean) == header.sub(b"", reference)
    assert len({header.findall(request)[0] for request in sent}) == len(sent) // 2


@pytest.mark.e2e
def test_plain_locust_on_its_own_client_sends_the_header_and_the_context(
    target_factory: TargetFactory, tmp_path: Path
) -> None:
    """Where the lean path is off (a Locust that lacks an internal it needs), a traced user's
    requests go through Locust's own client with the same header and request context."""
    target = target_factory(record=True)
    code = compile_scenario(load_scenario(traced_scenario(tmp_path, target.url)))
    dump = tmp_path / "contexts.json"
    code += f"""
LEAN_PATH_NEEDS["HTTPClient"] += ("_renamed_in_a_later_release",)
CONTEXTS = []


@events.request.add_listener
def _note_context(context, **kwargs):
    CONTEXTS.append(context.get("traceparent"))


@events.quitting.add_listener
def _dump(**kwargs):
    with open({str(dump)!r}, "w") as out:
        json.dump({{"contexts": CONTEXTS, "lean": LEAN_PATH}}, out)
"""
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(code.replace("from locust import ", "from locust import events, ", 1))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((SRC, str(tmp_path)))}  # + its python:
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "4", "-r",
         "20", "-t", "2s", "--only-summary"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    dumped = json.loads(dump.read_text())
    assert dumped["lean"] == {"checked": True, "works": False}
    sent = [e["headers"].get(TRACE_CONTEXT_KEY) for e in target.requests_seen()["log"]]
    traced = sorted(t for t in sent if t is not None)
    assert len(traced) > 100 and all(TRACEPARENT.match(t) for t in traced)
    assert len(set(traced)) == len(traced)
    # Each request event's context holds the header its request was sent with. (A user stopped
    # at the end while its request was in flight sent it, but fired no event: at most 4.)
    contexts = [c for c in dumped["contexts"] if c is not None]
    assert set(contexts) <= set(traced) and len(traced) - len(contexts) <= 4
    untraced = sum(1 for c in dumped["contexts"] if c is None)
    assert 0 < untraced <= len(sent) - len(traced) <= untraced + 4
