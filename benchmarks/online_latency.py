"""``online_predict`` latency at c=8 and ``online_feedback`` of 100 rows, over HTTP.

Targets (issue 21): ``POST /api/v1/online_predict`` p50 < 5 ms with 8 concurrent callers,
and a feedback batch of 100 rows applied in < 50 ms.

Against real stacks: each configuration is a throwaway ``mlserve up`` (embedded Triton,
SQLite platform state, the admin account created from the environment), started here and
stopped at the end. Side by side, so one noisy moment of the shared machine does not decide
the comparison, the configurations run in alternating rounds:

* ``token cache off``: ``MLSERVE_AUTH__TOKEN_CACHE_SECONDS=0``, every request reads its
  token and account from the state store (how the route worked before the cache);
* ``default``: the verified-token cache (``auth.token_cache_seconds``, 2 s).

Each round: 8 callers on keep-alive connections (``mlserve.http1``, a light client, so the
load generator's CPU does not crowd the server on a small machine) send one-row
``online_predict`` calls; then 20 ``online_feedback`` calls of 100 rows each, one at a
time. Reported per round and as the median over rounds: predict p50/p95 (client-side,
round trip), feedback round trip p50 (an upper bound of the apply time), and the apply time
measured in process on the same machine (``OnlinePolicyService.feedback`` over SQLite).

    .venv/bin/python benchmarks/online_latency.py [--rounds 3] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from mlserve.benchmarking.local_stack import local_stack
from mlserve.http1 import Http1Client

FEATURES = ["age", "income", "loyalty_score"]
ACTIONS = ["show_discount", "show_premium", "no_action"]
CONCURRENCY = 8
USER, PASSWORD = "bench", "bench-password-1"
CONFIGS = {"token cache off": {"MLSERVE_AUTH__TOKEN_CACHE_SECONDS": "0"}, "default": {}}


def customer(rng: np.random.Generator) -> dict[str, float]:
    return {
        "age": float(rng.integers(18, 65)),
        "income": float(rng.uniform(20_000, 100_000)),
        "loyalty_score": float(rng.uniform(0, 1)),
    }


def contract() -> str:
    return json.dumps(
        {"features": [{"name": f, "type": "continuous"} for f in FEATURES], "actions": ACTIONS}
    )


async def prepare(url: str, rng: np.random.Generator) -> tuple[str, list[dict[str, Any]]]:
    """Log in, configure the model, and collect 100 feedback rows; the token and rows."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        login = await client.post("/api/v1/token", data={"username": USER, "password": PASSWORD})
        login.raise_for_status()
        token = login.json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        configured = await client.post(
            "/api/v1/model_config",
            data={
                "name": "promo",
                "version": "v1",
                "task_type": "policy_next",
                "feature_contract": contract(),
            },
        )
        configured.raise_for_status()
        rows = []
        for _ in range(100):
            features = customer(rng)
            answer = await client.post(
                "/api/v1/online_predict/promo/v1", json={"inputs": [features]}
            )
            answer.raise_for_status()
            choice = answer.json()["predictions"][0]
            rows.append(
                {
                    "features": features,
                    "action": choice["action"],
                    "reward": float(rng.random() < 0.5),
                    "policy_id": choice["policy_id"],
                }
            )
    return token, rows


