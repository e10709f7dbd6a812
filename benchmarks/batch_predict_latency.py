"""Latency of ``/batch-predict`` with 10 texts (issue 2's figure), cold and warm cache.

Starts its own stack with ``mlserve up`` (temp repository, free ports, sample models) unless
``--url`` points at a running one, sends sequential requests and prints percentiles.

    .venv/bin/python benchmarks/batch_predict_latency.py [--requests 500] [--url http://...]

Writes ``benchmarks/results/batch_predict_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from mlserve.benchmarking.local_stack import local_stack

RESULTS = Path(__file__).parent / "results"
WORDS = ["great", "awful", "fine", "battery", "screen", "delivery", "support", "price"]


@contextmanager
def running_stack(url: str | None) -> Iterator[str]:
    """A control plane URL: the given one, or a fresh ``mlserve up`` stopped afterwards."""
    if url:
        yield url
        return
    with local_stack(Path(tempfile.mkdtemp(prefix="mlserve-bench-"))) as started:
        yield started.url


def measure(client: httpx.Client, requests: int, *, unique: bool) -> dict[str, float]:
    latencies = []
    for i in range(requests + 20):
        key = i if unique else i % 5
        texts = [
            f"the {WORDS[(key + j) % 8]} is {WORDS[j % 8]} number {key} {j}" for j in range(10)
        ]
        started = time.perf_counter()
        response = client.post("/batch-predict", json={"texts": texts})
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        if i >= 20:  # warm-up
            latencies.append(elapsed)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    return {
        "requests": requests,
        "p50_ms": round(pick(0.50), 3),
        "p90_ms": round(pick(0.90), 3),
        "p99_ms": round(pick(0.99), 3),
        "mean_ms": round(statistics.fmean(latencies), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="control plane to measure (default: start one)")
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with running_stack(args.url) as base, httpx.Client(base_url=base, timeout=30) as client:
        results = {
            "benchmark": "batch_predict_latency",
            "texts_per_request": 10,
            "cold_cache": measure(client, args.requests, unique=True),
            "warm_cache": measure(client, args.requests, unique=False),
        }
    print(f"/batch-predict, 10 texts, {args.requests} sequential requests")
    for name in ("cold_cache", "warm_cache"):
        r = results[name]
        print(
            f"  {name:10s}  p50 {r['p50_ms']:7.2f} ms  p90 {r['p90_ms']:7.2f} ms  "
            f"p99 {r['p99_ms']:7.2f} ms"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "batch_predict_latency.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
