"""The Universal Scalability Law: ``X(N) = λN / (1 + σ(N-1) + κN(N-1))`` and its least-squares
fit (numpy only). Pure; ``N`` is whatever scales: users in a closed run (`capacity`), instances
of the tested deployment in a scale-out plan (`capacity_plan`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

__all__ = ["MIN_POINTS", "UslFit", "fit_usl", "usl_scaling"]

MIN_POINTS = 3
"""Distinct N a fit of all three parameters needs."""

_MAX_ROUNDS = 5_000
"""The fine search's bound: about 0.1 s of numpy on any data."""


def usl_scaling(
    users: npt.ArrayLike, sigma: npt.ArrayLike, kappa: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """``N / (1 + σ(N-1) + κN(N-1))``: the Universal Scalability Law's throughput for λ = 1.
    The one copy of the formula; broadcasts like numpy (the fit evaluates a whole grid)."""
    n = np.asarray(users, dtype=float)
    s = np.asarray(sigma, dtype=float)
    k = np.asarray(kappa, dtype=float)
    # X(0) = 0; with σ = 1 the formula is 0/0 there (a chart's curve starts at 0 users), and
    # numpy's RuntimeWarning must not reach the terminal.
    with np.errstate(divide="ignore", invalid="ignore"):
        result: npt.NDArray[np.float64] = n / (1 + s * (n - 1) + k * n * (n - 1))
    return np.where(n <= 0, 0.0, result)


@dataclass(frozen=True)
class UslFit:
    sigma: float
    """Contention (serial fraction)."""
    kappa: float
    """Coherency (crosstalk) cost."""
    lambda_rps: float
    """Single-user throughput."""
    r_squared: float
    peak_users: float | None
    """N* = sqrt((1 - sigma) / kappa); None when kappa is 0 (no peak)."""
    peak_rps: float | None

    def throughput(self, users: float) -> float:
        """The model's throughput (req/s) at ``users``: ``λN / (1 + σ(N-1) + κN(N-1))``."""
        return self.lambda_rps * float(usl_scaling(users, self.sigma, self.kappa))


def fit_usl(users: Sequence[float], throughput: Sequence[float]) -> UslFit | None:
    """Least-squares USL fit; None with fewer than 3 distinct user counts or no throughput."""
    n = np.asarray(users, dtype=float)
    x = np.asarray(throughput, dtype=float)
    if len(set(n.tolist())) < MIN_POINTS or not np.any(x > 0) or np.any(n <= 0):
        return None

    def cost(sigma: float, kappa: float) -> tuple[float, float]:
        g = usl_scaling(n, sigma, kappa)
        lam = float(g @ x / (g @ g))
        return float(((lam * g - x) ** 2).sum()), lam

    # Coarse: every (σ, κ) on a log grid, λ in closed form for each.
    sigmas = np.concatenate([[0.0], np.logspace(-4, 0, 81)])
    kappas = np.concatenate([[0.0], np.logspace(-7, 0, 141)])
    g = usl_scaling(n[None, None, :], sigmas[:, None, None], kappas[None, :, None])
    lams = (g * x).sum(axis=-1) / (g * g).sum(axis=-1)
    sse = ((lams[..., None] * g - x) ** 2).sum(axis=-1)
    i, j = np.unravel_index(int(np.argmin(sse)), sse.shape)
    sigma, kappa = float(sigmas[i]), float(kappas[j])
    best, lam = cost(sigma, kappa)
    # Fine: a pattern search around the best grid point, within the bounds. A step that
    # improves is doubled and one that does not is halved, so that an optimum far from the
    # grid point is reached in a few dozen steps (a fixed step once took minutes: a run's
    # verdict waited on it); the rounds are bounded whatever the data.
    step_s, step_k = max(sigma, 1e-4) / 2, max(kappa, 1e-7) / 2
    for _ in range(_MAX_ROUNDS):
        if step_s <= 1e-10 and step_k <= 1e-13:
            break
        improved = False
        for ds, dk in ((step_s, 0.0), (-step_s, 0.0), (0.0, step_k), (0.0, -step_k)):
            s2, k2 = min(max(sigma + ds, 0.0), 1.0), min(max(kappa + dk, 0.0), 1.0)
            c2, lam2 = cost(s2, k2)
            if c2 < best:
                best, sigma, kappa, lam, improved = c2, s2, k2, lam2, True
        factor = 2.0 if improved else 0.5
        step_s, step_k = min(step_s * factor, 1.0), min(step_k * factor, 1.0)
    total = float(((x - x.mean()) ** 2).sum())
    r_squared = 1 - best / total if total > 0 else 0.0
    fit = UslFit(sigma, kappa, lam, r_squared, None, None)
    if kappa > 0:
        peak = math.sqrt((1 - sigma) / kappa)
        fit = replace(fit, peak_users=peak, peak_rps=fit.throughput(peak))
    return fit
