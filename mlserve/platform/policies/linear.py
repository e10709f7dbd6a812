"""Per-action ridge regression from additive sufficient statistics.

The state of a linear contextual bandit is, per action ``a``, ``A_a = sum z z^T`` and
``b_a = sum r z`` over the contexts ``z = [1, x]`` it was rewarded for. Both are sums, so
feedback from any number of replicas combines by addition in any order: that is what makes
the learning state safe to share (see :mod:`mlserve.platform.policies.ledger`).

The statistics are kept in the raw feature scale. Features such as income (1e4-1e5) next to
a loyalty score (0-1) would make one ridge penalty meaningless, so :meth:`LinearStats.fit`
standardizes with the mean and spread of every context seen so far (read off the summed
``A``): with ``z' = T z`` the standardized statistics are ``T A T^T`` and ``T b`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]

_MIN_STD = 1e-9


@dataclass
class LinearStats:
    """``A`` (actions x d x d) and ``b`` (actions x d) in the raw scale."""

    a: Matrix
    b: Matrix

    @classmethod
    def empty(cls, actions: int, dimension: int) -> LinearStats:
        return cls(np.zeros((actions, dimension, dimension)), np.zeros((actions, dimension)))

    @staticmethod
    def delta(
        actions: int, contexts: Matrix, chosen: npt.NDArray[np.int64], rewards: Matrix
    ) -> LinearStats:
        """The statistics of one feedback batch (to be added to the shared state)."""
        dimension = contexts.shape[1]
        out = LinearStats.empty(actions, dimension)
        for action in np.unique(chosen):
            rows = contexts[chosen == action]
            out.a[action] = rows.T @ rows
            out.b[action] = rows.T @ rewards[chosen == action]
        return out

    def add(self, other: LinearStats) -> None:
        self.a += other.a
        self.b += other.b

    def fit(self, ridge: float) -> LinearFit:
        """Standardize, add ``ridge * I`` and solve for each action's weights."""
        actions, dimension = self.b.shape
        total = self.a.sum(axis=0)
        n = total[0, 0]
        mean = np.zeros(dimension - 1)
        std = np.ones(dimension - 1)
        if n >= 2:
            mean = total[0, 1:] / n
            var = np.diag(total)[1:] / n - mean**2
            std = np.where(var > _MIN_STD**2, np.sqrt(np.maximum(var, 0.0)), 1.0)
        transform = np.eye(dimension)
        transform[1:, 0] = -mean / std
        transform[1:, 1:] = np.diag(1.0 / std)
        weights = np.zeros((actions, dimension))
        covariance = np.zeros((actions, dimension, dimension))
        for action in range(actions):
            a_std = transform @ self.a[action] @ transform.T + ridge * np.eye(dimension)
            inverse = np.linalg.inv(a_std)
            covariance[action] = (inverse + inverse.T) / 2
            weights[action] = covariance[action] @ (transform @ self.b[action])
        return LinearFit(transform, weights, covariance, round(float(n)))


@dataclass
class LinearFit:
    """Weights and their (unscaled) covariance per action, in the standardized space."""

    transform: Matrix
    weights: Matrix
    covariance: Matrix
    observations: int

    def standardize(self, contexts: Matrix) -> Matrix:
        """Raw ``[1, x]`` rows -> the standardized rows the weights apply to."""
        return contexts @ self.transform.T

    def means(self, z: Matrix) -> Matrix:
        """Expected reward of each action for each row: ``(n, actions)``."""
        return z @ self.weights.T

    def widths(self, z: Matrix) -> Matrix:
        """``sqrt(z^T A_a^-1 z)`` for each row and action: ``(n, actions)``."""
        quad = np.einsum("nd,ade,ne->na", z, self.covariance, z)
        widths: Matrix = np.sqrt(np.maximum(quad, 0.0))
        return widths
