"""A run as the history keeps it: its summary.json's figures, where it ran and what it ran.

The histograms stay in the run folder; the record names the folder (`folder`: a path, or the
URL a CI job published it at, from LOADKIT_RUN_URL).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from loadkit.run_folder import RunFolder
from loadkit.summary import judged_time
from loadkit.summary_types import RequestRow, Summary

RUN_URL_ENV = "LOADKIT_RUN_URL"
"""Where a CI job publishes the run folder: recorded in place of its local path."""

# (commit, branch) variables of the CI systems people use, first found wins.
_CI_GIT_VARIABLES = (
    ("GITHUB_SHA", "GITHUB_REF_NAME"),
    ("CI_COMMIT_SHA", "CI_COMMIT_REF_NAME"),  # GitLab
    ("BUILDKITE_COMMIT", "BUILDKITE_BRANCH"),
    ("CIRCLE_SHA1", "CIRCLE_BRANCH"),
    ("BITBUCKET_COMMIT", "BITBUCKET_BRANCH"),
    ("GIT_COMMIT", "GIT_BRANCH"),  # Jenkins
)


class RequestMetrics(TypedDict):
    method: str
    name: str
    requests: int
    failures: int
    error_rate: float | None
    rps: float | None
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    corrected_p95_ms: float | None
    corrected_p99_ms: float | None
    apdex: float | None


class Comparable(TypedDict):
    """What `loadkit compare` needs of a run whose folder is not at hand (a CI job's, on
    another machine): the summary's parts that say what load it ran (`compare_facts`) and
    its `compare.Points`, each metric's value and standard error as [value, error]."""

    summary: dict[str, Any]
    points: dict[str, list[float | None]]


class RunRecord(TypedDict):
    """One run in the history (the `runs` table's columns, and `data` holds all of it)."""

    run_id: str
    recorded_at: float
    scenario: str
    scenario_hash: str | None
    """sha256 of the scenario.yaml that ran (in the run folder)."""
    git_commit: str | None
    git_branch: str | None
    host: str
    load_key: str
    """The planned load in one string: runs with equal keys ran the same load."""
    planned: dict[str, Any]
    delivered: dict[str, Any] | None
    verdict: str
    reasons: list[str]
    warnings: list[str]
    """The summary's warnings, the generator's among them."""
    timing: str
    """Which times p95_ms is of: "service" or "corrected" (what thresholds judge)."""
    requests: int
    failures: int
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    throughput_rps: float | None
    apdex: float | None
    capacity_rps: float | None
    capacity: dict[str, Any] | None
    thresholds: list[dict[str, Any]]
    per_request: list[RequestMetrics]
    folder: str
    comparable: NotRequired[Comparable | None]
    """None: too few steady seconds to compare (or a record older than it)."""


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def load_key(summary: Summary) -> str:
    """The planned load that makes two runs comparable: users, spawn rate, duration, the open
    model's arrivals and concurrency, processes or workers."""
    run = summary["run"]
    parts = [
        f"users={run.get('users')}",
        f"spawn_rate={run.get('spawn_rate')}",
        f"duration_s={run.get('duration_s')}",
    ]
    load = summary.get("load")
    arrivals = load.get("arrivals") if load else None
    if isinstance(arrivals, dict):
        stages = ",".join(
            f"{s.get('rate')}/{s.get('duration_s')}" for s in arrivals.get("stages", [])
        )
        parts += [
            f"arrivals={stages or arrivals.get('target_rate')}",
            f"spacing={arrivals.get('spacing')}",
            f"max_concurrency={arrivals.get('max_concurrency')}",
        ]
    workers = load.get("workers") if load else None
    if isinstance(workers, dict) and workers.get("expected"):
        parts.append(f"workers={workers.get('expected')}")
    return " ".join(parts)


def git_revision(
    environ: Mapping[str, str], cwd: Path | None = None
) -> tuple[str | None, str | None]:
    """(commit, branch) from the CI's variables, else from `git` where the scenario is."""
    for commit_var, branch_var in _CI_GIT_VARIABLES:
        if environ.get(commit_var):
            return environ[commit_var], environ.get(branch_var) or None
    commit = _git(["rev-parse", "HEAD"], cwd)
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd)
    return commit, (None if branch == "HEAD" else branch)  # "HEAD": a detached checkout


