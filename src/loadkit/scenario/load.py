"""The scenario's `load:` (pydantic): users, the open model's arrivals, stages, step and
spike, and the plans the settings are resolved from."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from loadkit.scenario import limits, shapes
from loadkit.scenario.durations import format_duration
from loadkit.scenario.fields import (
    ArrivalRate,
    Count,
    Duration,
    Model,
    Rate,
)


class Stage(Model):
    users: Count | None = Field(
        default=None, ge=0, le=limits.MAX_USERS, description="Users during this stage."
    )
    arrival_rate: ArrivalRate | None = Field(
        default=None, description="Or arrivals per second during this stage (the open model)."
    )
    spawn_rate: Rate | None = Field(
        default=None, description="Users started (or stopped) per second to get there."
    )
    duration: Duration = Field(description="How long the stage lasts, e.g. 30s.")

    @model_validator(mode="after")
    def _users_or_arrivals(self) -> Stage:
        if (self.users is None) == (self.arrival_rate is None):
            raise ValueError(
                "give a stage either users (closed model) or arrival_rate (open model), "
                "e.g. {users: 50, duration: 1m} or {arrival_rate: 20/s, duration: 1m}"
            )
        if self.arrival_rate is not None and self.spawn_rate is not None:
            raise ValueError("an arrival_rate stage has no spawn_rate (arrivals start no users)")
        return self


class StepLoad(Model):
    """The capacity-search ramp: start users, add `step` every `every`, up to `until`."""

    start: Count = Field(ge=1, le=limits.MAX_USERS)
    step: Count = Field(ge=1, le=limits.MAX_USERS)
    every: Duration
    until: Count = Field(ge=1, le=limits.MAX_USERS)
    spawn_rate: Rate | None = None

    @model_validator(mode="after")
    def _order(self) -> StepLoad:
        if self.until < self.start:
            raise ValueError(f"until ({self.until}) must be at least start ({self.start})")
        if self.every < 1:
            raise ValueError("every must be at least 1s")
        steps = (self.until - self.start) // self.step + 1
        if steps > limits.MAX_STAGES:
            raise ValueError(
                f"this ramp has {steps} steps, more than {limits.MAX_STAGES}; "
                "take bigger steps or stop earlier"
            )
        return self


class SpikeLoad(Model):
    """Base load, a sudden peak, base load again."""

    users: Count = Field(ge=1, le=limits.MAX_USERS, description="Base users before and after.")
    peak: Count = Field(ge=1, le=limits.MAX_USERS)
    before: Duration = 30.0
    hold: Duration = 30.0
    after: Duration = 30.0
    spawn_rate: Rate | None = None


_LOAD_FORMS = (
    "users + spawn_rate + duration, arrival_rate + duration + max_concurrency, stages, step, "
    "or spike"
)


class Load(Model):
    users: Count | None = Field(
        default=None, gt=0, le=limits.MAX_USERS, description="Concurrent users at full load."
    )
    spawn_rate: Rate | None = Field(default=None, description="Users started per second.")
    duration: Duration | None = Field(
        default=None, description="Total run time including ramp-up, e.g. 30s or 5m."
    )
    stages: list[Stage] | None = Field(default=None, min_length=1, max_length=limits.MAX_STAGES)
    step: StepLoad | None = None
    spike: SpikeLoad | None = None
    arrival_rate: ArrivalRate | None = Field(
        default=None,
        description="The open model: arrivals per second (50/s, 3000/m), each starting one "
        "task on a free user, whether or not the target keeps up.",
    )
    max_concurrency: Count | None = Field(
        default=None,
        gt=0,
        le=limits.MAX_USERS,
        description="The open model: users ready for arrivals (the most iterations at once).",
    )
    spacing: Literal["constant", "poisson"] = Field(
        default="constant",
        description="The open model: arrivals evenly spaced, or at random (a Poisson process).",
    )
    max_backlog: Count | None = Field(
        default=None,
        gt=0,
        le=limits.MAX_BACKLOG,
        description="The open model: arrivals that may wait for a free user before more are "
        "dropped (default: 30 s of arrivals at the peak rate).",
    )
    stop_timeout: Duration = Field(
        default=10.0,
        description="At the end, how long users may finish their current task.",
    )

    @field_validator("duration")
    @classmethod
    def _whole_seconds(cls, value: float | None) -> float | None:
        if value is not None and (value < 1 or value != int(value)):
            raise ValueError(
                f"must be a whole number of seconds, at least 1s (got {value:g}s); e.g. 30s or 5m"
            )
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Load:
        shapes = [k for k in ("stages", "step", "spike") if getattr(self, k) is not None]
        constant = [k for k in ("users", "duration") if getattr(self, k) is not None]
        if self.is_open:
            self._check_open()
        elif len(shapes) > 1 or (shapes and constant):
            raise ValueError(f"give one of {_LOAD_FORMS} (got {', '.join(shapes + constant)})")
        elif open_keys := [
            k for k in ("max_concurrency", "max_backlog") if getattr(self, k) is not None
        ] + (["spacing"] if "spacing" in self.model_fields_set else []):
            verb = "belongs" if len(open_keys) == 1 else "belong"
            raise ValueError(
                f"{', '.join(open_keys)} {verb} to the open model; give arrival_rate (or stages "
                "with arrival_rate) too, or leave them out"
            )
        if not shapes and not self.is_open:
            missing = [k for k in ("users", "spawn_rate", "duration") if getattr(self, k) is None]
            if missing:
                raise ValueError(
                    f"missing {', '.join(missing)}; give {_LOAD_FORMS}, "
                    "e.g. {users: 50, spawn_rate: 10, duration: 30s}"
                )
        if self.total_duration > limits.MAX_DURATION_S:
            raise ValueError(
                f"the load lasts {format_duration(self.total_duration)} in all, longer than "
                f"{format_duration(limits.MAX_DURATION_S)} (30 days); shorten it"
            )
        return self

    @property
    def is_open(self) -> bool:
        """Arrival rates (the open model) rather than users (closed)."""
        return self.arrival_rate is not None or any(
            s.arrival_rate is not None for s in self.stages or []
        )

    def _check_open(self) -> None:
        closed = [k for k in ("users", "step", "spike") if getattr(self, k) is not None]
        if closed:
            raise ValueError(
                f"arrival rates (the open model) do not mix with {', '.join(closed)}; "
                "give arrival_rate + duration + max_concurrency, or stages with arrival_rate"
            )
        if self.stages is not None:
            if self.arrival_rate is not None or self.duration is not None:
                raise ValueError(
                    "give arrival_rate + duration, or stages with arrival_rate, not both"
                )
            if any(s.arrival_rate is None for s in self.stages):
                raise ValueError(
                    "every stage needs an arrival_rate once one has (no mixing of users and "
                    "arrival rates)"
                )
        elif self.duration is None:
            raise ValueError("missing duration; e.g. {arrival_rate: 50/s, duration: 5m, "
                             "max_concurrency: 400}")
        if self.max_concurrency is None:
            raise ValueError(
                "missing max_concurrency: the most users that may be busy with arrivals at "
                "once, e.g. max_concurrency: 400 (about the peak rate times the slowest "
                "iteration, with room to spare)"
            )
        plan = self.arrivals_plan()
        if plan is not None and plan.peak_rate <= 0:
            raise ValueError("every arrival_rate is 0: no arrival would come")

    def arrivals_plan(self) -> shapes.Arrivals | None:
        """The open model's arrivals, or None for a closed model."""
        if not self.is_open or self.max_concurrency is None:
            return None
        if self.stages is not None:
            stages = tuple(
                shapes.ArrivalStage(s.arrival_rate or 0.0, s.duration) for s in self.stages
            )
        else:
            stages = (shapes.ArrivalStage(self.arrival_rate or 0.0, float(self.duration or 0)),)
        peak = max(s.rate for s in stages)
        return shapes.Arrivals(
            stages=stages,
            max_concurrency=self.max_concurrency,
            spacing=self.spacing,
            max_backlog=self.max_backlog or shapes.default_backlog(peak),
        )

    def stage_list(self) -> list[shapes.Stage] | None:
        """The shape as stages, or None for a constant load (users, spawn_rate, duration).
        The open model holds its pool of max_concurrency users for the arrivals' duration."""
        arrivals = self.arrivals_plan()
        if arrivals is not None:
            pool = arrivals.max_concurrency
            spawn = shapes.pool_spawn_rate(pool, self.spawn_rate)
            return [shapes.Stage(pool, spawn, arrivals.duration_s)]
        if self.stages is not None:
            default_rate = self.spawn_rate
            return [
                shapes.Stage(
                    s.users or 0,
                    s.spawn_rate or default_rate or float(max(s.users or 0, 1)),
                    s.duration,
                )
                for s in self.stages
            ]
        if self.step is not None:
            st = self.step
            return shapes.step_stages(st.start, st.step, st.every, st.until, st.spawn_rate)
        if self.spike is not None:
            sp = self.spike
            return shapes.spike_stages(
                sp.users, sp.peak, sp.before, sp.hold, sp.after, sp.spawn_rate
            )
        return None

    @property
    def total_duration(self) -> float:
        stages = self.stage_list()
        return shapes.total_duration(stages) if stages is not None else float(self.duration or 0)

    @property
    def peak_users(self) -> int:
        stages = self.stage_list()
        return max(s.users for s in stages) if stages is not None else int(self.users or 0)
