"""The real ``perf_analyzer`` (Triton's load generator), run and read by benchmark scripts.

The binary ships in the ``tritonclient[all]==2.40.0`` wheel; ``make perf-analyzer`` installs
it in its own venv (``.venv-perf``: that wheel pins ``protobuf<4``) together with Debian's
``libb64-0d`` and ``nvidia-cuda-runtime-cu12``, whose ``libcudart.so.12`` the binary links
even against a CPU-only Triton. :func:`perf_analyzer_command` builds the command line and
:func:`perf_analyzer_env` the library path; ``bin/perf_analyzer`` does the same from a shell.

    texts_file = write_text_inputs(tmp / "input.json", texts, input_name="text")
    rows = run_perf_analyzer(PerfAnalyzerRun(model="sentiment", url="127.0.0.1:8001",
                                             input_data=texts_file, concurrency=(16,)))
    rows[0].throughput, rows[0].p50_us

Its CSV (``-f``) has one row per load level: throughput (inferences/s), the client/server
breakdown and p50/p90/p95/p99 in microseconds; ``mlserve benchmark --csv`` writes the same
columns, so :func:`parse_perf_csv` reads both.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = PROJECT_ROOT / ".venv-perf"


class PerfAnalyzerError(RuntimeError):
    """perf_analyzer is missing, failed, or wrote no usable CSV; the message says which."""


@dataclass(frozen=True)
class PerfRow:
    """One load level of a perf_analyzer CSV (latencies in microseconds)."""

    level: float
    """Concurrency (or request rate, in rate mode)."""
    throughput: float
    """Inferences per second."""
    server_queue_us: int
    """0 when the server reports no Triton statistics (the control plane's protocol
    endpoint): perf_analyzer then writes only the client-side columns."""
    server_compute_infer_us: int
    p50_us: int
    p90_us: int
    p95_us: int
    p99_us: int


@dataclass(frozen=True)
class PerfAnalyzerRun:
    """What to measure: one model on one Triton, one row per concurrency level."""

    model: str
    url: str
    """``host:port`` for gRPC, ``host:port`` of Triton's HTTP port for HTTP."""
    input_data: Path
    """perf_analyzer's JSON input file (:func:`write_text_inputs`)."""
    concurrency: Sequence[int] = (1,)
    protocol: Literal["grpc", "http"] = "grpc"
    measurement_interval_ms: int = 5000
    stability_percentage: float = 10.0
    max_trials: int = 10
    stabilize_on_percentile: int | None = None
    """Stabilize on this latency percentile (``--percentile``) instead of the average, as
    ``mlserve benchmark`` does; p99 rarely settles in short windows on a shared machine."""
    version: int | None = None
    extra_args: Sequence[str] = field(default_factory=tuple)


def perf_analyzer_binary(venv: Path = DEFAULT_VENV) -> Path:
    """The binary in ``venv``; :class:`PerfAnalyzerError` saying how to install it if absent."""
    binary = venv / "bin" / "perf_analyzer"
    if not binary.is_file():
        raise PerfAnalyzerError(
            f"perf_analyzer is not installed at {binary}; run `make perf-analyzer` "
            "(tritonclient[all]==2.40.0 in .venv-perf, libb64-0d, nvidia-cuda-runtime-cu12)"
        )
    return binary


def perf_analyzer_env(venv: Path = DEFAULT_VENV) -> dict[str, str]:
    """This process's environment with ``libcudart.so.12`` of ``venv`` on the library path."""
    libs = sorted(venv.glob("lib/python3*/site-packages/nvidia/cuda_runtime/lib"))
    if not libs:
        raise PerfAnalyzerError(
            f"libcudart.so.12 not found under {venv}; run `make perf-analyzer` "
            "(it installs nvidia-cuda-runtime-cu12)"
        )
    env = dict(os.environ)
    current = env.get("LD_LIBRARY_PATH")
    env["LD_LIBRARY_PATH"] = str(libs[-1]) + (f":{current}" if current else "")
    return env


