"""benchmarks/run.py in its smoke mode, so that the benchmark never rots.

Tiny sizes (1 s windows, a 10,000-row history, a 5 s memory run) and no assertion on any
timing: this checks that every case still runs end to end against nginx and reports its
figures, not what the figures are (see benchmarks/README.md for those).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

SMOKE_CASES = ("2", "4", "5", "6")


def _nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
    )


@pytest.mark.skipif(
    _nginx() is None,
    reason="nginx is not installed (apt-get install -y nginx); the benchmark's target is nginx",
)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the benchmark reads /proc")
def test_benchmark_smoke_mode_runs_every_case_and_prints_every_figure(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    command = [
        sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick",
        "--seconds", "1", "--warmup", "0.5", "--users", "8",
        "--cases", ",".join(SMOKE_CASES),
        "--history-rows", "10000", "--memory-seconds", "5",
        "--json", str(figures),
    ]  # fmt: skip
    proc = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    assert "not measured" not in output
    table = proc.stdout.split("\nSummary", 1)[1]
    for case in SMOKE_CASES:
        assert any(line.startswith(f"{case} ") for line in table.splitlines()), table
    data = json.loads(figures.read_text())
    cases = data["cases"]
    assert set(SMOKE_CASES) <= set(cases)
    assert cases["2"]["ratio"] > 0
    for method in ("head_to_head", "sequential"):
        assert cases["2"][method]["round_ratios"][0] > 0, method
    assert cases["4"]["a_median_s"] > 0 and cases["4"]["b_median_s"] > 0
    assert cases["5"]["history_rows"] == 10000 and cases["5"]["peak_rss_max_bytes"] > 0
    assert cases["6"]["rss_100pct_bytes"] > 0 and cases["6"]["rps"] > 0
    assert data["errors"] == {}
