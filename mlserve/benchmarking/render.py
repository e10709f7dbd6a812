"""Benchmark results as a rich table, perf_analyzer-style CSV, or JSON.

CSV columns follow perf_analyzer's ``-f`` output, in microseconds. What a Python client
cannot separate is written as 0 and explained here:

- ``Client Send`` and ``Client Recv``: 0. The HTTP/gRPC clients serialize and send inside
  one call, so send and receive time are part of ``Network+Server Send/Recv``.
- ``Network+Server Send/Recv``: mean client latency minus Triton's queue and compute time
  (all of the latency when there is no server breakdown). Against the control plane it
  also holds the control plane's own work (preprocessing, cache, routing); with cache hits
  it is an average over hits and misses while Triton's figures cover misses only.
- ``Server Queue`` / ``Server Compute *``: Triton's per-request averages over the step; 0
  without a statistics URL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import orjson
from rich.table import Table

from mlserve.benchmarking.results import StepResult

CSV_COLUMNS = (
    "Concurrency",
    "Inferences/Second",
    "Client Send",
    "Network+Server Send/Recv",
    "Server Queue",
    "Server Compute Input",
    "Server Compute Infer",
    "Server Compute Output",
    "Client Recv",
    "p50 latency",
    "p90 latency",
    "p95 latency",
    "p99 latency",
)
"""perf_analyzer's column order; the first is ``Request Rate`` in request-rate mode."""


def step_to_dict(step: StepResult) -> dict[str, Any]:
    """One step as plain JSON-able data (server fields None without a breakdown)."""
    server = step.server
    return {
        "concurrency": step.concurrency,
        "request_rate": step.request_rate,
        "throughput": step.throughput,
        "inferences_per_s": step.inferences_per_s,
        "requests": step.requests,
        "avg_ms": step.avg_ms,
        "p50_ms": step.p50_ms,
        "p90_ms": step.p90_ms,
        "p95_ms": step.p95_ms,
        "p99_ms": step.p99_ms,
        "errors": step.errors,
        "errors_by_kind": step.errors_by_kind,
        "cache_hit_ratio": step.cache_hit_ratio,
        "stable": step.stable,
        "windows": step.windows,
        "measured_s": step.measured_s,
        "server_requests": server.requests if server else None,
        "server_failures": server.failures if server else None,
        "server_queue_us": server.queue_us if server else None,
        "server_compute_input_us": server.compute_input_us if server else None,
        "server_compute_infer_us": server.compute_infer_us if server else None,
        "server_compute_output_us": server.compute_output_us if server else None,
        "server_avg_batch_size": server.avg_batch_size if server else None,
    }


def render_json(steps: Sequence[StepResult]) -> str:
    """A JSON list with one object per step (see :func:`step_to_dict`)."""
    return orjson.dumps([step_to_dict(s) for s in steps], option=orjson.OPT_INDENT_2).decode()


def render_csv(steps: Sequence[StepResult]) -> str:
    """perf_analyzer's CSV (microseconds, integers except the throughput)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    rate_mode = bool(steps) and steps[0].concurrency is None
    writer.writerow(("Request Rate", *CSV_COLUMNS[1:]) if rate_mode else CSV_COLUMNS)
    for step in steps:
        server = step.server
        avg_us = (step.avg_ms or 0.0) * 1000
        server_us = server.total_us if server else 0.0
        writer.writerow(
            (
                f"{step.request_rate:g}" if rate_mode else step.concurrency,
                f"{step.inferences_per_s:.2f}",
                0,
                _us(max(0.0, avg_us - server_us)),
                _us(server.queue_us if server else 0.0),
                _us(server.compute_input_us if server else 0.0),
                _us(server.compute_infer_us if server else 0.0),
                _us(server.compute_output_us if server else 0.0),
                0,
                *(
                    _us((ms or 0.0) * 1000)
                    for ms in (step.p50_ms, step.p90_ms, step.p95_ms, step.p99_ms)
                ),
            )
        )
    return out.getvalue()


def render_table(
    steps: Sequence[StepResult], *, title: str | None = None, wide: bool = False
) -> Table:
    """A rich table: load, throughput, latency percentiles, errors, cache and Triton's
    batch size in 80 terminal columns; with ``wide`` also infer/s, p90/p95, Triton queue and
    compute and stability."""
    table = Table(title=title)
    table.add_column("Load", no_wrap=True)
    latencies = ("p50 ms", "p90 ms", "p95 ms", "p99 ms") if wide else ("p50 ms", "p99 ms")
    numbers = ("req/s", "infer/s", *latencies) if wide else ("req/s", *latencies)
    for name in numbers:
        table.add_column(name, justify="right")
    extra = ("Errors", "Cache hits", "Queue µs", "Compute µs", "Batch", "Stable")
    for name in extra if wide else ("Errors", "Cache", "Batch"):
        table.add_column(name, justify="right")
    for step in steps:
        server = step.server
        compute = (
            server.compute_input_us + server.compute_infer_us + server.compute_output_us
            if server
            else None
        )
        errors = ", ".join(f"{kind} {n}" for kind, n in step.errors_by_kind.items()) or "0"
        cache = "-" if step.cache_hit_ratio is None else f"{step.cache_hit_ratio:.0%}"
        batch = (
            "-"
            if server is None or server.avg_batch_size is None
            else f"{server.avg_batch_size:.2f}"
        )
        load = step.load_label.replace("concurrency ", "c=") if not wide else step.load_label
        if not wide:
            p50, p99 = _ms(step.p50_ms), _ms(step.p99_ms)
            table.add_row(load, f"{step.throughput:.1f}", p50, p99, errors, cache, batch)
            continue
        table.add_row(
            load,
            f"{step.throughput:.1f}",
            f"{step.inferences_per_s:.1f}",
            *(_ms(v) for v in (step.p50_ms, step.p90_ms, step.p95_ms, step.p99_ms)),
            errors,
            cache,
            "-" if server is None else f"{server.queue_us:.0f}",
            "-" if compute is None else f"{compute:.0f}",
            batch,
            "yes" if step.stable else "no",
        )
    return table


def _us(value: float) -> int:
    return round(value)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
