"""Online policy models in a simulated environment where the best action depends on context.

Three actions, three features on the seed's scales (age 18-65, income 20k-100k, loyalty
0-1). Each action's conversion probability is a different linear function of the context, so
every action is the best one for some customers. Each policy (epsilon-greedy, LinUCB,
Thompson) runs as its own model through the real :class:`OnlinePolicyService` over a SQLite
state store: ``predict`` one customer per step, feedback in batches of 10. The oracle knows
the probabilities and always takes the best action.

Target: over the last 500 of 2,000 steps each policy earns >= 90% of the oracle's average
reward (expected rewards, so the comparison is not blurred by coin flips).

Then the serving cost, in process (no HTTP): ``predict`` p50/p95 with 8 concurrent callers,
and the time to apply one feedback batch of 100 rows. With ``--http`` the same over HTTP
against a throwaway ``mlserve up`` (embedded Triton, SQLite state; started and stopped here):
``POST /api/v1/online_predict`` at c=8 on keep-alive connections, and
``POST /api/v1/online_feedback`` with 100 rows.

    .venv/bin/python benchmarks/policy_simulation.py [--steps 2000] [--seed 0] [--http]

The latency targets themselves (p50 < 5 ms at c=8, feedback of 100 in < 50 ms) are measured
side by side over several rounds by ``benchmarks/online_latency.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlserve.platform.deployments import DeploymentService
from mlserve.platform.policies.service import OnlinePolicyService
from mlserve.platform.store_sqlite import SqliteStore

ACTIONS = ["show_discount", "show_premium", "no_action"]
FEATURES = ["age", "income", "loyalty_score"]
POLICIES = {
    "epsilon_greedy": {"type": "epsilon_greedy"},
    "linucb": {"type": "linucb"},
    "thompson": {"type": "thompson"},
}
BATCH = 10


def customer(rng: np.random.Generator) -> dict[str, float]:
    return {
        "age": float(rng.integers(18, 65)),
        "income": float(rng.uniform(20_000, 100_000)),
        "loyalty_score": float(rng.uniform(0, 1)),
    }


def conversion(features: dict[str, float]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Probability of a reward for each action: discounts win with young, low-income
    customers, premium with rich loyal ones, doing nothing with loyal older ones."""
    age = (features["age"] - 18) / 47
    income = (features["income"] - 20_000) / 80_000
    loyalty = features["loyalty_score"]
    p = np.array(
        [
            0.55 - 0.35 * age - 0.30 * income + 0.05 * loyalty,
            0.10 + 0.45 * income + 0.25 * loyalty - 0.05 * age,
            0.05 + 0.25 * age + 0.30 * loyalty - 0.05 * income,
        ]
    )
    return np.clip(p, 0.02, 0.98)


def contract(policy: dict[str, Any]) -> str:
    return json.dumps(
        {
            "features": [{"name": f, "type": "continuous"} for f in FEATURES],
            "actions": ACTIONS,
            "policies": [policy],
        }
    )