def write_text_inputs(path: Path, texts: Sequence[str], *, input_name: str = "text") -> Path:
    """perf_analyzer's ``--input-data`` JSON: one request per text, a [1] BYTES tensor each
    (the batch dimension is added by ``-b 1``), sent round-robin."""
    data = [{input_name: {"content": [text], "shape": [1]}} for text in texts]
    path.write_text(json.dumps({"data": data}))
    return path


def perf_analyzer_command(
    run: PerfAnalyzerRun, csv_path: Path, venv: Path = DEFAULT_VENV
) -> list[str]:
    """The command line for ``run``, its CSV written to ``csv_path``."""
    levels = sorted(set(run.concurrency))
    command = [
        str(perf_analyzer_binary(venv)),
        "-m",
        run.model,
        "-u",
        run.url,
        "-i",
        run.protocol,
        "-b",
        "1",
        "--input-data",
        str(run.input_data),
        "--measurement-interval",
        str(run.measurement_interval_ms),
        "--stability-percentage",
        f"{run.stability_percentage:g}",
        "--max-trials",
        str(run.max_trials),
        "-f",
        str(csv_path),
    ]
    if len(levels) == 1:
        command += ["--concurrency-range", f"{levels[0]}:{levels[0]}"]
    else:
        command += ["--concurrency-range", f"{levels[0]}:{levels[-1]}:{_step(levels)}"]
    if run.stabilize_on_percentile is not None:
        command += ["--percentile", str(run.stabilize_on_percentile)]
    if run.version is not None:
        command += ["-x", str(run.version)]
    return command + list(run.extra_args)


def _step(levels: Sequence[int]) -> int:
    steps = {b - a for a, b in itertools.pairwise(levels)}
    if len(steps) != 1:
        raise PerfAnalyzerError(
            f"perf_analyzer sweeps evenly spaced concurrency only; got {list(levels)}: "
            "run it once per level"
        )
    return steps.pop()


def run_perf_analyzer(
    run: PerfAnalyzerRun, *, workdir: Path, venv: Path = DEFAULT_VENV, timeout_s: float = 600
) -> list[PerfRow]:
    """Run perf_analyzer for ``run`` and return its CSV rows. Its full output goes to
    ``workdir/perf_analyzer.log``; a failure raises :class:`PerfAnalyzerError` with its tail."""
    csv_path = workdir / "perf_analyzer.csv"
    log = workdir / "perf_analyzer.log"
    command = perf_analyzer_command(run, csv_path, venv)
    try:
        done = subprocess.run(
            command,
            env=perf_analyzer_env(venv),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PerfAnalyzerError(f"perf_analyzer ran over {timeout_s:.0f} s") from exc
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0 or not csv_path.is_file():
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-6:])
        raise PerfAnalyzerError(f"perf_analyzer exited {done.returncode}: {tail}")
    return parse_perf_csv(csv_path.read_text())


def parse_perf_csv(text: str) -> list[PerfRow]:
    """The load-level rows of a perf_analyzer CSV (or of ``mlserve benchmark --csv``)."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "Inferences/Second" not in reader.fieldnames:
        raise PerfAnalyzerError(f"not a perf_analyzer CSV (header: {reader.fieldnames})")
    level_column = reader.fieldnames[0]
    rows = []
    for raw in reader:
        try:
            rows.append(
                PerfRow(
                    level=float(raw[level_column]),
                    throughput=float(raw["Inferences/Second"]),
                    server_queue_us=int(raw.get("Server Queue") or 0),
                    server_compute_infer_us=int(raw.get("Server Compute Infer") or 0),
                    p50_us=int(raw["p50 latency"]),
                    p90_us=int(raw["p90 latency"]),
                    p95_us=int(raw["p95 latency"]),
                    p99_us=int(raw["p99 latency"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PerfAnalyzerError(f"unreadable perf_analyzer CSV row {raw}: {exc}") from None
    if not rows:
        raise PerfAnalyzerError("perf_analyzer CSV has a header but no rows")
    return rows
