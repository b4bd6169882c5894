"""Transactions: a flow (or loop, or on_start/on_stop flow) timed as one unit, reported as a
Locust `request` event of its own type ("TXN") and kept apart from the requests everywhere
loadkit counts them. Real runs against the bundled target, and the pure parts on their own."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import run_loadkit, write

from loadkit.compiler import compile_scenario
from loadkit.demo_target.process import TargetProcess
from loadkit.exit_codes import ExitStatus
from loadkit.histogram import TRANSACTION_TYPE, HistogramRecorder, RunHistograms
from loadkit.locustfile_helpers_source import helpers_source
from loadkit.scenario import load_scenario
from loadkit.scenario.thresholds import parse_threshold

STEP_MS = (40, 50, 60)
PAUSE_S = 0.2


def scenario_text(host: str, *, duration: str = "8s", thresholds: str = "") -> str:
    """Three steps with known service times and a pause between the first two (which the
    transaction must not count); a second user type whose middle step fails."""
    return f"""\
name: transactions
host: {host}
load: {{users: 6, spawn_rate: 6, duration: {duration}}}
defaults: {{timeout: 5s}}
apdex: {{t: 100ms, transactions: {{file a report: 1s}}}}
users:
  - name: citizen
    weight: 2
    tasks:
      - name: file a report
        flow:
          - request: {{url: "/api/delay?ms={STEP_MS[0]}", name: open form}}
            expect: {{status: 200}}
            think_time: {{constant: {PAUSE_S}}}
          - request: {{url: "/api/delay?ms={STEP_MS[1]}", name: upload}}
            expect: {{status: 200}}
          - request: {{url: "/api/delay?ms={STEP_MS[2]}", name: submit}}
            expect: {{status: 200}}
  - name: clerk
    tasks:
      - name: broken
        flow:
          - request: {{url: "/api/delay?ms=5", name: first}}
          - request: {{url: /api/status/503, name: middle}}
            expect: {{status: 200}}
          - request: {{url: "/api/delay?ms=7", name: never}}
{thresholds}"""


def flows_completed(seen: dict[str, Any], ms: int) -> int:
    """Requests the target saw for /api/delay?ms=`ms` (its --record log)."""
    return sum(
        1 for entry in seen["log"] if entry["path"] == "/api/delay" and f"ms={ms}" in entry["query"]
    )


@pytest.mark.e2e
def test_a_flow_is_one_transaction_timed_and_judged(target_factory: Any, tmp_path: Path) -> None:
    target: TargetProcess = target_factory(record=True)
    thresholds = """\
thresholds:
  - "transaction=file a report: p95 < 3s"
  - "transaction=file a report: error_rate < 1%"
  - tps > 1
  - "transaction=broken: error_rate < 1%"
