"""F11: no Triton lifetime leaves ``/dev/shm`` regions behind: not a clean stop, not a
``kill -9`` followed by the supervisor's restart, not a dead control plane's Triton."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from mlserve.samples.sentiment_model import SAMPLE_NAME, train_sentiment
from mlserve.triton.launcher import SHM_DIR, shm_regions
from tests.support.triton_server import TritonServer


def lifetime_prefix(pid: int, grpc_port: int) -> str:
    return f"mlserve{pid}p{grpc_port}r"


def test_stop_and_kill_restart_leave_no_region_behind() -> None:
    triton = TritonServer()
    port = triton.server.grpc_port
    everything = lifetime_prefix(os.getpid(), port)
    try:
        triton.repository.publish_version(train_sentiment(1), SAMPLE_NAME)
        triton.start()
        triton.server.load_model(SAMPLE_NAME)
        first = triton.server.shm_prefix
        assert first is not None
        assert shm_regions(first), "a loaded Python-backend model has a region"

        old_pid = triton.server.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while triton.server.restarts < 1 or triton.server.unavailable_reason() is not None:
            assert time.monotonic() < deadline, "the supervisor did not restart Triton"
            time.sleep(0.2)
        assert shm_regions(first) == [], "the killed lifetime's regions are gone"
        second = triton.server.shm_prefix
        assert second is not None
        assert second != first
        assert shm_regions(second)
    finally:
        triton.stop()
    assert shm_regions(everything) == []


def test_regions_of_a_dead_control_planes_triton_are_removed_at_start() -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    triton = TritonServer()
    port = triton.server.grpc_port
    orphan = SHM_DIR / f"{lifetime_prefix(dead_pid, port)}0_leftover"
    other_port = SHM_DIR / f"{lifetime_prefix(dead_pid, port + 1)}0_not-ours"
    orphan.write_bytes(b"x")
    other_port.write_bytes(b"x")
    try:
        triton.start()
        assert not orphan.exists()
        assert other_port.exists(), "regions of other ports are left alone"
    finally:
        triton.stop()
        other_port.unlink(missing_ok=True)
        orphan.unlink(missing_ok=True)