async def simulate(steps: int, seed: int) -> dict[str, list[float]]:
    """Expected reward per step for each policy and the oracle."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "state.sqlite3")
        service = OnlinePolicyService(store, DeploymentService(store), seed=seed)
        curves: dict[str, list[float]] = {"oracle": [], "random": []}
        for name, policy in POLICIES.items():
            await service.configure(name, "v1", "policy_next", contract(policy), "bench")
            curves[name] = []
        env = np.random.default_rng(seed)
        buffers: dict[str, list[dict[str, Any]]] = {name: [] for name in POLICIES}
        for step in range(steps):
            features = customer(env)
            p = conversion(features)
            curves["oracle"].append(float(p.max()))
            curves["random"].append(float(p.mean()))
            for name in POLICIES:
                answer = (await service.predict(name, "v1", {"inputs": [features]}))["predictions"][
                    0
                ]
                chosen = ACTIONS.index(answer["action"])
                curves[name].append(float(p[chosen]))
                reward = float(env.random() < p[chosen])
                buffers[name].append(
                    {
                        "features": features,
                        "action": answer["action"],
                        "reward": reward,
                        "policy_id": answer["policy_id"],
                    }
                )
                if len(buffers[name]) >= BATCH or step == steps - 1:
                    await service.feedback(name, "v1", {"feedback": buffers[name]})
                    buffers[name] = []
        await store.close()
        return curves


async def serving_cost(seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "state.sqlite3")
        service = OnlinePolicyService(store, DeploymentService(store), seed=seed)
        await service.configure("promo", "v1", "policy_next", contract_all(), "bench")
        env = np.random.default_rng(seed)
        rows = []
        for _ in range(100):
            features = customer(env)
            answer = (await service.predict("promo", "v1", {"inputs": [features]}))["predictions"][
                0
            ]
            reward = float(env.random() < conversion(features)[answer["action_index"]])
            rows.append(
                {
                    "features": features,
                    "action": answer["action"],
                    "reward": reward,
                    "policy_id": answer["policy_id"],
                }
            )
        feedback_ms = []
        for _ in range(20):
            started = time.perf_counter()
            await service.feedback("promo", "v1", {"feedback": rows})
            feedback_ms.append((time.perf_counter() - started) * 1000)
        latencies: list[float] = []

        async def caller() -> None:
            for _ in range(250):
                started = time.perf_counter()
                await service.predict("promo", "v1", {"inputs": [customer(env)]})
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(caller() for _ in range(8)))
        await store.close()
        latencies.sort()
        return {
            "predict_p50_ms": statistics.median(latencies),
            "predict_p95_ms": latencies[int(0.95 * len(latencies))],
            "feedback_100_p50_ms": statistics.median(feedback_ms),
        }


def contract_all() -> str:
    return json.dumps(
        {"features": [{"name": f, "type": "continuous"} for f in FEATURES], "actions": ACTIONS}
    )


async def http_cost(url: str, seed: int, requests_per_caller: int = 250) -> dict[str, float]:
    import httpx

    env = np.random.default_rng(seed)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        login = await client.post(
            "/api/v1/token", data={"username": "bench", "password": "bench-password-1"}
        )
        login.raise_for_status()
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        configured = await client.post(
            "/api/v1/model_config",
            data={
                "name": "promo",
                "version": "v1",
                "task_type": "policy_next",
                "feature_contract": contract_all(),
            },
        )
        configured.raise_for_status()
        rows = []
        for _ in range(100):
            features = customer(env)
            answer = await client.post(
                "/api/v1/online_predict/promo/v1", json={"inputs": [features]}
            )
            choice = answer.json()["predictions"][0]
            rows.append(
                {
                    "features": features,
                    "action": choice["action"],
                    "reward": float(env.random() < 0.5),
                    "policy_id": choice["policy_id"],
                }
            )
        feedback_ms = []
        for _ in range(20):
            started = time.perf_counter()
            sent = await client.post("/api/v1/online_feedback/promo/v1", json={"feedback": rows})
            feedback_ms.append((time.perf_counter() - started) * 1000)
            sent.raise_for_status()
    latencies: list[float] = []

    async def caller() -> None:
        async with httpx.AsyncClient(
            base_url=url, timeout=30, headers={"Authorization": client.headers["Authorization"]}
        ) as own:
            for _ in range(requests_per_caller):
                body = {"inputs": [customer(env)]}
                started = time.perf_counter()
                answer = await own.post("/api/v1/online_predict/promo/v1", json=body)
                latencies.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()

    await asyncio.gather(*(caller() for _ in range(8)))
    latencies.sort()
    return {
        "predict_p50_ms": statistics.median(latencies),
        "predict_p95_ms": latencies[int(0.95 * len(latencies))],
        "feedback_100_p50_ms": statistics.median(feedback_ms),
    }


def measure_http(seed: int) -> dict[str, float]:
    from mlserve.benchmarking.local_stack import local_stack

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "MLSERVE_ADMIN_USER": "bench",
            "MLSERVE_ADMIN_PASSWORD": "bench-password-1",
            "MLSERVE_AUTH__STATE_PATH": str(Path(tmp) / "platform.sqlite3"),
        }
        with local_stack(Path(tmp), env=env) as stack:
            return asyncio.run(http_cost(stack.url, seed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--http", action="store_true", help="also measure over HTTP")
    args = parser.parse_args()
    curves = asyncio.run(simulate(args.steps, args.seed))
    oracle = float(np.mean(curves["oracle"][-500:]))
    print(f"average expected reward per 250-step segment ({args.steps} steps, seed {args.seed})")
    segments = range(0, args.steps, 250)
    print(f"{'policy':>15} " + " ".join(f"{s + 250:>6}" for s in segments) + "   last500  /oracle")
    ok = True
    for name, curve in curves.items():
        marks = " ".join(f"{np.mean(curve[s : s + 250]):6.3f}" for s in segments)
        last = float(np.mean(curve[-500:]))
        share = last / oracle
        ok &= share >= 0.9 or name in ("oracle", "random")
        print(f"{name:>15} {marks}   {last:7.3f}  {share:6.1%}")
    cost = asyncio.run(serving_cost(args.seed))
    print(
        f"predict at c=8: p50 {cost['predict_p50_ms']:.2f} ms, p95 {cost['predict_p95_ms']:.2f} ms"
        f" (target p50 < 5 ms); feedback batch of 100: p50 {cost['feedback_100_p50_ms']:.2f} ms"
        " (target < 50 ms)"
    )
    if args.http:
        cost = measure_http(args.seed)
        print(
            f"over HTTP (mlserve up, 1 worker): online_predict at c=8: p50 "
            f"{cost['predict_p50_ms']:.2f} ms, p95 {cost['predict_p95_ms']:.2f} ms; "
            f"online_feedback of 100 rows: p50 {cost['feedback_100_p50_ms']:.2f} ms"
        )
    print("target met: every policy >= 90% of the oracle" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
