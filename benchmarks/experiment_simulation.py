"""Simulated experiments for the sequential tests of ``mlserve.lifecycle.sequential``.

Two scenarios, each ``--runs`` experiments whose results are read after every ``--every``
observations (split evenly over the two variants, as a 50/50 experiment assigns them):

* A/A: both variants have accuracy ``--base``; a winner declared at any read is a false
  positive. Target: in at most 5 % of runs.
* A/B: variant B's accuracy is ``--lift`` higher; target: B declared the winner in at least
  90 % of runs, and the median number of observations (both variants together) it took.

Usage::

    .venv/bin/python benchmarks/experiment_simulation.py [--runs 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import statistics

import numpy as np

from mlserve.lifecycle.sequential import ArmStats, compare

TAU_ACCURACY = 0.05
"""The effect size the experiments' accuracy test is tuned for (as the server uses)."""


def run_one(
    rng: np.random.Generator, p_a: float, p_b: float, every: int, max_obs: int, alpha: float
) -> tuple[str | None, int]:
    """One experiment: the winner (``"a"``, ``"b"`` or None) and observations used."""
    per_arm = max_obs // 2
    a = rng.random(per_arm) < p_a
    b = rng.random(per_arm) < p_b
    cum_a = np.cumsum(a)
    cum_b = np.cumsum(b)
    step = every // 2
    for n in range(step, per_arm + 1, step):
        result = compare(
            ArmStats.bernoulli(int(cum_a[n - 1]), n),
            ArmStats.bernoulli(int(cum_b[n - 1]), n),
            alpha=alpha,
            tau=TAU_ACCURACY,
        )
        if result.decision == "winner":
            return result.winner, 2 * n
    return None, 2 * per_arm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--base", type=float, default=0.80)
    parser.add_argument("--lift", type=float, default=0.05)
    parser.add_argument("--max-obs", type=int, default=40_000)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    aa = [
        run_one(rng, args.base, args.base, args.every, args.max_obs, args.alpha)
        for _ in range(args.runs)
    ]
    false_winners = sum(1 for winner, _ in aa if winner is not None)
    ab = [
        run_one(rng, args.base, args.base + args.lift, args.every, args.max_obs, args.alpha)
        for _ in range(args.runs)
    ]
    b_wins = [n for winner, n in ab if winner == "b"]
    report = {
        "runs": args.runs,
        "read_every_observations": args.every,
        "max_observations": args.max_obs,
        "alpha": args.alpha,
        "aa_false_winner_rate": false_winners / args.runs,
        "aa_target": "<= 0.05",
        "ab_base_accuracy": args.base,
        "ab_lift": args.lift,
        "ab_b_winner_rate": len(b_wins) / args.runs,
        "ab_a_winner_rate": sum(1 for w, _ in ab if w == "a") / args.runs,
        "ab_target": ">= 0.90",
        "ab_median_observations": statistics.median(b_wins) if b_wins else None,
        "ab_p90_observations": (
            statistics.quantiles(b_wins, n=10)[-1] if len(b_wins) >= 10 else None
        ),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
