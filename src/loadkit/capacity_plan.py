"""The plan: how many instances of the tested deployment a forecast peak needs.

Pure. Its input is one or more *points*: a search's bracketed sustained rate (arrivals/s) and
the instances of the target it ran against (`--instances`), this search's and those of earlier
searches handed in with ``--scale-from FOLDER`` (their capacity.json) or to ``loadkit plan``.
The scale-out model is the Universal Scalability Law on instances (`usl`),
``X(N) = λN / (1 + σ(N-1) + κN(N-1))``, fitted as far as the points allow:

- **one instance count**: linear (σ = κ = 0), λ the rate per instance measured there;
- **two instance counts**: σ through both points with κ = 0 (contention only, Amdahl's law):
  two points cannot tell contention from crosstalk, so far beyond the tested counts the plan
  may be optimistic, and the text says so; σ is kept within [0, 1] (a second count that did
  better than linear is planned as linear, one that did no better as no gain at all);
- **three or more**: all three parameters by least squares (`usl.fit_usl`), with its R².

Several searches at the same count (``--repeat``, or a search made twice) are planned by the
lowest of their rates. The instances needed are the fewest ``N`` with ``X(N)`` at least the
forecast times (1 + headroom); none when the model never gets there (its peak, or σ's ceiling
``λ/σ``, is below it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict

from loadkit.usl import MIN_POINTS, fit_usl, usl_scaling

__all__ = [
    "Forecast",
    "PlanDict",
    "PlanMethod",
    "ScaleFit",
    "ScalePoint",
    "fit_scale_out",
    "make_plan",
    "plan_text",
]

MAX_INSTANCES = 100_000
"""The most instances a plan counts up to (a model that needs more than this never gets there
in practice)."""


class PlanMethod(StrEnum):
    LINEAR = "linear"
    USL = "usl"


@dataclass(frozen=True)
class Forecast:
    """--forecast RATE [--headroom P]."""

    rate: float
    """Arrivals per second at the forecast peak."""
    headroom: float = 0.0
    """A fraction: 0.3 plans for 30 % above the forecast."""

    @property
    def target_rate(self) -> float:
        return self.rate * (1 + self.headroom)


@dataclass(frozen=True)
class ScalePoint:
    instances: int
    sustained_rate: float
    """Arrivals per second, a search's bracketed sustained rate."""
    search: str
    """Where it was measured: a search folder."""


@dataclass(frozen=True)
class ScaleFit:
    method: PlanMethod
    sigma: float
    kappa: float
    lambda_rate: float
    """Arrivals per second of one instance, as the model has it."""
    r_squared: float | None
    """Of a least-squares fit (three or more counts); None when the model goes through the
    points (one or two counts)."""
    assumption: str

    def rate(self, instances: float) -> float:
        """The model's sustained arrivals per second at ``instances``."""
        return self.lambda_rate * float(usl_scaling(instances, self.sigma, self.kappa))

    def instances_for(self, rate: float) -> int | None:
        """The fewest instances whose modelled rate is at least ``rate``; None if none."""
        if self.rate(1) >= rate * (1 - 1e-9):
            return 1
        if self.kappa == 0:  # monotone, towards λ/σ: closed form
            if self.sigma == 0:
                needed = rate / self.lambda_rate
            elif self.lambda_rate > self.sigma * rate:
                needed = rate * (1 - self.sigma) / (self.lambda_rate - self.sigma * rate)
            else:
                return None
            n = max(1, math.ceil(needed - 1e-9))
            return n if n <= MAX_INSTANCES else None
        peak = math.sqrt((1 - self.sigma) / self.kappa)  # κ > 0: the model peaks at N*
        for n in range(1, min(MAX_INSTANCES, math.floor(peak) + 1) + 1):
            if self.rate(n) >= rate * (1 - 1e-9):
                return n
        return None


class PlanPointDict(TypedDict):
    instances: int
    sustained_rate: float
    search: str


class PlanFitDict(TypedDict):
    sigma: float
    kappa: float
    lambda_rate: float
    """Arrivals per second of one instance, as the model has it."""
    r_squared: float | None


class PlanDict(TypedDict):
    """capacity.json's ``plan``."""

    forecast_rate: float
    headroom: float
    target_rate: float
    """forecast_rate × (1 + headroom), arrivals/s."""
    method: str
    """`PlanMethod`: "linear" (one instance count measured) or "usl"."""
    points: list[PlanPointDict]
    fit: PlanFitDict
    assumption: str
    instances_needed: int | None
    """None: the scale-out model never reaches the target rate."""
    planned_rate: float | None
    """The model's sustained rate at ``instances_needed`` (arrivals/s)."""


