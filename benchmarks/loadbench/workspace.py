"""The workspace every case runs in: the temporary folder, both nginx instances, the compiled
scenarios, the command lines of Locust and `loadkit run`, and launching generators on the
generator's core (bounded in time, stopped on Ctrl-C)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BenchmarkError
from .nginx import Nginx
from .options import Options
from .processes import GENERATOR_CPU, every_cpu, pinned, stop_process

BENCHMARKS = Path(__file__).resolve().parent.parent
SCENARIOS = BENCHMARKS / "scenarios"
HANDWRITTEN = BENCHMARKS / "handwritten"
RUN_PY = BENCHMARKS / "run.py"
"""The entry point; the report case starts it again as a fresh child process."""


@dataclass
class Workspace:
    """Everything the cases run: compiled scenarios, hand-written locustfiles, options."""

    dir: Path
    nginx: Nginx
    nginx_b: Nginx
    """A second, identical nginx: in a head-to-head measurement each generator has its own."""
    options: Options
    pin: bool
    env: dict[str, str] = field(default_factory=dict)
    compiled: dict[str, Path] = field(default_factory=dict)
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """Generators running now: stopped on Ctrl-C."""
    folders: int = 0

    def new_folder(self, name: str) -> Path:
        """A run folder path not used before (`loadkit run --out` wants a new one)."""
        self.folders += 1
        return self.dir / "runs" / f"{name}-{self.folders}"

    def compile(self, scenarios: dict[str, str], target_url: str) -> None:
        """`loadkit compile` each scenario (key -> file in benchmarks/scenarios/), all at once
        and on any core (nothing is being measured yet)."""
        procs = {}
        for key, scenario in scenarios.items():
            out = self.dir / "compiled" / f"{key}.py"
            command = [sys.executable, "-m", "loadkit", "compile", str(SCENARIOS / scenario)]
            procs[key] = (
                out,
                subprocess.Popen(
                    pinned(every_cpu(), [*command, "-o", str(out)], self.pin),
                    env={**self.env, "BENCH_TARGET": target_url},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        for key, (out, proc) in procs.items():
            _, stderr = proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise BenchmarkError(f"loadkit compile {scenarios[key]} failed: {stderr.strip()}")
            self.compiled[key] = out

    def locust(self, locustfile: Path, seconds: int, users: int, host: str) -> list[str]:
        """Plain Locust, in-process runner (what `loadkit run --processes 1` does)."""
        return [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(locustfile),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            host,
            "--only-summary",
        ]

    def locust_as_loadkit_runs_it(
        self, module: str, locustfile: Path, seconds: int, users: int, host: str, out: Path
    ) -> list[str]:
        """`python -m MODULE` (locust, or loadkit.harness) with the arguments `loadkit run`
        gives Locust (runner.locust_command: CSVs with full history, HTML report)."""
        return [
            sys.executable, "-m", module, "-f", str(locustfile), "--headless", "--host", host,
            "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s",
            "--stop-timeout", "10", "--csv", str(out / "locust"), "--csv-full-history",
            "--html", str(out / "locust_report.html"), "--only-summary",
            "--exit-code-on-error", "0",
        ]  # fmt: skip

    def loadkit_run(
        self, scenario: str, seconds: int, users: int, host: str, out: Path
    ) -> list[str]:
        return [
            sys.executable,
            "-m",
            "loadkit",
            "run",
            str(SCENARIOS / scenario),
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            host,
            "--processes",
            "1",
            "--out",
            str(out),
        ]

    def launch(
        self, command: Sequence[str], log: Path, *, all_cpus: bool = False
    ) -> subprocess.Popen[bytes]:
        """Start `command` on the generator's core (or, `all_cpus`, on any core: this process
        keeps to core 0, and children inherit that unless told otherwise)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        cpus = every_cpu() if all_cpus else GENERATOR_CPU
        with open(log, "wb") as handle:
            proc = subprocess.Popen(
                pinned(cpus, command, self.pin),
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.dir,
                start_new_session=True,
            )
        self.running.append(proc)
        return proc

    def finish(self, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> int:
        """Wait for a generator to end by itself (bounded); its exit code."""
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(proc)
            raise BenchmarkError(f"{log.name}: did not stop within {timeout:.0f} s") from None
        finally:
            with contextlib.suppress(ValueError):
                self.running.remove(proc)
        return code

    def stop_running(self) -> None:
        for proc in list(self.running):
            stop_process(proc)



def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