def _git(args: list[str], cwd: Path | None) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=3, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None


def record_of(
    summary: Summary,
    folder: RunFolder,
    *,
    environ: Mapping[str, str] | None = None,
    run_id: str | None = None,
    recorded_at: float | None = None,
) -> RunRecord:
    environ = os.environ if environ is None else environ
    scenario_info = summary["scenario"]
    source = scenario_info.get("file")
    cwd = Path(source).resolve().parent if source else None
    commit, branch = git_revision(environ, cwd if cwd is not None and cwd.is_dir() else None)
    totals = summary["totals"]
    capacity = summary.get("capacity")
    run = summary["run"]
    return {
        "run_id": run_id or new_run_id(),
        "recorded_at": time.time() if recorded_at is None else recorded_at,
        "scenario": str(scenario_info.get("name", "")),
        "scenario_hash": _file_hash(folder.scenario),
        "git_commit": commit,
        "git_branch": branch,
        "host": run.get("host", ""),
        "load_key": load_key(summary),
        "planned": {
            k: run.get(k) for k in ("users", "spawn_rate", "duration_s", "locust_version")
        },
        "delivered": _delivered(summary),
        "verdict": str(summary["verdict"]),
        "reasons": list(summary.get("reasons", [])),
        "warnings": list(summary.get("warnings", [])),
        "timing": str(summary.get("timing", "service")),
        "requests": int(totals.get("requests") or 0),
        "failures": int(totals.get("failures") or 0),
        "p50_ms": judged_time(totals, summary, "p50_ms"),
        "p90_ms": judged_time(totals, summary, "p90_ms"),
        "p95_ms": judged_time(totals, summary, "p95_ms"),
        "p99_ms": judged_time(totals, summary, "p99_ms"),
        "error_rate": totals.get("error_rate"),
        "throughput_rps": totals.get("rps"),
        "apdex": _apdex(totals),
        "capacity_rps": capacity.get("capacity_rps") if capacity else None,
        "capacity": dict(capacity) if capacity else None,
        "thresholds": [dict(t) for t in summary.get("thresholds", [])],
        "per_request": [_request_metrics(row) for row in summary.get("requests", [])],
        "folder": environ.get(RUN_URL_ENV) or str(folder.path.resolve()),
        "comparable": comparable(summary, folder.path),
    }


def comparable(summary: Summary, folder: Path) -> Comparable | None:
    """The run as `compare` judges it (None: too few steady seconds, or no histograms)."""
    from loadkit.compare import run_points  # numpy: after the verdict
    from loadkit.compare_facts import CompareError, facts_summary

    try:
        points = run_points(folder)
    except CompareError:
        return None
    return {
        "summary": facts_summary(summary),
        "points": {m: [v, se] for m, (v, se) in points.items()},
    }


def _apdex(row: RequestRow) -> float | None:
    apdex = row.get("apdex")
    return apdex.get("score") if apdex else None


def _delivered(summary: Summary) -> dict[str, Any] | None:
    load = summary.get("load")
    if not load:
        return None
    arrivals = load.get("arrivals")
    return {
        "peak_users": load.get("peak_users"),
        "delivered_s": load.get("delivered_s"),
        "delivered": load.get("delivered"),
        "achieved_rate": arrivals.get("achieved_rate") if arrivals else None,
    }


def _request_metrics(row: RequestRow) -> RequestMetrics:
    corrected = row.get("corrected")
    return {
        "method": row["method"],
        "name": row["name"],
        "requests": int(row.get("requests") or 0),
        "failures": int(row.get("failures") or 0),
        "error_rate": row.get("error_rate"),
        "rps": row.get("rps"),
        "p50_ms": row.get("p50_ms"),
        "p90_ms": row.get("p90_ms"),
        "p95_ms": row.get("p95_ms"),
        "p99_ms": row.get("p99_ms"),
        "corrected_p95_ms": corrected.get("p95_ms") if corrected else None,
        "corrected_p99_ms": corrected.get("p99_ms") if corrected else None,
        "apdex": _apdex(row),
    }


def _file_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
