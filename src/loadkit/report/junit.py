"""junit.xml: the verdict as JUnit test results, the format CI systems show and gate on.

    <testsuites name="loadkit" tests=".." failures=".." errors="0" time="..">
      <testsuite name="SCENARIO" tests=".." failures=".." errors="0" skipped="0" time=".."
                 timestamp="..">
        <properties>…run facts…</properties>
        <testcase classname="loadkit.thresholds" name="p95 &lt; 500ms" time="0"/>
        <testcase classname="loadkit.thresholds" name="error_rate &lt; 1%" time="0">
          <failure type="threshold" message="actual 3.20%, expected error_rate &lt; 1%">…</failure>
        </testcase>
        <testcase classname="loadkit.run" name="run completed" time=".."/>
        <testcase classname="loadkit.run" name="planned load delivered" time="0"/>
        <testcase classname="loadkit.run" name="test code raised no exceptions" time="0"/>
        <system-out>…warnings (e.g. a saturated load generator)…</system-out>
      </testsuite>
    </testsuites>

One test case per threshold, plus "run completed" (fails when the run was aborted, Locust
failed, or no request was made), "planned load delivered" (fails when fewer users ran than
planned) and "test code raised no exceptions", so that the JUnit
result has a failure exactly when the exit code is not 0. Built with xml.etree, and characters
XML 1.0 cannot carry (control characters in an error message) are replaced, so the document
always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from loadkit.exit_codes import Verdict
from loadkit.report.console import format_threshold_actual
from loadkit.summary_types import Summary, ThresholdRow

THRESHOLD_CLASS = "loadkit.thresholds"
RUN_CLASS = "loadkit.run"
RUN_COMPLETED = "run completed"
NO_EXCEPTIONS = "test code raised no exceptions"
LOAD_DELIVERED = "planned load delivered"

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: object) -> str:
    """Text XML 1.0 can hold: control characters become U+FFFD."""
    return _NOT_XML.sub("\ufffd", "" if value is None else str(value))


def _seconds(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{max(0.0, float(value)):.3f}"
    return "0.000"


def _actual(threshold: ThresholdRow) -> str:
    try:
        return format_threshold_actual(threshold)
    except (KeyError, TypeError, ValueError):
        return str(threshold.get("actual"))


def _testcase(parent: ET.Element, classname: str, name: str, time: str = "0.000") -> ET.Element:
    return ET.SubElement(parent, "testcase", classname=classname, name=_text(name), time=time)


def _fail(case: ET.Element, message: str, kind: str, details: str = "") -> None:
    failure = ET.SubElement(case, "failure", message=_text(message), type=kind)
    failure.text = _text(details or message)


def _run_problems(summary: Summary) -> list[str]:
    verdict = summary.get("verdict")
    problems: list[str] = []
    if verdict == Verdict.ABORTED:
        problems.append("the run was aborted")
    elif verdict not in (Verdict.PASS, Verdict.FAIL):  # error, or none in a partial file
        problems.append("Locust or loadkit failed; see locust.log")
    requests = summary.get("totals", {}).get("requests")
    if not requests:
        problems.append("no requests were made")
    return problems


def render_junit(summary: Summary) -> str:
    """JUnit XML for a summary (`loadkit.summary_types.Summary`), also an older or partial one
    read from disk: every key is read with .get."""
    scenario = summary.get("scenario", {}).get("name") or "loadkit"
    run = summary.get("run", {})
    elapsed = _seconds(run.get("elapsed_s"))
    suite = ET.Element("testsuite", name=_text(scenario))

    properties = ET.SubElement(suite, "properties")
    facts: dict[str, object] = {
        "host": run.get("host"),
        "users": run.get("users"),
        "spawn_rate": run.get("spawn_rate"),
        "duration_s": run.get("duration_s"),
        "elapsed_s": run.get("elapsed_s"),
        "locust_version": run.get("locust_version"),
        "verdict": summary.get("verdict"),
        "exit_code": summary.get("exit_code"),
    }
    for key, value in facts.items():
        if value is not None:
            ET.SubElement(properties, "property", name=key, value=_text(value))

    aborted_by = summary["run"].get("aborted_by") if "run" in summary else None
    for threshold in summary.get("thresholds") or []:
        expression = str(threshold.get("expression") or "")
        name = expression + (" (default)" if threshold.get("default") else "")
        case = _testcase(suite, THRESHOLD_CLASS, name)
        stopped_run = aborted_by is not None and aborted_by.get("threshold") == expression
        if not threshold.get("passed") or stopped_run:
            message = f"actual {_actual(threshold)}, expected {expression}"
            if threshold.get("note"):
                message += f" ({threshold['note']})"
            if stopped_run and aborted_by is not None:
                message += (
                    f"; it stopped the run {aborted_by['at_s']:.0f} s in "
                    f"(actual {aborted_by['actual']} then)"
                )
            _fail(case, message, "threshold")

    completed = _testcase(suite, RUN_CLASS, RUN_COMPLETED, elapsed)
    problems = _run_problems(summary)
    if problems:
        reasons = "\n".join(str(r) for r in summary.get("reasons") or [])
        _fail(completed, "; ".join(problems), "run", reasons)

    load = summary.get("load")
    if load is not None:
        delivered = _testcase(suite, RUN_CLASS, LOAD_DELIVERED)
        if not load.get("delivered", True):
            short = [str(r) for r in summary.get("reasons") or [] if str(r).startswith("planned ")]
            _fail(delivered, "; ".join(short) or "fewer users ran than planned", "load")

    exceptions = list(summary.get("exceptions") or [])
    clean = _testcase(suite, RUN_CLASS, NO_EXCEPTIONS)
    if exceptions:
        count = sum(int(e.get("count") or 0) for e in exceptions)
        details = "\n".join(f"{e.get('count')}x {e.get('message')}" for e in exceptions)
        _fail(
            clean,
            f"the test code raised {count} exception(s); see locust.log",
            "exception",
            details,
        )

    warnings = [str(w) for w in summary.get("warnings") or []]
    if warnings:
        ET.SubElement(suite, "system-out").text = _text(
            "\n".join(f"warning: {w}" for w in warnings)
        )

    cases = suite.findall("testcase")
    failures = sum(1 for c in cases if c.find("failure") is not None)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0"}
    suite.attrib.update({**counts, "skipped": "0", "time": elapsed})
    started = run.get("started_at")
    if isinstance(started, int | float) and not isinstance(started, bool):
        suite.set(
            "timestamp", datetime.fromtimestamp(started, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        )
    root = ET.Element("testsuites", {"name": "loadkit", **counts, "time": elapsed})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
