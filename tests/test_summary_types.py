"""summary.json's TypedDicts (loadkit.summary_types) against real summary.json files, so that
the types cannot drift from the data; the Verdict enum and its exit statuses."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from loadkit import summary_types
from loadkit.capacity import CapacityReport, LoadLevel, UslFit
from loadkit.exit_codes import ExitStatus, Verdict
from loadkit.summary_types import CapacityDict, LoadLevelDict, Summary, UslFitDict

FIXTURES = Path(__file__).parent / "fixtures" / "report"
CURRENT = FIXTURES / "step_failures" / "summary.json"
"""Written by `loadkit run` (a step load against the bundled target with a failing request
and a task that raises): every part of the summary is there and not null."""
OLDER = [FIXTURES / "demo" / "summary.json", FIXTURES / "aborted_no_requests" / "summary.json"]
"""Written by an earlier loadkit: parts are missing, none is unknown."""

ALL_TYPED_DICTS = {
    getattr(summary_types, name)
    for name in summary_types.__all__
    if is_typeddict(getattr(summary_types, name))
}


def mismatches(
    value: Any, annotation: Any, path: str, seen: set[type], *, older: bool = False
) -> list[str]:
    """Where `value` does not have exactly the keys (recursively) and the plain types of
    `annotation`; with `older`, keys may be missing but none may be unknown."""
    if value is None:
        return [] if _optional(annotation) else [f"{path}: null, but {annotation} is not optional"]
    if get_origin(annotation) in (typing.Union, types.UnionType):
        choices = [a for a in get_args(annotation) if a is not type(None)]
        assert len(choices) == 1, annotation
        return mismatches(value, choices[0], path, seen, older=older)
    if get_origin(annotation) is list:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        (item,) = get_args(annotation)
        return [
            problem
            for i, element in enumerate(value)
            for problem in mismatches(element, item, f"{path}[{i}]", seen, older=older)
        ]
    if get_origin(annotation) is dict:  # a mapping of plain values (history.thresholds)
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        key_type, item = get_args(annotation)
        return [f"{path}: key {k!r} is not a {key_type.__name__}" for k in value
                if not isinstance(k, key_type)] + [
            problem
            for k, element in value.items()
            for problem in mismatches(element, item, f"{path}.{k}", seen, older=older)
        ]  # fmt: skip
    if is_typeddict(annotation):
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        seen.add(annotation)
        hints = get_type_hints(annotation)
        problems = [f"{path}.{key}: not in {annotation.__name__}" for key in value.keys() - hints]
        if not older:
            # A NotRequired key is written only where it applies (the run history's view).
            extras = get_type_hints(annotation, include_extras=True)
            required = {k for k in hints if get_origin(extras[k]) is not typing.NotRequired}
            problems += [f"{path}.{key}: missing" for key in required - value.keys()]
        for key in hints.keys() & value.keys():
            problems += mismatches(value[key], hints[key], f"{path}.{key}", seen, older=older)
        return problems
    if get_origin(annotation) is typing.Literal:
        allowed = get_args(annotation)
        return [] if value in allowed else [f"{path}: {value!r} is not one of {allowed}"]
    if annotation is Verdict:
        return [] if value in {v.value for v in Verdict} else [f"{path}: unknown verdict"]
    expected = (int, float) if annotation is float else annotation
    if not isinstance(value, expected) or (annotation is not bool and isinstance(value, bool)):
        return [f"{path}: {value!r} is not a {annotation.__name__}"]
    return []


def _optional(annotation: Any) -> bool:
    return type(None) in get_args(annotation)


def test_a_real_summary_has_exactly_the_typed_keys() -> None:
    seen: set[type] = set()
    data = json.loads(CURRENT.read_text(encoding="utf-8"))
    assert mismatches(data, Summary, "summary", seen) == []
    # Every part was there to be checked (the fixture has a value for each, not null), but a
    # lost worker, an abort, the run history's view and trace links: a plain run has none of
    # them (tests/test_distributed.py, tests/test_abort.py, tests/test_history.py and
    # tests/test_trace_links.py check real ones against the types), nor the system's metrics
    # (tests/test_observe.py, against a real Prometheus).
    assert seen == ALL_TYPED_DICTS - {
        summary_types.LostWorker, summary_types.AbortedBy, summary_types.HistoryView,
        summary_types.HistoryPoint, summary_types.DriftEntry, summary_types.TelemetrySummary,
        summary_types.QueryStats, summary_types.SlowestRequests, summary_types.TracedRequest,
    }  # fmt: skip


@pytest.mark.parametrize("path", OLDER, ids=lambda p: p.parent.name)
def test_an_older_summary_has_no_key_the_types_do_not_know(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert mismatches(data, Summary, "summary", set(), older=True) == []


@pytest.mark.parametrize(
    ("typed", "source", "extra"),
    [
        (CapacityDict, CapacityReport, {"headline"}),
        (LoadLevelDict, LoadLevel, set()),
        (UslFitDict, UslFit, set()),
    ],
)
def test_capacity_parts_follow_their_dataclasses(typed: Any, source: Any, extra: set[str]) -> None:
    """summary_sections.capacity_dict writes each field by name: a new field needs a key."""
    fields = [f.name for f in dataclasses.fields(source)]
    assert list(get_type_hints(typed)) == [*sorted(extra), *fields]


def test_verdicts_are_the_strings_of_summary_json_and_map_to_exit_statuses() -> None:
    assert [v.value for v in Verdict] == ["pass", "fail", "aborted", "error"]
    assert json.dumps({"verdict": Verdict.ABORTED}) == '{"verdict": "aborted"}'
    assert Verdict.FAIL == "fail" and f"{Verdict.FAIL}" == "fail"
    assert {v: v.exit_status for v in Verdict} == {
        Verdict.PASS: ExitStatus.PASS,
        Verdict.FAIL: ExitStatus.THRESHOLDS_FAILED,
        Verdict.ABORTED: ExitStatus.ABORTED,
        Verdict.ERROR: ExitStatus.INTERNAL_ERROR,
    }
    # A verdict read back from summary.json is a plain string: still mapped.
    assert Verdict("aborted").exit_status is ExitStatus.ABORTED
    assert Verdict.PASS.exit_status is ExitStatus.PASS
