"""perf_analyzer's method: sweep load levels, measure each in windows until stable.

For each level of the sweep the runner keeps ``concurrency`` requests in flight (or sends
``request_rate`` requests per second on a fixed schedule), measures in windows of
``window_s`` until the last three windows agree within ``stability_pct`` (or ``max_windows``
or ``max_requests`` is reached), then reports the merged last windows. Triton's statistics
are read before and after each step for the server-side breakdown.

Before the sweep the target is checked (server up, model present, one request accepted),
so a wrong URL or model ends the run with one ``MLServeError`` line, not a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from mlserve.benchmarking.config import BenchmarkConfig
from mlserve.benchmarking.measurement import STABILITY_WINDOWS, Window, is_stable
from mlserve.benchmarking.results import StepResult
from mlserve.benchmarking.server_stats import StatsReader, StatsSnapshot, breakdown
from mlserve.benchmarking.targets import Outcome, Target, make_target
from mlserve.benchmarking.workload import TextWorkload, default_texts
from mlserve.errors import MLServeError

log = logging.getLogger(__name__)

_SETTLE_READS = 10
_SETTLE_PAUSE_S = 0.02


@dataclass(frozen=True)
class BenchmarkProgress:
    """Where the run is: sent after each window, and once more with ``result`` per step."""

    step_index: int
    """0-based index of the step in the sweep."""
    step_count: int
    label: str
    """``concurrency 4`` or ``100 req/s``."""
    windows: int
    """Windows completed in this step."""
    max_windows: int
    completed: int
    """Requests completed in this step (successes and errors)."""
    max_requests: int | None
    last_throughput: float | None
    """Successful requests per second in the last window."""
    result: StepResult | None = None
    """Set on the step's final event."""


ProgressCallback = Callable[[BenchmarkProgress], None]


def run_benchmark(
    config: BenchmarkConfig, progress: ProgressCallback | None = None
) -> list[StepResult]:
    """Run the sweep and return one result per level; for sync callers such as the CLI.

    Raises a one-line ``MLServeError`` when the target or its statistics cannot be used.
    Must not be called from a running event loop (use :func:`arun_benchmark` there).
    """
    return asyncio.run(arun_benchmark(config, progress))


async def arun_benchmark(
    config: BenchmarkConfig, progress: ProgressCallback | None = None
) -> list[StepResult]:
    """The async form of :func:`run_benchmark`."""
    levels = config.levels()
    workload = TextWorkload(
        list(config.texts) if config.texts else default_texts(),
        unique_ratio=config.unique_ratio,
        pool_size=config.pool_size,
        seed=config.seed,
    )
    max_connections = (
        config.max_outstanding if config.mode == "request_rate" else int(max(levels))
    ) + 1
    stats = _stats_reader(config)
    try:
        async with make_target(config, max_connections=max_connections) as target:
            await target.check()
            if stats is not None:
                await stats.snapshot()
            results: list[StepResult] = []
            after: StatsSnapshot | None = None
            for index, level in enumerate(levels):
                step = _Step(config, target, workload, level, index, len(levels), progress)
                before = after or await _settled_snapshot(stats)
                result = await step.run()
                after = await _settled_snapshot(stats)
                if before is not None and after is not None:
                    result = replace(result, server=breakdown(before, after))
                if progress is not None:
                    progress(step.event(result))
                results.append(result)
            return results
    finally:
        if stats is not None:
            await stats.aclose()


def _stats_reader(config: BenchmarkConfig) -> StatsReader | None:
    url = config.stats_url
    if url is None:
        return None
    return StatsReader(
        url, model=config.model, version=config.version, timeout_s=config.connect_timeout_s
    )


async def _settled_snapshot(stats: StatsReader | None) -> StatsSnapshot | None:
    """Counters once they stop moving: Triton records a request's statistics just after
    answering it, so a read right after the last answer can miss it."""
    if stats is None:
        return None
    try:
        current = await stats.snapshot()
        for _ in range(_SETTLE_READS):
            await asyncio.sleep(_SETTLE_PAUSE_S)
            latest = await stats.snapshot()
            if latest == current:
                break
            current = latest
        return current
    except MLServeError as exc:
        log.warning("no server-side breakdown for this step: %s", exc.message)
        return None


