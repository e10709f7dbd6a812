"""The policies: how each turns a fitted model into one action per context.

All policies read the same :class:`~mlserve.platform.policies.linear.LinearFit` (learning is
shared: a reward says how good an action was in a context whichever policy chose it), and
differ only in how they trade exploration for exploitation:

- epsilon-greedy: a uniformly random action with probability epsilon (decaying with the
  feedback learned), else the best estimate;
- LinUCB: the best upper confidence bound ``mean + alpha * width``;
- linear Thompson sampling: the best draw from each action's posterior; per row that is
  ``mean + scale * width * N(0, 1)``, the exact marginal of scoring a sampled weight vector.

A choice is ``"exploit"`` when the action has the highest estimated mean (ties included),
``"explore"`` otherwise. Ties are broken at random so an untrained model does not always
answer the first action.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlserve.platform.policies.contract import (
    EpsilonGreedySpec,
    LinUCBSpec,
    PolicySpec,
    ThompsonSpec,
)
from mlserve.platform.policies.linear import LinearFit, Matrix

_TIE = 1e-12


@dataclass(frozen=True)
class Choice:
    action: int
    explore: bool
    epsilon: float


def epsilon_at(spec: EpsilonGreedySpec, learned: int) -> float:
    """The decayed exploration rate after ``learned`` feedback rows."""
    return float(max(spec.min_epsilon, spec.epsilon * spec.decay**learned))


def _argmax(scores: Matrix, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    jitter = rng.uniform(0.0, _TIE, size=scores.shape)
    return np.asarray(np.argmax(scores + jitter, axis=1), dtype=np.int64)


def choose(
    spec: PolicySpec,
    fit: LinearFit,
    z: Matrix,
    rng: np.random.Generator,
    *,
    exploration_share: float,
) -> list[Choice]:
    """One choice per standardized row of ``z`` under policy ``spec``.

    ``exploration_share`` is what LinUCB and Thompson report as their ``epsilon``: the share
    of their choices so far that were not greedy (epsilon-greedy reports its schedule)."""
    means = fit.means(z)
    best = means.max(axis=1)
    n_rows, n_actions = means.shape
    if isinstance(spec, EpsilonGreedySpec):
        epsilon = epsilon_at(spec, fit.observations)
        greedy = _argmax(means, rng)
        explore_rows = rng.random(n_rows) < epsilon
        random_actions = rng.integers(0, n_actions, size=n_rows)
        actions = np.where(explore_rows, random_actions, greedy)
    else:
        epsilon = exploration_share
        if isinstance(spec, LinUCBSpec):
            scores = means + spec.alpha * fit.widths(z)
        elif isinstance(spec, ThompsonSpec):
            noise = rng.standard_normal(means.shape)
            scores = means + spec.scale * fit.widths(z) * noise
        else:  # pragma: no cover - the contract admits only the three types
            raise TypeError(f"unknown policy {spec!r}")
        actions = _argmax(scores, rng)
    chosen_means = means[np.arange(n_rows), actions]
    return [
        Choice(int(a), bool(m < b - _TIE), round(float(epsilon), 6))
        for a, m, b in zip(actions, chosen_means, best, strict=True)
    ]
