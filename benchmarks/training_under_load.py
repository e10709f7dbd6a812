"""A training job's cost to serving: 30 Optuna trials on a 10k-row dataset while ``/predict``
is answered at concurrency 8.

Starts ``mlserve up`` (embedded Triton, sample models, an admin account), then, ``--repeats``
times side by side in one run: measures ``/predict`` latency at concurrency 8 with unique
texts (no cache hits) for ``--baseline-s`` seconds, then starts
``POST /models/bench-train/train`` (30 trials, estimator auto, the default single
training process at idle priority) and measures the same load until the job ends
(succeeded: published and serving). Reports per repeat and as medians the job's wall time
(submit to serving), the training process's CPU seconds, and /predict p50 and p95 without
(windows before and after the job) and with training, and writes
``benchmarks/results/training_under_load.json``. The machine's load average is recorded:
on a shared machine the spread between repeats is part of the result.

    .venv/bin/python benchmarks/training_under_load.py [--trials 30] [--rows 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from mlserve.benchmarking.local_stack import local_stack

RESULTS = Path(__file__).parent / "results"
USER, PASSWORD = "bench-admin", "bench-admin-password"


def dataset(rows: int) -> bytes:
    """10 normal features; the label mixes a linear part and an interaction."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"x{i}": rng.normal(0, 1, rows) for i in range(10)})
    score = frame.x0 + 0.5 * frame.x1 * frame.x2 - frame.x3 + rng.normal(0, 0.5, rows)
    frame["label"] = (score > 0).astype(int)
    text: str = frame.to_csv(index=False)
    return text.encode()


async def load(base: str, stop: asyncio.Event, concurrency: int) -> list[float]:
    """Latencies (ms) of /predict calls with unique texts until ``stop`` is set."""
    latencies: list[float] = []
    counter = iter(range(10**9))

    async def worker(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            text = f"the battery lasted {next(counter)} hours and the screen was fine"
            started = time.perf_counter()
            answer = await client.post("/predict", json={"text": text})
            latencies.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies


def _median(values: list[float | None]) -> float | None:
    """Median of the known values (an older server reports no ``cpu_seconds``)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
    }


async def run(base: str, args: argparse.Namespace) -> dict[str, Any]:
    repeats = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        login = await client.post("/api/v1/token", data={"username": USER, "password": PASSWORD})
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        await load_for(base, 3.0, args.concurrency)  # warm-up
        for repeat in range(args.repeats):
            repeats.append(await one_repeat(client, base, args, seed=repeat))
            print(json.dumps({"repeat": repeat, **repeats[-1]}), flush=True)
    return {
        "trials": args.trials,
        "rows": args.rows,
        "repeats": args.repeats,
        "median": {
            key: _median([r[key] for r in repeats])
            for key in (
                "training_seconds",
                "cpu_seconds",
                "baseline_p50_ms",
                "during_p50_ms",
                "p50_change",
            )
        },
        "range": {
            key: [min(r[key] for r in repeats), max(r[key] for r in repeats)]
            for key in ("training_seconds", "p50_change")
        },
        "runs": repeats,
    }


async def one_repeat(
    client: httpx.AsyncClient, base: str, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    """One baseline window, one training job (search seed ``seed``) under the same load,
    another baseline window: the baseline is both windows together, so drift in the
    machine's other load during the repeat shows up on both sides. The first job also
    starts the training process (its imports)."""
    load_before = os.getloadavg()[0]
    baseline = await load_for(base, args.baseline_s, args.concurrency)
    stop = asyncio.Event()
    loader = asyncio.create_task(load(base, stop, args.concurrency))
    started = time.perf_counter()
    answer = await client.post(
        "/models/bench-train/train",
        data={
            "target": "label",
            "n_optimization_trials": str(args.trials),
            "estimator": "auto",
            "time_budget_s": "600",
            "auto_promote": "true",
            "seed": str(seed),
        },
        files={"dataset": ("train.csv", io.BytesIO(dataset(args.rows)), "text/csv")},
    )
    answer.raise_for_status()
    job_id = answer.json()["job_id"]
    while True:
        await asyncio.sleep(1.0)
        job = (await client.get(f"/models/bench-train/train/{job_id}")).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
    training_s = time.perf_counter() - started
    stop.set()
    during = await loader
    after = await load_for(base, args.baseline_s, args.concurrency)
    base_summary, during_summary = summary(baseline + after), summary(during)
    return {
        "job_status": job["status"],
        "job_error": job["error"],
        "training_seconds": round(training_s, 1),
        "cpu_seconds": job["result"].get("cpu_seconds"),
        "baseline_p50_ms": base_summary["p50_ms"],
        "during_p50_ms": during_summary["p50_ms"],
        "p50_change": round(during_summary["p50_ms"] / base_summary["p50_ms"] - 1, 3),
        "predict_c8_without_training": base_summary,
        "predict_c8_during_training": during_summary,
        "baseline_p50_before_after_ms": [summary(baseline)["p50_ms"], summary(after)["p50_ms"]],
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "result": job["result"],
        "job_log": job["logs"],
    }


async def load_for(base: str, seconds: float, concurrency: int) -> list[float]:
    stop = asyncio.Event()
    task = asyncio.create_task(load(base, stop, concurrency))
    await asyncio.sleep(seconds)
    stop.set()
    return await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--baseline-s", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlserve-train-bench-") as tmp:
        env = {"MLSERVE_ADMIN_USER": USER, "MLSERVE_ADMIN_PASSWORD": PASSWORD}
        with local_stack(Path(tmp), env=env) as stack:
            result = asyncio.run(run(stack.url, args))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "training_under_load.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
