"""Load benchmarks with perf_analyzer's method, implemented here (its binary is not
installable): concurrency or request-rate sweeps, windows until stable, latency
percentiles, and Triton's server-side breakdown.

``run_benchmark(BenchmarkConfig(...), progress=...)`` returns one :class:`StepResult` per
load level; ``render_table`` / ``render_csv`` / ``render_json`` present them.
"""

from mlserve.benchmarking.config import BenchmarkConfig, TargetKind
from mlserve.benchmarking.progress import rich_progress
from mlserve.benchmarking.render import CSV_COLUMNS, render_csv, render_json, render_table
from mlserve.benchmarking.results import StepResult
from mlserve.benchmarking.runner import (
    BenchmarkProgress,
    ProgressCallback,
    arun_benchmark,
    run_benchmark,
)
from mlserve.benchmarking.server_stats import ServerBreakdown

__all__ = [
    "CSV_COLUMNS",
    "BenchmarkConfig",
    "BenchmarkProgress",
    "ProgressCallback",
    "ServerBreakdown",
    "StepResult",
    "TargetKind",
    "arun_benchmark",
    "render_csv",
    "render_json",
    "render_table",
    "rich_progress",
    "run_benchmark",
]
