"""What one run will do: the scenario's load, overridden by the command line / environment."""

from __future__ import annotations

import math
from dataclasses import dataclass

from loadkit.scenario import Scenario


@dataclass(frozen=True)
class RunSettings:
    host: str
    users: int
    spawn_rate: float
    duration_s: int
    stop_timeout_s: int

    @classmethod
    def resolve(
        cls,
        scenario: Scenario,
        *,
        host: str | None = None,
        users: int | None = None,
        spawn_rate: float | None = None,
        duration_s: float | None = None,
    ) -> RunSettings:
        load = scenario.load
        return cls(
            host=(host or scenario.host).rstrip("/"),
            users=users if users is not None else load.users,
            spawn_rate=spawn_rate if spawn_rate is not None else load.spawn_rate,
            duration_s=int(duration_s if duration_s is not None else load.duration),
            # Locust takes whole seconds here; never cut a user's grace period short.
            stop_timeout_s=math.ceil(load.stop_timeout),
        )
