"""The capacity search's accuracy and duration against targets of known capacity.

The bundled target serves at most ``--max-concurrency`` requests at a time, each for
``--service-ms``: its capacity is ``slots * 1000 / service_ms`` req/s by construction (less its
own overhead per request). For each case this runs ``loadkit capacity`` against it (one
request per arrival, ``--slo "p95 < 100ms"``) and reports the sustained and breaking rates,
their error against the capacity by construction and against the saturated throughput the
breaking steps measured, the number of steps and the wall time.

    python benchmarks/capacity.py                       # every case, one search each
    python benchmarks/capacity.py --case 400 --repeat 2 # one case, two independent searches
    python benchmarks/capacity.py --json results/capacity.json

Load goes to 127.0.0.1 only; every search is bounded by its --budget.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from loadkit.demo_target.process import TargetProcess  # noqa: E402

CASES = {  # capacity by construction (req/s) -> (slots, service ms)
    "80": (4, 50),
    "400": (8, 20),
    "800": (16, 20),
}
SCENARIO = (
    "name: work\nhost: http://127.0.0.1:1\nload: {users: 1, spawn_rate: 1, duration: 5s}\n"
    "users:\n  - name: u\n    tasks:\n      - request: {url: /api/work}\n"
)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADKIT_")}
    env["PYTHONPATH"] = str(REPO / "src")
    return env


def run_case(name: str, repeat: int, step: str, confirm: str, folder: Path) -> dict[str, Any]:
    slots, service_ms = CASES[name]
    capacity = slots * 1000 / service_ms
    scenario = folder / "work.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = folder / f"search-{name}"
    with TargetProcess("--max-concurrency", str(slots), "--service-ms", str(service_ms)) as target:
        begun = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "loadkit", "capacity", str(scenario), "--host", target.url,
             "--slo", "p95 < 100ms", "--start-rate", f"{capacity / 4:g}/s", "--step", step,
             "--confirm", confirm, "--repeat", str(repeat), "--budget", "10m", "--out", str(out)],
            capture_output=True, text=True, env=_environment(),
        )  # fmt: skip
        seconds = time.monotonic() - begun
    document = json.loads((out / "capacity.json").read_text(encoding="utf-8"))
    steps = [s for search in document["searches"] for s in search]
    broke = [s["requests_per_s"] for s in steps if not s["holds"] and s["requests_per_s"]]
    saturated = max(broke) if broke else None
    sustained = document["sustained_rate"]
    return {
        "case": name,
        "by_construction": capacity,
        "saturated_rps": saturated,
        "outcome": document["outcome"],
        "sustained_rate": sustained,
        "breaking_rate": document["breaking_rate"],
        "error_vs_construction": None if sustained is None else sustained / capacity - 1,
        "error_vs_saturated": None
        if sustained is None or not saturated
        else sustained / saturated - 1,
        "repeatability": document["repeatability"],
        "steps": len(steps),
        "wall_s": round(seconds, 1),
        "exit_code": proc.returncode,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="default: all")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--step", default="6s")
    parser.add_argument("--confirm", default="20s")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.case or list(CASES):
            row = run_case(name, args.repeat, args.step, args.confirm, Path(tmp))
            rows.append(row)
            spread = row["repeatability"]["spread"]
            print(
                f"{row['by_construction']:>6g} req/s by construction, saturated "
                f"{row['saturated_rps'] or 0:.0f}: {row['outcome']}, sustained "
                f"{row['sustained_rate']}, breaks {row['breaking_rate']} arrivals/s "
                f"({row['error_vs_construction']:+.1%} vs construction, "
                f"{row['error_vs_saturated'] or 0:+.1%} vs saturated), {row['steps']} steps, "
                f"{row['wall_s']:.0f} s"
                + ("" if spread is None else f", ±{spread:.1%} over {args.repeat} searches"),
                flush=True,
            )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