"""
    scenario = write(tmp_path, scenario_text(target.url, thresholds=thresholds))
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out), timeout=120)
    output = result.stdout + result.stderr
    assert "Traceback" not in output

    # The failing transaction threshold decides the exit code and is named.
    assert result.returncode == ExitStatus.THRESHOLDS_FAILED, result
    assert "threshold 'transaction=broken: error_rate < 1%' failed: actual 100.00%" in output

    summary = json.loads((out / "summary.json").read_text())
    seen = target.requests_seen()
    # Request counts stay the target's own: no transaction among them.
    assert summary["totals"]["requests"] == seen["total"] > 30
    assert all(row["method"] != TRANSACTION_TYPE for row in summary["requests"])
    assert sum(r["requests"] for r in summary["requests"]) == seen["total"]

    txns = {row["name"]: row for row in summary["transactions"]}
    assert set(txns) == {"file a report", "broken"}
    report = txns["file a report"]
    # Counted once per completed flow, as the target saw them (each ended with step 3).
    assert report["transactions"] == flows_completed(seen, STEP_MS[2]) > 5
    assert report["failures"] == 0
    # Its time is the sum of its steps' (the pause between steps 1 and 2 is not in it).
    steps = {row["name"]: row for row in summary["requests"]}
    sum_of_steps = sum(steps[name]["p50_ms"] for name in ("open form", "upload", "submit"))
    assert report["p50_ms"] == pytest.approx(sum_of_steps, rel=0.05), (report, sum_of_steps)
    assert report["p50_ms"] < sum(STEP_MS) + PAUSE_S * 1000 / 2
    print(f"transaction p50 {report['p50_ms']} ms, sum of the steps' p50 {sum_of_steps:.2f} ms")
    assert report["apdex"]["t_ms"] == 1000 and report["apdex"]["score"] == 1.0

    # A failed middle step fails the transaction with that step's message; step 3 never ran.
    broken = txns["broken"]
    assert broken["transactions"] == broken["failures"] == steps["middle"]["requests"] > 5
    assert flows_completed(seen, 7) == 0
    txn_failures = [f for f in summary["failures"] if f["method"] == TRANSACTION_TYPE]
    assert txn_failures == [
        {
            "method": TRANSACTION_TYPE,
            "name": "broken",
            "error": "expected status 200, got 503",
            "occurrences": broken["failures"],
        }
    ]
    totals = summary["transaction_totals"]
    assert totals["transactions"] == report["transactions"] + broken["transactions"]

    rows = {t["expression"]: t for t in summary["thresholds"]}
    assert rows["transaction=file a report: p95 < 3s"]["passed"]
    assert rows["transaction=file a report: p95 < 3s"]["transaction"] == "file a report"
    assert rows["tps > 1"]["passed"] and rows["tps > 1"]["unit"] == "txn/s"
    assert not rows["transaction=broken: error_rate < 1%"]["passed"]

    # The renderers show them; junit judges transaction thresholds as threshold test cases.
    assert "Transactions" in result.stdout and "file a report" in result.stdout
    assert "## Transactions" in (out / "summary.md").read_text()
    html = (out / "report.html").read_text()
    assert 'id="transactions"' in html and "file a report" in html
    junit = (out / "junit.xml").read_text()
    assert 'name="transaction=broken: error_rate &lt; 1%"' in junit


@pytest.mark.e2e
def test_plain_locust_shows_the_transaction_rows(target_factory: Any, tmp_path: Path) -> None:
    target: TargetProcess = target_factory()
    scenario = load_scenario(write(tmp_path, scenario_text(target.url)), environ={})
    locustfile = tmp_path / "generated.py"
    locustfile.write_text(compile_scenario(scenario), encoding="utf-8")
    cmd = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "3", "-r",
        "3", "-t", "3s", "--host", target.url, "--csv", str(tmp_path / "plain"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 1  # the broken flow fails requests, as Locust counts them
    with open(tmp_path / "plain_stats.csv", newline="") as handle:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(handle)}
    assert int(rows[(TRANSACTION_TYPE, "file a report")]["Request Count"]) > 0
    assert int(rows[(TRANSACTION_TYPE, "broken")]["Failure Count"]) > 0


# ---------------------------------------------------------------------------- the pure parts


def _scenario(tmp_path: Path, text: str) -> Any:
    return load_scenario(write(tmp_path, text), environ={})


def _invalid(tmp_path: Path, text: str) -> str:
    from loadkit.errors import ScenarioError

    with pytest.raises(ScenarioError) as info:
        _scenario(tmp_path, text)
    return str(info.value)


def test_which_tasks_are_transactions_and_how_they_compile(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        """\
name: t
host: http://127.0.0.1:9
load: {users: 1, spawn_rate: 1, duration: 1s}
users:
  - name: citizen
    on_start:
      - request: {method: POST, url: /api/login}
    transactions: {on_start: log in}
    tasks:
      - name: single
        request: {url: /a}
      - name: looped
        loop: {count: 2}
        request: {url: /b}
      - name: timed single
        transaction: true
        request: {url: /c}
      - name: untimed flow
        transaction: false
        flow:
          - request: {url: /d}
      - name: flow
        transaction: file a report
        flow:
          - request: {url: /e}
            think_time: {between: [0.1, 0.2]}
          - request: {url: /f}
""",
    )
    assert scenario.transaction_names() == ["log in", "looped", "timed single", "file a report"]
    code = compile_scenario(scenario)
    compile(code, "generated.py", "exec")
    assert "        with Transaction(self, 'log in'):\n" in code
    assert "    def single(self):\n        send(self, 'GET', '/a')\n" in code
    assert (
        "    def looped(self):\n"
        "        with Transaction(self, 'looped'):\n"
        "            for _ in range(2):\n"
    ) in code
    assert "    def untimed_flow(self):\n        send(self, 'GET', '/d')\n" in code
    assert (
        "        with Transaction(self, 'file a report') as txn:\n"
        "            send(self, 'GET', '/e')\n"
        "            txn.pause(random.uniform(0.1, 0.2))\n"
        "            send(self, 'GET', '/f')\n"
    ) in code
    assert "class Transaction:" in code and "from gevent import GreenletExit" in code


def test_default_names_of_on_start_and_on_stop(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        """\
name: t
host: http://127.0.0.1:9
load: {users: 1, spawn_rate: 1, duration: 1s}
users:
  - name: citizen
    on_start: [{request: {url: /in}}]
    on_stop: [{request: {url: /out}}]
    tasks: [{request: {url: /a}}]
""",
    )
    assert scenario.transaction_names() == ["citizen on_start", "citizen on_stop"]


def test_a_scenario_without_transactions_carries_no_helper(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        """\
name: t
host: http://127.0.0.1:9
load: {users: 1, spawn_rate: 1, duration: 1s}
users:
  - name: citizen
    tasks: [{request: {url: /a}}]
""",
    )
    assert "Transaction" not in compile_scenario(scenario)


BASE = """\
name: t
host: http://127.0.0.1:9
load: {users: 1, spawn_rate: 1, duration: 1s}
users:
  - name: citizen
    tasks:
      - name: file a report
        flow: [{request: {url: /a}}, {request: {url: /b}}]
