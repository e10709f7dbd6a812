"""Always-valid (sequential) comparison of two variants.

Why: an experiment's results are read while it runs, again and again. A fixed-sample test
read that way declares false winners far more often than its nominal 5 %. These intervals
are *confidence sequences*: with probability at least ``1 - alpha`` they hold at every
sample size simultaneously, so stopping whenever they exclude zero keeps the error at
``alpha`` whatever the reading schedule.

The construction is the normal-mixture boundary (Robbins; Johari, Pekelis & Walsh's mSPRT,
"Always valid inference", 2017; Howard et al., "Time-uniform, nonparametric, nonasymptotic
confidence sequences", 2021) applied to the estimate's information ``I = 1 / Var(estimate)``:
the mixture martingale over effects ``~ N(0, tau^2)`` crosses ``1/alpha`` exactly when

    |estimate| >= sqrt((1 + tau^2 I) / (tau^2 I^2) * (log(1 + tau^2 I) + 2 log(1/alpha)))

which is the half-width returned by :func:`half_width`. ``tau`` is the effect size the test
is tuned for (power is best around it); variances are plug-in estimates (the asymptotic
confidence sequences of Waudby-Smith et al., 2021), so each arm needs ``MIN_PER_ARM``
observations before any decision.

Contract: :func:`compare` returns the difference ``b - a`` with its interval and one of
``winner`` (``winner`` names the better arm), ``no_difference`` (the interval lies inside
``±margin``: any true difference is practically nil) or ``continue`` (with
``more_observations``: about how many more per arm until the interval would settle it if the
current estimate held).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

MIN_PER_ARM = 30
"""Observations per arm before a decision: the plug-in variance is unreliable below."""

_MAX_PLANNED = 10**9

Decision = Literal["winner", "no_difference", "continue"]


@dataclass(frozen=True)
class ArmStats:
    """What one arm observed: a count, the mean and the (population) variance."""

    n: int
    mean: float
    variance: float

    @classmethod
    def bernoulli(cls, successes: int, n: int) -> ArmStats:
        """A success/failure arm. The variance uses a half-count shrinkage so that an arm
        with all successes or all failures is not treated as certain."""
        if n <= 0:
            return cls(0, 0.0, 0.25)
        p = successes / n
        shrunk = (successes + 0.5) / (n + 1)
        return cls(n, p, shrunk * (1 - shrunk))

    @classmethod
    def of(cls, values: list[float]) -> ArmStats:
        """A numeric arm (rewards, latencies) from its values."""
        n = len(values)
        if n == 0:
            return cls(0, 0.0, 0.0)
        mean = sum(values) / n
        return cls(n, mean, sum((v - mean) ** 2 for v in values) / n)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """``b - a`` with its always-valid interval and the decision."""

    difference: Interval
    decision: Decision
    winner: Literal["a", "b"] | None
    more_observations: int | None
    """About how many more observations per arm (``continue`` only; None otherwise)."""


def half_width(information: float, alpha: float, tau: float) -> float:
    """The normal-mixture boundary for an estimate with ``information = 1/variance``."""
    if information <= 0:
        return math.inf
    t2i = tau * tau * information
    return math.sqrt(
        (1 + t2i) / (tau * tau * information**2) * (math.log1p(t2i) - 2 * math.log(alpha))
    )


def interval(arm: ArmStats, alpha: float, tau: float) -> Interval:
    """An always-valid interval for one arm's mean (``tau``: scale of plausible
    departures of the mean, in the metric's units)."""
    if arm.n == 0:
        return Interval(0.0, -math.inf, math.inf)
    variance = max(arm.variance, 1e-12)
    width = half_width(arm.n / variance, alpha, tau)
    return Interval(arm.mean, arm.mean - width, arm.mean + width)


def compare(
    a: ArmStats,
    b: ArmStats,
    *,
    alpha: float = 0.05,
    tau: float,
    margin: float = 0.0,
    higher_is_better: bool = True,
) -> Comparison:
    """Compare arm ``b`` against arm ``a``; ``margin``: differences smaller than this are
    practically nil (0: never answer ``no_difference``)."""
    if not 0 < alpha < 1 or tau <= 0 or margin < 0:
        raise ValueError("need 0 < alpha < 1, tau > 0 and margin >= 0")
    estimate = b.mean - a.mean
    if min(a.n, b.n) < MIN_PER_ARM:
        more = MIN_PER_ARM - min(a.n, b.n)
        return Comparison(Interval(estimate, -math.inf, math.inf), "continue", None, more)
    variance = max(a.variance / a.n + b.variance / b.n, 1e-12)
    width = half_width(1 / variance, alpha, tau)
    diff = Interval(estimate, estimate - width, estimate + width)
    if diff.low > 0 or diff.high < 0:
        b_better = (diff.low > 0) == higher_is_better
        return Comparison(diff, "winner", "b" if b_better else "a", None)
    if margin > 0 and -margin < diff.low and diff.high < margin:
        return Comparison(diff, "no_difference", None, None)
    return Comparison(diff, "continue", None, _more_needed(a, b, estimate, margin, alpha, tau))


def _more_needed(
    a: ArmStats, b: ArmStats, estimate: float, margin: float, alpha: float, tau: float
) -> int | None:
    """More observations per arm until the interval would exclude zero (the estimate held)
    or fit in ``±margin`` (a zero difference held); None when neither would ever happen."""
    per_obs = max(a.variance + b.variance, 1e-12)
    target = abs(estimate)
    if margin > 0:
        target = max(target, margin - abs(estimate))
    if target <= 0:
        return None
    n_now = min(a.n, b.n)

    def settles(n: int) -> bool:
        return half_width(n / per_obs, alpha, tau) < target

    high = max(n_now, 1)
    while not settles(high):
        high *= 2
        if high > _MAX_PLANNED:
            return None
    low = n_now
    while high - low > max(1, high // 100):
        mid = (low + high) // 2
        if settles(mid):
            high = mid
        else:
            low = mid
    return max(high - n_now, 1)
