"""Load shapes: every form in `load:` becomes one list of stages (pure, for the compiler,
the runner's time budget and the report)."""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class ArrivalStage:
    """The open model: arrivals per second (whether or not the target keeps up) for a while."""

    rate: float
    duration_s: float


@dataclass(frozen=True)
class Arrivals:
    """An open-model load: arrival stages served by a pool of at most `max_concurrency` users."""

    stages: tuple[ArrivalStage, ...]
    max_concurrency: int
    spacing: str
    """"constant" (evenly spaced) or "poisson"."""
    max_backlog: int
    """Arrivals that may wait for a free user; more are dropped."""

    @property
    def peak_rate(self) -> float:
        return max(s.rate for s in self.stages)

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)

    @property
    def planned_arrivals(self) -> float:
        return sum(s.rate * s.duration_s for s in self.stages)


BACKLOG_SECONDS = 30.0
"""The default backlog bound: this many seconds of arrivals at the peak rate."""


def pool_spawn_rate(pool: int, spawn_rate: float | None) -> float:
    """How fast the open model's pool starts: in a tenth of a second (arrivals come from the
    start), unless `spawn_rate` says otherwise (e.g. to spread the pool's logins)."""
    return spawn_rate or float(max(pool, 1) * 10)


def default_backlog(peak_rate: float) -> int:
    return max(100, math.ceil(peak_rate * BACKLOG_SECONDS))


def pool_sizes(max_concurrency: int, weights: list[int]) -> list[int]:
    """The open model's pool split over user types by weight (largest remainder, so the sizes
    add up to `max_concurrency`), at least one user each. Raises ValueError when there are more
    types than users."""
    if max_concurrency < len(weights):
        raise ValueError(
            f"max_concurrency {max_concurrency} is less than the {len(weights)} user types; "
            "each needs at least one user"
        )
    total = sum(weights)
    exact = [max_concurrency * w / total for w in weights]
    sizes = [max(1, math.floor(x)) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - math.floor(exact[i]))
    while sum(sizes) < max_concurrency:
        sizes[by_remainder.pop()] += 1
    while sum(sizes) > max_concurrency:  # the at-least-one rule took users from the others
        largest = max(range(len(sizes)), key=lambda i: sizes[i])
        sizes[largest] -= 1
    return sizes


_RATE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(text: str) -> float:
    """50, 50/s, 3000/m or 100/h -> arrivals per second. Raises ValueError."""
    number, _, unit = text.strip().partition("/")
    per = _RATE_UNITS.get(unit.strip() or "s")
    try:
        rate = float(number)
    except ValueError:
        rate = math.nan
    if per is None or not math.isfinite(rate) or rate < 0:
        raise ValueError(f"expected a rate like 50/s, 3000/m or 100/h, got {text!r}")
    return rate / per
