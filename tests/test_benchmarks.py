"""benchmarks/: the smoke mode of `benchmarks/run.py`, so that the benchmark never rots, and its
pure parts (the head-to-head arithmetic, the verdicts, the table, the JSON) on made-up figures.

The smoke mode uses tiny sizes (0.5 s windows, a 10,000-row history, a 4 s memory run) and
asserts no timing: it checks that every case still runs end to end against nginx and reports
its figures, not what the figures are (see benchmarks/README.md for those).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO

# The benchmark is the package benchmarks/loadbench (run.py puts its own folder on the path).
_BENCHMARKS = str(REPO / "benchmarks")
if _BENCHMARKS not in sys.path:
    sys.path.insert(0, _BENCHMARKS)

from loadbench.cases import Comparison, Memory, ReportFigures, Result, Startup  # noqa: E402
from loadbench.measure import Throughput  # noqa: E402
from loadbench.nginx import Nginx  # noqa: E402
from loadbench.options import ALL_CASES, Options, parse_args  # noqa: E402
from loadbench.results import Outcome, json_document, print_summary  # noqa: E402
from loadbench.verdicts import noise_band  # noqa: E402

# Benchmark ratios need the machine alone (conftest: `exclusive`).
pytestmark = pytest.mark.exclusive

SMOKE_CASES = ("2", "4", "5", "6")
RUN_PY = REPO / "benchmarks" / "run.py"
MIB = 1024 * 1024


@pytest.mark.e2e
@pytest.mark.skipif(
    Nginx.binary() is None,
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


# ----------------------------------------------------------------- made-up figures, no load


def _throughput(rps: float, cpu: float = 1.0) -> Throughput:
    return Throughput(rps=rps, generator_cpu=cpu, nginx_cpu=0.1, requests=int(rps), window_s=10.0)


def _comparison(case: str, together: list[float], a: float, b: float) -> Comparison:
    """Head-to-head rounds with the given A/B ratios (both at half a core), and alone runs
    at `a` and `b` requests per second."""
    result = Comparison(case, "A", "B")
    result.together = [(_throughput(r * 1000, 0.5), _throughput(1000, 0.5)) for r in together]
    result.a = [_throughput(a)] * len(together)
    result.b = [_throughput(b)] * len(together)
    return result


def _results() -> dict[str, Result]:
    memory = Memory(duration_s=600, warmup_s=60)
    memory.samples = [(t, 50 * MIB + int(t * 1000)) for t in range(0, 600, 5)]
    memory.cli_samples = [(t, 40 * MIB) for t in range(0, 600, 5)]
    return {
        "wrk": {"rps": 78110.0, "nginx_cpu": 0.98, "seconds": 10},
        "0": _comparison("0", [0.99, 1.0, 1.02], 3000, 3100),
        "1": _comparison("1", [1.53, 1.54, 1.52], 4700, 4600),
        "2": _comparison("2", [1.36, 1.35, 1.355], 3400, 3500),
        "3": _comparison("3", [3.99, 3.97, 3.98], 4500, 1100),
        "7": _comparison("7", [0.98, 0.97, 0.99], 4700, 4700),
        "4": Startup(a=[1.0, 1.1], b=[0.6, 0.7], a_cli=[0.4, 0.45]),
        "4u": Startup(pinned=False, a=[0.8, 0.85], b=[0.6, 0.65], a_cli=[0.2, 0.25]),
        "5": ReportFigures(
            rows=1_000_000,
            seconds=100_000,
            wall_s=[5.0],
            peak_rss=[330 * MIB],
            phases=[{"import_s": 1.0}],
            read_alone_s=[0.8],
        ),
        "6": memory,
    }


def _outcome(results: dict[str, Result], errors: dict[str, str] | None = None) -> Outcome:
    return Outcome(
        facts={"cpus": 2},
        results=results,
        errors=errors or {},
        load_before=(0.5, 0.6, 0.7),
        load_after=(1.0, 0.9, 0.8),
        load_max=1.5,
        elapsed_s=61.2,
    )


def test_head_to_head_ratio_is_the_median_of_the_rounds_requests_per_cpu_second() -> None:
    result = Comparison("1", "A", "B")
    # A got more of the core than B in round 1: per CPU-second, A/B is 1.05, not 1.5.
    result.together = [
        (_throughput(1575, 0.75), _throughput(500, 0.25)),  # 2100 vs 2000 per CPU-second
        (_throughput(1000, 0.5), _throughput(1000, 0.5)),  # 1.0
        (_throughput(990, 0.5), _throughput(900, 0.5)),  # 1.1
    ]
    assert result.together_round_ratios == pytest.approx([1.05, 1.0, 1.1])
    assert result.together_ratio == pytest.approx(1.05)
    assert result.ratio == result.together_ratio
    assert result.sequential_ratio is None and result.rounds == 3

    # Alone only: the ratio of the medians of requests per second.
    alone = Comparison("1", "A", "B", a=[_throughput(x) for x in (4000, 4400, 4200)],
                       b=[_throughput(x) for x in (4000, 4100, 3900)])  # fmt: skip
    assert alone.sequential_round_ratios == pytest.approx([1.0, 4400 / 4100, 4200 / 3900])
    assert alone.ratio == alone.sequential_ratio == pytest.approx(4200 / 4000)
    figures = alone.as_json()
    assert figures["ratio"] == 1.05
    assert figures["head_to_head"]["ratio_per_cpu_second_median"] is None
    assert figures["sequential"]["a_median_rps"] == 4200.0


def test_the_table_judges_each_figure_against_its_target(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcome = _outcome(_results())
    assert outcome.noise == pytest.approx(0.02)
    assert noise_band(_comparison("0", [], 1, 1)) == 0.0
    rows = {row.case: row for row in outcome.rows()}
    assert list(rows) == ["wrk", "0", "1", "2", "3", "7", "4", "4u", "5", "6"]
    assert rows["0"].target == "noise ±2.0%"
    assert (rows["1"].figure, rows["1"].verdict) == ("1.530 (alone 1.02)", "met")
    assert rows["2"].verdict == "MISSED"  # 1.355 < 1.40 - 0.02
    assert (rows["3"].figure, rows["3"].target) == ("3.980× (alone 4.09×)", "≥ 4×")
    assert rows["3"].verdict == "within noise"  # 3.98 >= 4 - 0.02
    assert (rows["7"].target, rows["7"].verdict) == ("-", "-")
    assert (rows["4"].figure, rows["4"].verdict) == ("+0.400 s", "MISSED")
    assert (rows["4u"].figure, rows["4u"].verdict) == ("+0.200 s", "met")
    assert rows["5"].figure == "scaled 2.69 s (machine ×1.86)"  # 5.0 s x 0.43 / 0.8
    assert rows["5"].verdict == "MISSED here, met scaled"
    assert rows["6"].verdict == "met"  # 1,000 bytes/s on 50 MiB: 0.11 %/min

    print_summary(_outcome(_results(), {"6": "memory run: no request:\nlog"}), outcome.rows())
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == (
        "Summary (61 s; load average after: 1.00 0.90 0.80, highest 1-min load average seen: "
        "1.50; CPU of other processes in the windows: median 0%, max 0% of a core)"
    )
    assert printed[2].split() == ["case", "what", "A", "B", "figure", "target", "verdict"]
    assert set(printed[3]) == {"-", " "}
    assert printed[4].split() == ["wrk", "calibration:", "wrk", "->", "nginx", "/get",
                                  "78,110/s", "-", "nginx", "CPU", "98%", "-", "-"]  # fmt: skip
    assert printed[-1] == "case 6: not measured: memory run: no request:"


def _shape(value: Any) -> Any:
    """The keys of a JSON document, nested (a list by its first element)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list | tuple) and value:
        return [_shape(value[0])]
    return None