async def one_round(
    url: str, token: str, rows: list[dict[str, Any]], requests: int, rng: np.random.Generator
) -> dict[str, float]:
    auth = {"authorization": f"Bearer {token}"}
    client = Http1Client(url, headers=auth)
    bodies = [json.dumps({"inputs": [customer(rng)]}).encode() for _ in range(requests)]
    latencies: list[float] = []

    async def caller(share: list[bytes]) -> None:
        for body in share:
            started = time.perf_counter()
            answer = await client.post("/api/v1/online_predict/promo/v1", body)
            latencies.append((time.perf_counter() - started) * 1000)
            if answer.status != 200:
                raise RuntimeError(f"online_predict answered {answer.status}: {answer.body!r}")

    # Warm the connections and the server's caches first.
    await asyncio.gather(*(caller(bodies[i : i + 1]) for i in range(CONCURRENCY)))
    latencies.clear()
    await asyncio.gather(*(caller(bodies[i::CONCURRENCY]) for i in range(CONCURRENCY)))
    feedback_body = json.dumps({"feedback": rows}).encode()
    feedback_ms = []
    for _ in range(20):
        started = time.perf_counter()
        answer = await client.post("/api/v1/online_feedback/promo/v1", feedback_body)
        feedback_ms.append((time.perf_counter() - started) * 1000)
        if answer.status != 200:
            raise RuntimeError(f"online_feedback answered {answer.status}: {answer.body!r}")
    await client.aclose()
    latencies.sort()
    return {
        "p50": statistics.median(latencies),
        "p95": latencies[int(0.95 * len(latencies))],
        "feedback_p50": statistics.median(feedback_ms),
    }


async def in_process_feedback(rows: list[dict[str, Any]]) -> float:
    """p50 of applying the same 100-row batch through the service itself (no HTTP)."""
    from mlserve.platform.deployments import DeploymentService
    from mlserve.platform.policies.service import OnlinePolicyService
    from mlserve.platform.store_sqlite import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "state.sqlite3")
        service = OnlinePolicyService(store, DeploymentService(store), seed=0)
        await service.configure("promo", "v1", "policy_next", contract(), "bench")
        took = []
        for _ in range(20):
            started = time.perf_counter()
            await service.feedback("promo", "v1", {"feedback": rows})
            took.append((time.perf_counter() - started) * 1000)
        await store.close()
    return statistics.median(took)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="predict calls per round")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in CONFIGS}
    feedback_rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stacks:
        prepared = {}
        for i, (name, extra) in enumerate(CONFIGS.items()):
            folder = Path(tmp) / f"stack{i}"
            folder.mkdir()
            env = {
                "MLSERVE_ADMIN_USER": USER,
                "MLSERVE_ADMIN_PASSWORD": PASSWORD,
                "MLSERVE_AUTH__STATE_PATH": str(folder / "platform.sqlite3"),
                **extra,
            }
            stack = stacks.enter_context(local_stack(folder, env=env))
            token, feedback_rows = asyncio.run(prepare(stack.url, rng))
            prepared[name] = (stack.url, token, feedback_rows)
        for round_ in range(args.rounds):
            for name, (url, token, rows) in prepared.items():
                figures = asyncio.run(one_round(url, token, rows, args.requests, rng))
                results[name].append(figures)
                print(
                    f"round {round_ + 1} {name:>15}: online_predict c={CONCURRENCY} "
                    f"p50 {figures['p50']:.2f} ms p95 {figures['p95']:.2f} ms; "
                    f"online_feedback 100 rows p50 {figures['feedback_p50']:.2f} ms",
                    flush=True,
                )
    apply_ms = asyncio.run(in_process_feedback(feedback_rows))
    print(f"\nmedians over {args.rounds} rounds of {args.requests} calls (shared, noisy machine):")
    ok = True
    for name, rounds in results.items():
        p50 = statistics.median(r["p50"] for r in rounds)
        p95 = statistics.median(r["p95"] for r in rounds)
        feedback = statistics.median(r["feedback_p50"] for r in rounds)
        print(
            f"{name:>15}: online_predict p50 {p50:.2f} ms, p95 {p95:.2f} ms; "
            f"online_feedback of 100 rows (round trip) p50 {feedback:.2f} ms"
        )
        if name == "default":
            ok = p50 < 5 and feedback < 50
    print(f"feedback batch of 100 applied in process (no HTTP): p50 {apply_ms:.2f} ms")
    print("targets met (default: p50 < 5 ms, feedback < 50 ms)" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
