"""After Locust ended, whatever happened: what it left in the run folder judged into
summary.json and summary.md (from its periodic CSV when it died before its final snapshot),
then report.html, junit.xml and charts, then the masking pass over every file."""

from __future__ import annotations

import contextlib
import json
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loadkit.errors import UsageError
from loadkit.harness_protocol import (
    FinalSnapshot,
)
from loadkit.histogram import RunHistograms, load_histograms
from loadkit.masking import mask_folder
from loadkit.periodic_stats import read_periodic_stats
from loadkit.report.markdown import render_markdown
from loadkit.run_folder import RunFolder, read_final_snapshot, write_atomic
from loadkit.run_plan import read_plan, resolve_settings
from loadkit.run_process import RunTimes
from loadkit.scenario import Scenario
from loadkit.settings import RunSettings
from loadkit.summary import (
    apdex_targets,
    build_summary,
)
from loadkit.summary_sections import slo_of
from loadkit.summary_types import Summary
from loadkit.telemetry import read as read_telemetry

if TYPE_CHECKING:
    from loadkit.capacity import CapacityReport


def rebuild_summary(folder: RunFolder, scenario: Scenario) -> RunOutcome:
    """summary.json (and the report) of a folder that `loadkit run` never finished (a SIGKILL
    of the CLI): judged from what Locust left, with the load plan.json records. Raises
    UsageError when the folder lacks what it takes."""
    if not folder.final_stats.is_file() or not folder.histograms.is_file():
        raise UsageError(
            f"{folder.path} has no {folder.SUMMARY_JSON}, and no {folder.FINAL_STATS} and "
            f"{folder.HISTOGRAMS} to rebuild it from: not a run folder, or a run that never "
            "started"
        )
    try:
        overrides, source_file = read_plan(folder)
    except ValueError as exc:
        raise UsageError(f"cannot rebuild {folder.SUMMARY_JSON}: {exc}") from None
    settings = resolve_settings(scenario, overrides)
    final = read_final_snapshot(folder.final_stats)
    started = final["started_at"] if final else None
    stopping = final.get("stopping_at") if final else None
    ran_s = 0.0
    if isinstance(started, int | float) and isinstance(stopping, int | float):
        ran_s = stopping - started
    # Stopped before its planned end: the CLI was gone and the harness stopped by itself.
    aborted = ran_s < settings.duration_s - 1.0
    exit_code = final.get("locust_exit_code") if final else None
    return judge_folder(
        folder,
        scenario,
        settings,
        source_file or str(folder.scenario),
        aborted=aborted,
        exit_code=exit_code if isinstance(exit_code, int) else 0,
        rebuilt=True,
    )


@dataclass(frozen=True)
class RunOutcome:
    folder: RunFolder
    summary: Summary
    locust_exit_code: int | None
    report_problem: str | None = None
    write_problems: tuple[str, ...] = ()
    """summary.json / summary.md that could not be written (e.g. a full disk)."""


def judge_folder(
    folder: RunFolder,
    scenario: Scenario,
    settings: RunSettings,
    source_file: str,
    *,
    aborted: bool,
    exit_code: int | None,
    times: RunTimes | None = None,
    rebuilt: bool = False,
) -> RunOutcome:
    """What Locust left in `folder` → summary.json, summary.md, report.html, junit.xml, charts,
    then the masking pass. Whatever happened: the verdict is always written (or, when a file
    cannot be, `write_problems` names it and why)."""
    times = times or RunTimes()
    final = read_final_snapshot(folder.final_stats)
    partial = None
    if final is None:  # Locust died before its final snapshot: take what it wrote every second
        started, stopped = _periodic_span(folder, times)
        final = read_periodic_stats(folder, started_at=started, stopped_at=stopped)
        if final is not None:
            partial = (
                f"{_why_no_final(folder, exit_code)}; the numbers are from Locust's periodic "
                "CSV (rewritten every second) and may miss the last second or so of the run"
            )
            if exit_code is not None and exit_code < 0:  # killed from outside
                partial += _in_flight(times)
    histograms = _read_histograms(folder.histograms) if partial is None else None
    corrected = (
        _read_histograms(folder.corrected_histograms)
        if histograms is not None and folder.corrected_histograms.exists()
        else None
    )
    capacity = _analyze_capacity(folder, scenario, final, histograms, corrected)
    killed = None
    if exit_code is None:
        killed = (
            "Locust did not stop in time and was killed (a task that catches GreenletExit "
            "or never returns keeps a user from stopping)"
            if not aborted
            else "Locust was killed after a second interrupt"
        ) + _in_flight(times)
    summary = build_summary(
        final,
        scenario,
        settings,
        source_file=source_file,
        aborted=aborted,
        histograms=histograms,
        capacity=capacity,
        killed=killed,
        partial=partial,
        corrected=corrected,
        telemetry=read_telemetry(folder.path / folder.TELEMETRY_JSON),
    )
    if rebuilt:
        summary["warnings"].append(
            f"{folder.SUMMARY_JSON} rebuilt by `loadkit report` from {folder.FINAL_STATS} and "
            f"{folder.HISTOGRAMS}: `loadkit run` ended before it wrote it"
        )
    if settings.history is not None and summary["run"]["not_started"] is None:
        from loadkit.history.recording import record_run  # SQLAlchemy: only once a run is over

        record_run(summary, folder, settings.history)
    write_problems = []
    for path, text in (
        (folder.summary_json, json.dumps(summary, indent=2) + "\n"),
        (folder.summary_md, render_markdown(summary)),
    ):
        try:
            write_atomic(path, text)
        except OSError as exc:  # a full disk: say what is missing, keep the verdict
            write_problems.append(_could_not_write(path, exc))
    # The final snapshot already parsed, unless it is the periodic CSV's stand-in: the report
    # then says that locust_final.json is missing.
    report_final = final if partial is None else None
    report_problem = None
    if not write_problems:
        report_problem = _write_report(folder, capacity, report_final)
    write_problems += _missing_verdict_files(
        folder, write_problems, report_problem or f"it is made from {folder.SUMMARY_JSON}"
    )
    if write_problems:
        report_problem = None  # said by the problems, file by file
    # Last, so that nothing written above (Locust's log and CSVs included) keeps a secret.
    try:
        mask_folder(folder.path, scenario.secret_values)
    except OSError as exc:
        write_problems.append(f"could not mask the secrets in {exc.filename}: {exc.strerror}")
    return RunOutcome(
        folder=folder,
        summary=summary,
        locust_exit_code=exit_code,
        report_problem=report_problem,
        write_problems=tuple(write_problems),
    )


