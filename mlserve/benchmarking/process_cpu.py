"""CPU time per request of each process of a stack under load, read from ``/proc``.

Throughput ratios on a small machine are a share of the same cores: the load generator, the
control plane, ``tritonserver`` and its Python-backend stubs all run there. CPU time per
request shows what each path costs, and ``total`` bounds what it can reach: a path that
needs twice the CPU per request cannot serve more than half the requests per second once
the cores are busy, whatever its latency.

    meter = CpuMeter([stack_pid])        # the stack's processes and all their children
    before = meter.read()
    ... load ...
    figures = meter.read().us_per_request_since(before, requests)
    # {"load_generator": 162.0, "control_plane": 2.1, "tritonserver": 151.3,
    #  "python_stub": 168.9, "total": 484.3}

Linux only: elsewhere :meth:`CpuMeter.available` is False and nothing is measured. The
kernel counts other processes' time in clock ticks (10 ms), so measure over seconds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlserve.benchmarking.measurement import STABILITY_WINDOWS
from mlserve.benchmarking.runner import BenchmarkProgress

PROC = Path("/proc")
ROLES = ("load_generator", "control_plane", "tritonserver", "python_stub")
"""Where CPU time is booked: this process, then the stack's processes by role."""


@dataclass(frozen=True)
class ProcessStat:
    """One line of ``/proc/<pid>/stat``, the fields used here."""

    pid: int
    name: str
    """``comm``: the executable's name, cut to 15 characters by the kernel."""
    parent: int
    cpu_s: float
    """User plus system time of the process (all its threads) so far."""


def role_of(name: str) -> str:
    """The role of a stack process from its ``comm`` name."""
    if name == "tritonserver":
        return "tritonserver"
    if name.startswith("triton_python"):  # triton_python_backend_stub
        return "python_stub"
    return "control_plane"


def parse_stat(text: str, ticks_per_s: float) -> ProcessStat:
    """A ``/proc/<pid>/stat`` line; the name may hold spaces and parentheses."""
    head, _, rest = text.rpartition(")")
    pid, _, name = head.partition(" (")
    fields = rest.split()
    # fields[0] is the state; ppid, then utime and stime are stat's 4th, 14th, 15th fields.
    return ProcessStat(
        pid=int(pid),
        name=name,
        parent=int(fields[1]),
        cpu_s=(int(fields[11]) + int(fields[12])) / ticks_per_s,
    )


def descendants(roots: Iterable[int], stats: Iterable[ProcessStat]) -> list[ProcessStat]:
    """``roots`` and every process below them, from one reading of all processes."""
    by_parent: dict[int, list[ProcessStat]] = {}
    by_pid: dict[int, ProcessStat] = {}
    for stat in stats:
        by_pid[stat.pid] = stat
        by_parent.setdefault(stat.parent, []).append(stat)
    found: dict[int, ProcessStat] = {}
    pending = [by_pid[pid] for pid in roots if pid in by_pid]
    while pending:
        stat = pending.pop()
        if stat.pid not in found:
            found[stat.pid] = stat
            pending.extend(by_parent.get(stat.pid, []))
    return list(found.values())


@dataclass(frozen=True)
class CpuReading:
    """CPU seconds used so far, by role, at one moment."""

    at_s: float
    """``time.perf_counter()`` when read."""
    cpu_s: Mapping[str, float]

    def us_per_request_since(self, earlier: CpuReading, requests: int) -> dict[str, float]:
        """Microseconds of CPU per request between ``earlier`` and this reading, by role and
        ``total``; empty when no request completed. A process that ended in between (a
        restarted stub) loses its time, so figures then read low, never high."""
        if requests <= 0:
            return {}
        figures = {
            role: round(
                max(0.0, self.cpu_s.get(role, 0.0) - earlier.cpu_s.get(role, 0.0)) / requests * 1e6,
                1,
            )
            for role in ROLES
        }
        figures["total"] = round(sum(figures.values()), 1)
        return figures


class CpuMeter:
    """Reads the CPU time of this process (the load generator) and of the stack: the
    processes ``stack_pids`` and all their children, by :func:`role_of`. This process is
    never booked to the stack, even when it runs below one of ``stack_pids``."""

    def __init__(self, stack_pids: Iterable[int], *, proc: Path = PROC) -> None:
        self.stack_pids = list(stack_pids)
        self._proc = proc
        self._ticks = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0

    @property
    def available(self) -> bool:
        """Whether ``/proc`` can be read here (Linux)."""
        return (self._proc / "self" / "stat").is_file()

    def read(self) -> CpuReading:
        """CPU seconds so far: ``load_generator`` (this process) and each stack role."""
        cpu: dict[str, float] = dict.fromkeys(ROLES, 0.0)
        cpu["load_generator"] = time.process_time()
        at = time.perf_counter()
        if self.stack_pids and self.available:
            me = os.getpid()
            stats = [s for s in self._all_stats() if s.pid != me]
            for stat in descendants(self.stack_pids, stats):
                cpu[role_of(stat.name)] += stat.cpu_s
        return CpuReading(at, cpu)

    def _all_stats(self) -> list[ProcessStat]:
        stats = []
        for entry in self._proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stats.append(parse_stat((entry / "stat").read_text(), self._ticks))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile, or not readable
        return stats


class StepCpu:
    """CPU readings at each window boundary of one benchmark step, taken from the runner's
    progress events, so the figures cover the same windows as the step's throughput and
    latencies::

        cpu = StepCpu(meter)
        [step] = await arun_benchmark(config, cpu.on_progress)
        figures = cpu.us_per_request(step.windows)
    """

    def __init__(self, meter: CpuMeter | None) -> None:
        self.meter = meter
        self.marks: list[tuple[int, int, CpuReading]] = []
        """(windows closed, requests completed, reading) at the step's start and each close."""

    def on_progress(self, event: BenchmarkProgress) -> None:
        if self.meter is not None and event.result is None:
            self.marks.append((event.windows, event.completed, self.meter.read()))

    def us_per_request(self, windows: int) -> dict[str, float]:
        """Over the last (measured) windows of ``windows``; empty without readings."""
        first_window = windows - min(STABILITY_WINDOWS, windows)
        start = next((m for m in self.marks if m[0] == first_window), None)
        end = next((m for m in reversed(self.marks) if m[0] == windows), None)
        if start is None or end is None:
            return {}
        return end[2].us_per_request_since(start[2], end[1] - start[1])


def format_figures(cpu_us: Mapping[str, float]) -> str:
    """``load generator 162 · control plane 2 · ... · total 484``."""
    return " · ".join(f"{role.replace('_', ' ')} {value:.0f}" for role, value in cpu_us.items())
