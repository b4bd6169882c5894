"""Cases 0-3 and 7: A against B in requests per core, each round measured alone (A, then B)
and head to head (A and B at once on one core: the ratio that survives the machine's drift)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..measure import Generator, Throughput, measure_together, run_seconds
from ..workspace import HANDWRITTEN, Workspace

THROUGHPUT_CASES = ("0", "1", "2", "3", "7", "8", "9")


@dataclass
class Comparison:
    """A against B, measured two ways (see `compare`)."""

    case: str
    a_label: str
    b_label: str
    a: list[Throughput] = field(default_factory=list)
    """Sequential: A alone on the generator's core, one run per round."""
    b: list[Throughput] = field(default_factory=list)
    together: list[tuple[Throughput, Throughput]] = field(default_factory=list)
    """Head to head: A and B at the same time on the generator's core, one pair per round."""
    discarded: int = 0
    """Rounds repeated because other processes used the CPU."""
    noisy_rounds: int = 0
    """Rounds counted although noisy (no retries left)."""

    @property
    def rounds(self) -> int:
        return max(len(self.a), len(self.together))

    @property
    def a_median(self) -> float | None:
        return statistics.median(t.rps for t in self.a) if self.a else None

    @property
    def b_median(self) -> float | None:
        return statistics.median(t.rps for t in self.b) if self.b else None

    @property
    def sequential_ratio(self) -> float | None:
        a, b = self.a_median, self.b_median
        return a / b if a is not None and b else None

    @property
    def sequential_round_ratios(self) -> list[float]:
        return [a.rps / b.rps for a, b in zip(self.a, self.b, strict=True)]

    @property
    def together_round_ratios(self) -> list[float]:
        """Per round, A's requests per CPU-second over B's, both sharing one core."""
        return [a.per_cpu_second / b.per_cpu_second for a, b in self.together]

    @property
    def together_ratio(self) -> float | None:
        ratios = self.together_round_ratios
        return statistics.median(ratios) if ratios else None

    @property
    def ratio(self) -> float:
        """The figure judged against the target: head to head when measured (it cancels the
        machine's drift), else sequential."""
        together = self.together_ratio
        if together is not None:
            return together
        sequential = self.sequential_ratio
        assert sequential is not None
        return sequential

    def as_json(self) -> dict[str, Any]:
        def ratios(values: list[float]) -> list[float]:
            return [round(r, 4) for r in values]

        return {
            "a": self.a_label,
            "b": self.b_label,
            "ratio": round(self.ratio, 4),
            "head_to_head": {
                "ratio_per_cpu_second_median": None
                if self.together_ratio is None
                else round(self.together_ratio, 4),
                "round_ratios": ratios(self.together_round_ratios),
                "runs": [{"a": a.as_json(), "b": b.as_json()} for a, b in self.together],
            },
            "sequential": {
                "a_median_rps": None if self.a_median is None else round(self.a_median, 1),
                "b_median_rps": None if self.b_median is None else round(self.b_median, 1),
                "ratio": None if self.sequential_ratio is None else round(self.sequential_ratio, 4),
                "round_ratios": ratios(self.sequential_round_ratios),
                "a_runs": [t.as_json() for t in self.a],
                "b_runs": [t.as_json() for t in self.b],
            },
            "noisy_rounds_repeated": self.discarded,
            "noisy_rounds_counted": self.noisy_rounds,
        }


Command = Callable[[int, str], list[str]]
"""(attempt number, target URL) -> the command line of one generator."""


