"""A rich progress bar driven by the runner's progress callback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from mlserve.benchmarking.runner import BenchmarkProgress, ProgressCallback


@contextmanager
def rich_progress(console: Console | None = None) -> Iterator[ProgressCallback]:
    """``with rich_progress() as progress: run_benchmark(config, progress=progress)``.

    One bar per step, advancing per measurement window (or per request when the step is
    bounded by ``max_requests``), labelled with the last window's throughput.
    """
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: dict[int, TaskID] = {}

        def update(event: BenchmarkProgress) -> None:
            if event.max_requests is not None:
                total, done = float(event.max_requests), event.completed
            else:
                total, done = float(event.max_windows), event.windows
            prefix = f"[{event.step_index + 1}/{event.step_count}] {event.label}"
            if event.result is not None:
                state = "stable" if event.result.stable else "not stable"
                description = f"{prefix}: {event.result.throughput:.1f} req/s ({state})"
                done = int(total)
            elif event.last_throughput is not None:
                description = f"{prefix}: {event.last_throughput:.1f} req/s"
            else:
                description = prefix
            if event.step_index not in tasks:
                tasks[event.step_index] = bar.add_task(description, total=total)
            bar.update(tasks[event.step_index], completed=done, description=description)

        yield update
