"""Throughput of sentiment-minilm: a real Triton at concurrency 1 and 16 vs raw ONNX Runtime.

One run measures, on the same pre-tokenized texts (tokenized once up front, so neither side
pays for tokenization):

- raw: the exported ``model.onnx`` in an in-process ONNX Runtime session, batch 1 and 32;
- Triton: the same version published with :class:`ModelRepository` into a temp repository,
  served by :class:`EmbeddedTriton` on free ports (mlserve's ONNX Runtime runner, Triton's
  dynamic batcher), one text per request through :class:`TritonClient`, 1 and 16 requests
  kept in flight.

It prints items/s, the ratios the issue asks for (Triton c16 / raw batch 32 >= 0.70,
Triton c16 / Triton c1 >= 1.5) and Triton's average executed batch size, and writes JSON
to ``benchmarks/results/minilm_throughput.json``. Usage::

    .venv/bin/python benchmarks/minilm_throughput.py [--seconds 10] [--instances 2]
        [--runner-threads 1] [--queue-delay-us 100]

The sample is trained and exported first with ``build_sentiment_minilm`` (not timed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from mlserve.benchmarking.local_stack import free_port
from mlserve.converters.base import ExportedModel
from mlserve.preprocessing.cleaning import clean_text
from mlserve.preprocessing.config import PreprocessingConfig
from mlserve.preprocessing.tokenization import build_tokenizer
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository
from mlserve.samples.sentiment_data import generate

RESULTS = Path(__file__).parent / "results"
MODEL = "sentiment-minilm"
RAW_BATCHES = (1, 32)
TRITON_CONCURRENCY = (1, 16)
GOAL_VS_RAW_32 = 0.70
GOAL_VS_C1 = 1.5
Feed = dict[str, npt.NDArray[np.int64]]


@dataclass
class Measurement:
    """One timed loop: how many items went through in how long."""

    name: str
    size: int
    """Batch size (raw) or requests in flight (Triton)."""
    items: int
    seconds: float
    latency_ms_p50: float
    latency_ms_p99: float
    avg_exec_batch: float | None = None
    """Triton only: items per ONNX Runtime execution (what the dynamic batcher formed)."""

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "items_per_second": round(self.items_per_second, 1)}


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ms = np.array(latencies) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


# -- raw ONNX Runtime -------------------------------------------------------------------


def measure_raw(
    model_file: Path, feeds: dict[int, list[Feed]], *, seconds: float, threads: int
) -> list[Measurement]:
    """In-process ONNX Runtime, one ``session.run`` per pre-tokenized batch."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(
        str(model_file), sess_options=options, providers=["CPUExecutionProvider"]
    )
    results = []
    for size, batches in feeds.items():

        def step(i: int, batches: list[Feed] = batches, size: int = size) -> int:
            session.run(["probabilities"], batches[i % len(batches)])
            return size

        results.append(timed_loop(f"ort batch {size}", size, step, seconds))
    return results


def timed_loop(name: str, size: int, step: Callable[[int], int], seconds: float) -> Measurement:
    """Call ``step(i)`` (returns items processed) for ``seconds`` after warm-up calls."""
    for i in range(10):
        step(i)
    latencies: list[float] = []
    items = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        t0 = time.perf_counter()
        items += step(len(latencies))
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    return Measurement(name, size, items, elapsed, *percentiles(latencies))


# -- Triton -----------------------------------------------------------------------------


