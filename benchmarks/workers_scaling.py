"""Cold ``/predict`` with 1 and 2 (or more) control-plane workers, CPU per request per process.

For each worker count (interleaved over ``--rounds`` so a slow spell of a shared machine
does not hit one count only) starts ``mlserve up --workers N`` (free ports, temp
repository, sample models, embedded Triton), loads cold ``/predict`` (every text unique)
at ``--concurrency`` (64), and reads from ``/proc`` the CPU time of every process of the
stack over the measured run: each worker, the ``mlserve up`` parent, ``tritonserver``, the
Python-backend stubs, and the load generator. Prints throughput, p50/p99, µs of CPU per
request per process, the ratio of N workers to one, and a projection: how many workers keep
a 16-core host's Triton busy, from the measured CPU per request of the control plane and of
Triton (load generator elsewhere).

The load generator shares the cores with the stack. ``--load-generator wrk`` (the default;
a C program, ``make system-packages`` installs it, :mod:`mlserve.benchmarking.wrk`) runs
``--seconds`` per measurement and costs ~25 µs of CPU per request here;
``--load-generator mlserve`` is ``mlserve benchmark``'s Python generator (windows until
stable), ~55-60 µs per request, which leaves a second worker less of the cores.

    .venv/bin/python benchmarks/workers_scaling.py [--workers 1 2] [--rounds 3]
        [--concurrency 64] [--load-generator wrk|mlserve] [--seconds 10]

Writes ``benchmarks/results/workers_scaling.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from mlserve.benchmarking import BenchmarkConfig, arun_benchmark
from mlserve.benchmarking.local_stack import local_stack
from mlserve.benchmarking.measurement import STABILITY_WINDOWS
from mlserve.benchmarking.process_cpu import PROC, descendants, parse_stat
from mlserve.benchmarking.runner import BenchmarkProgress
from mlserve.benchmarking.wrk import WrkRun, run_wrk, write_bodies

RESULTS = Path(__file__).parent / "results"
TICKS = float(os.sysconf("SC_CLK_TCK"))
console = Console()


def process_cpu(root: int) -> dict[str, float]:
    """CPU seconds so far of ``root`` and every process below it, keyed ``name:pid``, plus
    this process as ``load_generator``."""
    stats = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stats.append(parse_stat((entry / "stat").read_text(), TICKS))
            except (OSError, ValueError, IndexError):
                continue
    cpu = {f"{s.name}:{s.pid}": s.cpu_s for s in descendants([root], stats)}
    cpu["load_generator"] = time.process_time()
    return cpu


class Marks:
    """Per-process CPU readings at each window boundary of one step."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.marks: list[tuple[int, int, dict[str, float]]] = []

    def on_progress(self, event: BenchmarkProgress) -> None:
        if event.result is None:
            self.marks.append((event.windows, event.completed, process_cpu(self.root)))

    def per_request(self, windows: int) -> dict[str, float]:
        first = windows - min(STABILITY_WINDOWS, windows)
        start = next(m for m in self.marks if m[0] == first)
        end = next(m for m in reversed(self.marks) if m[0] == windows)
        requests = end[1] - start[1]
        return {
            name: round((end[2][name] - start[2].get(name, 0.0)) / requests * 1e6, 1)
            for name in end[2]
            if end[2][name] - start[2].get(name, 0.0) > 0
        }


def roles(cpu_us: dict[str, float], stack_pid: int) -> dict[str, float]:
    """µs per request by role: workers (summed), parent, tritonserver, stubs, load generator."""
    out = {"workers": 0.0, "mlserve_up": 0.0, "tritonserver": 0.0, "stubs": 0.0}
    for key, value in cpu_us.items():
        name, _, pid = key.partition(":")
        if key == "load_generator":
            out["load_generator"] = value
        elif name == "tritonserver":
            out["tritonserver"] += value
        elif name.startswith("triton_python"):
            out["stubs"] += value
        elif pid == str(stack_pid):
            out["mlserve_up"] += value
        else:
            out["workers"] += value
    return {k: round(v, 1) for k, v in out.items()}


WORDS = ["good", "bad", "great", "awful", "fine", "slow", "quick", "broken", "lovely", "ok"]
BODIES = 400_000
"""Unique bodies in wrk's file: a run (~15,000 req/s at most here) and its warm-up never
wrap around."""


def text_bodies(path: Path) -> Path:
    """``BODIES`` cold ``/predict`` bodies for the text sample, each text unique."""
    rng = random.Random(7)
    return write_bodies(
        path,
        (
            orjson.dumps({"text": f"{' '.join(rng.choices(WORDS, k=6))} #{i}"})
            for i in range(BODIES)
        ),
    )


