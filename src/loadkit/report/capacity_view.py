"""What the report reads of a capacity analysis, structurally (`loadkit.capacity` needs pandas
and numpy and is not imported here), and the two decisions every renderer shares: whether
there are capacity charts to show, and how the model's extrapolation is labelled. No
matplotlib: report.html imports this, and must stay cheap to import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = [
    "ARRIVALS_AXIS",
    "CapacityReportLike",
    "LoadLevelLike",
    "UslFitLike",
    "has_capacity_charts",
    "level_load",
    "load_axis",
    "load_text",
    "saturation_load",
    "slo_load",
    "tested_users_note",
]

ARRIVALS_AXIS = "arrivals/s"
"""`CapacityReport.load_axis` of an open model (levels by offered arrival rate)."""


class LoadLevelLike(Protocol):
    @property
    def users(self) -> int: ...
    @property
    def throughput_rps(self) -> float: ...
    @property
    def p50_ms(self) -> float | None: ...
    @property
    def p95_ms(self) -> float | None: ...
    @property
    def p99_ms(self) -> float | None: ...
    @property
    def error_rate(self) -> float: ...
    @property
    def apdex(self) -> float | None: ...
    @property
    def requests(self) -> int: ...


class UslFitLike(Protocol):
    @property
    def sigma(self) -> float: ...
    @property
    def kappa(self) -> float: ...
    @property
    def lambda_rps(self) -> float: ...
    @property
    def r_squared(self) -> float: ...
    @property
    def peak_users(self) -> float | None: ...
    @property
    def peak_rps(self) -> float | None: ...
    def throughput(self, users: float) -> float: ...


@runtime_checkable
class CapacityReportLike(Protocol):
    """The shape of `loadkit.capacity.CapacityReport` that the report reads."""

    @property
    def levels(self) -> Sequence[LoadLevelLike]: ...
    # The saturation point: the one user count of saturation every renderer shows.
    @property
    def knee_users(self) -> int | None: ...
    @property
    def usl(self) -> UslFitLike | None: ...
    @property
    def max_users_within_slo(self) -> int | None: ...
    @property
    def max_rps_within_slo(self) -> float | None: ...
    @property
    def insufficient(self) -> str | None: ...
    @property
    def capacity_rps(self) -> float | None: ...
    def headline(self) -> str: ...


# The load axis: users (closed model), or the offered arrival rate (open model). Read with
# getattr, as a report from before the open model (or a stand-in) has users only.


def load_axis(capacity: CapacityReportLike) -> str:
    """ "users", or "arrivals/s" for an open model's report."""
    return str(getattr(capacity, "load_axis", "users"))


def level_load(level: LoadLevelLike, axis: str) -> float:
    """A level's position on the load axis: its users, or its offered arrival rate."""
    rate = getattr(level, "arrival_rate", None) if axis == ARRIVALS_AXIS else None
    return level.users if rate is None else float(rate)


def saturation_load(capacity: CapacityReportLike) -> float | None:
    """The saturation point on the load axis: ``knee_users``, or an open model's
    ``knee_rate``. Every renderer shows this and nothing else."""
    if load_axis(capacity) == ARRIVALS_AXIS:
        rate: float | None = getattr(capacity, "knee_rate", None)
        return rate
    return capacity.knee_users


def slo_load(capacity: CapacityReportLike) -> float | None:
    """The last level meeting the SLO on the load axis (users, or arrivals/s)."""
    if load_axis(capacity) == ARRIVALS_AXIS:
        rate: float | None = getattr(capacity, "max_rate_within_slo", None)
        return rate
    return capacity.max_users_within_slo


def load_text(value: float, axis: str) -> str:
    """A load as the capacity texts write it: "20 users", or "60 arrivals/s"."""
    if axis == ARRIVALS_AXIS:
        return f"{value:.4g} {ARRIVALS_AXIS}"  # as loadkit.capacity.rate_text
    return f"{value:.0f} users"


def has_capacity_charts(capacity: CapacityReportLike) -> bool:
    """Whether the capacity charts have anything to show: load levels at two or more user
    counts (arrival rates, for an open model). A single-level (constant-load) run has no curve
    over users; its report says why in the capacity headline and draws no empty axes."""
    axis = load_axis(capacity)
    return len({level_load(level, axis) for level in capacity.levels}) >= 2


def tested_users_note(capacity: CapacityReportLike) -> str:
    """How the model stretch beyond the data is labelled, everywhere it is drawn."""
    top = max(level.users for level in capacity.levels)
    return f"model extrapolation beyond the tested {top} users"
