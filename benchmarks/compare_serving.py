"""Serving paths compared on one model under one load: the figures changes are judged by.

Scenarios, all on the same model version, texts, concurrency levels and request bound:

* ``onnxruntime``: raw in-process ONNX Runtime on the published ``model.onnx`` (the
  ceiling), one session, ``concurrency`` threads, one text per call;
* ``triton-grpc`` / ``triton-http``: Triton directly (``mlserve benchmark``'s targets);
* ``predict-cold`` / ``predict-warm``: the control plane's ``/predict``, every text unique
  (cache misses) / texts from a pool of 32 warmed beforehand (cache hits);
* ``asgi-floor``: the same uvicorn answering a real ``/predict`` answer with no work at all
  (:mod:`mlserve.benchmarking.asgi_floor`): the most any cache hit can reach here, so
  ``floor / cold`` bounds ``warm / cold``;
* ``batch-predict-cold`` / ``batch-predict-warm``: ``/batch-predict`` with ``--batch-size``;
* ``overload``: concurrency 256 against a second control plane (same Triton) whose in-flight
  bound is 8 and default deadline 2 s: only 200s and 429s are acceptable.

Starts its own stack (``mlserve up`` on free ports, temp repository, sample models) unless
``--url`` with ``--triton-grpc``, ``--triton-http`` and ``--models-dir`` name a running one.

    .venv/bin/python benchmarks/compare_serving.py [--concurrency 1 16] [--requests 20000]

``--rounds N`` runs every scenario N times in turn (a slow spell of a shared machine then
hits one round, not one path): the ratios and targets are the medians over the rounds, each
round's ratios are kept under ``rounds``, and ``scenarios`` holds the last round's steps.

CPU time per request of each process (the load generator, the control plane,
``tritonserver``, its Python-backend stubs) is read from ``/proc`` over each step's measured
windows, for started stacks and for ``--stack-pid`` processes with ``--url``. On a machine
where they all share the cores, its ``total`` bounds each path's throughput: the
``cpu_bound_*`` ratios are what the throughput ratios would be if CPU were all that
mattered, so a target above them cannot be met on that machine by latency work alone.

Prints one table per scenario, the ratios and the issue's targets, and writes
``benchmarks/results/compare_serving.json`` (and a timestamped copy). The JSON format is
``mlserve.compare_serving/1``: keep it stable, add fields rather than change them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from rich.console import Console

from mlserve.benchmarking import BenchmarkConfig, StepResult, arun_benchmark, render_table
from mlserve.benchmarking.comparison import (
    OVERLOAD_CONCURRENCY,
    OVERLOAD_DEADLINE_MS,
    median_ratios,
    ratios_of,
    targets_of,
)
from mlserve.benchmarking.local_stack import (
    asgi_floor,
    external_triton_env,
    local_stack,
    mlserve_up,
)
from mlserve.benchmarking.measurement import Window
from mlserve.benchmarking.process_cpu import CpuMeter, StepCpu, format_figures
from mlserve.benchmarking.render import step_to_dict
from mlserve.benchmarking.workload import TextWorkload, default_texts
from mlserve.repository.store import MODEL_FILE

FORMAT = "mlserve.compare_serving/1"
RESULTS = Path(__file__).parent / "results"
MODEL = "sentiment"
POOL_SIZE = 32
OVERLOAD_INFLIGHT = 8
NO_QUEUE_POLICY = {"MLSERVE_TRITON__MAX_QUEUE_SIZE": "0", "MLSERVE_TRITON__QUEUE_TIMEOUT_MS": "0"}
# The queue policy mlserve published by default until no-policy became the default.
QUEUE_POLICY = {"MLSERVE_TRITON__MAX_QUEUE_SIZE": "256", "MLSERVE_TRITON__QUEUE_TIMEOUT_MS": "5000"}
console = Console()
if not console.is_terminal:
    console = Console(width=150)  # logs and CI: full tables, not squeezed to 80 columns


@dataclass(frozen=True)
class Endpoints:
    """Where the stack under test answers."""

    url: str
    grpc: str
    http: str
    metrics: str | None
    models_dir: Path
    workdir: Path
    """Working directory for extra control planes (state files)."""
    stack_pids: tuple[int, ...] = ()
    """Processes whose CPU time (with their children's) is booked to the stack."""


@dataclass(frozen=True)
class Measured:
    """One step and the CPU microseconds per request of each process during it (empty when
    not measured)."""

    step: StepResult
    cpu_us: dict[str, float]


@contextlib.contextmanager
def stack(args: argparse.Namespace) -> Iterator[Endpoints]:
    """The given stack, or a fresh ``mlserve up`` (own Triton, sample models)."""
    if args.url:
        missing = [f for f in ("triton_grpc", "triton_http", "models_dir") if not getattr(args, f)]
        if missing:
            raise SystemExit(f"--url needs --{', --'.join(m.replace('_', '-') for m in missing)}")
        gone = [pid for pid in args.stack_pid or () if not Path(f"/proc/{pid}").is_dir()]
        if gone:
            raise SystemExit(
                f"--stack-pid {gone[0]}: no such process here; pass the pid of a running "
                "mlserve up, tritonserver or control plane"
            )
        yield Endpoints(
            args.url.rstrip("/"),
            args.triton_grpc,
            args.triton_http.rstrip("/"),
            args.triton_metrics,
            Path(args.models_dir),
            Path(tempfile.mkdtemp(prefix="mlserve-compare-")),
            tuple(args.stack_pid or ()),
        )
        return
    if args.stack_pid:
        raise SystemExit("--stack-pid goes with --url; a stack started here is measured anyway")
    folder = Path(tempfile.mkdtemp(prefix="mlserve-compare-"))
    console.print(f"starting mlserve up in {folder} (sample models, embedded Triton) ...")
    extra = QUEUE_POLICY if args.queue_policy else NO_QUEUE_POLICY
    with local_stack(folder, workers=args.workers, env=extra) as started:
        yield Endpoints(
            started.url,
            started.triton_grpc,
            started.triton_http,
            started.triton_metrics,
            started.models_dir,
            folder,
            (started.pid,),
        )


def cpu_probe_us(repeats: int = 200) -> float:
    """Median microseconds of a fixed pure-Python loop: how fast this machine's cores are
    right now. Shared VMs change speed by 2x within an hour, so absolute figures of runs
    are only comparable at similar probes (ratios within one run always are)."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        sum(range(1000))
        timings.append(time.perf_counter() - started)
    return round(statistics.median(timings) * 1e6, 2)


def served_version(url: str) -> int:
    """The version the control plane serves for ``MODEL`` by default."""
    response = httpx.post(f"{url}/predict", json={"text": "version probe", "model": MODEL})
    response.raise_for_status()
    return int(str(response.json()["version"]).lstrip("v"))


def measure_onnxruntime(
    model_path: Path, concurrency: int, requests: int, duration_s: float
) -> StepResult:
    """``concurrency`` threads calling one ONNX Runtime session with one text each, until
    ``requests`` calls or ``duration_s`` (after a warm-up); same texts as the other paths."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    workload = TextWorkload(default_texts(), unique_ratio=1.0, pool_size=POOL_SIZE, seed=0)
    texts = [np.array([[t]], dtype=object) for t in workload.take(min(requests, 20_000))]
    for batch in texts[:50]:
        session.run(None, {input_name: batch})
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    stop_at = time.perf_counter() + duration_s

    def worker() -> None:
        mine: list[float] = []
        for i in counter:
            if time.perf_counter() >= stop_at:
                break
            started = time.perf_counter()
            session.run(None, {input_name: texts[i % len(texts)]})
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    window = Window(duration_s=time.perf_counter() - started, latencies_s=latencies)
    return StepResult.from_windows(
        [window], measured=1, stable=True, batch_size=1, concurrency=concurrency, request_rate=None
    )


async def sweep(
    args: argparse.Namespace, levels: list[int], meter: CpuMeter | None = None, **config: Any
) -> list[Measured]:
    """One benchmark step per concurrency level with the shared window settings; with a
    ``meter``, the CPU per request of each process over the step's measured windows."""
    measured: list[Measured] = []
    for level in levels:
        windows = StepCpu(meter)
        [step] = await arun_benchmark(
            BenchmarkConfig(
                concurrency=str(level),
                window_s=args.window_s,
                stability_pct=args.stability_pct,
                max_windows=args.max_windows,
                max_requests=args.requests,
                pool_size=POOL_SIZE,
                **config,
            ),
            windows.on_progress if meter is not None else None,
        )
        measured.append(Measured(step, windows.us_per_request(step.windows)))
    return measured


async def warm_pool(url: str, version: int) -> None:
    """Send every text of the repeat pool once, so warm scenarios only hit the cache.

    The pool is the one :class:`TextWorkload` draws with the same seed and texts."""
    pool = TextWorkload(default_texts(), unique_ratio=0.0, pool_size=POOL_SIZE, seed=0).pool
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for text in pool:
            body = {"text": text, "model": MODEL, "version": version}
            (await client.post("/predict", json=body)).raise_for_status()


async def run_all(args: argparse.Namespace, ends: Endpoints) -> dict[str, Any]:
    version = served_version(ends.url)
    levels: list[int] = args.concurrency
    model_path = ends.models_dir / MODEL / str(version) / MODEL_FILE
    meter = CpuMeter(ends.stack_pids) if ends.stack_pids else None
    common: dict[str, Any] = {
        "model": MODEL,
        "version": version,
        "triton_http_url": ends.http,
        "meter": meter if meter is not None and meter.available else None,
    }
    cp = {**common, "target": "control-plane", "url": ends.url}
    scenarios: dict[str, tuple[str, list[Measured]]] = {}

    def record(name: str, description: str, steps: list[Measured]) -> None:
        scenarios[name] = (description, steps)
        console.print(
            render_table([m.step for m in steps], title=f"{name}: {description}", wide=True)
        )
        cpu = [f"c={m.step.concurrency}: {format_figures(m.cpu_us)}" for m in steps if m.cpu_us]
        if cpu:
            console.print("  CPU µs per request  " + "  |  ".join(cpu))

    duration = args.window_s * 3
    record(
        "onnxruntime",
        f"raw in-process ONNX Runtime ({model_path.name}, 1 intra-op thread)",
        [
            Measured(
                await asyncio.to_thread(
                    measure_onnxruntime, model_path, c, args.requests, duration
                ),
                {},
            )
            for c in levels
        ],
    )
    record(
        "triton-grpc",
        f"Triton gRPC at {ends.grpc}",
        await sweep(args, levels, **common, target="triton-grpc", url=ends.grpc),
    )
    record(
        "triton-http",
        f"Triton HTTP at {ends.http}",
        await sweep(args, levels, **common, target="triton-http", url=ends.http),
    )
    record("predict-cold", "/predict, unique texts", await sweep(args, levels, **cp))
    await warm_pool(ends.url, version)
    record(
        "predict-warm",
        "/predict, pool of 32 cached texts",
        await sweep(args, levels, **cp, unique_ratio=0.0),
    )
    record("asgi-floor", *(await floor(args, ends, version, levels)))
    batch = {**cp, "batch_size": args.batch_size}
    record(
        "batch-predict-cold",
        f"/batch-predict, {args.batch_size} unique texts",
        await sweep(args, levels, **batch),
    )
    await warm_pool(ends.url, version)  # the cold runs may have evicted the pool (LRU)
    record(
        "batch-predict-warm",
        f"/batch-predict, {args.batch_size} cached texts",
        await sweep(args, levels, **batch, unique_ratio=0.0),
    )
    if args.overload:
        record("overload", *(await overload(args, ends, version)))
    return {
        "model": {"name": MODEL, "version": version},
        "scenarios": {
            name: {"description": d, "steps": [measured_to_dict(m) for m in steps]}
            for name, (d, steps) in scenarios.items()
        },
    }


def measured_to_dict(measured: Measured) -> dict[str, Any]:
    """A step as stored; ``cpu_us_per_request`` only when it was measured."""
    data = step_to_dict(measured.step)
    if measured.cpu_us:
        data["cpu_us_per_request"] = measured.cpu_us
    return data


async def floor(
    args: argparse.Namespace, ends: Endpoints, version: int, levels: list[int]
) -> tuple[str, list[Measured]]:
    """The ASGI floor answering the control plane's own answer to a pool text."""
    pool = TextWorkload(default_texts(), unique_ratio=0.0, pool_size=POOL_SIZE, seed=0).pool
    async with httpx.AsyncClient(base_url=ends.url, timeout=30) as client:
        body = {"text": pool[0], "model": MODEL, "version": version}
        answer = await client.post("/predict", json=body)
        answer.raise_for_status()
    with asgi_floor(ends.workdir, answer.content) as (url, pid):
        meter = CpuMeter((pid,))
        steps = await sweep(
            args,
            levels,
            target="control-plane",
            url=url,
            model=MODEL,
            version=version,
            unique_ratio=0.0,
            meter=meter if meter.available else None,
        )
    return f"the same uvicorn answering a fixed /predict answer, no work ({url})", steps


async def overload(
    args: argparse.Namespace, ends: Endpoints, version: int
) -> tuple[str, list[Measured]]:
    """Concurrency 256 against a control plane bounded to 8 in flight, 2 s deadline."""
    env = {
        **external_triton_env(ends.grpc, ends.http, ends.metrics, ends.models_dir),
        "MLSERVE_LIMITS__MAX_INFLIGHT_PER_MODEL": str(OVERLOAD_INFLIGHT),
        "MLSERVE_LIMITS__DEFAULT_TIMEOUT_MS": str(OVERLOAD_DEADLINE_MS),
        **(QUEUE_POLICY if args.queue_policy else NO_QUEUE_POLICY),
    }
    workdir = ends.workdir / "overload"
    workdir.mkdir(exist_ok=True)
    with mlserve_up(env, workdir, workers=args.workers) as url:
        steps = await sweep(
            args,
            [OVERLOAD_CONCURRENCY],
            target="control-plane",
            url=url,
            model=MODEL,
            version=version,
            request_timeout_s=OVERLOAD_DEADLINE_MS / 1000 + 1.0,
        )
    description = (
        f"/predict at concurrency {OVERLOAD_CONCURRENCY}, in-flight bound {OVERLOAD_INFLIGHT}, "
        f"deadline {OVERLOAD_DEADLINE_MS} ms"
    )
    return description, steps


def print_summary(ratios: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    console.print("\n[bold]ratios[/]")
    for name, value in ratios.items():
        console.print(f"  {name:58s} {value}")
    console.print("\n[bold]targets (issue 4)[/]")
    for t in targets:
        state = {True: "[green]met[/]", False: "[red]NOT met[/]", None: "[yellow]n/a[/]"}
        bound = f"; CPU bound here {t['cpu_bound']}" if t.get("cpu_bound") else ""
        bound += f"; ASGI floor here {t['asgi_floor']}" if t.get("asgi_floor") else ""
        console.print(
            f"  {state[t['met']]:>20s}  {t['name']}: {t['value']} (goal {t['goal']}{bound})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", help="running control plane (default: start one)")
    parser.add_argument("--triton-grpc", help="its Triton's gRPC host:port (with --url)")
    parser.add_argument("--triton-http", help="its Triton's HTTP URL (with --url)")
    parser.add_argument("--triton-metrics", help="its Triton's metrics URL (optional)")
    parser.add_argument("--models-dir", help="its model repository (with --url)")
    parser.add_argument(
        "--stack-pid",
        type=int,
        action="append",
        help="with --url: a process of the stack (its children too) for CPU per request; "
        "repeat for several",
    )
    parser.add_argument("--workers", type=int, help="uvicorn workers of started control planes")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per step at most")
    parser.add_argument("--window-s", type=float, default=2.0)
    parser.add_argument("--stability-pct", type=float, default=10.0)
    parser.add_argument("--max-windows", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--no-overload", dest="overload", action="store_false")
    parser.add_argument(
        "--no-queue-policy",
        dest="queue_policy",
        action="store_false",
        help="started stacks: publish without a Triton queue policy (no 500 ms batcher stalls)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every scenario this many times; ratios are the medians over the rounds",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "compare_serving.json")
    args = parser.parse_args()
    levels: list[int] = args.concurrency
    started = datetime.now(UTC)
    low, high = min(levels), max(levels)
    rounds: list[dict[str, Any]] = []
    probe_before = cpu_probe_us()
    with stack(args) as ends:
        for number in range(1, max(1, args.rounds) + 1):
            if args.rounds > 1:
                console.print(f"[bold]round {number} of {args.rounds}[/]")
            doc = asyncio.run(run_all(args, ends))
            rounds.append(ratios_of(doc, low, high))
    ratios = median_ratios(rounds)
    targets = targets_of(ratios, low, high)
    result = {
        "format": FORMAT,
        "created_at": started.isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_probe_us": {"before": probe_before, "after": cpu_probe_us()},
        },
        "load": {
            "concurrency": levels,
            "requests_per_step": args.requests,
            "window_s": args.window_s,
            "stability_pct": args.stability_pct,
            "max_windows": args.max_windows,
            "batch_size": args.batch_size,
            "queue_policy": args.queue_policy,
            "texts": "mlserve.samples.sentiment_data (unique: run-unique prefix; warm: pool of "
            f"{POOL_SIZE})",
        },
        **doc,
        "ratios": ratios,
        "targets": targets,
        "rounds": [{"ratios": r} for r in rounds],
    }
    print_summary(ratios, targets)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(result, option=orjson.OPT_INDENT_2)
    args.output.write_bytes(data)
    stamped = args.output.with_name(f"{args.output.stem}-{started:%Y%m%dT%H%M%SZ}.json")
    stamped.write_bytes(data)
    console.print(f"\nwritten: {args.output} and {stamped.name}")


if __name__ == "__main__":
    main()