def fit_scale_out(points: Sequence[ScalePoint]) -> ScaleFit:
    """The scale-out model the points allow (module docstring); at least one point."""
    if not points:
        raise ValueError("a plan needs at least one search with a bracketed sustained rate")
    lowest: dict[int, float] = {}
    for p in points:
        lowest[p.instances] = min(lowest.get(p.instances, math.inf), p.sustained_rate)
    counts = sorted(lowest)
    rates = [lowest[n] for n in counts]
    if len(counts) == 1:
        n, x = counts[0], rates[0]
        return ScaleFit(
            PlanMethod.LINEAR, 0.0, 0.0, x / n, None,
            f"linear scale-out: each instance sustains {x / n:.4g} arrivals/s, the rate found "
            f"with {n} instance{_s(n)} divided by {n}; measure the scale-out with a search at a "
            "second --instances count (--scale-from)",
        )  # fmt: skip
    if len(counts) == 2:
        return _two_points(counts[0], rates[0], counts[1], rates[1])
    fit = fit_usl(counts, rates)
    assert fit is not None and len(counts) >= MIN_POINTS
    return ScaleFit(
        PlanMethod.USL, fit.sigma, fit.kappa, fit.lambda_rps, fit.r_squared,
        f"the Universal Scalability Law fitted to {len(counts)} instance counts "
        f"({', '.join(map(str, counts))}; R²={fit.r_squared:.2f}): contention σ={fit.sigma:.3g}, "
        f"crosstalk κ={fit.kappa:.3g}",
    )  # fmt: skip


def _two_points(n1: int, x1: float, n2: int, x2: float) -> ScaleFit:
    """σ through (n1, x1) and (n2, x2) with κ = 0, kept within [0, 1]; λ to match x1."""
    # x_i (1 + σ(n_i - 1)) = λ n_i for both points, solved for σ.
    denominator = x2 * (n2 - 1) - x1 * (n1 - 1) * n2 / n1
    sigma = (x1 * n2 / n1 - x2) / denominator if denominator > 0 else 1.0
    sigma = min(max(sigma, 0.0), 1.0)
    lam = x1 * (1 + sigma * (n1 - 1)) / n1
    if sigma == 0:
        lam = min(x1 / n1, x2 / n2)  # better than linear: planned as linear, conservatively
        why = f"{n2} instances did at least {n2 / n1:g} times as well as {n1}: linear"
    elif sigma == 1:
        lam = min(x1, x2)  # flat: the lower of the two is what any count sustains
        why = f"{n2} instances did no better than {n1}: adding instances gains nothing"
    else:
        why = f"contention σ={sigma:.3g} (each added instance gains less)"
    return ScaleFit(
        PlanMethod.USL, sigma, 0.0, lam, None,
        f"the Universal Scalability Law through two instance counts ({n1} and {n2}) with no "
        f"crosstalk (κ = 0, Amdahl's law): {why}; two counts cannot measure crosstalk, so far "
        "beyond them the plan may be optimistic: measure a third --instances count",
    )  # fmt: skip


def make_plan(forecast: Forecast, points: Sequence[ScalePoint]) -> PlanDict:
    fit = fit_scale_out(points)
    needed = fit.instances_for(forecast.target_rate)
    return {
        "forecast_rate": forecast.rate,
        "headroom": forecast.headroom,
        "target_rate": forecast.target_rate,
        "method": str(fit.method),
        "points": [
            {"instances": p.instances, "sustained_rate": p.sustained_rate, "search": p.search}
            for p in sorted(points, key=lambda p: p.instances)
        ],
        "fit": {
            "sigma": fit.sigma,
            "kappa": fit.kappa,
            "lambda_rate": fit.lambda_rate,
            "r_squared": fit.r_squared,
        },
        "assumption": fit.assumption,
        "instances_needed": needed,
        "planned_rate": None if needed is None else fit.rate(needed),
    }


def plan_text(plan: PlanDict) -> str:
    """The plan in one sentence, for the terminal."""
    needed, planned = plan["instances_needed"], plan["planned_rate"]
    head = (
        f"For a forecast peak of {plan['forecast_rate']:g} arrivals/s with "
        f"{plan['headroom']:.0%} headroom"
    )
    if needed is None or planned is None:
        what = "no number of instances reaches it"
    else:
        what = (
            f"{needed} instance{_s(needed)} of what was tested (modelled {planned:.4g} arrivals/s)"
        )
    return f"{head}: {what}; assumes {plan['assumption']}."


def _s(n: int) -> str:
    return "" if n == 1 else "s"