def _could_not_write(path: Path | str, exc: OSError) -> str:
    return f"could not write {path}: {exc.strerror or exc}"


def _missing_verdict_files(folder: RunFolder, said: list[str], why: str) -> list[str]:
    """A line for each file the verdict is read from (junit.xml by a CI gate) that is not in
    the folder and not named yet: without them the run is no pass, whatever summary.json says."""
    return [
        f"{folder.path / name} was not written: {why}"
        for name in folder.VERDICT_FILES
        if not (folder.path / name).is_file() and not any(name in line for line in said)
    ]


def _periodic_span(folder: RunFolder, times: RunTimes) -> tuple[float | None, float | None]:
    """The span Locust's periodic stats CSV covers: from the test's start (this process saw
    it) to when the CSV was last rewritten, or the load stopped, or Locust ended, whichever
    came first. None where this process saw nothing (the history CSV's span then)."""
    try:
        written: float | None = folder.stats_csv.stat().st_mtime
    except OSError:
        written = None
    ends = [t for t in (written, times.load_stopped, times.process_ended) if t is not None]
    return times.test_started, (min(ends) if ends else None)


def _why_no_final(folder: RunFolder, exit_code: int | None) -> str:
    """The real reason locust_final.json is missing, as far as it can be known here."""
    probe = folder.path / ".loadkit-write-probe"
    try:
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink()
        return (
            f"run folder not writable: {exc.strerror or exc}; Locust could not write its "
            f"final statistics ({folder.FINAL_STATS})"
        )
    if exit_code is not None and exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        return f"the Locust process was killed by {name} before its final statistics"
    if exit_code is None:
        return "Locust was killed before its final statistics"
    return (
        f"Locust ended (exit code {exit_code}) without its final statistics; see "
        f"{folder.LOCUST_LOG}"
    )


def _in_flight(times: RunTimes) -> str:
    """What a kill cut off: each running user's request in flight (if it was not thinking),
    answered or not, is counted nowhere."""
    if times.last_users <= 0:
        return ""
    return (
        f"; up to {times.last_users} requests in flight were interrupted and are not counted "
        f"({times.last_users} users were running)"
    )


def _read_histograms(path: Path) -> RunHistograms | None:
    try:
        return load_histograms(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # e.g. Locust died before its final snapshot: Locust's stats still count


def _analyze_capacity(
    folder: RunFolder,
    scenario: Scenario,
    final: FinalSnapshot | None,
    histograms: RunHistograms | None,
    corrected: RunHistograms | None,
) -> CapacityReport | None:
    from loadkit.capacity import analyze_capacity  # pandas + numpy: only once the run is over
    from loadkit.capacity_judge import stage_judge

    try:
        return analyze_capacity(
            folder.path,
            slo=slo_of(scenario),
            apdex_t_ms=apdex_targets(scenario).t_ms,
            final=final,
            histograms=histograms,
            corrected=corrected,
            judge=stage_judge(scenario),  # an open model's stages, judged as capacity steps
        )
    except Exception:  # an analysis must never cost the verdict; the report says it is missing
        return None


def _write_report(
    folder: RunFolder, capacity: CapacityReport | None, final: FinalSnapshot | None
) -> str | None:
    """report.html, junit.xml and charts; the verdict stands even if this fails, so a
    problem here is reported, not raised."""
    from loadkit.report.write import write_report  # pandas + matplotlib: only once the run is over

    try:
        write_report(folder.path, capacity=capacity, final=final)
    except OSError as exc:  # e.g. a full disk: the file and the cause
        return _could_not_write(exc.filename or folder.path, exc)
    except Exception as exc:  # the summary is already written; never lose it to a chart
        return f"the report could not be written: {type(exc).__name__}: {exc}"
    return None
