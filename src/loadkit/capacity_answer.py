"""`loadkit capacity`'s answer: capacity.json, the headline, the final text and the live
terminal lines (`capacity_run` runs the search; this writes what it found)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from loadkit import formatting
from loadkit.capacity_judge import CONFIRM_WINDOW_S, MIN_STEP_REQUESTS
from loadkit.capacity_plan import Forecast, ScalePoint, make_plan, plan_text
from loadkit.capacity_search import (
    Outcome,
    Phase,
    PlannedStep,
    SearchPolicy,
    SearchResult,
    StepResult,
    repeatability,
)
from loadkit.errors import UsageError
from loadkit.scenario.thresholds import TIME_METRICS

if TYPE_CHECKING:
    from loadkit.capacity_run import SearchSetup

__all__ = ["CAPACITY_FILE", "LiveLines", "capacity_document", "final_text", "headline"]

CAPACITY_FILE = "capacity.json"


def capacity_document(
    results: Sequence[SearchResult],
    setup: SearchSetup,
    policy: SearchPolicy,
    forecast: Forecast | None,
    instances: int,
    scale_from: Sequence[ScalePoint] = (),
    folder: str = "",
) -> dict[str, Any]:
    """capacity.json: the search's answer, every step, and the plan.

    ``sustained_rate`` and ``breaking_rate`` are the figures a planner reads, so they are set
    only when the search found a confirmed bracket (outcome "found", ``bracketed``); for any
    other outcome they are null and ``highest_rate_held`` / ``lowest_rate_broken`` say what
    the steps showed, which is no capacity figure (an unconfirmed short step, a breach that may
    be the generator's, a search stopped early)."""
    first = results[0]
    bracketed = [r.sustained.rate for r in results if _bracket(r) and r.sustained is not None]
    held, broke = first.sustained, first.breaking
    found = _bracket(first)
    plan = None
    if forecast is not None and found and held is not None:
        plan = make_plan(forecast, [ScalePoint(instances, held.rate, folder), *scale_from])
    return {
        "outcome": str(first.outcome),
        "note": first.note,
        "confirmed": first.confirmed,
        "bracketed": found,
        "unit": "arrivals/s",
        "sustained_rate": held.rate if found and held is not None else None,
        "breaking_rate": broke.rate if found and broke is not None else None,
        "highest_rate_held": None if held is None else held.rate,
        "lowest_rate_broken": None if broke is None else broke.rate,
        "held": None if held is None else _step_doc(held),
        "broke": None if broke is None else _step_doc(broke),
        "repeatability": {
            "confirmation_spread": None if held is None else held.spread,
            "searches": len(results),
            "sustained_rates": bracketed,
            "spread": repeatability(bracketed),
        },
        "plan": plan,
        "instances": instances,
        "slo": [t.expression for t in setup.slo],
        "slo_time_limits_ms": {
            t.expression: t.limit for t in setup.slo if t.metric in TIME_METRICS
        },
        "max_concurrency": setup.pool,
        "policy": {
            "start_rate": policy.start_rate,
            "max_rate": policy.max_rate,
            "precision": policy.precision,
            "step_s": policy.step_s,
            "confirm_s": policy.confirm_s,
            "budget_s": setup.budget_s,
            "min_step_requests": MIN_STEP_REQUESTS,
        },
        "searches": [[_step_doc(s) for s in r.steps] for r in results],
    }


def read_scale_point(path: Path, option: str) -> ScalePoint:
    """An earlier search's point for the plan: its folder's (or file's) capacity.json, which
    must hold a confirmed bracket; a one-line `UsageError` otherwise."""
    import json

    file = path / CAPACITY_FILE if path.is_dir() else path
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{option} {path}: no {CAPACITY_FILE} there; give a `loadkit capacity` search folder"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{option} {file}: unreadable ({exc})") from None
    rate = document.get("sustained_rate") if isinstance(document, dict) else None
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, int) or "outcome" not in document:
        raise UsageError(f"{option} {file}: not a `loadkit capacity` answer")
    if not isinstance(rate, int | float) or document["outcome"] != Outcome.FOUND:
        raise UsageError(
            f"{option} {file}: its search ended {document['outcome']!r} without a confirmed "
            "bracket, so it has no sustained rate to plan with; search again"
        )
    return ScalePoint(instances, float(rate), str(file.parent))


def _bracket(result: SearchResult) -> bool:
    """A confirmed bracket: the only outcome whose sustained rate is a capacity figure."""
    return result.outcome is Outcome.FOUND and result.sustained is not None


def _step_doc(step: StepResult) -> dict[str, Any]:
    return {
        "phase": str(step.phase),
        "rate": step.rate,
        "holds": step.holds,
        "reasons": list(step.reasons),
        "p95_ms": step.p95_ms,
        "requests_per_s": step.requests_per_s,
        "transactions_per_s": step.transactions_per_s,
        "arrivals_per_s": step.arrivals_per_s,
        "requests": step.requests,
        "steady_s": step.steady_s,
        "generator_cpu_pct": step.generator_cpu_pct,
        "spread": step.spread,
        "folder": step.folder,
    }


def _throughputs(step: StepResult) -> str:
    """A step's rate in every unit it has: arrivals/s, then the measured req/s and txn/s."""
    parts = []
    if step.requests_per_s is not None:
        parts.append(f"{formatting.rps(step.requests_per_s)} req/s")
    if step.transactions_per_s is not None:
        parts.append(f"{formatting.rps(step.transactions_per_s)} txn/s")
    units = f" ({', '.join(parts)})" if parts else ""
    return f"{step.rate:g} arrivals/s{units}"


def _p95(step: StepResult) -> str:
    return "p95 -" if step.p95_ms is None else f"p95 {formatting.ms_unit(step.p95_ms)}"


