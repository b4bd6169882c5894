"""Case 5: summary + full report of a run folder with a big history, each round in a fresh
process (`run.py --child-report`), and the history read alone right after (`--child-read`) to
scale the time to the machine the target was set on."""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BenchmarkError
from ..procfs import MIB, OtherCpu
from ..workspace import RUN_PY, Workspace, log_tail
from .soak_folder import synthesize_run_folder

READ_ALONE_REFERENCE_S = 0.43
"""pandas reading a 1,000,000-row history on the machine the targets were set on."""


def child_read(folder: Path) -> None:
    """`run.py --child-read FOLDER`: only what the report does to read the history CSV (the
    "reading alone" calibration: ≈ 0.43 s for 1,000,000 rows where the targets were set)."""
    from loadkit.report.charts import read_history

    t0 = time.perf_counter()
    rows = len(read_history(folder / "locust_stats_history.csv"))
    print(json.dumps({"read_s": time.perf_counter() - t0, "aggregated_rows": rows}))


def child_report(folder: Path) -> None:
    """Runs in a fresh process (`run.py --child-report FOLDER`): what `loadkit run` does after
    Locust has stopped — summary.json/.md from locust_final.json and the scenario, then the
    report (charts, HTML, JUnit) — and prints its timings and its own peak RSS as JSON."""
    t0 = time.perf_counter()
    from loadkit.report.markdown import render_markdown
    from loadkit.report.write import write_report
    from loadkit.scenario import validate_source
    from loadkit.scenario.source import load_yaml
    from loadkit.settings import RunSettings
    from loadkit.summary import build_summary

    t1 = time.perf_counter()
    scenario = validate_source(load_yaml(str(folder / "scenario.yaml")))
    final = json.loads((folder / "locust_final.json").read_text(encoding="utf-8"))
    summary = build_summary(
        final, scenario, RunSettings.resolve(scenario), source_file="scenario.yaml", aborted=False
    )
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (folder / "summary.md").write_text(render_markdown(summary), encoding="utf-8")
    t2 = time.perf_counter()
    files = write_report(folder, final=final)  # as the runner does: parsed once
    t3 = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": t1 - t0,
                "summary_s": t2 - t1,
                "report_s": t3 - t2,
                "charts": sorted(files.charts),
                "notes": list(files.notes),
                "verdict": summary["verdict"],
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


@dataclass
class ReportFigures:
    rows: int
    seconds: int
    wall_s: list[float] = field(default_factory=list)
    peak_rss: list[int] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    read_alone_s: list[float] = field(default_factory=list)
    """Per round, right after the report: the history CSV read alone (calibration)."""
    discarded: int = 0

    @property
    def speed_factor(self) -> float | None:
        """How much slower this machine is now than where the targets were set, judged by
        reading the history alone (only meaningful with 1,000,000 rows)."""
        if not self.read_alone_s or self.rows < 900_000:
            return None
        return statistics.median(self.read_alone_s) / READ_ALONE_REFERENCE_S

    @property
    def scaled_wall(self) -> float | None:
        """The report's time scaled to the machine the targets were set on (per round: the
        report's time x 0.43 s / that round's reading alone)."""
        if self.speed_factor is None:
            return None
        return statistics.median(
            w * READ_ALONE_REFERENCE_S / r
            for w, r in zip(self.wall_s, self.read_alone_s, strict=True)
        )

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def rss_max(self) -> int:
        return max(self.peak_rss)

    def as_json(self) -> dict[str, Any]:
        return {
            "history_rows": self.rows,
            "history_seconds": self.seconds,
            "wall_median_s": round(self.wall_median, 3),
            "wall_s": [round(x, 3) for x in self.wall_s],
            "peak_rss_max_bytes": self.rss_max,
            "peak_rss_bytes": self.peak_rss,
            "phases": self.phases,
            "read_alone_s": [round(x, 3) for x in self.read_alone_s],
            "speed_factor_vs_reference": None
            if self.speed_factor is None
            else round(self.speed_factor, 3),
            "wall_scaled_to_reference_s": None
            if self.scaled_wall is None
            else round(self.scaled_wall, 3),
            "noisy_rounds_repeated": self.discarded,
        }


def case_report(ws: Workspace) -> ReportFigures:
    folder = ws.dir / "runs" / "case5-soak"
    started = time.perf_counter()
    made = synthesize_run_folder(folder, ws.options.history_rows)
    print(
        f"  synthesized {made['rows']:,} history rows ({made['seconds']:,} s of a run, "
        f"{made['requests']:,} requests) in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    result = ReportFigures(rows=made["rows"], seconds=made["seconds"])
    attempt = 0
    while len(result.wall_s) < ws.options.report_rounds:
        attempt += 1
        log = ws.dir / "logs" / f"case5-attempt{attempt}.log"
        other = OtherCpu(ws.nginx.pids)
        t0 = time.perf_counter()
        proc = ws.launch(
            [sys.executable, str(RUN_PY), "--child-report", str(folder)], log
        )
        code = ws.finish(proc, 300, log)
        wall = time.perf_counter() - t0
        noise = other.share()
        if code != 0:
            raise BenchmarkError(f"report: exit code {code}:\n{log_tail(log)}")
        figures = json.loads(log.read_text().strip().splitlines()[-1])
        inside = figures["import_s"] + figures["summary_s"] + figures["report_s"]
        line = (
            f"{wall:.2f} s wall (imports {figures['import_s']:.2f} s, summary "
            f"{figures['summary_s']:.2f} s, report {figures['report_s']:.2f} s, Python's start "
            f"and exit {wall - inside:.2f} s), peak RSS "
            f"{figures['peak_rss_bytes'] / MIB:.0f} MiB, {len(figures['charts'])} charts, "
            f"verdict {figures['verdict']} (other processes {noise:.0%})"
        )
        if noise > ws.options.max_other_cpu and result.discarded < ws.options.retries:
            result.discarded += 1
            print(f"     noisy: {line}: not counted, repeating", flush=True)
            continue
        result.wall_s.append(wall)
        result.peak_rss.append(int(figures["peak_rss_bytes"]))
        result.phases.append(
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in figures.items()}
        )
        if result.rows < 900_000:  # the calibration is for the 1,000,000-row target
            print(f"  round {len(result.wall_s)}: {line}", flush=True)
            continue
        # Calibration, right after: the history read alone, in a fresh process.
        read_log = ws.dir / "logs" / f"case5-read{attempt}.log"
        reader = ws.launch(
            [sys.executable, str(RUN_PY), "--child-read", str(folder)], read_log
        )
        if ws.finish(reader, 120, read_log) != 0:
            raise BenchmarkError(f"reading the history failed:\n{log_tail(read_log)}")
        read_s = float(json.loads(read_log.read_text().strip().splitlines()[-1])["read_s"])
        result.read_alone_s.append(read_s)
        line += f"; the history read alone: {read_s:.2f} s"
        print(f"  round {len(result.wall_s)}: {line}", flush=True)
    return result
