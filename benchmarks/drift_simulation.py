"""Drift monitor on replayed sample traffic: false alarms, detection delay and rate.

Trains the sample TF-IDF + logistic-regression sentiment model once per model seed (its
test split is the reference profile, as at publish time), then replays:

- stationary traffic, counting alarms (all false) per 10,000 requests;
- shifted traffic starting at a random point inside a window, counting requests until a
  window reports drift (at most ``--max-delay``), per scenario and dose.

Usage::

    .venv/bin/python benchmarks/drift_simulation.py                 # default run (~1 min)
    .venv/bin/python benchmarks/drift_simulation.py --trials 100 --stationary 50000 \\
        --json benchmarks/results/drift.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from mlserve.monitoring.simulation import (
    DEFAULT_STRENGTH,
    SCENARIOS,
    Scenario,
    SentimentTrafficSimulation,
    TrialResult,
)

DOSES: dict[Scenario, tuple[float, ...]] = {
    "label_mix": (0.9, 0.7, 0.6),
    "foreign_language": (0.2, 0.1, 0.05),
    "random_tokens": (0.2, 0.1, 0.05),
}
"""The goal's dose first, then weaker ones to show where detection fades."""


def _percentile(values: list[int], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def _dose_label(scenario: Scenario, dose: float) -> str:
    if scenario == "label_mix":
        return f"{1 - dose:.0%} neg / {dose:.0%} pos"
    return f"{dose:.0%} of requests"


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    simulations = [
        SentimentTrafficSimulation(seed=seed, pool_size=args.pool)
        for seed in range(7, 7 + args.models)
    ]
    built = time.perf_counter() - started

    stationary: list[TrialResult] = []
    observe_started = time.perf_counter()
    for index, simulation in enumerate(simulations):
        stationary.append(
            simulation.stationary(args.stationary, seed=10_000 + index, window_size=args.window)
        )
    observe_seconds = time.perf_counter() - observe_started
    requests = sum(r.requests for r in stationary)
    false_alarms = sum(r.false_alarms for r in stationary)
    windows = requests // args.window

    shifts: list[dict[str, Any]] = []
    for scenario in SCENARIOS:
        for dose in DOSES[scenario]:
            results = [
                simulations[trial % len(simulations)].shift(
                    scenario,
                    seed=20_000 + trial,
                    strength=dose,
                    max_requests=args.max_delay,
                    window_size=args.window,
                )
                for trial in range(args.trials)
            ]
            delays = [r.detection_delay for r in results if r.detection_delay is not None]
            shifts.append(
                {
                    "scenario": scenario,
                    "dose": dose,
                    "goal_dose": dose == DEFAULT_STRENGTH[scenario],
                    "description": _dose_label(scenario, dose),
                    "trials": len(results),
                    "detected": len(delays),
                    "detection_rate": len(delays) / len(results),
                    "delay_median": statistics.median(delays) if delays else None,
                    "delay_p90": _percentile(delays, 0.9),
                    "delay_max": max(delays) if delays else None,
                    "false_alarms_before_shift": sum(r.false_alarms for r in results),
                }
            )
    return {
        "settings": {
            "window": args.window,
            "alpha": 0.01,
            "models": args.models,
            "max_delay": args.max_delay,
            "reference_size": simulations[0].profile["n_samples"],
        },
        "stationary": {
            "requests": requests,
            "windows": windows,
            "false_alarms": false_alarms,
            "false_alarms_per_10k": 10_000 * false_alarms / requests,
            "observe_us": 1e6 * observe_seconds / requests,
        },
        "shifts": shifts,
        "build_seconds": built,
        "total_seconds": time.perf_counter() - started,
    }


def report(result: dict[str, Any]) -> str:
    s = result["settings"]
    st = result["stationary"]
    lines = [
        f"Drift simulation: window {s['window']}, family alpha {s['alpha']} (Bonferroni), "
        f"{s['models']} trained models, reference = {s['reference_size']} validation texts",
        "",
        f"Stationary: {st['requests']:,} requests ({st['windows']} windows), "
        f"{st['false_alarms']} false alarms = {st['false_alarms_per_10k']:.2f} per 10,000 "
        "requests (goal: <= 1)",
        f"observe() cost: {st['observe_us']:.1f} us per request (including signal extraction)",
        "",
        f"{'scenario':<18} {'shift':<22} {'detected':>9} {'median':>7} {'p90':>6} {'max':>6}",
    ]
    for row in result["shifts"]:
        marker = "*" if row["goal_dose"] else " "
        detected = f"{row['detected']}/{row['trials']}"

        def fmt(value: float | None) -> str:
            return "-" if value is None else f"{value:.0f}"

        lines.append(
            f"{row['scenario']:<18} {row['description']:<22} {detected:>9} "
            f"{fmt(row['delay_median']):>7} {fmt(row['delay_p90']):>6} "
            f"{fmt(row['delay_max']):>6}{marker}"
        )
    lines += [
        "",
        f"* goal dose: detected within {s['max_delay']} requests in >= 9 of 10 trials; "
        "delays are shifted requests until a window reported drift.",
        f"Total {result['total_seconds']:.1f} s.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=5, help="independently trained models")
    parser.add_argument("--stationary", type=int, default=40_000, help="requests per model")
    parser.add_argument("--trials", type=int, default=50, help="trials per scenario and dose")
    parser.add_argument("--window", type=int, default=500, help="requests per window")
    parser.add_argument("--max-delay", type=int, default=2_000, help="give up after this")
    parser.add_argument("--pool", type=int, default=6_000, help="distinct texts per pool")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    result = run(args)
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
