"""What one run will do: the scenario's load, overridden by the command line / environment."""

from __future__ import annotations

import math
from dataclasses import dataclass

from loadkit.scenario import Scenario
from loadkit.shapes import Stage


@dataclass(frozen=True)
class RunSettings:
    host: str
    users: int
    """Peak users (for a shape: the largest stage)."""
    spawn_rate: float
    duration_s: int
    """Planned run time (for a shape: the sum of its stages, rounded up)."""
    stop_timeout_s: int
    stages: tuple[Stage, ...] | None = None
    """The load shape, or None for a constant load."""
    processes: int = 1
    """Locust worker processes on this machine (Locust's --processes); 1 runs in-process."""

    @classmethod
    def resolve(
        cls,
        scenario: Scenario,
        *,
        host: str | None = None,
        users: int | None = None,
        spawn_rate: float | None = None,
        duration_s: float | None = None,
        processes: int = 1,
    ) -> RunSettings:
        """Raises ValueError when an override cannot apply (e.g. --users with stages)."""
        load = scenario.load
        stages = load.stage_list()
        target = (host or scenario.host).rstrip("/")
        # Locust takes whole seconds here; never cut a user's grace period short.
        stop_timeout_s = math.ceil(load.stop_timeout)
        if stages is not None:
            given = [
                flag
                for flag, value in (
                    ("--users", users),
                    ("--spawn-rate", spawn_rate),
                    ("--duration", duration_s),
                )
                if value is not None
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)} cannot change a load shape (stages, step, spike); "
                    "edit the scenario's load instead"
                )
            return cls(
                users=max(s.users for s in stages),
                spawn_rate=max(s.spawn_rate for s in stages),
                duration_s=math.ceil(load.total_duration),
                stop_timeout_s=stop_timeout_s,
                stages=tuple(stages),
                host=target,
                processes=processes,
            )
        assert load.users is not None and load.spawn_rate is not None
        return cls(
            users=users if users is not None else load.users,
            spawn_rate=spawn_rate if spawn_rate is not None else load.spawn_rate,
            duration_s=int(duration_s if duration_s is not None else load.total_duration),
            stop_timeout_s=stop_timeout_s,
            host=target,
            processes=processes,
        )
