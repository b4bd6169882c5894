"""junit.xml: valid XML in the structure CI systems read, failing exactly when the run did."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from loadkit.report.junit import NO_EXCEPTIONS, RUN_COMPLETED, render_junit

FIXTURES = Path(__file__).parent / "fixtures" / "report"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name / "summary.json").read_text())


def check_structure(text: str) -> ET.Element:
    """What Jenkins, GitLab, GitHub test reporters and Azure read (the common JUnit schema):
    <testsuites> of <testsuite name tests failures errors skipped time [timestamp]> of
    <testcase classname name time> with at most one <failure message type>; counts agree."""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1 and len(root) == 1
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for suite in suites:
        assert suite.get("name")
        float(suite.get("time", "x"))
        if suite.get("timestamp") is not None:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", ""))
        assert {child.tag for child in suite} <= {"properties", "testcase", "system-out"}
        for prop in suite.iter("property"):
            assert prop.get("name") and prop.get("value") is not None
        cases = suite.findall("testcase")
        failed = 0
        for case in cases:
            assert case.get("name") and case.get("classname")
            assert float(case.get("time", "x")) >= 0
            assert {child.tag for child in case} <= {"failure", "error", "skipped"}
            failures = case.findall("failure")
            assert len(failures) <= 1
            for failure in failures:
                assert failure.get("message") and failure.get("type")
            failed += bool(failures)
        counts = {"tests": len(cases), "failures": failed, "errors": 0, "skipped": 0}
        assert {k: int(suite.get(k, "-1")) for k in counts} == counts
        for key in totals:
            totals[key] += counts[key]
    assert {k: int(root.get(k, "-1")) for k in totals} == totals
    return root


def cases(root: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in root.iter("testcase")}


def failure_message(case: ET.Element) -> str | None:
    failure = case.find("failure")
    return None if failure is None else failure.get("message")


def test_passing_run_is_all_green() -> None:
    summary = load("demo")
    root = check_structure(render_junit(summary))
    (suite,) = root
    assert suite.get("name") == "demo"
    assert suite.get("time") == "9.630" and suite.get("timestamp") == "2026-11-26T06:04:54"
    by_name = cases(root)
    expressions = [t["expression"] for t in summary["thresholds"]]
    assert list(by_name) == [*expressions, RUN_COMPLETED, NO_EXCEPTIONS]
    assert {by_name[e].get("classname") for e in expressions} == {"loadkit.thresholds"}
    assert by_name[RUN_COMPLETED].get("classname") == "loadkit.run"
    assert all(failure_message(c) is None for c in by_name.values())
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["verdict"] == "pass" and props["users"] == "40"


def test_failed_threshold_names_actual_and_expectation() -> None:
    summary = load("demo")
    summary["thresholds"][0].update(actual=40.0, passed=False)
    summary["thresholds"][1].update(actual=0.032, passed=False)
    summary["verdict"], summary["exit_code"] = "fail", 1
    root = check_structure(render_junit(summary))
    by_name = cases(root)
    assert failure_message(by_name["p95 < 200ms"]) == "actual 40.0 ms, expected p95 < 200ms"
    assert failure_message(by_name["error_rate < 1%"]) == ("actual 3.20%, expected error_rate < 1%")
    assert by_name["p95 < 200ms"].find("failure").get("type") == "threshold"  # type: ignore[union-attr]
    assert root.get("failures") == "2"


def test_aborted_run_with_no_requests_fails_run_completed() -> None:
    root = check_structure(render_junit(load("aborted_no_requests")))
    by_name = cases(root)
    assert failure_message(by_name[RUN_COMPLETED]) == ("the run was aborted; no requests were made")
    details = by_name[RUN_COMPLETED].find("failure").text or ""  # type: ignore[union-attr]
    assert "the run was interrupted before its planned end" in details
    assert failure_message(by_name["p95 < 500ms"]) == (
        "actual n/a, expected p95 < 500ms (no requests)"
    )


def test_exceptions_in_test_code_fail_their_own_case() -> None:
    summary = load("demo")
    summary["exceptions"] = [{"count": 2, "message": "KeyError: 'id'"}]
    summary["verdict"], summary["exit_code"] = "fail", 1
    by_name = cases(check_structure(render_junit(summary)))
    assert failure_message(by_name[NO_EXCEPTIONS]) == (
        "the test code raised 2 exception(s); see locust.log"
    )
    assert by_name[NO_EXCEPTIONS].find("failure").text == "2x KeyError: 'id'"  # type: ignore[union-attr]


def test_markup_and_control_characters_stay_valid_xml() -> None:
    summary = load("demo")
    name = 'a <b> & "c" \x1b[31m\x00 ]]> ü'
    summary["scenario"]["name"] = name
    summary["thresholds"][0].update(expression=f"{name}: p95 < 1ms", passed=False)
    summary["exceptions"] = [{"count": 1, "message": "bad\x07bell"}]
    root = check_structure(render_junit(summary))
    assert root[0].get("name") == 'a <b> & "c" \ufffd[31m\ufffd ]]> ü'
    (threshold,) = [c for c in root.iter("testcase") if c.get("name", "").endswith("p95 < 1ms")]
    assert "expected a <b> & " in (failure_message(threshold) or "")


def test_default_threshold_is_marked() -> None:
    summary = load("demo")
    summary["thresholds"] = [{**summary["thresholds"][1], "default": True}]
    assert "error_rate < 1% (default)" in cases(check_structure(render_junit(summary)))


def test_stand_in_summary_without_run_facts() -> None:
    root = check_structure(render_junit({"verdict": "error", "reasons": ["summary.json missing"]}))
    assert root[0].get("name") == "loadkit"
    assert failure_message(cases(root)[RUN_COMPLETED]) == (
        "Locust or loadkit failed; see locust.log; no requests were made"
    )


def variants() -> list[dict[str, Any]]:
    passing = load("demo")
    failing = copy.deepcopy(passing)
    failing["thresholds"][2].update(passed=False, actual=3.0)
    failing["verdict"], failing["exit_code"] = "fail", 1
    raising = copy.deepcopy(passing)
    raising["exceptions"] = [{"count": 1, "message": "x"}]
    raising["verdict"], raising["exit_code"] = "fail", 1
    no_requests = load("aborted_no_requests")
    no_requests.update(verdict="fail", exit_code=1, thresholds=[])
    aborted = copy.deepcopy(passing)
    aborted["verdict"], aborted["exit_code"] = "aborted", 3
    errored = copy.deepcopy(passing)
    errored["verdict"], errored["exit_code"] = "error", 4
    return [passing, failing, raising, no_requests, aborted, errored, load("aborted_no_requests")]


@pytest.mark.parametrize("summary", variants())
def test_junit_fails_exactly_when_the_exit_code_does(summary: dict[str, Any]) -> None:
    root = check_structure(render_junit(summary))
    assert (int(root.get("failures", "0")) == 0) == (summary["exit_code"] == 0)
