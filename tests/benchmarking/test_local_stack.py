"""Benchmark servers: settings in front of a running Triton, and how a failed start reads."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlserve.benchmarking.local_stack import _running, external_triton_env, free_port
from mlserve.settings import Settings


def test_a_control_plane_in_front_of_a_running_triton_starts_none_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = external_triton_env(
        "127.0.0.1:9001", "http://127.0.0.1:9000", "http://127.0.0.1:9002/metrics", tmp_path
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.external_triton == "127.0.0.1:9001"
    assert settings.inference_http_url == "http://127.0.0.1:9000"
    assert settings.triton.metrics_url == "http://127.0.0.1:9002/metrics"
    assert settings.models_dir == tmp_path
    assert "MLSERVE_TRITON__METRICS_URL" not in external_triton_env(
        "127.0.0.1:9001", "http://127.0.0.1:9000", None, tmp_path
    )


def test_a_server_that_exits_before_it_is_ready_ends_the_script_with_its_log(
    tmp_path: Path,
) -> None:
    # What a failed start of `asgi_floor` or `mlserve up` looks like to a benchmark script.
    command = [sys.executable, "-c", "print('port already taken'); raise SystemExit(3)"]
    with (
        pytest.raises(SystemExit, match=r"the ASGI floor exited \(3\): port already taken"),
        _running("the ASGI floor", command, {}, tmp_path, tmp_path / "floor.log", free_port()),
    ):
        pass
