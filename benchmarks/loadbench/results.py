"""What a finished benchmark writes: the summary line, the table on the terminal, and every
figure as JSON (`--json`, the format of benchmarks/results/*.json)."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cases import Comparison, Result
from .verdicts import Row, noise_band, summarize


@dataclass
class Outcome:
    """Everything one benchmark run measured, and the machine's state around it."""

    facts: dict[str, Any]
    """The environment (`suite.environment_facts`)."""
    results: dict[str, Result]
    errors: dict[str, str]
    """Per case that could not be measured, why."""
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    load_max: float
    """The highest 1-minute load average sampled during the run."""
    elapsed_s: float

    @property
    def others(self) -> list[float]:
        """CPU of other processes in each throughput window, in cores."""
        return [
            t.other_cpu
            for r in self.results.values()
            if isinstance(r, Comparison)
            for t in (*r.a, *r.b, *(pair[0] for pair in r.together))
        ]

    @property
    def noise(self) -> float | None:
        """The A/A case's noise band, when it ran."""
        aa = self.results.get("0")
        return noise_band(aa) if isinstance(aa, Comparison) else None

    def rows(self) -> list[Row]:
        """The table: each figure against its target."""
        return summarize(self.results, self.noise)


def print_table(rows: list[Row]) -> None:
    header = Row("case", "what", "A", "B", "figure", "target", "verdict")
    cells = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in cells) for f in Row.__dataclass_fields__]
    for i, row in enumerate(cells):
        print(
            "  ".join(
                getattr(row, f).ljust(w)
                for f, w in zip(Row.__dataclass_fields__, widths, strict=True)
            ).rstrip()
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))


def print_summary(outcome: Outcome, rows: list[Row]) -> None:
    others = outcome.others
    print(
        f"\nSummary ({outcome.elapsed_s:.0f} s; load average after: "
        + " ".join(f"{x:.2f}" for x in outcome.load_after)
        + f", highest 1-min load average seen: {outcome.load_max:.2f}"
        + (
            f"; CPU of other processes in the windows: median {statistics.median(others):.0%}, "
            f"max {max(others):.0%} of a core"
            if others
            else ""
        )
        + ")"
    )
    print_table(rows)
    for case, message in outcome.errors.items():
        print(f"case {case}: not measured: {message.splitlines()[0]}")


def json_document(outcome: Outcome, rows: list[Row]) -> dict[str, Any]:
    others = outcome.others
    return {
        "environment": outcome.facts,
        "load_average_before": outcome.load_before,
        "load_average_after": outcome.load_after,
        "load_average_1min_max": outcome.load_max,
        "other_cpu_in_windows": {"median": statistics.median(others), "max": max(others)}
        if others
        else None,
        "noise_band": outcome.noise,
        "cases": {
            case: (r if isinstance(r, dict) else r.as_json())
            for case, r in outcome.results.items()
        },
        "table": [vars(r) for r in rows],
        "errors": outcome.errors,
    }


def write_json(path: Path, outcome: Outcome, rows: list[Row]) -> None:
    path.write_text(json.dumps(json_document(outcome, rows), indent=2) + "\n")
