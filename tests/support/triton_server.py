"""A real embedded tritonserver for tests: free ports, a temp repository, supervised.

Usage::

    with TritonServer(tmp_path) as triton:
        triton.repository.publish_version(train_sentiment(1), "sentiment")
        triton.server.load_model("sentiment")
        TritonClient(triton.grpc_url) ...
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository
from mlserve.triton.launcher import EmbeddedTriton
from tests.support.redis_server import free_port
from tests.support.service import StartedService


class TritonServer(StartedService):
    """tritonserver from the pytriton wheel on free loopback ports, stopped in ``finally``."""

    def __init__(self, root: Path | None = None, options: ServingOptions | None = None) -> None:
        self._own_root = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="mlserve-triton-"))
        self.repository_path = self.root / "model_repository"
        self.repository_path.mkdir(parents=True, exist_ok=True)
        self.repository = ModelRepository(self.repository_path, options or ServingOptions())
        self.server = EmbeddedTriton(
            self.repository_path,
            workdir=self.root / "var",
            http_port=free_port(),
            grpc_port=free_port(),
            metrics_port=free_port(),
            startup_timeout_s=120,
        )

    @property
    def grpc_url(self) -> str:
        return self.server.grpc_url

    @property
    def http_url(self) -> str:
        return self.server.http_url

    @property
    def metrics_url(self) -> str:
        return self.server.metrics_url

    def start(self) -> TritonServer:
        self.server.start()
        self.server.supervise(interval_s=0.2)
        return self

    def stop(self) -> None:
        try:
            self.server.stop()
        finally:
            if self._own_root:
                shutil.rmtree(self.root, ignore_errors=True)