async def measure_triton(
    grpc_url: str, singles: list[Feed], *, concurrency: int, seconds: float
) -> Measurement:
    """Keep ``concurrency`` one-text requests in flight for ``seconds``."""
    from mlserve.triton.client import TritonClient

    client = TritonClient(grpc_url, timeout_s=30.0)
    try:

        async def call(i: int) -> None:
            await client.infer(MODEL, 1, singles[i % len(singles)], ["probabilities"])

        await asyncio.gather(*(call(i) for i in range(4 * concurrency)))  # warm-up
        before = await _counts(client)
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def worker(offset: int) -> None:
            i = offset
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                await call(i)
                latencies.append(time.perf_counter() - t0)
                i += concurrency

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - started
        after = await _counts(client)
    finally:
        await client.close()
    executions = after[1] - before[1]
    avg_batch = (after[0] - before[0]) / executions if executions else None
    p50, p99 = percentiles(latencies)
    return Measurement(
        f"triton c{concurrency}", concurrency, len(latencies), elapsed, p50, p99, avg_batch
    )


async def _counts(client: Any) -> tuple[int, int]:
    """Triton's cumulative (inference_count, execution_count) for the model."""
    stats = await client.statistics(MODEL)
    model = stats.get("model_stats", [{}])[0]
    return int(model.get("inference_count", 0)), int(model.get("execution_count", 0))


def run_triton(
    exported: ExportedModel, singles: list[Feed], args: argparse.Namespace, root: Path
) -> list[Measurement]:
    """Publish the export into a temp repository, serve it, measure each concurrency."""
    from mlserve.triton.launcher import EmbeddedTriton

    options = ServingOptions(
        instance_count=args.instances, max_queue_delay_us=args.queue_delay_us, max_batch_size=64
    )
    repository_path = root / "model_repository"
    repository = ModelRepository(repository_path, options)
    repository.publish_version(exported, MODEL, 1)
    repository.write_config(MODEL)
    server = EmbeddedTriton(
        repository_path,
        ort_threads=args.runner_threads,
        workdir=root / "var",
        http_port=free_port(),
        grpc_port=free_port(),
        metrics_port=free_port(),
        startup_timeout_s=180,
    )
    try:
        server.start([MODEL])
        return [
            asyncio.run(
                measure_triton(server.grpc_url, singles, concurrency=c, seconds=args.seconds)
            )
            for c in TRITON_CONCURRENCY
        ]
    finally:
        server.stop()


# -- main -------------------------------------------------------------------------------


def prepare(root: Path) -> ExportedModel:
    """Train and export the sample; ``root/export`` holds model.onnx and tokenizer/."""
    import onnx

    from mlserve.samples.minilm import build_sentiment_minilm

    started = time.perf_counter()
    exported = build_sentiment_minilm(work_dir=root / "export")
    onnx.save_model(exported.onnx_model, str(root / "export" / "model.onnx"))
    print(
        f"built {MODEL} in {time.perf_counter() - started:.1f}s "
        f"(held-out accuracy {exported.metrics['accuracy']:.3f})",
        file=sys.stderr,
    )
    return exported


def tokenize(
    version_dir: Path, config: PreprocessingConfig, n_texts: int
) -> tuple[list[Feed], dict[int, list[Feed]]]:
    """Every text alone (Triton requests) and batches for the raw runs, tokenized once."""
    tokenizer = build_tokenizer(config.tokenizer, version_dir)
    data = generate(n_texts, seed=11, test_fraction=0.5)
    texts = [clean_text(t, config.cleaning) for t in data.train_texts + data.test_texts]
    singles = [tokenizer.encode([t]).tensors() for t in texts]
    batches = {
        size: [
            tokenizer.encode(texts[i : i + size]).tensors()
            for i in range(0, len(texts) - size + 1, size)
        ]
        for size in RAW_BATCHES
    }
    return singles, batches


def token_stats(singles: list[Feed], batches: dict[int, list[Feed]]) -> dict[str, float]:
    """Real tokens per text vs positions per text in the padded raw batches (padding cost)."""
    lengths = np.array([feed["input_ids"].shape[1] for feed in singles])
    stats = {"tokens_mean": float(lengths.mean()), "tokens_max": float(lengths.max())}
    for size, feeds in batches.items():
        stats[f"padded_batch{size}_mean"] = float(np.mean([f["input_ids"].shape[1] for f in feeds]))
    return stats


