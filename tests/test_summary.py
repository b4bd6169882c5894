"""summary.json, summary.md and the terminal report, built from fixture stats (pure functions)."""

from __future__ import annotations

from typing import Any

from loadkit.report.console import final_report
from loadkit.report.markdown import render_markdown
from loadkit.scenario import validate_source
from loadkit.scenario.source import parse_yaml
from loadkit.settings import RunSettings
from loadkit.summary import SCHEMA, build_summary

SCENARIO = """\
name: fixture
host: http://127.0.0.1:8080
load: {users: 10, spawn_rate: 5, duration: 10s}
users:
  - name: u
    tasks:
      - request: {url: /a}
      - request: {method: POST, url: /a}
      - request: {url: /b}
thresholds: [THRESHOLDS]
"""


def scenario(thresholds: str = "p95 < 100ms, error_rate < 5%, '/a: requests >= 30'") -> Any:
    text = SCENARIO.replace("THRESHOLDS", thresholds)
    return validate_source(parse_yaml(text, "fixture.yaml", environ={}))


def entry(method: str, name: str, histogram: dict[int, int], failures: int = 0) -> dict[str, Any]:
    count = sum(histogram.values())
    return {
        "method": method,
        "name": name,
        "num_requests": count,
        "num_failures": failures,
        "total_response_time": sum(ms * n for ms, n in histogram.items()),
        "min_response_time": min(histogram),
        "max_response_time": max(histogram),
        "total_content_length": 100 * count,
        "response_times": {str(k): v for k, v in histogram.items()},
        "num_reqs_per_sec": {},
        "num_fail_per_sec": {},
    }


def final(*entries: dict[str, Any], errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "started_at": 1000.0,
        "stopped_at": 1010.0,
        "peak_users": 10,
        "locust_version": "2.47.0",
        "entries": list(entries),
        "errors": errors or [],
        "exceptions": [],
    }


def build(final_stats: dict[str, Any] | None, sc: Any = None, aborted: bool = False) -> Any:
    sc = sc or scenario()
    return build_summary(
        final_stats, sc, RunSettings.resolve(sc), source_file="fixture.yaml", aborted=aborted
    )


def test_totals_rows_and_thresholds() -> None:
    stats = final(
        entry("GET", "/a", {10: 18, 20: 2}),
        entry("POST", "/a", {50: 10}, failures=1),
        entry("GET", "/b", {5: 70}),
    )
    summary = build(stats)
    assert summary["schema"] == SCHEMA
    totals = summary["totals"]
    assert (totals["requests"], totals["failures"], totals["rps"]) == (100, 1, 10.0)
    assert totals["min_ms"] == 5 and totals["max_ms"] == 50
    assert totals["p50_ms"] == 5 and totals["p95_ms"] == 50 and totals["p99_ms"] == 50
    assert totals["avg_ms"] == (10 * 18 + 20 * 2 + 50 * 10 + 5 * 70) / 100
    assert [(r["method"], r["name"]) for r in summary["requests"]] == [
        ("GET", "/a"),
        ("POST", "/a"),
        ("GET", "/b"),
    ]
    p95, errors, a_count = summary["thresholds"]
    assert (p95["passed"], p95["actual"]) == (True, 50)
    assert (errors["passed"], errors["actual"]) == (True, 0.01)
    # Per-name thresholds add up every method under that name: 20 GET + 10 POST.
    assert (a_count["passed"], a_count["actual"]) == (True, 30)
    assert summary["verdict"] == "pass" and summary["exit_code"] == 0 and summary["reasons"] == []


def test_failed_threshold_gives_fail_and_a_reason() -> None:
    summary = build(final(entry("GET", "/a", {500: 40}), entry("POST", "/a", {1: 1})))
    assert summary["verdict"] == "fail" and summary["exit_code"] == 1
    assert summary["reasons"] == ["threshold 'p95 < 100ms' failed: actual 500 ms"]


def test_no_requests_is_a_failure_even_without_thresholds() -> None:
    summary = build(final(), scenario("error_rate < 1%"))
    assert summary["verdict"] == "fail"
    assert "no requests were made" in summary["reasons"]


def test_missing_stats_is_an_error_unless_aborted() -> None:
    assert build(None)["verdict"] == "error"
    assert build(None)["exit_code"] == 4
    aborted = build(final(entry("GET", "/a", {1: 5})), aborted=True)
    assert aborted["verdict"] == "aborted" and aborted["exit_code"] == 3


def test_scope_without_requests_fails_with_note() -> None:
    summary = build(final(entry("GET", "/b", {1: 5})), scenario("'/a: p95 < 1s'"))
    (row,) = summary["thresholds"]
    assert not row["passed"] and row["note"] == "no request named '/a' was made"


def test_reports_show_verdict_thresholds_and_folder() -> None:
    summary = build(
        final(
            entry("GET", "/a", {500: 40}, failures=1),
            errors=[{"method": "GET", "name": "/a", "error": "boom | bad", "occurrences": 1}],
        )
    )
    text = final_report(summary, "reports/x")
    assert "Verdict: FAIL (exit code 1)" in text
    assert "FAIL  p95 < 100ms   actual 500 ms" in text
    assert "PASS  error_rate < 5%   actual 2.50%" in text
    assert text.endswith("Run folder: reports/x")
    md = render_markdown(summary)
    assert md.startswith("## ❌ loadkit: fixture — FAIL")
    assert "| ❌ | `p95 < 100ms` | 500 ms |" in md
    assert "| 1 | GET /a | boom \\| bad |" in md


def test_run_records_each_user_types_weight_and_think_time() -> None:
    text = """\
name: fixture
host: http://127.0.0.1:8080
load: {users: 10, spawn_rate: 5, duration: 10s}
users:
  - {name: u, think_time: {pacing: 2s}, tasks: [{request: {url: /a}}]}
  - {name: v, weight: 3, think_time: {between: [500ms, 1.5s]}, tasks: [{request: {url: /a}}]}
  - {name: w, tasks: [{request: {url: /a}}]}
"""
    sc = validate_source(parse_yaml(text, "fixture.yaml", environ={}))
    run = build(final(entry("GET", "/a", {10: 5})), sc)["run"]
    assert run["user_types"] == [
        {"name": "u", "weight": 1, "think_time": "pacing 2s"},
        {"name": "v", "weight": 3, "think_time": "between 500ms and 1.5s"},
        {"name": "w", "weight": 1, "think_time": "constant 0ms"},
    ]
    assert (run["processes"], run["workers"]) == (1, 0)
