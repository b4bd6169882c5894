"""What the report reads of a capacity analysis, structurally (`loadkit.capacity` needs pandas
and numpy and is not imported here), and the two decisions every renderer shares: whether
there are capacity charts to show, and how the model's extrapolation is labelled. No
matplotlib: report.html imports this, and must stay cheap to import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = [
    "CapacityReportLike",
    "LoadLevelLike",
    "UslFitLike",
    "has_capacity_charts",
    "tested_users_note",
]


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


def has_capacity_charts(capacity: CapacityReportLike) -> bool:
    """Whether the capacity charts have anything to show: load levels at two or more user
    counts. A single-level (constant-load) run has no curve over users; its report says why in
    the capacity headline and draws no empty axes."""
    return len({level.users for level in capacity.levels}) >= 2


def tested_users_note(capacity: CapacityReportLike) -> str:
    """How the model stretch beyond the data is labelled, everywhere it is drawn."""
    top = max(level.users for level in capacity.levels)
    return f"model extrapolation beyond the tested {top} users"
