"""The real control plane (uvicorn + create_app) on a free port, in a background thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import uvicorn

from mlserve.control_plane.app import create_app
from mlserve.control_plane.slow_clients import with_deadlines
from mlserve.control_plane.uvicorn_options import ANSWER_OPTIONS, fastest_loop_and_parser
from mlserve.settings import Settings
from tests.support.service import StartedService


class ControlPlaneServer(StartedService):
    """``create_app(settings)`` served by uvicorn until :meth:`stop`."""

    def __init__(self, settings: Settings, *, protocol: type[Any] | None = None) -> None:
        """``protocol``: the uvicorn HTTP protocol class to extend with the settings' read
        deadlines (default: what ``mlserve up`` uses)."""
        self.settings = settings
        self.app = create_app(settings)
        protocol = protocol or fastest_loop_and_parser()[1]
        config = uvicorn.Config(
            self.app,
            host=settings.server.host,
            port=settings.server.port,
            log_level="warning",
            lifespan="on",
            **ANSWER_OPTIONS,
            # as `mlserve up` serves: the read deadlines of these settings
            http=with_deadlines(
                protocol,
                header_timeout_s=settings.server.header_timeout_s,
                body_timeout_s=settings.server.body_timeout_s,
            ),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="control-plane", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.server.host}:{self.settings.server.port}"

    def start(self, timeout_s: float = 60.0) -> ControlPlaneServer:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.server.started:
                try:
                    if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            if not self.thread.is_alive():
                raise RuntimeError("control plane exited during start-up; see the log above")
            time.sleep(0.05)
        raise RuntimeError(f"control plane not up after {timeout_s}s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
