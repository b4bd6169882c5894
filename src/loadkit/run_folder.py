"""The run folder: one directory per run, holding everything needed to judge and re-read it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from loadkit.harness_protocol import (
    CORRECTED_HISTOGRAMS_FILE,
    FINAL_STATS_FILE,
    HISTOGRAMS_FILE,
    FinalSnapshot,
)

DEFAULT_REPORTS_DIR = "reports"
CSV_PREFIX = "locust"


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @classmethod
    def create(cls, out: Path | None, scenario_name: str, reports_dir: Path) -> RunFolder:
        """`out` exactly if given (it may exist but must then be empty), else a new
        `reports_dir/<name>-<YYYYmmdd-HHMMSS>` folder."""
        if out is not None:
            if out.exists() and any(out.iterdir()):
                raise FileExistsError(
                    f"{out} is not empty; choose a new --out folder so earlier results are kept"
                )
            out.mkdir(parents=True, exist_ok=True)
            return cls(out)
        slug = re.sub(r"[^a-z0-9]+", "-", scenario_name.lower()).strip("-") or "run"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        reports_dir.mkdir(parents=True, exist_ok=True)
        candidate, n = reports_dir / f"{slug}-{stamp}", 2
        while True:
            try:
                candidate.mkdir()
                return cls(candidate)
            except FileExistsError:
                candidate, n = reports_dir / f"{slug}-{stamp}-{n}", n + 1

    # The file names of a run folder: here and nowhere else.
    SCENARIO = "scenario.yaml"
    LOCUSTFILE = "locustfile.py"
    STATS_CSV = f"{CSV_PREFIX}_stats.csv"
    HISTORY_CSV = f"{CSV_PREFIX}_stats_history.csv"
    FAILURES_CSV = f"{CSV_PREFIX}_failures.csv"
    EXCEPTIONS_CSV = f"{CSV_PREFIX}_exceptions.csv"
    FINAL_STATS = FINAL_STATS_FILE
    HISTOGRAMS = HISTOGRAMS_FILE
    CORRECTED_HISTOGRAMS = CORRECTED_HISTOGRAMS_FILE
    LOCUST_LOG = "locust.log"
    LOCUST_HTML = "locust_report.html"
    SUMMARY_JSON = "summary.json"
    SUMMARY_MD = "summary.md"
    REPORT_HTML = "report.html"
    JUNIT_XML = "junit.xml"
    CHARTS_DIR = "charts"
    LIVE_CONFIG = "live.json"
    TELEMETRY_JSON = "telemetry.json"
    """The `observe:` queries' series over the run, asked of Prometheus after it (`observe`)."""
    TELEMETRY_LIVE = ".telemetry-live.json"
    """The same while the run lasts, for the harness's live judgement of server thresholds."""
    PLAN = "plan.json"
    METRICS_TEXT = ".metrics.prom"
    """The metrics' text the harness renders once a second for `loadkit run` to serve;
    removed when the run ends."""
    VERDICT_FILES = (SUMMARY_JSON, SUMMARY_MD, JUNIT_XML, REPORT_HTML)
    """What a person or a CI gate reads the verdict from: a run that lacks one is no pass."""

    @property
    def scenario(self) -> Path:
        return self.path / self.SCENARIO

    @property
    def locustfile(self) -> Path:
        return self.path / self.LOCUSTFILE

    @property
    def csv_prefix(self) -> Path:
        return self.path / CSV_PREFIX

    @property
    def stats_csv(self) -> Path:
        return self.path / self.STATS_CSV

    @property
    def history_csv(self) -> Path:
        return self.path / self.HISTORY_CSV

    @property
    def failures_csv(self) -> Path:
        return self.path / self.FAILURES_CSV

    @property
    def final_stats(self) -> Path:
        return self.path / self.FINAL_STATS

    @property
    def histograms(self) -> Path:
        return self.path / self.HISTOGRAMS

    @property
    def corrected_histograms(self) -> Path:
        return self.path / self.CORRECTED_HISTOGRAMS

    @property
    def locust_log(self) -> Path:
        return self.path / self.LOCUST_LOG

    @property
    def locust_html(self) -> Path:
        return self.path / self.LOCUST_HTML

    @property
    def summary_json(self) -> Path:
        return self.path / self.SUMMARY_JSON

    @property
    def summary_md(self) -> Path:
        return self.path / self.SUMMARY_MD

    @property
    def report_html(self) -> Path:
        return self.path / self.REPORT_HTML

    @property
    def plan(self) -> Path:
        """What the command line said about the load (`run_plan.write_plan`): with it,
        `loadkit report` rebuilds a summary.json that `loadkit run` never wrote."""
        return self.path / self.PLAN

    @property
    def live_config(self) -> Path:
        """The thresholds the harness judges while the run lasts (`loadkit.live`)."""
        return self.path / self.LIVE_CONFIG




def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace `path` whole (a temporary file, then a rename), so that a reader, a crash or a
    full disk never leaves half a file; the partial temporary file is removed. Raises OSError."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_final_snapshot(path: Path) -> FinalSnapshot | None:
    """locust_final.json (`RunFolder.final_stats`), or None when it is missing, unreadable or
    not a JSON object: the one reader of the file the harness writes."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return cast(FinalSnapshot, data) if isinstance(data, dict) else None