def report(
    raw: list[Measurement], triton: list[Measurement], args: argparse.Namespace
) -> dict[str, Any]:
    by_name = {m.name: m.items_per_second for m in raw + triton}
    ratios = {
        "triton_c16_vs_ort_batch32": by_name["triton c16"] / by_name["ort batch 32"],
        "triton_c16_vs_triton_c1": by_name["triton c16"] / by_name["triton c1"],
        "ort_batch32_vs_ort_batch1": by_name["ort batch 32"] / by_name["ort batch 1"],
        "triton_c1_vs_ort_batch1": by_name["triton c1"] / by_name["ort batch 1"],
    }
    print(
        f"{MODEL} throughput: {platform.machine()}, {os.cpu_count()} cpus, raw ORT threads "
        f"{args.threads or 'auto'}, Triton: {args.instances} instance(s), runner threads "
        f"{args.runner_threads or 'auto'}, queue delay {args.queue_delay_us} us"
    )
    print(f"{'path':<16}{'items/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'exec batch':>12}")
    for m in raw + triton:
        batch = f"{m.avg_exec_batch:.1f}" if m.avg_exec_batch is not None else "-"
        print(
            f"{m.name:<16}{m.items_per_second:>10.1f}{m.latency_ms_p50:>9.2f}{m.latency_ms_p99:>9.2f}{batch:>12}"
        )
    c16_raw = ratios["triton_c16_vs_ort_batch32"]
    c16_c1 = ratios["triton_c16_vs_triton_c1"]
    for label, value, goal in (
        ("triton c16 / ort batch 32", c16_raw, GOAL_VS_RAW_32),
        ("triton c16 / triton c1", c16_c1, GOAL_VS_C1),
    ):
        print(f"{label:<27}{value:.2f} (goal >= {goal:.2f}) {'ok' if value >= goal else 'MISSED'}")
    print(f"ort batch 32 / ort batch 1: {ratios['ort_batch32_vs_ort_batch1']:.2f}")
    return {
        "benchmark": "minilm_throughput",
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {
            "arch": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "settings": {
            "seconds": args.seconds,
            "raw_ort_threads": args.threads,
            "triton_instances": args.instances,
            "triton_runner_threads": args.runner_threads,
            "queue_delay_us": args.queue_delay_us,
            "texts": args.texts,
        },
        "raw": [m.to_dict() for m in raw],
        "triton": [m.to_dict() for m in triton],
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "goals_met": c16_raw >= GOAL_VS_RAW_32 and c16_c1 >= GOAL_VS_C1,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="time per measurement")
    parser.add_argument("--threads", type=int, default=0, help="raw ORT intra-op threads (0=auto)")
    parser.add_argument("--instances", type=int, default=2, help="Triton model instances")
    parser.add_argument(
        "--runner-threads", type=int, default=1, help="MLSERVE_ORT_THREADS for the runner (0=auto)"
    )
    parser.add_argument("--queue-delay-us", type=int, default=ServingOptions().max_queue_delay_us)
    parser.add_argument("--texts", type=int, default=512, help="distinct texts to cycle")
    parser.add_argument("--json", type=Path, default=RESULTS / "minilm_throughput.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    root = Path(tempfile.mkdtemp(prefix="mlserve-bench-minilm-"))
    try:
        exported = prepare(root)
        config = PreprocessingConfig.from_metadata(exported.preprocessing)
        singles, batches = tokenize(root / "export", config, args.texts)
        tokens = token_stats(singles, batches)
        raw = measure_raw(
            root / "export" / "model.onnx", batches, seconds=args.seconds, threads=args.threads
        )
        triton = run_triton(exported, singles, args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    payload = report(raw, triton, args)
    payload["tokens"] = tokens
    print(
        f"tokens per text: mean {tokens['tokens_mean']:.1f}, max {tokens['tokens_max']:.0f}; "
        f"padded width of a raw batch of 32: mean {tokens['padded_batch32_mean']:.1f}"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
