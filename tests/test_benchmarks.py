"""benchmarks/run.py in its smoke mode, so that the benchmark never rots.

Tiny sizes (1 s windows, a 10,000-row history, a 5 s memory run) and no assertion on any
timing: this checks that every case still runs end to end against nginx and reports its
figures, not what the figures are (see benchmarks/README.md for those).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import REPO

SMOKE_CASES = ("2", "4", "5", "6")
RUN_PY = REPO / "benchmarks" / "run.py"


def _load_run_py() -> ModuleType:
    """benchmarks/run.py as a module (it imports only the standard library at the top)."""
    spec = importlib.util.spec_from_file_location("benchmarks_run", RUN_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


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
    # Head to head only: measuring each generator alone as well would take the test over 30 s
    # (the same measuring function; the table code is tested below on made-up figures).
    command = [
        sys.executable, str(RUN_PY), "--quick", "--method", "head-to-head",
        "--seconds", "0.5", "--warmup", "0.3", "--users", "8",
        "--cases", ",".join(SMOKE_CASES),
        "--history-rows", "10000", "--memory-seconds", "4",
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
    assert cases["2"]["head_to_head"]["round_ratios"][0] > 0
    assert cases["4"]["a_median_s"] > 0 and cases["4"]["b_median_s"] > 0
    assert cases["5"]["history_rows"] == 10000 and cases["5"]["peak_rss_max_bytes"] > 0
    assert cases["6"]["rss_100pct_bytes"] > 0 and cases["6"]["rps"] > 0
    assert data["errors"] == {}


def test_the_table_judges_each_figure_against_its_target() -> None:
    run = _load_run_py()
    mib = 1024 * 1024

    def throughput(rps: float, cpu: float = 1.0) -> object:
        return run.Throughput(rps=rps, generator_cpu=cpu, nginx_cpu=0.1, requests=int(rps),
                              window_s=10.0)  # fmt: skip

    def comparison(case: str, together: list[float], a: float, b: float) -> object:
        result = run.Comparison(case, "A", "B")
        result.together = [(throughput(r * 1000, 0.5), throughput(1000, 0.5)) for r in together]
        result.a = [throughput(a)] * len(together)
        result.b = [throughput(b)] * len(together)
        return result

    memory = run.Memory(duration_s=600, warmup_s=60)
    memory.samples = [(t, 50 * mib + int(t * 1000)) for t in range(0, 600, 5)]
    results = {
        "0": comparison("0", [0.99, 1.0, 1.02], 3000, 3100),
        "1": comparison("1", [1.03, 1.04, 1.02], 4700, 4600),
        "2": comparison("2", [0.92, 0.91, 0.915], 3400, 3500),
        "3": comparison("3", [3.99, 3.97, 3.98], 4500, 1100),
        "4": run.Startup(a=[1.0, 1.1], b=[0.6, 0.7]),
        "4u": run.Startup(pinned=False, a=[0.8, 0.85], b=[0.6, 0.65]),
        "5": run.ReportFigures(rows=1_000_000, seconds=100_000, wall_s=[5.0], peak_rss=[330 * mib],
                               read_alone_s=[0.8]),
        "6": memory,
    }  # fmt: skip
    noise = run.noise_band(results["0"])
    assert noise == pytest.approx(0.02)
    rows = {row.case: row for row in run.summarize(results, noise)}
    assert rows["0"].target == "noise ±2.0%"
    assert (rows["1"].figure, rows["1"].verdict) == ("1.030 (alone 1.02)", "met")
    assert rows["2"].verdict == "MISSED"  # 0.915 < 0.95 - 0.02
    assert rows["3"].verdict == "within noise"  # 3.98 >= 4 - 0.02
    assert (rows["4"].figure, rows["4"].verdict) == ("+0.400 s", "MISSED")
    assert (rows["4u"].figure, rows["4u"].verdict) == ("+0.200 s", "met")
    assert rows["5"].verdict == "MISSED here, met scaled"  # 5.0 s x 0.43 / 0.8 = 2.69 s
    assert rows["6"].verdict == "met"  # 1,000 bytes/s on 50 MiB: 0.11 %/min
    run.print_table(list(rows.values()))
