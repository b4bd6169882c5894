"""Load shapes: every form in `load:` becomes one list of stages (pure, for the compiler,
the runner's time budget and the report)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    users: int
    spawn_rate: float
    duration_s: float


def total_duration(stages: list[Stage]) -> float:
    return sum(s.duration_s for s in stages)


def step_stages(
    start: int, step: int, every_s: float, until: int, spawn_rate: float | None
) -> list[Stage]:
    """The capacity-search ramp: start, start+step, ... up to `until`, each held `every_s`."""
    stages = []
    users = start
    while users <= until:
        stages.append(Stage(users, spawn_rate or float(max(step, 1)), every_s))
        users += step
    return stages


def spike_stages(
    users: int, peak: int, before_s: float, hold_s: float, after_s: float, spawn_rate: float | None
) -> list[Stage]:
    """Base load, a sudden peak, then base load again (does the service recover?)."""
    stages = [
        Stage(users, spawn_rate or float(users), before_s),
        Stage(peak, spawn_rate or float(peak), hold_s),
        Stage(users, spawn_rate or float(peak), after_s),
    ]
    return [s for s in stages if s.duration_s > 0]
