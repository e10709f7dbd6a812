"""Throughput of the exported sentiment-minilm: raw ONNX Runtime in-process vs Triton.

Raw: the exported ``model.onnx`` in an in-process ONNX Runtime session on pre-tokenized
inputs, items/s at batch 1 and batch 32 (and, separately, tokenization + inference, the
work the control plane adds before Triton). Triton: the same model served by mlserve at
concurrency 1 and 16 (:func:`measure_triton`, wired by the serving side). Ratios say what
serving costs over the bare runtime.

Usage::

    .venv/bin/python benchmarks/minilm_throughput.py [--seconds 5] [--threads 0]
        [--version-dir <repo>/sentiment-minilm/<N>] [--json out.json]

Without ``--version-dir`` it trains and exports the sample first (seconds; not timed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from mlserve.preprocessing.cleaning import clean_text
from mlserve.preprocessing.config import PreprocessingConfig
from mlserve.preprocessing.tokenization import Tokenizer, build_tokenizer
from mlserve.repository.metadata import METADATA_FILE, ModelMetadata
from mlserve.samples.sentiment_data import generate

BATCH_SIZES = (1, 32)
TRITON_CONCURRENCY = (1, 16)


@dataclass
class Measurement:
    """One timed loop: how many items went through in how long."""

    name: str
    batch_size: int
    items: int
    seconds: float
    latency_ms_p50: float

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def timed_loop(
    name: str, batch_size: int, step: Callable[[int], int], seconds: float
) -> Measurement:
    """Call ``step(i)`` (returns items processed) for ``seconds`` after 5 warm-up calls."""
    for i in range(5):
        step(i)
    latencies: list[float] = []
    items = 0
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        t0 = time.perf_counter()
        items += step(i)
        latencies.append(time.perf_counter() - t0)
        i += 1
    elapsed = time.perf_counter() - started
    return Measurement(name, batch_size, items, elapsed, 1000 * float(np.median(latencies)))


def prepare_version(version_dir: Path | None, work_dir: Path) -> tuple[Path, dict[str, Any]]:
    """A version folder (model.onnx, tokenizer/) and its preprocessing config.

    Without ``version_dir`` the sample is trained and exported into ``work_dir``.
    """
    if version_dir is not None:
        metadata = ModelMetadata.model_validate_json((version_dir / METADATA_FILE).read_text())
        return version_dir, metadata.preprocessing
    from mlserve.samples.minilm import train_sentiment_minilm

    trained = train_sentiment_minilm(work_dir=work_dir)
    import onnx

    onnx.save_model(trained.exported.onnx_model, str(work_dir / "model.onnx"))
    print(
        f"exported sentiment-minilm: training {trained.seconds_training:.1f}s, export "
        f"{trained.seconds_export:.1f}s, accuracy {trained.exported.metrics['accuracy']:.3f}",
        file=sys.stderr,
    )
    return work_dir, trained.exported.preprocessing


def measure_raw(
    version_dir: Path,
    tokenizer: Tokenizer,
    config: PreprocessingConfig,
    texts: list[str],
    *,
    seconds: float,
    threads: int,
) -> list[Measurement]:
    """In-process ONNX Runtime at each batch size: inference only, then tokenize + infer."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(
        str(version_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
    )
    cleaned = [clean_text(t, config.cleaning) for t in texts]
    results = []
    for batch_size in BATCH_SIZES:
        batches = [
            cleaned[i : i + batch_size] for i in range(0, len(cleaned) - batch_size + 1, batch_size)
        ]
        encoded = [tokenizer.encode(b).tensors() for b in batches]

        def infer(i: int, encoded: list[dict[str, Any]] = encoded, size: int = batch_size) -> int:
            session.run(["probabilities"], encoded[i % len(encoded)])
            return size

        def tokenize_and_infer(
            i: int, batches: list[list[str]] = batches, size: int = batch_size
        ) -> int:
            session.run(["probabilities"], tokenizer.encode(batches[i % len(batches)]).tensors())
            return size

        results.append(timed_loop("ort", batch_size, infer, seconds))
        results.append(timed_loop("tokenize+ort", batch_size, tokenize_and_infer, seconds))
    return results


def measure_triton(
    version_dir: Path, texts: list[str], *, concurrency: int, seconds: float
) -> Measurement | None:
    """Items/s through mlserve's serving path (control plane -> Triton) at ``concurrency``.

    To be filled in by the serving side once it lands: publish ``version_dir`` as
    sentiment-minilm, start Triton (and the control plane), then keep ``concurrency``
    single-text requests in flight for ``seconds``. Returns None until then, and the
    report prints the Triton rows as not measured.
    """
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    parser.add_argument("--threads", type=int, default=0, help="ORT intra-op threads (0=auto)")
    parser.add_argument("--version-dir", type=Path, default=None, help="a published version")
    parser.add_argument("--texts", type=int, default=512, help="distinct texts to cycle")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="mlserve-bench-") as work_dir:
        return run(args, Path(work_dir))


def run(args: argparse.Namespace, work_dir: Path) -> int:
    """Measure, print the table and ratios, optionally write JSON."""
    version_dir, preprocessing = prepare_version(args.version_dir, work_dir)
    config = PreprocessingConfig.from_metadata(preprocessing)
    tokenizer = build_tokenizer(config.tokenizer, version_dir)
    data = generate(args.texts, seed=11, test_fraction=0.5)
    texts = data.train_texts + data.test_texts

    raw = measure_raw(
        version_dir, tokenizer, config, texts, seconds=args.seconds, threads=args.threads
    )
    triton = {
        c: measure_triton(version_dir, texts, concurrency=c, seconds=args.seconds)
        for c in TRITON_CONCURRENCY
    }

    print(
        f"sentiment-minilm throughput ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cpus, ORT threads {args.threads or 'auto'})"
    )
    print(f"{'path':<14}{'batch':>6}{'items/s':>12}{'p50 ms/call':>14}")
    for m in raw:
        print(f"{m.name:<14}{m.batch_size:>6}{m.items_per_second:>12.1f}{m.latency_ms_p50:>14.2f}")
    ort_rate = {m.batch_size: m.items_per_second for m in raw if m.name == "ort"}
    print(f"batch 32 / batch 1 (ort): {ort_rate[32] / ort_rate[1]:.2f}x")
    for concurrency, served in triton.items():
        if served is None:
            print(f"triton concurrency {concurrency}: not measured (serving not wired yet)")
            continue
        rate = served.items_per_second
        print(
            f"triton concurrency {concurrency}: {rate:.1f} items/s, "
            f"{rate / ort_rate[1]:.2f}x raw batch 1, {rate / ort_rate[32]:.2f}x raw batch 32"
        )
    if args.json:
        payload = {
            "raw": [{**asdict(m), "items_per_second": m.items_per_second} for m in raw],
            "triton": {
                str(c): None if t is None else {**asdict(t), "items_per_second": t.items_per_second}
                for c, t in triton.items()
            },
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