def measure_wrk(url: str, stack_pid: int, bodies: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One wrk run of ``--seconds`` (after a 3 s warm-up on other bodies) and the CPU of
    every process over it."""
    run_wrk(WrkRun(url, "/predict", bodies, connections=16, seconds=3, start=BODIES // 2))
    before = process_cpu(stack_pid)
    result = run_wrk(WrkRun(url, "/predict", bodies, args.concurrency, args.seconds))
    after = process_cpu(stack_pid)
    requests = max(result.requests, 1)
    cpu = {
        name: round((after[name] - before.get(name, 0.0)) / requests * 1e6, 1)
        for name in after
        if name != "load_generator" and after[name] - before.get(name, 0.0) > 0
    }
    cpu["load_generator"] = round(result.cpu_s / requests * 1e6, 1)
    return {
        "req_per_s": result.req_per_s,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "errors": result.errors,
        "cpu_us_per_request": cpu,
        "cpu_us_by_role": roles(cpu, stack_pid),
    }


async def measure(url: str, stack_pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """``mlserve benchmark``'s load generator: windows until stable; CPU over the last
    ``STABILITY_WINDOWS``."""
    marks = Marks(stack_pid)
    config = BenchmarkConfig(
        url=url,
        model="sentiment",
        concurrency=str(args.concurrency),
        window_s=args.window_s,
        stability_pct=args.stability_pct,
        max_windows=args.max_windows,
        unique_ratio=1.0,
    )
    warm = BenchmarkConfig(
        url=url, model="sentiment", concurrency="16", window_s=2.0, max_windows=3
    )
    await arun_benchmark(warm)
    [step] = await arun_benchmark(config, marks.on_progress)
    cpu = marks.per_request(step.windows)
    return {
        "req_per_s": step.throughput,
        "p50_ms": step.p50_ms,
        "p99_ms": step.p99_ms,
        "errors": step.errors,
        "cpu_us_per_request": cpu,
        "cpu_us_by_role": roles(cpu, stack_pid),
    }


def main() -> None:
    args = parse_args()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mlserve-workers-bodies-") as bodies_dir:
        bodies = text_bodies(Path(bodies_dir) / "bodies") if args.load_generator == "wrk" else None
        for round_no in range(args.rounds):
            order = args.workers if round_no % 2 == 0 else list(reversed(args.workers))
            for workers in order:
                runs.append(run_one(workers, round_no, bodies, args))
    summary = summarize(runs, args)
    RESULTS.mkdir(exist_ok=True)
    out = {
        "format": "mlserve.workers_scaling/1",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "concurrency": args.concurrency,
        "load_generator": args.load_generator,
        "runs": runs,
        "summary": summary,
    }
    (RESULTS / "workers_scaling.json").write_text(json.dumps(out, indent=2))


def run_one(
    workers: int, round_no: int, bodies: Path | None, args: argparse.Namespace
) -> dict[str, Any]:
    """One measurement on a fresh ``mlserve up --workers N``, printed."""
    with tempfile.TemporaryDirectory(prefix="mlserve-workers-") as tmp:
        console.print(f"round {round_no + 1}: mlserve up --workers {workers} ...")
        with local_stack(Path(tmp), workers=workers) as stack:
            if bodies is not None:
                result = measure_wrk(stack.url, stack.pid, bodies, args)
            else:
                result = asyncio.run(measure(stack.url, stack.pid, args))
    result.update(workers=workers, round=round_no)
    by_role = result["cpu_us_by_role"]
    console.print(
        f"  {workers} worker(s): {result['req_per_s']:,.0f} req/s, "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"errors {result['errors']}; CPU µs/request: "
        + ", ".join(f"{k} {v:.0f}" for k, v in by_role.items())
    )
    console.print(
        "  per process: "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(result["cpu_us_per_request"].items()))
    )
    return result


def summarize(runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    medians: dict[int, dict[str, float]] = {}
    for workers in args.workers:
        mine = [r for r in runs if r["workers"] == workers]
        medians[workers] = {
            "req_per_s": statistics.median(r["req_per_s"] for r in mine),
            "control_plane_us": statistics.median(
                r["cpu_us_by_role"]["workers"] + r["cpu_us_by_role"]["mlserve_up"] for r in mine
            ),
            "triton_us": statistics.median(
                r["cpu_us_by_role"]["tritonserver"] + r["cpu_us_by_role"]["stubs"] for r in mine
            ),
        }
    one = medians[min(args.workers)]
    summary: dict[str, Any] = {"medians": medians}
    for workers, m in medians.items():
        if workers != min(args.workers):
            ratio = m["req_per_s"] / one["req_per_s"]
            summary[f"throughput_{workers}_over_{min(args.workers)}"] = round(ratio, 2)
            console.print(
                f"{workers} workers / {min(args.workers)}: throughput {ratio:.2f}x "
                f"({m['req_per_s']:,.0f} against {one['req_per_s']:,.0f} req/s)"
            )
    # 16-core projection: W workers (one core each at most) and Triton share the cores;
    # the control plane keeps up when W / cp_us >= (cores - W) / triton_us.
    cp_us, triton_us = one["control_plane_us"], one["triton_us"]
    cores = args.project_cores
    workers_needed = cores * cp_us / (cp_us + triton_us)
    summary["projection"] = {
        "cores": cores,
        "control_plane_us_per_request": cp_us,
        "triton_us_per_request": triton_us,
        "workers_to_keep_triton_busy": round(workers_needed, 1),
        "req_per_s_then": round(cores / (cp_us + triton_us) * 1e6),
    }
    console.print(
        f"projection for {cores} cores (load generator elsewhere): control plane {cp_us:.0f} µs "
        f"and Triton {triton_us:.0f} µs of CPU per cold request -> about "
        f"{workers_needed:.1f} workers keep Triton busy, "
        f"~{summary['projection']['req_per_s_then']:,} req/s if CPU is the only limit"
    )
    return summary


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load-generator", choices=["wrk", "mlserve"], default="wrk")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement (wrk)")
    parser.add_argument("--window-s", type=float, default=5.0, help="(mlserve)")
    parser.add_argument("--stability-pct", type=float, default=10.0)
    parser.add_argument("--max-windows", type=int, default=8)
    parser.add_argument("--project-cores", type=int, default=16)
    return parser.parse_args()


if __name__ == "__main__":
    main()
