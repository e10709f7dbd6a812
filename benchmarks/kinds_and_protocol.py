"""Every kind and the Open Inference Protocol against their baselines, in one run.

Starts ``mlserve up`` (sample models: ``sentiment`` text, ``iris`` tabular, ``iris-rules``
custom Python; no Triton queue policy, as ``compare_serving.py --no-queue-policy``) and,
at one concurrency, sends every request unique (cache misses) through:

* ``tabular-predict``: ``POST /predict {"model": "iris", "features": {...}}``;
* ``tabular-triton-http``: Triton's own HTTP infer for ``iris`` (binary FP64 ``input``);
* ``tabular-v2``: the control plane's Open Inference Protocol for ``iris`` (JSON tensors);
* ``text-predict`` / ``text-v2``: ``sentiment`` through ``/predict`` and the protocol;
* ``custom-predict``: ``iris-rules`` (the user's Python in Triton's Python backend).

Scenarios run in turn, ``--rounds`` times (medians reported), so a slow spell of a shared
machine hits one round, not one path. Prints the ratios the data-plane issue sets targets
for: tabular ``/predict`` / Triton HTTP (>= 0.60) and protocol / ``/predict`` (>= 0.80).

    .venv/bin/python benchmarks/kinds_and_protocol.py [--concurrency 16] [--requests 6000]
        [--rounds 3] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

from mlserve.benchmarking.local_stack import local_stack
from mlserve.http1 import Http1Client
from mlserve.triton.tensors import http_request

NO_QUEUE_POLICY = {"MLSERVE_TRITON__MAX_QUEUE_SIZE": "0", "MLSERVE_TRITON__QUEUE_TIMEOUT_MS": "0"}
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
WORDS = ["good", "bad", "great", "awful", "fine", "slow", "quick", "broken", "lovely"]
Request = tuple[str, bytes, dict[str, str] | None]


def record(rng: random.Random) -> list[float]:
    return [round(rng.uniform(0.1, 8.0), 3) for _ in FEATURES]


def text(rng: random.Random, i: int) -> str:
    return f"{' '.join(rng.choice(WORDS) for _ in range(6))} #{i}"


def scenarios(seed: int) -> dict[str, tuple[str, Callable[[int], Request]]]:
    """name -> (which server: api or triton, request i)."""
    rng = random.Random(seed)

    def tabular_predict(i: int) -> Request:
        features = dict(zip(FEATURES, record(rng), strict=True))
        return "/predict", orjson.dumps({"model": "iris", "features": features}), None

    def custom_predict(i: int) -> Request:
        features = dict(zip(FEATURES, record(rng), strict=True))
        return "/predict", orjson.dumps({"model": "iris-rules", "features": features}), None

    def tabular_triton(i: int) -> Request:
        inputs = {"input": np.array([record(rng)], dtype=np.float64)}  # iris takes FP64
        body, length = http_request(inputs, ["probabilities"])
        headers = {"inference-header-content-length": str(length)}
        return "/v2/models/iris/infer", body, headers

    def tabular_v2(i: int) -> Request:
        document = {
            "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": record(rng)}],
            "outputs": [{"name": "label"}],
        }
        return "/v2/models/iris/infer", orjson.dumps(document), None

    def text_predict(i: int) -> Request:
        return "/predict", orjson.dumps({"text": text(rng, i)}), None

    def text_v2(i: int) -> Request:
        document = {
            "inputs": [
                {"name": "text", "datatype": "BYTES", "shape": [1, 1], "data": [text(rng, i)]}
            ],
            "outputs": [{"name": "label"}],
        }
        return "/v2/models/sentiment/infer", orjson.dumps(document), None

    return {
        "tabular-predict": ("api", tabular_predict),
        "tabular-triton-http": ("triton", tabular_triton),
        "tabular-v2": ("api", tabular_v2),
        "custom-predict": ("api", custom_predict),
        "text-predict": ("api", text_predict),
        "text-v2": ("api", text_v2),
    }


async def drive(
    client: Http1Client, make: Callable[[int], Request], requests: int, concurrency: int
) -> tuple[float, float, int]:
    """Throughput (req/s), p50 latency (ms) and errors of ``requests`` at ``concurrency``."""
    bodies = [make(i) for i in range(requests)]
    latencies: list[float] = []
    errors = 0
    cursor = iter(bodies)

    async def worker() -> None:
        nonlocal errors
        for path, body, headers in cursor:
            started = time.perf_counter()
            response = await client.post(path, body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return requests / elapsed, statistics.median(latencies) * 1000, errors


async def run(args: argparse.Namespace, api: str, triton: str) -> dict[str, list[float]]:
    clients = {"api": Http1Client(api), "triton": Http1Client(triton)}
    throughput: dict[str, list[float]] = {}
    try:
        for round_ in range(args.rounds):
            for name, (server, make) in scenarios(seed=round_).items():
                client = clients[server]
                await drive(client, make, min(500, args.requests), args.concurrency)  # warm up
                rate, p50, errors = await drive(client, make, args.requests, args.concurrency)
                throughput.setdefault(name, []).append(rate)
                print(
                    f"round {round_ + 1} {name:<20} {rate:8.0f} req/s  p50 {p50:6.2f} ms  "
                    f"errors {errors}",
                    flush=True,
                )
    finally:
        for client in clients.values():
            await client.aclose()
    return throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=None, help="control-plane workers (default: server.workers)"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        local_stack(Path(folder), workers=args.workers, env=NO_QUEUE_POLICY) as stack,
    ):
        results = asyncio.run(run(args, stack.url, stack.triton_http))
    med = {name: statistics.median(rates) for name, rates in results.items()}
    print(f"\nmedians over {args.rounds} rounds at c={args.concurrency} (req/s):")
    for name, rate in med.items():
        print(f"  {name:<20} {rate:8.0f}")
    ratios = {
        "tabular /predict / Triton HTTP (target >= 0.60)": (
            med["tabular-predict"] / med["tabular-triton-http"]
        ),
        "tabular protocol / /predict (target >= 0.80)": med["tabular-v2"] / med["tabular-predict"],
        "text protocol / /predict (target >= 0.80)": med["text-v2"] / med["text-predict"],
        "custom /predict / tabular /predict": med["custom-predict"] / med["tabular-predict"],
    }
    for label, value in ratios.items():
        print(f"  {label:<52} {value:5.2f}")


if __name__ == "__main__":
    main()
