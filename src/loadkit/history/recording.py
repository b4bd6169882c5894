"""What a run does with its history once it is judged: drift, the record, the view.

`record_run` is called with the run's summary before summary.json is written (`runner`): it
reads the comparable earlier runs, judges drift (a warning, or with `--fail-on-drift` a reason
that fails the run), appends the record and puts the `HistoryView` the renderers draw into the
summary. `record_capacity` records a whole capacity search once (its steps are not recorded).
A history that cannot be reached costs a one-line warning, never the verdict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadkit.exit_codes import Verdict
from loadkit.history.drift import LAST_RUNS, find_drift
from loadkit.history.record import RunRecord, record_of
from loadkit.history.store import HistoryStore, HistoryUnavailable
from loadkit.run_folder import RunFolder
from loadkit.settings import HistoryChoice
from loadkit.summary_types import DriftEntry, HistoryPoint, Summary

TREND_RUNS = 20
"""How many earlier runs of the scenario the report's History section shows."""
CHART_METRICS = ("p95", "error_rate", "rps", "apdex")
"""The whole-run thresholds drawn on the History charts."""


def record_run(summary: Summary, folder: RunFolder, choice: HistoryChoice) -> None:
    """Record the run; drift and the history's view go into `summary` (see the module)."""
    try:
        store = HistoryStore.open(choice.url)
    except HistoryUnavailable as exc:
        summary["warnings"].append(f"{exc}; this run is not recorded")
        return
    try:
        _record(summary, folder, choice, store)
    except HistoryUnavailable as exc:
        summary["warnings"].append(f"{exc}; this run is not recorded")
    except Exception as exc:  # the history must never cost a run its verdict
        summary["warnings"].append(
            f"history {store.where}: {type(exc).__name__}: {exc}; this run is not recorded"
        )
    finally:
        store.close()


def _record(
    summary: Summary, folder: RunFolder, choice: HistoryChoice, store: HistoryStore
) -> None:
    record = record_of(summary, folder)
    earlier = store.runs(scenario=record["scenario"], limit=TREND_RUNS)
    comparable = store.runs(
        scenario=record["scenario"],
        host=record["host"],
        load_key=record["load_key"],
        verdict=Verdict.PASS,
        limit=LAST_RUNS,
    )
    thresholds = whole_run_thresholds(summary)
    drift: list[DriftEntry] = []
    if summary["verdict"] == Verdict.PASS:
        drift = find_drift(record, comparable, thresholds=thresholds)
    apply_drift(summary, drift, fail=choice.fail_on_drift)
    record["verdict"] = str(summary["verdict"])
    record["reasons"] = list(summary["reasons"])
    record["warnings"] = list(summary["warnings"])
    store.append(record)
    pinned = store.pinned(record["scenario"], record["git_branch"])
    summary["history"] = {
        "store": store.where,
        "run_id": record["run_id"],
        "runs": [point(r, record) for r in reversed(earlier)],
        "baseline": point(pinned, record) if pinned else None,
        "thresholds": thresholds,
        "drift": drift,
        "trend": trend_line(record, comparable),
    }


def apply_drift(summary: Summary, drift: list[DriftEntry], *, fail: bool) -> None:
    """Drift is a warning; with --fail-on-drift a reason, and a passing run fails."""
    messages = [d["message"] for d in drift]
    if not messages:
        return
    if fail and summary["verdict"] == Verdict.PASS:
        summary["reasons"].extend(f"{m} (--fail-on-drift)" for m in messages)
        summary["verdict"] = Verdict.FAIL
        summary["exit_code"] = int(Verdict.FAIL.exit_status)
    else:
        summary["warnings"].extend(messages)


def whole_run_thresholds(summary: Summary) -> dict[str, float]:
    """metric -> limit of the thresholds on all requests over the whole run."""
    out: dict[str, float] = {}
    for t in summary.get("thresholds", []):
        if t["metric"] in CHART_METRICS and not (
            t.get("scope") or t.get("transaction") or t.get("user") or t.get("window_s")
        ):
            out.setdefault(t["metric"], float(t["limit"]))
    return out


def point(record: RunRecord, current: RunRecord) -> HistoryPoint:
    return {
        "run_id": record["run_id"],
        "recorded_at": record["recorded_at"],
        "verdict": record["verdict"],
        "same_load": record["host"] == current["host"]
        and record["load_key"] == current["load_key"],
        "git_commit": record.get("git_commit"),
        "git_branch": record.get("git_branch"),
        "p95_ms": record.get("p95_ms"),
        "error_rate": record.get("error_rate"),
        "throughput_rps": record.get("throughput_rps"),
        "apdex": record.get("apdex"),
        "capacity_rps": record.get("capacity_rps"),
        "folder": record["folder"],
    }