class _Recorder:
    """Collects outcomes into the open window; signals when ``limit`` requests completed."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.window = Window()
        self.completed = 0
        self.all_done = asyncio.Event()

    def add(self, outcome: Outcome) -> None:
        if outcome.error is None:
            self.window.latencies_s.append(outcome.latency_s)
        else:
            self.window.errors[outcome.error] += 1
        self.window.cached += outcome.cached
        self.window.cache_reported += outcome.cache_reported
        self.completed += 1
        if self.limit is not None and self.completed >= self.limit:
            self.all_done.set()

    def close_window(self, duration_s: float) -> Window:
        window, self.window = self.window, Window()
        window.duration_s = duration_s
        return window


class _Step:
    """One load level of the sweep."""

    def __init__(
        self,
        config: BenchmarkConfig,
        target: Target,
        workload: TextWorkload,
        level: float,
        index: int,
        count: int,
        progress: ProgressCallback | None,
    ) -> None:
        self.config = config
        self.target = target
        self.workload = workload
        self.level = level
        self.index = index
        self.count = count
        self.progress = progress
        self.recorder = _Recorder(config.max_requests)
        self.windows: list[Window] = []
        rate_mode = config.mode == "request_rate"
        self.concurrency = None if rate_mode else int(level)
        self.request_rate = level if rate_mode else None
        self.label = f"{level:g} req/s" if rate_mode else f"concurrency {int(level)}"

    def event(self, result: StepResult | None = None) -> BenchmarkProgress:
        return BenchmarkProgress(
            step_index=self.index,
            step_count=self.count,
            label=self.label,
            windows=len(self.windows),
            max_windows=self.config.max_windows,
            completed=self.recorder.completed,
            max_requests=self.config.max_requests,
            last_throughput=self.windows[-1].throughput if self.windows else None,
            result=result,
        )

    async def run(self) -> StepResult:
        if self.progress is not None:
            self.progress(self.event())
        if self.concurrency is not None:
            stable = await self._run_concurrency(self.concurrency)
        else:
            assert self.request_rate is not None
            stable = await self._run_rate(self.request_rate)
        return StepResult.from_windows(
            self.windows,
            measured=min(STABILITY_WINDOWS, len(self.windows)),
            stable=stable,
            batch_size=self.config.batch_size,
            concurrency=self.concurrency,
            request_rate=self.request_rate,
        )

    async def _send(self) -> None:
        texts = self.workload.take(self.config.batch_size)
        try:
            outcome = await self.target.send(texts)
        except Exception as exc:  # a target bug must not end the run; count it instead
            outcome = Outcome(0.0, error=type(exc).__name__)
        self.recorder.add(outcome)

    async def _run_concurrency(self, concurrency: int) -> bool:
        limit = self.config.max_requests
        started = 0
        stopping = False

        async def worker() -> None:
            nonlocal started
            while not stopping and (limit is None or started < limit):
                started += 1
                await self._send()

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        try:
            return await self._measure()
        finally:
            stopping = True
            await self._drain(workers)

    async def _run_rate(self, rate: float) -> bool:
        limit = self.config.max_requests
        outstanding: set[asyncio.Task[None]] = set()

        async def schedule() -> None:
            interval = 1.0 / rate
            next_at = time.perf_counter()
            sent = 0
            while limit is None or sent < limit:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if len(outstanding) >= self.config.max_outstanding:
                    self.recorder.add(Outcome(0.0, error="client_backlog"))
                else:
                    task = asyncio.create_task(self._send())
                    outstanding.add(task)
                    task.add_done_callback(outstanding.discard)
                sent += 1
                next_at += interval

        scheduler = asyncio.create_task(schedule())
        try:
            return await self._measure()
        finally:
            scheduler.cancel()
            await asyncio.gather(scheduler, return_exceptions=True)
            await self._drain(list(outstanding))

    async def _measure(self) -> bool:
        """Close windows until stable, out of windows, or out of requests."""
        done = self.recorder.all_done
        while True:
            opened = time.perf_counter()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=self.config.window_s)
            self.windows.append(self.recorder.close_window(time.perf_counter() - opened))
            stable = is_stable(self.windows, self.config.stability_pct)
            if self.progress is not None:
                self.progress(self.event())
            if stable or done.is_set() or len(self.windows) >= self.config.max_windows:
                return stable

    async def _drain(self, tasks: list[asyncio.Task[None]]) -> None:
        """Let in-flight requests finish (bounded by the request timeout), then cancel."""
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.config.request_timeout_s + 1.0)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
