"""Each figure against its target: the rows of the summary table, with their verdicts (met,
within noise, MISSED, MISSED here but met scaled). Pure: results in, rows out."""

from __future__ import annotations

from dataclasses import dataclass

from .cases import Comparison, Memory, ReportFigures, Result, Startup
from .procfs import MIB


@dataclass
class Row:
    case: str
    what: str
    a: str
    b: str
    figure: str
    target: str
    verdict: str


def noise_band(aa: Comparison) -> float:
    """The largest deviation from 1 of a round's A/A ratio, in the method judged on."""
    ratios = aa.together_round_ratios or aa.sequential_round_ratios
    return max((abs(r - 1) for r in ratios), default=0.0)


def verdict_ratio(ratio: float, target: float, noise: float | None) -> str:
    if ratio >= target:
        return "met"
    if noise is not None and ratio >= target - noise:
        return "within noise"
    return "MISSED"


def summarize(results: dict[str, Result], noise: float | None) -> list[Row]:
    rows: list[Row] = []
    wrk = results.get("wrk")
    if isinstance(wrk, dict):
        rows.append(Row("wrk", "calibration: wrk -> nginx /get", f"{wrk['rps']:,.0f}/s", "-",
                        f"nginx CPU {wrk['nginx_cpu']:.0%}", "-", "-"))  # fmt: skip
    targets = {
        "0": None, "1": 1.50, "2": 1.40, "3": 4.0, "7": None, "8": 0.98, "9": 0.98, "10": None,
    }  # fmt: skip
    what = {
        "0": "A/A: hand GET vs itself",
        "1": "compiled GET vs hand FastHttpUser",
        "2": "compiled POST+checks vs hand Fast",
        "3": "compiled GET vs hand HttpUser",
        "7": "loadkit run GET vs hand Fast",
        "8": "harness vs plain Locust, same file",
        "9": "loadkit run vs its file, plain Locust",
        "10": "loadkit run scraped 50/s vs not",
    }
    for case, target in targets.items():
        result = results.get(case)
        if not isinstance(result, Comparison):
            continue
        unit = "×" if case == "3" else ""
        figure = f"{result.ratio:.3f}{unit}"
        if result.together_ratio is not None and result.sequential_ratio is not None:
            figure += f" (alone {result.sequential_ratio:.2f}{unit})"
        a = "-" if result.a_median is None else f"{result.a_median:,.0f}/s"
        b = "-" if result.b_median is None else f"{result.b_median:,.0f}/s"
        if case == "0":
            band = noise_band(result)
            rows.append(Row(case, what[case], a, b, figure, f"noise ±{band:.1%}", "-"))
            continue
        shown_target = (
            "-" if target is None else (f"≥ {target:.2f}" if target < 2 else f"≥ {target:.0f}×")
        )
        verdict = "-" if target is None else verdict_ratio(result.ratio, target, noise)
        rows.append(Row(case, what[case], a, b, figure, shown_target, verdict))
    for key in ("4", "4u"):
        startup = results.get(key)
        if not isinstance(startup, Startup):
            continue
        rows.append(
            Row(
                key,
                "start-up to first request, " + ("one core" if startup.pinned else "any core"),
                f"{startup.a_median:.3f} s",
                f"{startup.b_median:.3f} s",
                f"{startup.overhead:+.3f} s",
                "≤ +0.300 s",
                "met" if startup.overhead <= 0.3 else "MISSED",
            )
        )
    report = results.get("5")
    if isinstance(report, ReportFigures):
        memory_ok = report.rss_max <= 1024 * MIB
        ok = report.wall_median <= 3.0 and memory_ok
        scaled = report.scaled_wall
        figure = "time, peak RSS"
        verdict = "met" if ok else "MISSED"
        if scaled is not None:
            figure = f"scaled {scaled:.2f} s (machine ×{report.speed_factor:.2f})"
            if not ok and memory_ok and scaled <= 3.0:
                verdict = "MISSED here, met scaled"
        rows.append(
            Row(
                "5",
                f"report, {report.rows:,}-row history",
                f"{report.wall_median:.2f} s",
                f"{report.rss_max / MIB:.0f} MiB",
                figure,
                "≤ 3 s, ≤ 1024 MiB",
                verdict,
            )
        )
    memory = results.get("6")
    if isinstance(memory, Memory):
        rows.append(
            Row(
                "6",
                f"Locust RSS, {memory.duration_s} s loadkit run",
                f"{memory.rss_at(0.1) / MIB:.1f}/{memory.rss_at(0.5) / MIB:.1f}/"
                f"{memory.rss_at(1.0) / MIB:.1f} MiB",
                f"{memory.rps:,.0f}/s",
                f"{memory.growth_per_min:+.2%}/min",
                "< 1 %/min",
                "met" if memory.growth_per_min < 0.01 else "MISSED",
            )
        )
    return rows