"""


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            'thresholds: ["transaction=file a reprot: p95 < 3s"]',
            "s.yaml:9:14: thresholds[0]: no transaction is named 'file a reprot'; did you mean "
            "'file a report'? (transaction names: file a report)",
        ),
        (
            "apdex: {transactions: {fil a report: 1s}}",
            "s.yaml:9:38: apdex.transactions.fil a report: no transaction is named "
            "'fil a report'; did you mean 'file a report'? (transaction names: file a report)",
        ),
        (
            'thresholds: ["/a: tps > 5"]',
            "s.yaml:9:14: thresholds[0]: tps counts transactions, not requests named '/a', in "
            "'/a: tps > 5'; write 'transaction=NAME: tps ...' or 'tps ...'",
        ),
        (
            'thresholds: ["transaction=: p95 < 1s"]',
            "s.yaml:9:14: thresholds[0]: name the transaction after 'transaction=' in "
            "'transaction=: p95 < 1s', e.g. 'transaction=file a report: p95 < 3s'",
        ),
    ],
)
def test_transaction_problems_are_one_line(tmp_path: Path, extra: str, expected: str) -> None:
    text = BASE + extra + "\n"
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    from loadkit.errors import ScenarioError

    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "s.yaml", environ={})
    message = str(info.value)
    assert "\n" not in message
    assert message.endswith(expected), message


def test_tps_needs_a_transaction(tmp_path: Path) -> None:
    text = BASE.replace("        flow: [{request: {url: /a}}, {request: {url: /b}}]",
                        "        request: {url: /a}") + "thresholds: [tps > 5]\n"  # fmt: skip
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    from loadkit.errors import ScenarioError

    with pytest.raises(ScenarioError, match="tps counts transactions, and no task is timed"):
        load_scenario(tmp_path / "s.yaml", environ={})


def test_threshold_syntax() -> None:
    t = parse_threshold("transaction=file a report: p95 < 3s")
    assert (t.transaction, t.scope, t.metric, t.limit, t.on_transactions) == (
        "file a report", None, "p95", 3000.0, True,
    )  # fmt: skip
    tps = parse_threshold("tps > 5/s")
    assert (tps.transaction, tps.limit, tps.unit, tps.on_transactions) == (None, 5.0, "txn/s", True)
    assert parse_threshold("rps > 5").on_transactions is False
    with pytest.raises(ValueError, match="tps takes transactions per second like 5"):
        parse_threshold("tps > fast")


def test_the_live_line_and_request_views_leave_transactions_out() -> None:
    recorder = HistogramRecorder()
    recorder.record("GET", "/a", 10.0, False, "CitizenUser")
    recorder.record("GET", "/a", 12.0, True, "CitizenUser")
    recorder.record(TRANSACTION_TYPE, "flow", 30.0, True, "CitizenUser")
    second = recorder.payload()[0][0]
    assert recorder.second_summary(second)[:2] == (2, 1)
    run = RunHistograms.from_json(recorder.to_json())
    assert run.requests_only().select().requests == 2
    assert run.transactions_only().select().requests == 1
    assert run.transactions_only().names() == ["flow"]


def test_locustfile_helpers_and_histogram_agree_on_the_transaction_type() -> None:
    source = helpers_source({"Transaction"}).code
    assert f'TRANSACTION = "{TRANSACTION_TYPE}"' in source


def _run_with(per_second: dict[str, Any], seconds: range) -> RunHistograms:
    """Each second `s`: `per_second[type](s)` successes of 10 ms, of request type GET or TXN."""
    from loadkit.histogram import SCHEMA, Histogram

    def flat(count: int) -> list[int]:
        return Histogram.of([10.0] * count).to_flat()

    return RunHistograms.from_json(
        {
            "schema": SCHEMA,
            "buckets": {"growth": 1.005, "min_ms": 0.001},
            "series": [
                {
                    "type": kind,
                    "name": kind,
                    "user": "U",
                    "seconds": [[s, flat(count(s)), []] for s in seconds],
                }
                for kind, count in per_second.items()
            ],
        }
    )


def test_capacity_counts_transactions_per_second_when_there_are_any() -> None:
    from loadkit.capacity import capacity_report, find_levels

    seconds = range(100, 130)
    users = {s: 2 if s < 110 else 4 if s < 120 else 6 for s in seconds}
    samples = [(s, users[s]) for s in seconds]
    with_txn = _run_with({"GET": lambda s: 10, TRANSACTION_TYPE: lambda s: users[s]}, seconds)
    levels = find_levels(samples, with_txn)
    assert [lv.throughput_rps for lv in levels] == [2.0, 4.0, 6.0]
    assert [lv.requests for lv in levels] == [70, 70, 70]  # the requests' own count
    report = capacity_report(levels, with_txn)
    assert report.throughput_unit == "txn/s"
    assert report.headline().startswith(
        "Capacity: at least 6 txn/s (the highest throughput measured, in completed transactions)"
    )
    plain = _run_with({"GET": lambda s: 10}, seconds)
    assert [lv.throughput_rps for lv in find_levels(samples, plain)] == [10.0, 10.0, 10.0]
    assert capacity_report(find_levels(samples, plain), plain).throughput_unit == "req/s"
