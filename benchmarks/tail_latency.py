"""Tail latency of the default configuration: p99.9 and the slowest requests over a long run.

Starts a stack (``mlserve up`` on free ports, temp repository, sample models) with the
default settings (no Triton queue policy since it became the default; ``--queue-policy``
publishes the former 256 / 5000 ms policy, whose dynamic batcher pauses ~500 ms about once
every few thousand requests), then for each concurrency sends exactly ``--requests`` cold
``/predict`` requests (every text unique: each one reaches Triton), closed loop, and reports
p50 / p99 / p99.9 / max, how many took over 100 ms and the errors. ``--target triton-grpc``
loads Triton's gRPC port directly instead.

    .venv/bin/python benchmarks/tail_latency.py [--requests 100000] [--concurrency 1 16]

Writes ``benchmarks/results/tail_latency.json``. The issue's target: p99.9 < 20 ms at
c=1 and c=16 over 100,000 requests.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console

from mlserve.benchmarking.config import BenchmarkConfig
from mlserve.benchmarking.local_stack import local_stack
from mlserve.benchmarking.targets import make_target
from mlserve.benchmarking.workload import TextWorkload, default_texts

RESULTS = Path(__file__).parent / "results"
QUEUE_POLICY = {"MLSERVE_TRITON__MAX_QUEUE_SIZE": "256", "MLSERVE_TRITON__QUEUE_TIMEOUT_MS": "5000"}
TARGET_P999_MS = 20.0
console = Console()


async def closed_loop(config: BenchmarkConfig, concurrency: int, requests: int) -> dict[str, float]:
    """Exactly ``requests`` requests from ``concurrency`` clients, each sending its next one
    when the previous answers; latency figures in ms."""
    workload = TextWorkload(default_texts(), unique_ratio=1.0, pool_size=32, seed=concurrency)
    texts = workload.take(requests)
    latencies = np.zeros(requests)
    errors: dict[str, int] = {}
    next_index = 0
    async with make_target(config, max_connections=concurrency) as target:
        await target.check()
        warm = TextWorkload(default_texts(), unique_ratio=1.0, pool_size=32, seed=-1)
        for text in warm.take(200):  # connections, first calls: not what is measured
            await target.send([text])

        async def client() -> None:
            nonlocal next_index
            while next_index < requests:
                i = next_index
                next_index += 1
                outcome = await target.send([texts[i]])
                latencies[i] = outcome.latency_s * 1000
                if outcome.error:
                    errors[outcome.error] = errors.get(outcome.error, 0) + 1

        # The load generator's own garbage collections would pause every client at once and
        # be booked as server latency: collected before, off while measuring.
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
        finally:
            gc.enable()
    p50, p99, p999 = np.percentile(latencies, [50, 99, 99.9])
    return {
        "concurrency": concurrency,
        "requests": requests,
        "req_per_s": requests / elapsed,
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "p999_ms": float(p999),
        "max_ms": float(latencies.max()),
        "over_100ms": int((latencies > 100).sum()),
        "errors": sum(errors.values()),
        "error_kinds": errors,  # type: ignore[dict-item]
    }


def main() -> None:
    args = _parse_args()
    env = QUEUE_POLICY if args.queue_policy else {}
    results = []
    with tempfile.TemporaryDirectory(prefix="mlserve-tail-") as tmp:
        console.print("starting mlserve up (sample models, embedded Triton) ...")
        with local_stack(Path(tmp), env=env) as stack:
            url = stack.url if args.target == "control-plane" else stack.triton_grpc
            config = BenchmarkConfig(
                target=args.target, url=url, model="sentiment", request_timeout_s=30.0
            )
            for concurrency in args.concurrency:
                result = asyncio.run(closed_loop(config, concurrency, args.requests))
                verdict = "meets" if result["p999_ms"] < TARGET_P999_MS else "MISSES"
                console.print(
                    f"c={concurrency} {args.requests:,} requests: "
                    f"{result['req_per_s']:,.0f} req/s, "
                    f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
                    f"p99.9 {result['p999_ms']:.2f} ms, max {result['max_ms']:.1f} ms, "
                    f"{result['over_100ms']} over 100 ms, {result['errors']} errors "
                    f"({verdict} p99.9 < {TARGET_P999_MS:g} ms)"
                )
                results.append(result)
    RESULTS.mkdir(exist_ok=True)
    out = {
        "format": "mlserve.tail_latency/1",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "target": args.target,
        "queue_policy": args.queue_policy,
        "results": results,
    }
    name = "tail_latency" + ("_queue_policy" if args.queue_policy else "") + ".json"
    (RESULTS / name).write_text(json.dumps(out, indent=2))


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument(
        "--target", choices=["control-plane", "triton-grpc"], default="control-plane"
    )
    parser.add_argument(
        "--queue-policy",
        action="store_true",
        help="publish with the former default queue policy (256 / 5000 ms) for comparison",
    )
    return parser.parse_args()


if __name__ == "__main__":
    main()