def compare(
    ws: Workspace,
    case: str,
    a_label: str,
    a_command: Command,
    b_label: str,
    b_command: Command,
    *,
    a_is_loadkit_run: bool = False,
    b_is_loadkit_run: bool = False,
) -> Comparison:
    """A against B, `--rounds` times, each round measured in the ways `--method` names:

    - sequential: A alone, then B alone (B first in even rounds), each on the generator's
      core, against the same nginx: absolute requests per second on one core;
    - head-to-head: A and B at the same time, both on the generator's core, each against its
      own nginx: the scheduler gives each half the core, and the ratio of their requests per
      CPU-second is the ratio of their load per core, with whatever the machine does to its
      speed (other virtual machines on the host, frequency) affecting both alike.

    A round in which other processes used more than `--max-other-cpu` of a core is repeated,
    up to `--retries` times per case (after that it counts, flagged).
    """
    options = ws.options
    result = Comparison(case, a_label, b_label)
    attempt = 0
    nginx, other_nginx = ws.nginx, ws.nginx_b
    while result.rounds < options.rounds:
        attempt += 1
        tag = f"case{case}-attempt{attempt}"
        lines: list[str] = []
        other = 0.0
        seq: dict[str, Throughput] = {}
        pair: tuple[Throughput, Throughput] | None = None
        if "head-to-head" in options.method:
            first, second = (nginx, other_nginx) if attempt % 2 else (other_nginx, nginx)
            a, b = measure_together(
                ws,
                [
                    Generator(a_command(attempt, first.url), first, f"{tag}-together-A",
                              stop_early=not a_is_loadkit_run),
                    Generator(b_command(attempt, second.url), second, f"{tag}-together-B",
                              stop_early=not b_is_loadkit_run),
                ],
            )  # fmt: skip
            pair = (a, b)
            other = max(other, a.other_cpu)
            lines.append(
                f"together: A {a.rps:6,.0f} req/s at {a.generator_cpu:3.0%} CPU, B {b.rps:6,.0f}"
                f" req/s at {b.generator_cpu:3.0%} CPU: A/B per CPU-second "
                f"{a.per_cpu_second / b.per_cpu_second:.3f} (other {a.other_cpu:.0%})"
            )
        if "sequential" in options.method:
            order = [("A", a_command), ("B", b_command)]
            if attempt % 2 == 0:
                order.reverse()
            for side, command in order:
                (seq[side],) = measure_together(
                    ws,
                    [Generator(command(attempt, nginx.url), nginx, f"{tag}-alone-{side}",
                               stop_early=not (a_is_loadkit_run and side == "A")
                               and not (b_is_loadkit_run and side == "B"))],
                )  # fmt: skip
                other = max(other, seq[side].other_cpu)
            lines.append(f"alone:    A {seq['A'].line()}")
            lines.append(f"          B {seq['B'].line()}  A/B {seq['A'].rps / seq['B'].rps:.3f}")
        noisy = other > options.max_other_cpu
        retry = noisy and result.discarded < options.retries
        label = "noisy" if retry else f"round {result.rounds + 1}"
        print(f"  {label:>8}: " + "\n            ".join(lines), flush=True)
        if retry:
            result.discarded += 1
            print(f"            other processes used {other:.0%} of a core: repeating", flush=True)
            continue
        if noisy:
            result.noisy_rounds += 1
            print(f"            counted although noisy (--retries {options.retries} used up)")
        if pair is not None:
            result.together.append(pair)
        if seq:
            result.a.append(seq["A"])
            result.b.append(seq["B"])
        for t in [*seq.values(), *(pair or ())]:
            if t.nginx_cpu > 0.8:
                print(f"            warning: nginx used {t.nginx_cpu:.0%} of its core: it may "
                      "be the bottleneck, not the generator", flush=True)  # fmt: skip
        for t in seq.values():
            if t.generator_cpu < 0.9:
                print(f"            warning: a generator alone used only {t.generator_cpu:.0%} "
                      "of its core (not saturated)", flush=True)  # fmt: skip
    parts = []
    if result.together_ratio is not None:
        r = result.together_round_ratios
        parts.append(
            f"head to head A/B {result.together_ratio:.3f} per CPU-second (rounds "
            f"{min(r):.3f}-{max(r):.3f})"
        )
    if result.sequential_ratio is not None and result.a_median and result.b_median:
        r = result.sequential_round_ratios
        parts.append(
            f"alone: median A {result.a_median:,.0f} req/s, B {result.b_median:,.0f} req/s, "
            f"A/B {result.sequential_ratio:.3f} (rounds {min(r):.3f}-{max(r):.3f})"
        )
    if result.discarded:
        parts.append(f"{result.discarded} noisy round(s) repeated")
    print("  " + "; ".join(parts), flush=True)
    return result


def case_throughput(ws: Workspace, case: str) -> Comparison:
    options = ws.options
    seconds, users = run_seconds(options), options.users

    def hand(name: str) -> Command:
        return lambda _, url: ws.locust(HANDWRITTEN / name, seconds, users, url)

    def compiled(key: str) -> Command:
        return lambda _, url: ws.locust(ws.compiled[key], seconds, users, url)

    def loadkit_run(attempt: int, url: str) -> list[str]:
        return ws.loadkit_run("get.yaml", seconds, users, url, ws.new_folder(f"case7-{attempt}"))

    def as_loadkit(module: str) -> Command:
        def command(attempt: int, url: str) -> list[str]:
            out = ws.new_folder(f"case-{module}-{attempt}")
            get = ws.compiled["get"]
            return ws.locust_as_loadkit_runs_it(module, get, seconds, users, url, out)

        return command

    pairs: dict[str, tuple[str, Command, str, Command]] = {
        "0": ("hand-written FastHttpUser GET", hand("fast_get.py"),
              "the same, again", hand("fast_get.py")),
        "1": ("compiled get.yaml", compiled("get"),
              "hand-written FastHttpUser GET", hand("fast_get.py")),
        "2": ("compiled post.yaml", compiled("post"),
              "hand-written FastHttpUser POST", hand("fast_post.py")),
        "3": ("compiled get.yaml", compiled("get"),
              "hand-written HttpUser GET", hand("http_get.py")),
        "7": ("loadkit run get.yaml", loadkit_run,
              "hand-written FastHttpUser GET", hand("fast_get.py")),
        "8": ("compiled get.yaml in loadkit's harness", as_loadkit("loadkit.harness"),
              "the same file, plain Locust", as_loadkit("locust")),
        "9": ("loadkit run get.yaml", loadkit_run,
              "its compiled file, plain Locust", as_loadkit("locust")),
    }  # fmt: skip
    a_label, a_command, b_label, b_command = pairs[case]
    return compare(
        ws, case, a_label, a_command, b_label, b_command, a_is_loadkit_run=case in ("7", "9")
    )
