"""Two-sample tests between a binned reference and a live window.

Both sides are samples (the reference is validation data, not the truth), so the tests are
two-sample tests and account for both sizes.

- Continuous signals: Kolmogorov-Smirnov on the empirical CDFs at the reference's cut
  points. The cut points are reference values, so this is the two-sample KS statistic
  restricted to a subset of points: never larger than the full one, hence a conservative
  test (false alarms at most at the nominal rate). The p-value is the asymptotic
  Kolmogorov distribution with Stephens' small-sample correction and
  ``n_eff = n * m / (n + m)``.
- Categorical signals: Pearson's chi-square test of homogeneity on the 2 x K table
  (categories empty on both sides dropped).

Each result also carries a bounded effect size for dashboards: the KS distance (max CDF
gap) or the Jensen-Shannon distance (base 2), both in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats
from scipy.spatial import distance

from mlserve.monitoring.histogram import CountArray


@dataclass(frozen=True)
class Comparison:
    """A test's statistic, p-value and effect size (score)."""

    test: str
    statistic: float
    p_value: float
    score: float


def ks_binned(reference_counts: CountArray, window_counts: CountArray) -> Comparison:
    """Two-sample KS between binned counts of the same bins."""
    n = float(reference_counts.sum())
    m = float(window_counts.sum())
    if n == 0 or m == 0:
        return Comparison("ks", 0.0, 1.0, 0.0)
    cdf_reference = np.cumsum(reference_counts)[:-1] / n
    cdf_window = np.cumsum(window_counts)[:-1] / m
    statistic = float(np.abs(cdf_reference - cdf_window).max()) if cdf_window.size else 0.0
    n_eff = n * m / (n + m)
    root = math.sqrt(n_eff)
    p_value = float(special.kolmogorov((root + 0.12 + 0.11 / root) * statistic))
    return Comparison("ks", statistic, min(max(p_value, 0.0), 1.0), statistic)


def chi_square_homogeneity(reference_counts: CountArray, window_counts: CountArray) -> Comparison:
    """Pearson chi-square test that both count vectors come from one distribution."""
    table = np.vstack([reference_counts, window_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    row_totals = table.sum(axis=1)
    if table.shape[1] < 2 or np.any(row_totals == 0):
        return Comparison("chi-square", 0.0, 1.0, 0.0)
    expected = np.outer(row_totals, table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    p_value = float(stats.chi2.sf(statistic, table.shape[1] - 1))
    score = float(distance.jensenshannon(table[0] / row_totals[0], table[1] / row_totals[1], 2.0))
    return Comparison("chi-square", statistic, p_value, 0.0 if math.isnan(score) else score)