def trend_line(current: RunRecord, comparable: list[RunRecord]) -> str:
    """`p95 52 ms against a median of 50 ms over the last 10 passing runs (+4 %)`."""
    import statistics

    from loadkit import formatting

    values = [r["p95_ms"] for r in comparable if r.get("p95_ms") is not None]
    now = current.get("p95_ms")
    if now is None:
        return "no p95 in this run"
    if not values:
        return (
            f"p95 {formatting.ms_unit(now)}: the first passing run of this scenario, host and "
            "load in the history"
        )
    median = statistics.median(v for v in values if v is not None)
    change = f" ({(now - median) / median * 100:+.0f} %)" if median else ""
    return (
        f"p95 {formatting.ms_unit(now)} against a median of {formatting.ms_unit(median)} over "
        f"the last {_runs(len(values))} of the same host and load{change}"
    )


def write_ui_history(
    path: Path, choice: HistoryChoice, scenario: str, limit: int = 20
) -> str | None:
    """The scenario's recent runs for the web UI's History tab (`webui`); why not, or None."""
    from loadkit import formatting
    from loadkit.harness_protocol import UI_HISTORY_REPORT, UiHistoryRow
    from loadkit.run_folder import write_atomic

    try:
        store = HistoryStore.open(choice.url)
        try:
            records = store.runs(scenario=scenario, limit=limit)
        finally:
            store.close()
    except HistoryUnavailable as exc:
        return f"{exc}; the web UI's History tab stays empty"
    rows: list[UiHistoryRow] = [
        {
            "run_id": r["run_id"],
            "recorded": formatting.utc_time(r["recorded_at"]),
            "verdict": r["verdict"].upper(),
            "p95": formatting.metric_value("ms", r.get("p95_ms")),
            "errors": formatting.metric_value("%", r.get("error_rate")),
            "report": r["folder"] if "://" in r["folder"] else UI_HISTORY_REPORT + r["run_id"],
            "folder": r["folder"],
        }
        for r in records
    ]
    try:
        write_atomic(path, json.dumps(rows))
    except OSError as exc:
        return f"could not write {path}: {exc.strerror or exc}"
    return None


def _runs(n: int) -> str:
    return "passing run" if n == 1 else f"{n} passing runs"


def folder_path(record: RunRecord) -> Path | None:
    """The record's run folder when it is a local path that still exists."""
    path = Path(record["folder"])
    return path if "://" not in record["folder"] and path.is_dir() else None


CAPACITY_ANSWER_KEYS = ("outcome", "note", "confirmed", "unit", "sustained_rate", "breaking_rate")
"""What a capacity search's record keeps of capacity.json (the steps stay in its folder)."""


def record_capacity(
    document: Mapping[str, Any], folder: Path, choice: HistoryChoice, *, passed: bool
) -> str:
    """One record for a whole `loadkit capacity` search: its sustained step's figures (or its
    last step's) and capacity.json's answer. The line to print: where it went, or why not."""
    steps = [s for search in document.get("searches", []) for s in search]
    sustained = document.get("sustained") or (steps[-1] if steps else None)
    if not sustained:
        return "loadkit: warning: the search ran no step; nothing to record in the history"
    step = RunFolder(Path(sustained["folder"]))
    try:
        summary: Summary = json.loads(step.summary_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"loadkit: warning: {step.summary_json}: {exc}; the search is not recorded"
    record = record_of(summary, RunFolder(folder))
    policy = document.get("policy") or {}
    record["load_key"] = (
        f"capacity search from={policy.get('start_rate')} to={policy.get('max_rate')}/s "
        f"max_concurrency={document.get('max_concurrency')}"
    )
    record["verdict"] = str(Verdict.PASS if passed else Verdict.FAIL)
    record["reasons"] = [document["note"]] if document.get("note") else []
    record["capacity_rps"] = sustained.get("requests_per_s") if document.get("sustained") else None
    record["capacity"] = {k: document.get(k) for k in CAPACITY_ANSWER_KEYS}
    try:
        store = HistoryStore.open(choice.url)
        try:
            store.append(record)
        finally:
            store.close()
    except HistoryUnavailable as exc:
        return f"loadkit: warning: {exc}; this search is not recorded"
    return f"History: run {record['run_id']} recorded in {store.where}"
