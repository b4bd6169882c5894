"""The command line: every flag, its default (full run and `--quick`), and its checks."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ALL_CASES = ("wrk", "0", "1", "2", "3", "7", "8", "9", "10", "4", "5", "6")
"""Every case of the full run, in the order it runs them (`sweep` runs only when named)."""

DESCRIPTION = "loadkit's performance benchmark: do compiled scenarios cost nothing?"


@dataclass(frozen=True)
class Options:
    quick: bool
    rounds: int
    seconds: float
    warmup: float
    users: int
    case_list: list[str]
    history_rows: int
    report_rounds: int
    memory_seconds: int
    max_other_cpu: float
    retries: int
    startup_modes: list[str]
    method: list[str]
    json: Path | None
    keep: bool
    child_report: Path | None
    child_read: Path | None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 round of 2 s, 2 s warm-up, 20 s memory run (a smoke test)",
    )
    parser.add_argument("--rounds", type=int, help="A/B rounds per case (default 5; quick 1)")
    parser.add_argument(
        "--seconds", type=float, help="measuring window per run, s (default 10; quick 2)"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        help="s between the first request and the window (default 3; quick 1)",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=32,
        help="users per generator run (default 32: saturates one core)",
    )
    parser.add_argument(
        "--cases",
        default=",".join(ALL_CASES),
        help=f"comma-separated, from {','.join(ALL_CASES)},sweep (default all)",
    )
    parser.add_argument(
        "--history-rows",
        type=int,
        default=1_000_000,
        help="rows of the synthesized history for case 5 (default 1,000,000)",
    )
    parser.add_argument("--report-rounds", type=int, help="case 5 repetitions (default 3; quick 1)")
    parser.add_argument(
        "--memory-seconds", type=int, help="duration of the case 6 run, s (default 600; quick 20)"
    )
    parser.add_argument(
        "--max-other-cpu",
        type=float,
        default=0.10,
        help="a round in which other processes used more than this share of a core is "
        "repeated (default 0.10)",
    )
    parser.add_argument(
        "--retries", type=int, help="noisy rounds repeated per case at most (default 2 x rounds)"
    )
    parser.add_argument(
        "--startup-modes",
        help="case 4: 'pinned' (both commands on the generator's core), 'any-cpu' (on any "
        "core), or both, comma-separated (default both; quick: pinned)",
    )
    parser.add_argument(
        "--method",
        default="head-to-head,sequential",
        help="cases 0-3, 7: 'head-to-head' (A and B at once on one core: the ratio), "
        "'sequential' (each alone: req/s per core), or both (default)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    # The report case starts `run.py --child-report FOLDER` / `--child-read FOLDER` as fresh
    # processes (see cases/report.py).
    parser.add_argument("--child-report", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-read", type=Path, help=argparse.SUPPRESS)
    return parser


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = _parser()
    args = parser.parse_args(argv)
    quick = args.quick
    if args.retries is None:
        args.retries = 0 if quick else 2 * (args.rounds or 5)
    for name, full, fast in (
        ("rounds", 5, 1),
        ("seconds", 10.0, 2.0),
        ("warmup", 3.0, 1.0),
        ("report_rounds", 3, 1),
        ("memory_seconds", 600, 20),
    ):
        if getattr(args, name) is None:
            setattr(args, name, fast if quick else full)
    case_list = [c.strip() for c in args.cases.split(",") if c.strip()]
    method = [m.strip() for m in args.method.split(",") if m.strip()]
    if not method or set(method) - {"head-to-head", "sequential"}:
        parser.error("--method: head-to-head, sequential or both")
    modes = args.startup_modes or ("pinned" if quick else "pinned,any-cpu")
    startup_modes = [m.strip() for m in modes.split(",") if m.strip()]
    if not startup_modes or set(startup_modes) - {"pinned", "any-cpu"}:
        parser.error("--startup-modes: pinned, any-cpu or both")
    unknown = [c for c in case_list if c not in (*ALL_CASES, "sweep")]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}")
    if args.rounds < 1 or args.seconds <= 0 or args.users < 1 or args.memory_seconds < 3:
        parser.error("--rounds, --seconds and --users must be positive, --memory-seconds >= 3")
    return Options(
        quick=quick,
        rounds=args.rounds,
        seconds=args.seconds,
        warmup=args.warmup,
        users=args.users,
        case_list=case_list,
        history_rows=args.history_rows,
        report_rounds=args.report_rounds,
        memory_seconds=args.memory_seconds,
        max_other_cpu=args.max_other_cpu,
        retries=args.retries,
        startup_modes=startup_modes,
        method=method,
        json=args.json,
        keep=args.keep,
        child_report=args.child_report,
        child_read=args.child_read,
    )