def headline(result: SearchResult, setup: SearchSetup, policy: SearchPolicy) -> str:
    """The answer in one or two sentences (capacity.json's `outcome` in words)."""
    slo = " and ".join(t.expression for t in setup.slo)
    held, broke = result.sustained, result.breaking
    if result.outcome is Outcome.GENERATOR_LIMITED:
        assert broke is not None
        found = "" if held is None else f" It held at {_throughputs(held)}."
        return (
            f"Generator-limited: no capacity figure. The load generator's CPU reached "
            f"{broke.generator_cpu_pct:.0f} % of a core at {broke.rate:g} arrivals/s, so the "
            f"breach there may be the generator's; add --processes (one per core) or workers."
            + found
        )
    if result.outcome is Outcome.NOT_REACHED:
        assert held is not None
        return (
            f"Not reached: the SLO ({slo}) held up to --max-rate, {_throughputs(held)}, "
            f"{_p95(held)}; the capacity is above it."
        )
    if result.outcome is Outcome.BREAKS_AT_LOWEST:
        assert broke is not None
        return (
            f"Breaks at the lowest rate tried, {broke.rate:g} arrivals/s "
            f"({'; '.join(broke.reasons)}): no rate met the SLO ({slo})."
        )
    if held is None:
        note = f" ({result.note})" if result.note else ""
        return f"No rate held the SLO ({slo}) before the search ended{note}."
    text = f"Sustains {_throughputs(held)} within {slo}"
    if held.phase is Phase.CONFIRM:
        text += f", confirmed for {held.steady_s:.0f} s (steady window)"
    text += f", {_p95(held)}"
    if broke is not None:
        text += f"; breaks at {broke.rate:g} arrivals/s ({'; '.join(broke.reasons)})"
    text += "."
    if result.outcome is Outcome.UNSTABLE:
        text += " Unconfirmed: confirmations kept contradicting the short steps (a noisy machine?)."
    elif result.outcome is Outcome.INCOMPLETE:
        text += f" Incomplete: {result.note}; the bracket is what was found so far."
    return text


def final_text(
    document: Mapping[str, Any],
    results: Sequence[SearchResult],
    setup: SearchSetup,
    policy: SearchPolicy,
    folder: Path,
) -> str:
    lines = [headline(results[0], setup, policy)]
    for i, extra in enumerate(results[1:], start=2):
        lines.append(f"Search {i}: {headline(extra, setup, policy)}")
    rep = document["repeatability"]
    if rep["confirmation_spread"] is not None:
        lines.append(
            f"Confirmation's own spread: ±{rep['confirmation_spread']:.1%} in req/s over "
            f"{CONFIRM_WINDOW_S} s windows."
        )
    if rep["spread"] is not None:
        rates = ", ".join(f"{r:g}" for r in rep["sustained_rates"])
        lines.append(
            f"Repeatability: ±{rep['spread']:.1%} over {rep['searches']} independent searches "
            f"(sustained {rates} arrivals/s)."
        )
    if document["plan"] is not None:
        lines.append(plan_text(document["plan"]))
    lines.append(
        f"Judged on each step's steady window (corrected times, at least {MIN_STEP_REQUESTS} "
        f"requests), precision {policy.precision:.0%}, pool of {setup.pool} users "
        "(--max-concurrency)."
    )
    lines += ["", *_steps_table(results[0].steps), "", f"Search folder: {folder}"]
    return "\n".join(lines)


def _steps_table(steps: Sequence[StepResult]) -> list[str]:
    from loadkit.report.console import table

    rows = [
        [
            str(s.phase),
            f"{s.rate:g}",
            "-" if s.requests_per_s is None else formatting.rps(s.requests_per_s),
            "-" if s.transactions_per_s is None else formatting.rps(s.transactions_per_s),
            "-" if s.p95_ms is None else formatting.ms_unit(s.p95_ms),
            "-" if s.generator_cpu_pct is None else f"{s.generator_cpu_pct:.0f}",
            "holds" if s.holds else "breaks: " + "; ".join(s.reasons),
        ]
        for s in steps
    ]
    headers = ["Phase", "Arrivals/s", "Req/s", "Txn/s", "p95 (corr.)", "CPU %", "SLO"]
    return table(headers, rows, right_from=1)


class LiveLines:
    """The terminal while a search runs: a line per step, the running step's second live."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.step: PlannedStep | None = None
        self.seconds = 0.0

    def start(self, step: PlannedStep, seconds: float) -> None:
        self.step, self.seconds = step, seconds
        if not self.tty:
            self.stream.write(
                f"  {step.phase:<8} {step.rate:>8g} arrivals/s for {seconds:g} s ...\n"
            )
            self.stream.flush()

    def progress(self, line: Mapping[str, Any]) -> None:
        if not self.tty or self.step is None:
            return
        p95 = line.get("p95_ms")
        p95_text = formatting.ms_unit(p95) if isinstance(p95, int | float) else "-"
        self.stream.write(
            f"\r\x1b[2K  {self.step.phase:<8} {self.step.rate:>8g} arrivals/s "
            f"[{float(line.get('elapsed') or 0):.0f}/{self.seconds:g} s] "
            f"{formatting.rps(float(line.get('rps') or 0))} req/s, "
            f"p95 {p95_text} (service, last second)"
        )
        self.stream.flush()

    def done(self, result: StepResult) -> None:
        verdict = "holds" if result.holds else "breaks: " + "; ".join(result.reasons)
        prefix = "\r\x1b[2K" if self.tty else ""
        self.stream.write(
            f"{prefix}  {result.phase:<8} {_throughputs(result)}, {_p95(result)} "
            f"(corrected, steady {result.steady_s:.0f} s): {verdict}\n"
        )
        self.stream.flush()
