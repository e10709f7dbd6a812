"""Call coalescing on and off, side by side on one Triton, in interleaved rounds.

Starts ``mlserve up`` (embedded Triton, sample models; ``triton.calls_in_flight`` at its
default) and a second control plane on the same Triton with ``calls_in_flight=0`` (every
request its own Triton call). Each round measures, at each concurrency level and in turn,
Triton HTTP directly, the coalescing control plane and the direct one, all with unique
texts (cold cache); the order rotates every round. Medians over the rounds are compared, so
a slow spell of this shared machine hits every path alike.

    .venv/bin/python benchmarks/call_coalescing.py [--rounds 5] [--concurrency 1 16]

``--triton-grpc``, ``--triton-http`` and ``--models-dir`` put both control planes in front
of a running Triton instead.

Prints a table and writes ``benchmarks/results/call_coalescing.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from mlserve.benchmarking import BenchmarkConfig, StepResult, arun_benchmark
from mlserve.benchmarking.local_stack import external_triton_env, local_stack, mlserve_up

MODEL = "sentiment"
PATHS = ("triton-http", "coalesced", "direct")
console = Console(width=150)


@dataclass(frozen=True)
class Planes:
    """Triton and the two control planes in front of it."""

    triton_http: str
    coalesced: str
    direct: str


@contextlib.contextmanager
def planes(args: argparse.Namespace) -> Iterator[Planes]:
    """Two control planes (default ``calls_in_flight`` and 0) on one Triton: the given one,
    or that of a fresh ``mlserve up`` (which is then the coalescing plane)."""
    folder = Path(tempfile.mkdtemp(prefix="mlserve-coalescing-"))
    if args.triton_grpc:
        triton = (args.triton_grpc, args.triton_http, args.triton_metrics, Path(args.models_dir))
        with (
            mlserve_up(plane_env(*triton), _workdir(folder, "coalesced")) as coalesced,
            mlserve_up(plane_env(*triton, calls="0"), _workdir(folder, "direct")) as direct,
        ):
            yield Planes(args.triton_http, coalesced, direct)
        return
    console.print(f"starting mlserve up in {folder} and a direct control plane ...")
    with local_stack(folder) as stack:
        triton = (stack.triton_grpc, stack.triton_http, stack.triton_metrics, stack.models_dir)
        with mlserve_up(plane_env(*triton, calls="0"), _workdir(folder, "direct")) as direct:
            yield Planes(stack.triton_http, stack.url, direct)


def plane_env(
    grpc: str, http: str, metrics: str | None, models_dir: Path, calls: str | None = None
) -> dict[str, str]:
    env = external_triton_env(grpc, http, metrics, models_dir)
    if calls is not None:
        env["MLSERVE_TRITON__CALLS_IN_FLIGHT"] = calls
    return env


def _workdir(folder: Path, name: str) -> Path:
    (folder / name).mkdir()
    return folder / name


async def measure(
    path: str, url: str, ends: Planes, concurrency: int, window_s: float
) -> StepResult:
    [step] = await arun_benchmark(
        BenchmarkConfig(
            target="triton-http" if path == "triton-http" else "control-plane",
            url=url,
            model=MODEL,
            concurrency=str(concurrency),
            window_s=window_s,
            max_windows=3,
            stability_pct=10.0,
            triton_http_url=ends.triton_http,
        )
    )
    return step


async def run(args: argparse.Namespace, ends: Planes) -> dict[str, Any]:
    urls = {"triton-http": ends.triton_http, "coalesced": ends.coalesced, "direct": ends.direct}
    samples: dict[tuple[str, int], list[dict[str, float]]] = {}
    for round_no in range(args.rounds):
        order = PATHS[round_no % 3 :] + PATHS[: round_no % 3]
        for concurrency in args.concurrency:
            for path in order:
                step = await measure(path, urls[path], ends, concurrency, args.window_s)
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
    parser.add_argument("--triton-grpc", help="an existing Triton's gRPC host:port")
    parser.add_argument("--triton-http", help="its HTTP URL (with --triton-grpc)")
    parser.add_argument("--triton-metrics", help="its metrics URL (optional)")
    parser.add_argument("--models-dir", help="its model repository (with --triton-grpc)")
    args = parser.parse_args()
    if args.triton_grpc and not (args.triton_http and args.models_dir):
        raise SystemExit("--triton-grpc needs --triton-http and --models-dir")
    with planes(args) as ends:
        for url in (ends.coalesced, ends.direct):
            httpx.post(f"{url}/predict", json={"text": "warm up"}).raise_for_status()
        result = asyncio.run(run(args, ends))
    show(result)
    document = {
        "format": "mlserve.call_coalescing/1",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["benchmarks/call_coalescing.py", *sys.argv[1:]]),
        "environment": {k: v for k, v in os.environ.items() if k.startswith("MLSERVE_")},
        "rounds": args.rounds,
        **result,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    console.print(f"written: {args.output}")


if __name__ == "__main__":
    main()
