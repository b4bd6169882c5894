"""What a run is asked to do (`loadkit run`, `loadkit ui`): the command line's options as one
typed value, checked in one place.

click only parses (a number is a number, a duration a duration); whether the values can be
used, alone, together, and with the scenario's load, is decided by `RunRequest.problems()`,
which reports every problem at once, one line each (k6's Config.Validate). The runner gets
what the request says as `LoadOverrides` (`RunRequest.overrides`).

Only the standard library at import: `loadkit run` checks its request and looks the run cache up
before pydantic (or anything of the scenario's model) is imported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadkit.errors import UsageError
from loadkit.run_folder import DEFAULT_REPORTS_DIR

if TYPE_CHECKING:
    from loadkit.run_plan import LoadOverrides
    from loadkit.scenario.load import Load
    from loadkit.settings import Distribution

OPTIONS = {
    "host": "--host",
    "users": "--users",
    "spawn_rate": "--spawn-rate",
    "duration_s": "--duration",
    "arrival_rate": "--arrival-rate",
    "max_concurrency": "--max-concurrency",
    "processes": "--processes",
    "expect_workers": "--expect-workers",
    "expect_workers_max_wait_s": "--expect-workers-max-wait",
}
"""A request's field -> the option that sets it, as problems name it."""

_FOLDER_FIELDS = ("out", "reports_dir")
"""Where the run folder goes: not part of what Locust is given (each run has a new folder)."""


@dataclass(frozen=True)
class RunRequest:
    """The options of a run, as parsed; None: the scenario's own value."""

    host: str | None = None
    users: int | None = None
    spawn_rate: float | None = None
    duration_s: float | None = None
    arrival_rate: float | None = None
    max_concurrency: int | None = None
    processes: int = 1
    master: bool = False
    expect_workers: int | None = None
    """--master: the workers to wait for (None: 1)."""
    master_bind_host: str = "127.0.0.1"
    master_port: int | None = None
    expect_workers_max_wait_s: float = 60.0
    strict_generator: bool = False
    out: Path | None = None
    reports_dir: Path = Path(DEFAULT_REPORTS_DIR)
    from_environment: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Field -> `LOADKIT_USERS='0'` for a value that came from a LOADKIT_* variable: a problem
    names what the person set, not an option they never typed."""

    def problems(self, load: Load | None = None) -> list[str]:
        """Every reason this request cannot run, one line each; with `load` (the scenario's),
        also what cannot apply to it. Empty: it can."""
        problems = [self._named(name, reason) for name, reason in self._value_problems()]
        problems += self._distribution_problems()
        if load is not None and not problems:
            problems += self._load_problems(load)
        return problems

    def check(self, load: Load | None = None) -> None:
        """UsageError with every problem (one line each), if there is one."""
        problems = self.problems(load)
        if problems:
            raise UsageError("\n".join(problems))

    def _value_problems(self) -> list[tuple[str, str]]:
        """Each value on its own: (field, what is wrong)."""
        out: list[tuple[str, str]] = []
        if self.host is not None and not _is_http_url(self.host):
            out.append(("host", "not an http:// or https:// URL; write it like http://127.0.0.1:8080"))
        for name in ("users", "max_concurrency", "processes", "expect_workers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                out.append((name, "must be at least 1"))
        if self.spawn_rate is not None and not (
            math.isfinite(self.spawn_rate) and self.spawn_rate > 0
        ):
            out.append(("spawn_rate", "must be a number above 0"))
        if self.arrival_rate is not None and not self.arrival_rate > 0:
            out.append(("arrival_rate", "must be above 0"))
        for name in ("duration_s", "expect_workers_max_wait_s"):
            seconds = getattr(self, name)
            if seconds is not None and (seconds < 1 or seconds != int(seconds)):
                out.append((name, "must be a whole number of seconds, at least 1s"))
        return out

    def _named(self, name: str, reason: str) -> str:
        given = self.from_environment.get(name)
        if given is not None:
            return f"{given}: {reason}"
        value = getattr(self, name)
        return f"{OPTIONS[name]}: {reason} (got {_shown(value)})"

    def _distribution_problems(self) -> list[str]:
        out = []
        if not self.master and self.expect_workers is not None:
            out.append("--expect-workers needs --master")
        if self.master and self.processes > 1:
            out.append(
                "--processes cannot go with --master: start `loadkit worker --processes N` on "
                "each worker machine instead"
            )
        return out

    def _load_problems(self, load: Load) -> list[str]:
        """What cannot apply to the scenario's load (`settings.RunSettings.resolve` applies the
        rest)."""
        if load.arrivals_plan() is not None or self.arrival_rate is not None:
            out = []
            if self.users is not None or self.spawn_rate is not None:
                out.append(
                    "--users and --spawn-rate set a closed model; this scenario's load is "
                    "arrival rates: use --arrival-rate, --max-concurrency and --duration"
                )
            plan = load.arrivals_plan()
            if plan is not None and self.duration_s is not None:
                total = plan.duration_s
                if any(round(s.duration_s * self.duration_s / total, 3) <= 0 for s in plan.stages):
                    out.append(
                        f"--duration {self.duration_s:g}s leaves a stage with no time; give more"
                    )
            return out
        if self.max_concurrency is not None:
            return [
                "--max-concurrency sets the open model's pool: give --arrival-rate too (or a "
                "scenario whose load is arrival rates)"
            ]
        stages = load.stage_list()
        if stages is None:
            return []
        out = []
        if self.spawn_rate is not None:
            out.append(
                "--spawn-rate cannot change a load shape (stages, step, spike); "
                "--users and --duration scale it, or edit the scenario's load"
            )
        total = sum(s.duration_s for s in stages)
        if self.duration_s is not None and total > 0:
            for stage in stages:
                if round(stage.duration_s * self.duration_s / total, 3) <= 0:
                    out.append(
                        f"--duration {self.duration_s:g}s leaves a stage of "
                        f"{stage.duration_s:g}s with no time; give a longer duration"
                    )
                    break
        return out

    def distribution(self) -> Distribution:
        """Where the load is generated (the request checked)."""
        from loadkit.settings import Distribution

        return Distribution(
            processes=self.processes,
            expect_workers=(self.expect_workers or 1) if self.master else 0,
            bind_host=self.master_bind_host,
            port=self.master_port,
            max_wait_s=self.expect_workers_max_wait_s,
        )

    def overrides(self) -> LoadOverrides:
        """The load this request sets over the scenario's (the request checked)."""
        from loadkit.run_plan import LoadOverrides

        return LoadOverrides(
            host=self.host,
            users=self.users,
            spawn_rate=self.spawn_rate,
            duration_s=self.duration_s,
            distribution=self.distribution(),
            arrival_rate=self.arrival_rate,
            max_concurrency=self.max_concurrency,
            strict_generator=self.strict_generator,
        )

    def cache_key(self) -> dict[str, Any]:
        """Every value that shapes Locust's command, for the run cache's key (the folder is a
        new one each run, and --strict-generator only changes the verdict)."""
        skip = (*_FOLDER_FIELDS, "strict_generator", "from_environment")
        return {k: v for k, v in vars(self).items() if k not in skip}


def _is_http_url(text: str) -> bool:
    return text.startswith(("http://", "https://")) and len(text.split("://", 1)[1]) > 0


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