@pytest.mark.parametrize("committed", ["full-run-1.json", "full-run-2.json"])
def test_the_json_has_the_format_of_the_committed_results(committed: str) -> None:
    recorded = json.loads((REPO / "benchmarks" / "results" / committed).read_text())
    outcome = _outcome(_results())
    written = json.loads(json.dumps(json_document(outcome, outcome.rows())))
    for document in (recorded, written):  # facts and the report child's own figures: not ours
        document["environment"] = {}
        for phases in document["cases"]["5"]["phases"]:
            phases.clear()
    assert _shape(written) == _shape(recorded)
    assert [row["case"] for row in written["table"]] == [row["case"] for row in recorded["table"]]


def test_quick_mode_shrinks_every_default_and_bad_options_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    full, quick = parse_args([]), parse_args(["--quick"])
    assert full.case_list == list(ALL_CASES)

    def defaults(o: Options) -> tuple[object, ...]:
        return (o.rounds, o.seconds, o.warmup, o.report_rounds, o.memory_seconds, o.retries,
                o.startup_modes)  # fmt: skip

    assert defaults(full) == (5, 10.0, 3.0, 3, 600, 10, ["pinned", "any-cpu"])
    assert defaults(quick) == (1, 2.0, 1.0, 1, 20, 0, ["pinned"])
    assert parse_args(["--cases", "1, 2", "--rounds", "3"]).retries == 6
    for bad in (["--cases", "11"], ["--method", "alone"], ["--memory-seconds", "2"]):
        with pytest.raises(SystemExit) as exit_info:
            parse_args(bad)
        assert exit_info.value.code == 2
    assert "unknown case(s) 11" in capsys.readouterr().err


def test_the_benchmark_package_passes_mypy_strict(tmp_path: Path) -> None:
    # Against loadkit's own sources (src/), whose API the report case calls; errors inside
    # src/ are the business of test_codebase's own mypy run.
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", "--cache-dir",
         str(tmp_path / "mypy"), "benchmarks/loadbench", "benchmarks/run.py"],
        cwd=REPO,
        env={**os.environ, "MYPYPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
