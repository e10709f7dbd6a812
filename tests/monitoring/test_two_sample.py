"""The statistical tests behind drift decisions: correct, and conservative under no change."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from mlserve.monitoring.drift.two_sample import chi_square_homogeneity, ks_binned
from mlserve.monitoring.histogram import continuous_reference


def _binned(
    reference: npt.NDArray[np.float64], window: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    binned = continuous_reference(reference)
    return binned.counts, binned.bin_counts(window)


def test_ks_of_identical_distributions_is_zero() -> None:
    counts = np.array([10, 20, 30, 0])
    outcome = ks_binned(counts, counts * 2)
    assert outcome.statistic == 0.0
    assert outcome.p_value == 1.0
    assert outcome.score == 0.0


def test_ks_binned_never_exceeds_the_full_two_sample_statistic() -> None:
    rng = np.random.default_rng(0)
    for shift in (0.0, 0.1, 0.5):
        reference = rng.normal(size=300)
        window = rng.normal(loc=shift, size=500)
        outcome = ks_binned(*_binned(reference, window))
        full = stats.ks_2samp(reference, window)
        assert outcome.statistic <= full.statistic + 1e-12
        assert outcome.statistic >= full.statistic - 0.05


def test_ks_detects_a_clear_shift() -> None:
    rng = np.random.default_rng(1)
    outcome = ks_binned(*_binned(rng.normal(size=300), rng.normal(loc=0.5, size=500)))
    assert outcome.p_value < 1e-6
    assert 0.15 < outcome.score < 0.35


def test_ks_false_alarm_rate_is_at_most_nominal() -> None:
    rng = np.random.default_rng(2)
    rejections = 0
    trials = 2_000
    for _ in range(trials):
        outcome = ks_binned(*_binned(rng.exponential(size=300), rng.exponential(size=500)))
        rejections += outcome.p_value < 0.05
    assert rejections / trials <= 0.06


def test_ks_on_a_point_mass_reference() -> None:
    counts = continuous_reference(np.zeros(300))
    assert list(counts.cuts) == [0.0]
    same = ks_binned(counts.counts, counts.bin_counts(np.zeros(500)))
    assert same.p_value == 1.0
    window = np.r_[np.zeros(400), np.full(100, 0.8)]
    shifted = ks_binned(counts.counts, counts.bin_counts(window))
    assert shifted.statistic == pytest.approx(0.2)
    assert shifted.p_value < 1e-4


def test_ks_with_an_empty_side_is_no_evidence() -> None:
    assert ks_binned(np.array([0, 0]), np.array([3, 4])).p_value == 1.0


def test_chi_square_matches_scipy_contingency() -> None:
    reference = np.array([100, 95, 105])
    window = np.array([60, 10, 430])
    outcome = chi_square_homogeneity(reference, window)
    expected = stats.chi2_contingency(np.vstack([reference, window]), correction=False)
    assert outcome.statistic == pytest.approx(expected.statistic)
    assert outcome.p_value == pytest.approx(expected.pvalue)
    assert 0.3 < outcome.score <= 1.0


def test_chi_square_drops_categories_empty_on_both_sides() -> None:
    with_empty = chi_square_homogeneity(np.array([50, 50, 0]), np.array([40, 60, 0]))
    without = chi_square_homogeneity(np.array([50, 50]), np.array([40, 60]))
    assert with_empty.statistic == pytest.approx(without.statistic)
    assert with_empty.p_value == pytest.approx(without.p_value)


def test_chi_square_sees_a_category_new_in_the_window() -> None:
    outcome = chi_square_homogeneity(np.array([300, 0]), np.array([450, 50]))
    assert outcome.p_value < 1e-4


def test_chi_square_with_one_category_is_no_evidence() -> None:
    outcome = chi_square_homogeneity(np.array([300]), np.array([500]))
    assert (outcome.statistic, outcome.p_value, outcome.score) == (0.0, 1.0, 0.0)


def test_chi_square_false_alarm_rate_is_near_nominal() -> None:
    rng = np.random.default_rng(3)
    shares = [0.5, 0.3, 0.2]
    trials = 2_000
    rejections = sum(
        chi_square_homogeneity(rng.multinomial(300, shares), rng.multinomial(500, shares)).p_value
        < 0.05
        for _ in range(trials)
    )
    assert rejections / trials <= 0.065
