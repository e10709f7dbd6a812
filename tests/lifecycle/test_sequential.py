"""The always-valid tests: error rates under continuous peeking, power, and the answers."""

from __future__ import annotations

import math
import random

import pytest

from mlserve.lifecycle.sequential import MIN_PER_ARM, ArmStats, compare, half_width, interval


def _peeking_false_winner(rng: random.Random, p: float, reads: int, step: int) -> bool:
    """An A/A experiment read after every ``step`` observations per arm."""
    sa = sb = 0
    for read in range(1, reads + 1):
        sa += sum(rng.random() < p for _ in range(step))
        sb += sum(rng.random() < p for _ in range(step))
        n = read * step
        result = compare(ArmStats.bernoulli(sa, n), ArmStats.bernoulli(sb, n), tau=0.05)
        if result.decision == "winner":
            return True
    return False


def test_aa_experiments_read_after_every_step_rarely_declare_a_winner() -> None:
    rng = random.Random(7)
    false_winners = sum(_peeking_false_winner(rng, 0.8, reads=40, step=50) for _ in range(60))
    # alpha = 0.05 at any stopping time; a fixed-n z-test read 40 times errs ~ 25-30 %.
    assert false_winners <= 6


def test_a_five_point_lift_is_found_and_credited_to_b() -> None:
    rng = random.Random(3)
    found = 0
    for _ in range(20):
        sa = sb = 0
        for read in range(1, 121):
            sa += sum(rng.random() < 0.80 for _ in range(50))
            sb += sum(rng.random() < 0.85 for _ in range(50))
            result = compare(
                ArmStats.bernoulli(sa, read * 50), ArmStats.bernoulli(sb, read * 50), tau=0.05
            )
            if result.decision == "winner":
                found += result.winner == "b"
                break
    assert found >= 17


def test_the_single_arm_interval_covers_the_true_mean_at_every_read() -> None:
    rng = random.Random(11)
    misses = 0
    for _ in range(60):
        values: list[float] = []
        for _ in range(30):
            values.extend(rng.gauss(3.0, 2.0) for _ in range(40))
            ci = interval(ArmStats.of(values), alpha=0.05, tau=1.0)
            if not ci.low <= 3.0 <= ci.high:
                misses += 1
                break
    assert misses <= 6


def test_lower_is_better_metrics_credit_the_smaller_mean() -> None:
    fast = ArmStats.of([10.0 + (i % 5) for i in range(400)])
    slow = ArmStats.of([30.0 + (i % 5) for i in range(400)])
    result = compare(fast, slow, tau=5.0, higher_is_better=False)
    assert result.decision == "winner"
    assert result.winner == "a"
    assert result.difference.low > 0


def test_equal_arms_inside_the_margin_answer_no_difference() -> None:
    arm = ArmStats.bernoulli(80_000, 100_000)
    result = compare(arm, arm, tau=0.05, margin=0.02)
    assert result.decision == "no_difference"
    assert result.difference.low > -0.02
    assert result.difference.high < 0.02


def test_an_undecided_comparison_says_about_how_many_more_observations() -> None:
    result = compare(ArmStats.bernoulli(160, 200), ArmStats.bernoulli(170, 200), tau=0.05)
    assert result.decision == "continue"
    assert result.more_observations is not None
    n = 200 + round(result.more_observations * 1.05)
    settled = compare(
        ArmStats.bernoulli(round(0.80 * n), n), ArmStats.bernoulli(round(0.85 * n), n), tau=0.05
    )
    assert settled.decision == "winner"
    assert settled.winner == "b"
    n = 200 + round(result.more_observations * 0.8)
    early = compare(
        ArmStats.bernoulli(round(0.80 * n), n), ArmStats.bernoulli(round(0.85 * n), n), tau=0.05
    )
    assert early.decision == "continue"


def test_too_few_observations_never_decide() -> None:
    result = compare(ArmStats.bernoulli(0, 5), ArmStats.bernoulli(5, 5), tau=0.05)
    assert result.decision == "continue"
    assert result.more_observations == MIN_PER_ARM - 5
    assert math.isinf(result.difference.high)


def test_the_boundary_shrinks_with_information() -> None:
    widths = [half_width(n, 0.05, 0.1) for n in (10, 100, 1000, 10_000)]
    assert widths == sorted(widths, reverse=True)
    assert half_width(0, 0.05, 0.1) == math.inf


@pytest.mark.parametrize("kwargs", [{"alpha": 0.0}, {"alpha": 1.5}, {"margin": -1.0}])
def test_invalid_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="alpha"):
        compare(ArmStats.of([1.0]), ArmStats.of([1.0]), tau=0.05, **kwargs)
