"""Session-wide real services: tritonserver, the control plane in front of it.

* ``triton_server``: the pip-shipped tritonserver on free ports with a temp repository
  that holds the sample ``sentiment`` model (v1), supervised (restarted if killed).
* ``redis_server`` (plugin ``tests.support.redis_fixture``): a real redis-server.
* ``stack``: the control plane (uvicorn, ``create_app``) on a free port in front of it,
  in-memory cache, an admin account for ``/api/v1``.

Both are started once per session and torn down in ``finally``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlserve.repository.store import ModelRepository
from mlserve.samples.sentiment_model import SAMPLE_NAME, train_sentiment
from mlserve.settings import Settings
from tests.support.redis_server import free_port
from tests.support.triton_server import TritonServer

pytest_plugins = ["tests.support.redis_fixture", "tests.support.mlflow_fixture"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ADMIN_USER = "admin"
ADMIN_PASSWORD = "test-admin-password-1"


@pytest.fixture(scope="session")
def triton_server() -> Iterator[TritonServer]:
    """A real tritonserver serving a temp repository with ``sentiment`` v1 loaded."""
    server = TritonServer()
    try:
        server.repository.publish_version(train_sentiment(1), SAMPLE_NAME)
        server.start()
        server.server.load_model(SAMPLE_NAME)
        yield server
    finally:
        server.stop()


@dataclass
class Stack:
    """A running control plane in front of ``triton_server``."""

    base_url: str
    settings: Settings
    repository: ModelRepository
    triton: TritonServer
    server: Any
    """The :class:`tests.support.control_plane.ControlPlaneServer`."""

    @property
    def triton_metrics_url(self) -> str:
        return self.triton.metrics_url


def stack_settings(triton: TritonServer, state_dir: Path, /, **overrides: object) -> Settings:
    """Settings for a control plane in front of ``triton`` (external Triton, own port)."""
    values: dict[str, object] = {
        "models_dir": triton.repository_path,
        "triton_url": triton.grpc_url,
        "triton": {"metrics_url": triton.metrics_url, "http_url": triton.http_url},
        "server": {"host": "127.0.0.1", "port": free_port()},
        "cache": {"enabled": True, "redis_url": None},
        "monitoring": {"triton_poll_seconds": 1.0},
        "admin_user": ADMIN_USER,
        "admin_password": ADMIN_PASSWORD,
        "webhook_allow_private": True,
        "auth": {"state_path": state_dir / "platform.sqlite3"},
        # One JSON line per request would flood the test output; tests of the request log
        # start a control plane of their own with it on.
        "logging": {"requests": False},
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def stack(triton_server: TritonServer) -> Iterator[Stack]:
    """The control plane serving ``triton_server``'s repository."""
    from tests.support.control_plane import ControlPlaneServer

    state_dir = Path(tempfile.mkdtemp(prefix="mlserve-state-"))
    settings = stack_settings(triton_server, state_dir)
    server = ControlPlaneServer(settings)
    try:
        server.start()
        yield Stack(
            base_url=server.base_url,
            settings=settings,
            repository=triton_server.repository,
            triton=triton_server,
            server=server,
        )
    finally:
        server.stop()
