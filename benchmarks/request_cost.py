"""The control plane's own cost per ``/predict`` request, in-process: cold and warm cache.

Starts ``mlserve up`` (embedded Triton, sample models, no queue policy) for its Triton, then
builds the control plane app in this process in front of that Triton and sends ``/predict``
bodies straight into it as ASGI calls (:mod:`mlserve.benchmarking.in_process`): no
sockets, no uvicorn, no load generator sharing the cores. ``cold``: every input unique;
``warm``: a pool of 32 inputs answered once before. ``--model sentiment`` (the default)
sends texts, ``--model iris`` the tabular sample's records of four random measurements.
Reports this process's CPU µs per request (the handler, its share of the coalesced Triton
calls, cache, metrics and the monitoring that runs on the loop) and, under callgrind,
user-space instructions per request, which do not move with a shared VM's speed (about
1.5% apart between identical runs on 2 cores, where CPU time moved 10%): compare code
changes with those.

    .venv/bin/python benchmarks/request_cost.py [--requests 8000] [--concurrency 16]
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python benchmarks/request_cost.py --requests 1500 --no-drift [--model iris]

Drift sampling is capped per second of wall time, so under callgrind (~50x slower) every
prediction is sampled: pass ``--no-drift`` there to leave the recorder out of both.
The figures include the driver's own work (building bodies, ASGI messages), about 10% of a
cache hit. Writes ``benchmarks/results/request_cost.json`` (``request_cost_iris.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from mlserve.benchmarking.in_process import Cost, callgrind_instructions, drive
from mlserve.benchmarking.local_stack import external_triton_env, local_stack
from mlserve.benchmarking.workload import TextWorkload, default_texts
from mlserve.control_plane.app import create_app
from mlserve.samples.iris import FEATURES, IRIS_NAME
from mlserve.settings import Settings

RESULTS = Path(__file__).parent / "results"
TEXT_MODEL = "sentiment"
POOL_SIZE = 32
NO_QUEUE_POLICY = {"MLSERVE_TRITON__MAX_QUEUE_SIZE": "0", "MLSERVE_TRITON__QUEUE_TIMEOUT_MS": "0"}


class TextBodies:
    """``/predict`` bodies for the text sample: unique texts (cold) or a pool's (warm)."""

    def __init__(self) -> None:
        self._cold = TextWorkload(default_texts(), unique_ratio=1.0, pool_size=POOL_SIZE, seed=1)
        self._warm = TextWorkload(default_texts(), unique_ratio=0.0, pool_size=POOL_SIZE, seed=1)
        self.pool = [self._body(text) for text in self._warm.pool]

    def cold(self, n: int) -> list[bytes]:
        return [self._body(text) for text in self._cold.take(n)]

    def warm(self, n: int) -> list[bytes]:
        return [self._body(text) for text in self._warm.take(n)]

    @staticmethod
    def _body(text: str) -> bytes:
        return orjson.dumps({"text": text, "model": TEXT_MODEL})


class IrisBodies:
    """``/predict`` bodies for the tabular sample: records of four random measurements
    (cm, 3 decimals), a new one each (cold) or drawn from a pool of ``POOL_SIZE`` (warm)."""

    def __init__(self) -> None:
        self._rng = random.Random(1)
        self.pool = [self._body() for _ in range(POOL_SIZE)]

    def cold(self, n: int) -> list[bytes]:
        return [self._body() for _ in range(n)]

    def warm(self, n: int) -> list[bytes]:
        return [self._rng.choice(self.pool) for _ in range(n)]

    def _body(self) -> bytes:
        features = {name: round(self._rng.uniform(0.1, 8.0), 3) for name in FEATURES}
        return orjson.dumps({"model": IRIS_NAME, "features": features})


async def measure(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Cold, then warm: CPU (and instructions) per request of each."""
    app = create_app(settings)
    workload = IrisBodies() if args.model == IRIS_NAME else TextBodies()
    results: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        if args.no_drift:
            app.state.stack.recorder = app.state.stack.dataplane.observer.recorder = None
        await drive(app, "/predict", workload.cold(300), concurrency=args.concurrency)
        await drive(app, "/predict", workload.pool, concurrency=1)
        for scenario, bodies in (
            ("cold", workload.cold(args.requests)),
            ("warm", workload.warm(args.requests)),
        ):
            with callgrind_instructions() as counted:
                cost = await drive(app, "/predict", bodies, concurrency=args.concurrency)
            results[scenario] = figures(cost, counted.instructions)
            print(f"{scenario}: {describe(results[scenario])}", flush=True)
    return results


def figures(cost: Cost, instructions: int | None) -> dict[str, Any]:
    return {
        "requests": cost.requests,
        "cpu_us_per_request": round(cost.cpu_us_per_request, 1),
        "wall_us_per_request": round(cost.wall_us_per_request, 1),
        "instructions_per_request": (
            round(instructions / cost.requests) if instructions is not None else None
        ),
    }


def describe(figures: dict[str, Any]) -> str:
    text = f"{figures['cpu_us_per_request']} µs CPU per request"
    if figures["instructions_per_request"] is not None:
        text += f", {figures['instructions_per_request']:,} instructions per request"
    return text + f" ({figures['requests']} requests)"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=8000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--model",
        choices=[TEXT_MODEL, IRIS_NAME],
        default=TEXT_MODEL,
        help="the text sample or the tabular one",
    )
    parser.add_argument(
        "--no-drift", action="store_true", help="leave the drift recorder out (callgrind)"
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    if args.output is None:
        suffix = "" if args.model == TEXT_MODEL else f"_{args.model}"
        args.output = RESULTS / f"request_cost{suffix}.json"
    folder = Path(tempfile.mkdtemp(prefix="mlserve-request-cost-"))
    print(f"starting mlserve up in {folder} for its Triton ...", flush=True)
    with local_stack(folder, env=NO_QUEUE_POLICY) as stack:
        os.environ.update(
            external_triton_env(
                stack.triton_grpc, stack.triton_http, stack.triton_metrics, stack.models_dir
            )
            | NO_QUEUE_POLICY
            | {"MLSERVE_AUTH__STATE_PATH": str(folder / "in-process.sqlite3")}
        )
        results = asyncio.run(measure(Settings(), args))
    doc = {
        "format": "mlserve.request_cost/1",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "model": args.model,
        "concurrency": args.concurrency,
        "drift_recorder": not args.no_drift,
        "scenarios": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
