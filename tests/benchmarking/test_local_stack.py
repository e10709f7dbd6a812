"""Settings for benchmark control planes put in front of a running Triton."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlserve.benchmarking.local_stack import external_triton_env
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
