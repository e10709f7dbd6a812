"""Online policy models, domain level: the ridge statistics, the policies learning a
context-dependent best action, and two replicas sharing one state store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlserve.errors import InvalidInputError
from mlserve.platform.deployments import DeploymentService
from mlserve.platform.policies.contract import parse_contract
from mlserve.platform.policies.linear import LinearStats
from mlserve.platform.policies.service import OnlinePolicyService
from mlserve.platform.store import StateStore
from mlserve.platform.store_redis import RedisStore
from mlserve.platform.store_sqlite import SqliteStore
from tests.support.redis_server import RedisServer

ACTIONS = ["left", "right"]


def contract(policies: list[dict[str, Any]] | None = None) -> str:
    body: dict[str, Any] = {
        "features": [{"name": "x", "type": "continuous"}, {"name": "scale", "type": "continuous"}],
        "actions": ACTIONS,
    }
    if policies is not None:
        body["policies"] = policies
    return json.dumps(body)


def best_action(row: dict[str, float]) -> int:
    """'right' pays when x > 0.5, 'left' otherwise; 'scale' is a large irrelevant feature."""
    return 1 if row["x"] > 0.5 else 0


def context(rng: np.random.Generator) -> dict[str, float]:
    return {"x": float(rng.uniform()), "scale": float(rng.uniform(1e4, 1e5))}


def test_fit_equals_ridge_regression_on_standardized_contexts() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal([40.0, 60_000.0], [10.0, 15_000.0], size=(200, 2))
    z = np.hstack([np.ones((200, 1)), x])
    chosen = rng.integers(0, 2, 200)
    rewards = 0.5 + 0.01 * (x[:, 0] - 40) * (chosen == 0) + rng.normal(0, 0.1, 200)
    stats = LinearStats.empty(2, 3)
    for part in np.array_split(np.arange(200), 7):  # order and batching do not matter
        stats.add(LinearStats.delta(2, z[part], chosen[part], rewards[part]))
    fit = stats.fit(ridge=1.0)
    standardized = np.hstack([np.ones((200, 1)), (x - x.mean(0)) / x.std(0)])
    for action in (0, 1):
        rows = standardized[chosen == action]
        expected = np.linalg.solve(rows.T @ rows + np.eye(3), rows.T @ rewards[chosen == action])
        np.testing.assert_allclose(fit.weights[action], expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fit.standardize(z), standardized, atol=1e-9)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("{not json", "feature_contract is not valid JSON"),
        (json.dumps({"features": [{"name": "a"}], "actions": ["x", "x"]}), "repeated: x"),
        (json.dumps({"features": [{"name": "a"}], "actions": ["x"]}), "feature_contract.actions"),
        (
            json.dumps({"features": [{"name": "a", "type": "categorical"}], "actions": ["x", "y"]}),
            "feature_contract.features.0.type",
        ),
        (
            json.dumps(
                {"features": [{"name": "a"}], "actions": ["x", "y"], "policies": [{"type": "dqn"}]}
            ),
            "feature_contract.policies.0",
        ),
    ],
)
def test_bad_contracts_are_refused_naming_the_field(raw: str, expected: str) -> None:
    with pytest.raises(InvalidInputError, match=expected.replace(".", r"\.")):
        parse_contract(raw)


async def service_on(store: StateStore, seed: int) -> OnlinePolicyService:
    return OnlinePolicyService(store, DeploymentService(store), seed=seed)


@pytest.mark.parametrize("policy", ["epsilon_greedy", "linucb", "thompson"])
async def test_each_policy_learns_the_context_dependent_best_action(
    store: StateStore, policy: str
) -> None:
    service = await service_on(store, seed=1)
    await service.configure("route", "v1", "policy_next", contract([{"type": policy}]), "t")
    rng = np.random.default_rng(2)
    correct: list[bool] = []
    buffer: list[dict[str, Any]] = []
    for _ in range(400):
        row = context(rng)
        answer = (await service.predict("route", "v1", {"inputs": [row]}))["predictions"][0]
        hit = answer["action_index"] == best_action(row)
        correct.append(hit)
        reward = float(rng.random() < (0.8 if hit else 0.2))
        buffer.append(
            {
                "features": row,
                "action": answer["action"],
                "reward": reward,
                "policy_id": answer["policy_id"],
            }
        )
        if len(buffer) == 10:
            await service.feedback("route", "v1", {"feedback": buffer})
            buffer = []
    assert np.mean(correct[:50]) < 0.8
    assert np.mean(correct[-100:]) > 0.85, (policy, np.mean(correct[-100:]))
    metrics = await service.metrics("route", "v1", 24, "hour")
    assert metrics["n_feedback"] == 400
    assert metrics["n_predictions"] == 400


async def _two_replicas_lose_no_update(first: StateStore, second: StateStore) -> None:
    a, b = await service_on(first, 1), await service_on(second, 2)
    await a.configure("shared", "v1", "policy_next", contract(), "t")
    rng = np.random.default_rng(3)

    def batch(n: int) -> dict[str, Any]:
        return {
            "feedback": [
                {
                    "features": context(rng),
                    "action": int(rng.integers(0, 2)),
                    "reward": float(rng.integers(0, 2)),
                    "policy_id": int(rng.integers(0, 3)),
                }
                for _ in range(n)
            ]
        }

    batches = [batch(7) for _ in range(40)]
    await asyncio.gather(
        *((a if i % 2 else b).feedback("shared", "v1", body) for i, body in enumerate(batches))
    )
    expected = LinearStats.empty(2, 3)
    for body in batches:
        rows = body["feedback"]
        z = np.array([[1.0, r["features"]["x"], r["features"]["scale"]] for r in rows])
        expected.add(
            LinearStats.delta(
                2, z, np.array([r["action"] for r in rows]), np.array([r["reward"] for r in rows])
            )
        )
    await asyncio.sleep(0.06)  # past refresh_s: predictions see every replica's feedback
    for service in (a, b):
        row = {"x": 0.5, "scale": 5e4}
        assert (await service.predict("shared", "v1", {"inputs": [row]}))["learned_from"] == 280
        metrics = await service.metrics("shared", "v1", 24, "hour")
        assert metrics["n_feedback"] == 280
        state = await service._get("shared", "v1")
        np.testing.assert_allclose(state.ledger.state.stats.a, expected.a)
        np.testing.assert_allclose(state.ledger.state.stats.b, expected.b)
    # a third replica that starts later folds the same state from the store alone
    c = await service_on(second, 4)
    state = (await c._get("shared", "v1")).ledger
    await state.refresh()
    np.testing.assert_allclose(state.state.stats.b, expected.b)


async def test_two_control_planes_on_one_sqlite_file_share_learning(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "state.sqlite3")
    second = SqliteStore(tmp_path / "state.sqlite3")
    try:
        await _two_replicas_lose_no_update(first, second)
    finally:
        await first.close()
        await second.close()


async def test_two_control_planes_on_one_redis_share_learning(platform_redis: RedisServer) -> None:
    first = RedisStore.from_url(platform_redis.url, prefix="replicas:")
    second = RedisStore.from_url(platform_redis.url, prefix="replicas:")
    try:
        await _two_replicas_lose_no_update(first, second)
    finally:
        await first.close()
        await second.close()
