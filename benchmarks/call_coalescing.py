"""Call coalescing on and off, side by side on one Triton, in interleaved rounds.

Starts ``mlserve up`` (embedded Triton, sample models; ``triton.calls_in_flight`` at its
default) and a second control plane on the same Triton with ``calls_in_flight=0`` (every
request its own Triton call). Each round measures, at each concurrency level and in turn,
Triton HTTP directly, the coalescing control plane and the direct one, all with unique
texts (cold cache); the order rotates every round. Medians over the rounds are compared, so
a slow spell of this shared machine hits every path alike.

    .venv/bin/python benchmarks/call_coalescing.py [--rounds 5] [--concurrency 1 16]

Prints a table and writes ``benchmarks/results/call_coalescing.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from mlserve.benchmarking import BenchmarkConfig, StepResult, arun_benchmark
from mlserve.benchmarking.local_stack import LocalStack, local_stack, mlserve_up

MODEL = "sentiment"
PATHS = ("triton-http", "coalesced", "direct")
console = Console(width=150)


async def measure(
    path: str, url: str, stack: LocalStack, concurrency: int, window_s: float
) -> StepResult:
    target = "triton-http" if path == "triton-http" else "control-plane"
    [step] = await arun_benchmark(
        BenchmarkConfig(
            target=target,
            url=url,
            model=MODEL,
            concurrency=str(concurrency),
            window_s=window_s,
            max_windows=3,
            stability_pct=10.0,
            triton_http_url=stack.triton_http,
        )
    )
    return step


async def run(args: argparse.Namespace, stack: LocalStack, direct_url: str) -> dict[str, Any]:
    urls = {"triton-http": stack.triton_http, "coalesced": stack.url, "direct": direct_url}
    samples: dict[tuple[str, int], list[dict[str, float]]] = {}
    for round_no in range(args.rounds):
        order = PATHS[round_no % 3 :] + PATHS[: round_no % 3]
        for concurrency in args.concurrency:
            for path in order:
                step = await measure(path, urls[path], stack, concurrency, args.window_s)
                samples.setdefault((path, concurrency), []).append(
                    {
                        "throughput": step.throughput,
                        "p50_ms": step.p50_ms or 0.0,
                        "p99_ms": step.p99_ms or 0.0,
                        "errors": float(step.errors),
                        "server_avg_batch_size": (
                            step.server.avg_batch_size or 0.0 if step.server else 0.0
                        ),
                    }
                )
        console.print(f"round {round_no + 1}/{args.rounds} done")
    medians = {
        f"{path}@c{c}": {key: statistics.median(s[key] for s in runs) for key in runs[0]}
        for (path, c), runs in samples.items()
    }
    ratios: dict[str, float] = {}
    for c in args.concurrency:
        coalesced, direct = medians[f"coalesced@c{c}"], medians[f"direct@c{c}"]
        http = medians[f"triton-http@c{c}"]
        ratios[f"coalesced_over_direct_throughput_c{c}"] = (
            coalesced["throughput"] / direct["throughput"]
        )
        ratios[f"coalesced_over_triton_http_throughput_c{c}"] = (
            coalesced["throughput"] / http["throughput"]
        )
        ratios[f"direct_over_triton_http_throughput_c{c}"] = (
            direct["throughput"] / http["throughput"]
        )
        ratios[f"coalesced_minus_direct_p50_ms_c{c}"] = coalesced["p50_ms"] - direct["p50_ms"]
    return {
        "samples": {f"{p}@c{c}": runs for (p, c), runs in samples.items()},
        "medians": medians,
        "ratios": ratios,
    }


def show(result: dict[str, Any]) -> None:
    table = Table(title="medians over rounds (cold cache, unique texts)")
    for column in ("path", "req/s", "p50 ms", "p99 ms", "Triton batch", "errors"):
        table.add_column(column, justify="right" if column != "path" else "left")
    for name, m in result["medians"].items():
        table.add_row(
            name,
            f"{m['throughput']:.1f}",
            f"{m['p50_ms']:.2f}",
            f"{m['p99_ms']:.2f}",
            f"{m['server_avg_batch_size']:.2f}",
            f"{m['errors']:.0f}",
        )
    console.print(table)
    for name, value in result["ratios"].items():
        console.print(f"  {name:48s} {value:8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--window-s", type=float, default=2.0)
    parser.add_argument(
        "--output", type=Path, default=Path("benchmarks/results/call_coalescing.json")
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mlserve-coalescing-"))
    console.print(f"starting mlserve up in {folder} and a direct control plane ...")
    with local_stack(folder) as stack:
        env = {
            "MLSERVE_MODELS_DIR": str(stack.models_dir),
            "MLSERVE_TRITON_URL": stack.triton_grpc,
            "MLSERVE_TRITON__HTTP_URL": stack.triton_http,
            "MLSERVE_TRITON__METRICS_URL": stack.triton_metrics,
            "MLSERVE_TRITON__CALLS_IN_FLIGHT": "0",
        }
        workdir = folder / "direct"
        workdir.mkdir()
        with mlserve_up(env, workdir) as direct_url:
            httpx.post(f"{direct_url}/predict", json={"text": "warm up"}).raise_for_status()
            result = asyncio.run(run(args, stack, direct_url))
    show(result)
    document = {
        "format": "mlserve.call_coalescing/1",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "benchmarks/call_coalescing.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "output"),
        "rounds": args.rounds,
        **result,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    console.print(f"written: {args.output}")


if __name__ == "__main__":
    main()
