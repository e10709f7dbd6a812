"""What a mirror (shadow) variant costs the clients: ``/predict`` latency with no
experiment, with an experiment and no mirror, and with a mirror that gets a copy of every
request, side by side in interleaved rounds on one stack.

Starts ``mlserve up`` (sample ``sentiment`` v1 and v2, embedded Triton; its local loopback
trust creates the experiments without a token), then per round and mode sends
``--requests`` unique texts from ``--concurrency`` clients and records each answer's
latency. Modes: ``plain`` (no experiment), ``experiment`` (v1 takes 100%, v2 0%) and
``mirror`` (v1 takes 100%, v2 mirrors). Reports the median over rounds of each mode's p50,
p95, p99 and throughput, and the mirror copies answered and dropped. On a shared machine
the figures move between runs: compare the modes of one run.

    .venv/bin/python benchmarks/mirror_overhead.py [--rounds 3] [--requests 400] \
        [--concurrency 8] [--mirror-in-flight 16]

Writes ``benchmarks/results/mirror_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from mlserve.benchmarking.local_stack import local_stack

RESULTS = Path(__file__).parent / "results"
MODEL = "sentiment"
MODES = ("plain", "experiment", "mirror")


def variants(mode: str) -> list[dict[str, Any]]:
    second: dict[str, Any] = {"name": "treatment", "version": "2", "traffic_percentage": 0}
    if mode == "mirror":
        second = {"name": "shadow", "version": "2", "traffic_percentage": 0, "mirror": True}
    return [{"name": "control", "version": "1", "traffic_percentage": 100}, second]


async def load(client: httpx.AsyncClient, requests: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(f"review {uuid.uuid4().hex[:10]} {i}: the battery is great")

    async def worker() -> None:
        while not queue.empty():
            text = queue.get_nowait()
            started = time.perf_counter()
            answer = await client.post("/predict", json={"model": MODEL, "text": text})
            latencies.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"/predict answered {answer.status_code}: {answer.text}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)]

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "rps": requests / elapsed}


async def run(url: str, rounds: int, requests: int, concurrency: int) -> dict[str, Any]:
    per_mode: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await load(client, 50, concurrency)  # warm-up
        for _ in range(rounds):
            for mode in MODES:
                experiment_id = None
                if mode != "plain":
                    body = {
                        "name": f"bench {mode}",
                        "model_type": MODEL,
                        "variants": variants(mode),
                        "duration_hours": 1,
                    }
                    created = await client.post("/experiments", json=body)
                    if created.status_code != 201:
                        raise SystemExit(f"experiment refused: {created.text}")
                    experiment_id = created.json()["experiment_id"]
                per_mode[mode].append(await load(client, requests, concurrency))
                if experiment_id is not None:
                    await asyncio.sleep(1.0)  # let the copies in flight finish
                    await client.post(f"/experiments/{experiment_id}/stop")
        metrics = (await client.get("/monitoring/metrics")).text
    copies = {
        outcome: float(value)
        for outcome, value in re.findall(
            rf'mlserve_mirror_copies_total{{model="{MODEL}",outcome="(\w+)"}} ([\d.e+]+)', metrics
        )
    }
    summary = {
        mode: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for mode, runs in per_mode.items()
    }
    return {"modes": summary, "rounds": per_mode, "mirror_copies": copies}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--mirror-in-flight", type=int, default=None, help="limits.*")
    args = parser.parse_args()
    env = {}
    if args.mirror_in_flight is not None:
        env["MLSERVE_LIMITS__MIRROR_IN_FLIGHT"] = str(args.mirror_in_flight)
    with tempfile.TemporaryDirectory() as folder, local_stack(Path(folder), env=env) as stack:
        result = asyncio.run(run(stack.url, args.rounds, args.requests, args.concurrency))
    result["settings"] = vars(args)
    print(f"{'mode':<12}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>9}")
    for mode, figures in result["modes"].items():
        print(
            f"{mode:<12}{figures['p50_ms']:>9.2f}{figures['p95_ms']:>9.2f}"
            f"{figures['p99_ms']:>9.2f}{figures['rps']:>9.1f}"
        )
    print(f"mirror copies: {result['mirror_copies']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mirror_overhead.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
