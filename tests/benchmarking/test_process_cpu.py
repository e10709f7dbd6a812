"""CPU time per request by process role, read from the real ``/proc``."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from mlserve.benchmarking.process_cpu import (
    CpuMeter,
    CpuReading,
    ProcessStat,
    StepCpu,
    descendants,
    format_figures,
    parse_stat,
    role_of,
)
from mlserve.benchmarking.results import StepResult
from mlserve.benchmarking.runner import BenchmarkProgress

STEP = StepResult(4, None, 100.0, 100.0, 300, 1.0, 1.0, 1.0, 1.0, 1.0)
BUSY_CHILD = """
import sys, time
sys.stdin.readline()
end = time.process_time() + 0.4
while time.process_time() < end:
    pass
print("done", flush=True)
time.sleep(30)
"""


def test_a_stat_line_with_spaces_and_parentheses_in_the_name() -> None:
    line = "4242 (odd (name) x) S 17 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0"
    stat = parse_stat(line, ticks_per_s=100)
    assert stat == ProcessStat(pid=4242, name="odd (name) x", parent=17, cpu_s=3.0)


def test_roles_follow_the_process_names_triton_gives_its_processes() -> None:
    assert role_of("tritonserver") == "tritonserver"
    assert role_of("triton_python_b") == "python_stub"  # comm is cut to 15 characters
    assert role_of("python") == "control_plane"
    assert role_of("mlserve") == "control_plane"


def test_descendants_are_the_roots_and_everything_below_them_only() -> None:
    stats = [
        ProcessStat(10, "python", 1, 1.0),
        ProcessStat(11, "tritonserver", 10, 2.0),
        ProcessStat(12, "triton_python_b", 11, 3.0),
        ProcessStat(20, "python", 1, 4.0),  # a sibling of the root: not ours
    ]
    assert sorted(s.pid for s in descendants([10], stats)) == [10, 11, 12]
    assert descendants([99], stats) == []  # a root that is gone


def test_per_request_figures_split_by_role_and_add_up() -> None:
    before = CpuReading(0.0, {"load_generator": 1.0, "control_plane": 2.0, "tritonserver": 3.0})
    after = CpuReading(
        2.0,
        {"load_generator": 1.1, "control_plane": 2.3, "tritonserver": 2.5, "python_stub": 0.2},
    )
    figures = after.us_per_request_since(before, 1000)
    assert figures == {
        "load_generator": 100.0,
        "control_plane": 300.0,
        "tritonserver": 0.0,  # a process that ended in between reads low, never negative
        "python_stub": 200.0,
        "total": 600.0,
    }
    assert after.us_per_request_since(before, 0) == {}


def test_a_busy_stack_process_is_booked_to_its_role_and_this_process_to_the_load() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", BUSY_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        meter = CpuMeter([child.pid])
        assert meter.available
        assert child.stdin is not None
        assert child.stdout is not None
        before = meter.read()
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "done"
        end = time.process_time() + 0.2
        while time.process_time() < end:
            pass
        figures = meter.read().us_per_request_since(before, 1)
    finally:
        child.kill()
        child.wait()
    assert figures["control_plane"] >= 300_000  # the child's 0.4 s loop, in microseconds
    assert figures["load_generator"] >= 190_000  # this process's 0.2 s loop
    assert figures["tritonserver"] == figures["python_stub"] == 0


def test_this_process_is_never_booked_to_the_stack_it_runs_under() -> None:
    meter = CpuMeter([os.getpid()])  # as if the stack were this process
    before = meter.read()
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    figures = meter.read().us_per_request_since(before, 1)
    assert figures["control_plane"] < 20_000
    assert figures["load_generator"] >= 190_000


class SteppingMeter(CpuMeter):
    """Each read is 0.1 s more control-plane CPU than the last."""

    def __init__(self) -> None:
        super().__init__([])
        self.reads = 0

    def read(self) -> CpuReading:
        self.reads += 1
        return CpuReading(float(self.reads), {"control_plane": self.reads * 0.1})


def progress(windows: int, completed: int, result: StepResult | None = None) -> BenchmarkProgress:
    return BenchmarkProgress(0, 1, "concurrency 4", windows, 10, completed, None, None, result)


def test_step_figures_cover_the_measured_windows_only() -> None:
    cpu = StepCpu(SteppingMeter())
    for closed in range(5):  # the step's start (0 windows), then 4 window closes
        cpu.on_progress(progress(closed, closed * 100))
    cpu.on_progress(progress(4, 400, result=STEP))  # the final event is not a boundary
    # The step reports its last 3 windows (2..4): 0.3 s of CPU over 300 requests.
    assert cpu.us_per_request(4)["control_plane"] == 1000.0
    assert cpu.us_per_request(2)["control_plane"] == 1000.0  # windows 1..2 of a short step
    assert StepCpu(None).us_per_request(3) == {}  # nothing was read


def test_figures_read_as_one_line() -> None:
    line = format_figures({"load_generator": 162.4, "control_plane": 2.0, "total": 164.4})
    assert line == "load generator 162 · control plane 2 · total 164"
