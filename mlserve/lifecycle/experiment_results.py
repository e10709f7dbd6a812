"""An experiment's results: per-variant figures with intervals, and the decision.

Every interval is the always-valid one of :mod:`mlserve.lifecycle.sequential`, so results
may be read at any time, as often as wanted. Each serving variant is compared with the
control on every metric that has data; the *decision* is the comparison on the primary
metric: the ``success_metrics`` entry with the highest weight (ties: the order of
:data:`~mlserve.lifecycle.experiments.METRICS`), or, without any, ``accuracy`` when
feedback exists and ``success_rate`` otherwise. ``p95_latency_ms`` is judged on the mean
latency (percentiles have no such test); its figures are reported as they are.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from mlserve.lifecycle.experiment_stats import VariantTotals, percentile
from mlserve.lifecycle.experiments import LOWER_IS_BETTER, METRICS, Experiment, Variant
from mlserve.lifecycle.sequential import ArmStats, Comparison, compare, interval
from mlserve.platform.feedback import Outcomes

OutcomesOf = Callable[[str, int, float], Awaitable[Outcomes]]
"""``(model, version, since) -> feedback outcomes`` (the platform's FeedbackService)."""

RATE_TAU = 0.05
"""Rates (success rate, accuracy): the tests are tuned for differences of about 5 points."""
RATE_MARGIN = 0.01
"""Rates closer than 1 point are 'no difference'."""


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _rate(successes: int, n: int, alpha: float) -> dict[str, Any] | None:
    if n == 0:
        return None
    ci = interval(ArmStats.bernoulli(successes, n), alpha, RATE_TAU)
    return {
        "value": successes / n,
        "n": n,
        "ci_low": max(ci.low, 0.0),
        "ci_high": min(ci.high, 1.0),
    }


def _mean(arm: ArmStats, alpha: float, tau: float) -> dict[str, Any] | None:
    if arm.n == 0:
        return None
    ci = interval(arm, alpha, tau)
    return {"value": arm.mean, "n": arm.n, "ci_low": _finite(ci.low), "ci_high": _finite(ci.high)}


class VariantData:
    """What one variant observed, in the forms the tests take."""

    def __init__(self, variant: Variant, totals: VariantTotals, outcomes: Outcomes) -> None:
        self.variant = variant
        self.totals = totals
        self.outcomes = outcomes

    def arm(self, metric: str) -> ArmStats | None:
        t, o = self.totals, self.outcomes
        if metric == "success_rate":
            return ArmStats.bernoulli(t.successes, t.requests) if t.requests else None
        if metric == "accuracy":
            if o.correct is None or not o.labeled:
                return None
            return ArmStats.bernoulli(o.correct, o.labeled)
        if metric == "mean_reward":
            return ArmStats.of(o.rewards) if o.rewards else None
        mean = t.mean_latency()
        if mean is None:
            return None
        return ArmStats(t.requests, mean, t.latency_variance())


def _tau_and_margin(metric: str, a: ArmStats, b: ArmStats) -> tuple[float, float]:
    if metric in ("success_rate", "accuracy"):
        return RATE_TAU, RATE_MARGIN
    spread = math.sqrt((a.variance + b.variance) / 2) or abs(a.mean) or 1.0
    return 0.2 * spread, 0.05 * spread


def primary_metric(experiment: Experiment, has_accuracy: bool) -> str:
    if experiment.success_metrics:
        order = {m: i for i, m in enumerate(METRICS)}
        return max(
            experiment.success_metrics.items(),
            key=lambda item: (item[1].weight, -order[item[0]]),
        )[0]
    return "accuracy" if has_accuracy else "success_rate"


def _comparison_view(metric: str, variant: str, result: Comparison) -> dict[str, Any]:
    diff = result.difference
    return {
        "metric": metric,
        "variant": variant,
        "difference": diff.estimate,
        "ci_low": _finite(diff.low),
        "ci_high": _finite(diff.high),
        "decision": result.decision,
        "better": None
        if result.winner is None
        else ("variant" if result.winner == "b" else "control"),
        "more_observations": result.more_observations,
    }


async def experiment_results(
    experiment: Experiment, totals: dict[int, VariantTotals], outcomes_of: OutcomesOf
) -> dict[str, Any]:
    """The body of ``GET /experiments/{id}/results``."""
    alpha = experiment.alpha
    live = dict(experiment.live_split())
    data: list[VariantData] = []
    for variant in experiment.variants:
        version = int(variant.version)
        outcomes = await outcomes_of(experiment.model, version, experiment.created_at)
        data.append(VariantData(variant, totals.get(version, VariantTotals()), outcomes))

    rows = []
    for d in data:
        t, o = d.totals, d.outcomes
        latency_arm = d.arm("avg_latency_ms")
        rows.append(
            {
                "name": d.variant.name,
                "version": d.variant.version,
                "mirror": d.variant.mirror,
                "traffic_percentage": d.variant.traffic_percentage,
                "live_traffic_percentage": live.get(int(d.variant.version), 0.0),
                "rolled_back": experiment.rolled_back.get(d.variant.name),
                "requests": t.requests,
                "errors": t.errors,
                "success_rate": _rate(t.successes, t.requests, alpha),
                "latency_ms": {
                    "p50": percentile(t.latencies, 50),
                    "p95": percentile(t.latencies, 95),
                    "mean": _mean(latency_arm, alpha, 0.2 * math.sqrt(latency_arm.variance) or 1.0)
                    if latency_arm
                    else None,
                },
                "accuracy": _rate(o.correct, o.labeled, alpha) if o.correct is not None else None,
                "mean_reward": _mean(ArmStats.of(o.rewards), alpha, 0.5) if o.rewards else None,
                "agreement": _rate(t.agreed, t.compared, alpha) if d.variant.mirror else None,
            }
        )

    control = next(d for d in data if not d.variant.mirror)
    has_accuracy = control.arm("accuracy") is not None
    primary = primary_metric(experiment, has_accuracy)
    comparisons: list[dict[str, Any]] = []
    decisions: list[tuple[str, Comparison]] = []
    for d in data:
        if d is control:
            continue
        for metric in METRICS:
            judged = "avg_latency_ms" if metric == "p95_latency_ms" else metric
            a, b = control.arm(judged), d.arm(judged)
            if a is None or b is None:
                continue
            tau, margin = _tau_and_margin(judged, a, b)
            result = compare(
                a,
                b,
                alpha=alpha,
                tau=tau,
                margin=margin,
                higher_is_better=metric not in LOWER_IS_BETTER,
            )
            comparisons.append(_comparison_view(metric, d.variant.name, result))
            if metric == primary and not d.variant.mirror:
                decisions.append((d.variant.name, result))

    return {
        "experiment_id": experiment.id,
        "name": experiment.name,
        "model": experiment.model,
        "status": experiment.status,
        "created_at": experiment.iso(experiment.created_at),
        "ends_at": experiment.iso(experiment.ends_at),
        "stopped_at": experiment.iso(experiment.stopped_at),
        "variants": rows,
        "comparisons": comparisons,
        "decision": decide(primary, control.variant.name, decisions),
        "promoted": experiment.promoted,
    }


def decide(metric: str, control: str, decisions: list[tuple[str, Comparison]]) -> dict[str, Any]:
    """One answer over every variant-vs-control comparison on the primary metric."""
    base: dict[str, Any] = {"metric": metric, "control": control}
    if not decisions:
        return {
            **base,
            "outcome": "continue",
            "winner": None,
            "more_observations": None,
            "message": f"no {metric} data for the control and a variant yet",
        }
    winners = [(name, r) for name, r in decisions if r.decision == "winner" and r.winner == "b"]
    if winners:
        name, _best = max(winners, key=lambda item: abs(item[1].difference.estimate))
        return {
            **base,
            "outcome": "winner",
            "winner": name,
            "more_observations": None,
            "message": f"{name} beats {control} on {metric}",
        }
    if all(r.decision == "winner" and r.winner == "a" for _, r in decisions):
        return {
            **base,
            "outcome": "winner",
            "winner": control,
            "more_observations": None,
            "message": f"{control} (the control) beats every variant on {metric}",
        }
    if all(r.decision in ("no_difference", "winner") for _, r in decisions):
        return {
            **base,
            "outcome": "no_difference",
            "winner": None,
            "more_observations": None,
            "message": f"no variant differs from {control} on {metric} by a practical margin",
        }
    needed = [r.more_observations for _, r in decisions if r.more_observations is not None]
    more = max(needed) if needed else None
    return {
        **base,
        "outcome": "continue",
        "winner": None,
        "more_observations": more,
        "message": (
            f"needs about {more} more observations per variant"
            if more is not None
            else "no difference seen yet; the difference may be too small to settle"
        ),
    }
