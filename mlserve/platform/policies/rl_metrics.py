"""``GET /api/v1/metrics/rl/{model}/{version}``: a folded ledger as the 0.4.0 client reads it.

Shape (what ``MLServeClient.get_rl_metrics`` and ``mlserve_sdk.rl_plots`` expect)::

    {"model", "version", "window_hours", "granularity", "n_predictions", "n_feedback",
     "metrics": {"reward_mean", "reward_std", "cumulative_reward", "epsilon_mean",
                 "exploration_share", "policies": [{policy_id, policy, pulls, explorations,
                 exploration_share, epsilon_mean, n_feedback, reward_mean, reward_std,
                 cumulative_reward, windowed_reward_mean}, ...]},
     "series": {"epsilon": [{"t", "epsilon_mean"}], "reward": [{"t", "reward_mean", "n"}],
                "policy_selection": [{"t", "counts": {policy id: pulls}}],
                "policy_rewards": [{"policy_id", "series": [{"t", "reward_mean", "n"}]}]}}

Counts, means and ``series`` cover the window; ``cumulative_reward`` is all-time and
``windowed_reward_mean`` averages each policy's last ~100 feedback rows. A reward's std
comes from sums of squares (medians would need every reward kept, so there are none).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from mlserve.errors import InvalidInputError
from mlserve.platform.policies.contract import PolicySpec
from mlserve.platform.policies.ledger import HOUR, Counters, FoldedState

GRANULARITIES = {"hour": HOUR, "day": 24 * HOUR}
MAX_WINDOW_HOURS = 24 * 366


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _mean_std(n: float, total: float, squares: float) -> tuple[float | None, float | None]:
    if n <= 0:
        return None, None
    mean = total / n
    return mean, math.sqrt(max(squares / n - mean**2, 0.0))


def _bucketed(by_hour: dict[int, Counters], since: float, step: int) -> dict[int, Counters]:
    out: dict[int, Counters] = {}
    for hour, counters in by_hour.items():
        if hour + HOUR <= since:
            continue
        bucket = out.setdefault(hour // step * step, {})
        for policy, values in counters.items():
            row = bucket.setdefault(policy, [0.0] * len(values))
            for i, v in enumerate(values):
                row[i] += v
    return dict(sorted(out.items()))


def rl_metrics(
    model: str,
    version: str,
    policies: list[PolicySpec],
    state: FoldedState,
    *,
    window_hours: int,
    granularity: str,
    now: float | None = None,
) -> dict[str, Any]:
    if granularity not in GRANULARITIES:
        raise InvalidInputError(
            f"granularity must be one of {', '.join(GRANULARITIES)} (got {granularity!r})"
        )
    since = (time.time() if now is None else now) - window_hours * HOUR
    step = GRANULARITIES[granularity]
    pulls = state.totals(state.pulls_by_hour, since)
    rewards = state.totals(state.rewards_by_hour, since)
    all_time = state.totals(state.rewards_by_hour)
    rows = []
    for policy_id, spec in enumerate(policies):
        p = pulls.get(policy_id, [0.0, 0.0, 0.0])
        r = rewards.get(policy_id, [0.0, 0.0, 0.0])
        mean, std = _mean_std(*r)
        rows.append(
            {
                "policy_id": policy_id,
                "policy": spec.type,
                "pulls": int(p[0]),
                "explorations": int(p[1]),
                "exploration_share": p[1] / p[0] if p[0] else None,
                "epsilon_mean": p[2] / p[0] if p[0] else None,
                "n_feedback": int(r[0]),
                "reward_mean": mean,
                "reward_std": std,
                "cumulative_reward": all_time.get(policy_id, [0.0, 0.0])[1],
                "windowed_reward_mean": state.recent_mean(policy_id),
            }
        )
    n_pred = sum(v[0] for v in pulls.values())
    n_explore = sum(v[1] for v in pulls.values())
    n_fb, total, squares = (sum(v[i] for v in rewards.values()) for i in range(3))
    mean, std = _mean_std(n_fb, total, squares)
    pull_buckets = _bucketed(state.pulls_by_hour, since, step)
    reward_buckets = _bucketed(state.rewards_by_hour, since, step)
    series = {
        "epsilon": [
            {
                "t": _iso(t),
                "epsilon_mean": sum(v[2] for v in c.values())
                / max(sum(v[0] for v in c.values()), 1),
            }
            for t, c in pull_buckets.items()
        ],
        "reward": [
            {
                "t": _iso(t),
                "reward_mean": sum(v[1] for v in c.values())
                / max(sum(v[0] for v in c.values()), 1),
                "n": int(sum(v[0] for v in c.values())),
            }
            for t, c in reward_buckets.items()
        ],
        "policy_selection": [
            {"t": _iso(t), "counts": {str(p): int(v[0]) for p, v in sorted(c.items())}}
            for t, c in pull_buckets.items()
        ],
        "policy_rewards": [
            {
                "policy_id": policy_id,
                "series": [
                    {
                        "t": _iso(t),
                        "reward_mean": c[policy_id][1] / c[policy_id][0],
                        "n": int(c[policy_id][0]),
                    }
                    for t, c in reward_buckets.items()
                    if c.get(policy_id, [0.0])[0] > 0
                ],
            }
            for policy_id in range(len(policies))
        ],
    }
    return {
        "model": model,
        "version": version,
        "window_hours": window_hours,
        "granularity": granularity,
        "n_predictions": int(n_pred),
        "n_feedback": int(n_fb),
        "metrics": {
            "reward_mean": mean,
            "reward_std": std,
            "cumulative_reward": sum(v[1] for v in all_time.values()),
            "epsilon_mean": sum(v[2] for v in pulls.values()) / n_pred if n_pred else None,
            "exploration_share": n_explore / n_pred if n_pred else None,
            "policies": rows,
        },
        "series": series,
    }
