"""The control plane's own cost per ``/predict`` request, in-process: cold and warm cache.

Starts ``mlserve up`` (embedded Triton, sample models, no queue policy) for its Triton, then
builds the control plane app in this process in front of that Triton and sends ``/predict``
bodies straight into it as ASGI calls (:mod:`mlserve.benchmarking.in_process`): no
sockets, no uvicorn, no load generator sharing the cores. ``cold``: every text unique;
``warm``: a pool of 32 texts answered once before. Reports this process's CPU µs per
request (the handler, its share of the coalesced Triton calls, cache, metrics and the
monitoring that runs on the loop) and, under callgrind, user-space instructions per
request, which do not move with a shared VM's speed (about 1.5% apart between identical
runs on 2 cores, where CPU time moved 10%): compare code changes with those.

    .venv/bin/python benchmarks/request_cost.py [--requests 8000] [--concurrency 16]
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python benchmarks/request_cost.py --requests 1500

Drift sampling is capped per second of wall time, so under callgrind (~50x slower) every
prediction is sampled: pass ``--no-drift`` there to leave the recorder out of both.
The figures include the driver's own work (building bodies, ASGI messages), about 10% of a
cache hit. Writes ``benchmarks/results/request_cost.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
from mlserve.settings import Settings

RESULTS = Path(__file__).parent / "results"
MODEL = "sentiment"
POOL_SIZE = 32
NO_QUEUE_POLICY = {"MLSERVE_TRITON__MAX_QUEUE_SIZE": "0", "MLSERVE_TRITON__QUEUE_TIMEOUT_MS": "0"}


def bodies(texts: list[str]) -> list[bytes]:
    return [orjson.dumps({"text": text, "model": MODEL}) for text in texts]


async def measure(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Cold, then warm: CPU (and instructions) per request of each."""
    app = create_app(settings)
    cold_texts = TextWorkload(default_texts(), unique_ratio=1.0, pool_size=POOL_SIZE, seed=1)
    warm = TextWorkload(default_texts(), unique_ratio=0.0, pool_size=POOL_SIZE, seed=1)
    results: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        if args.no_drift:
            app.state.stack.recorder = app.state.stack.dataplane.observer.recorder = None
        await drive(app, "/predict", bodies(cold_texts.take(300)), concurrency=args.concurrency)
        await drive(app, "/predict", bodies(warm.pool), concurrency=1)
        for scenario, texts in (
            ("cold", cold_texts.take(args.requests)),
            ("warm", warm.take(args.requests)),
        ):
            with callgrind_instructions() as counted:
                cost = await drive(app, "/predict", bodies(texts), concurrency=args.concurrency)
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
        "--no-drift", action="store_true", help="leave the drift recorder out (callgrind)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "request_cost.json")
    args = parser.parse_args()
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
        "concurrency": args.concurrency,
        "drift_recorder": not args.no_drift,
        "scenarios": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
