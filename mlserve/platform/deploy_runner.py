"""Runs one deployment in the background: the :class:`Deployer` plus bookkeeping.

Moves the record ``pending -> building -> success|failed``, streams the deployer's log lines
into it (the ``log`` callable may be called from any thread), keeps its heartbeat fresh,
and on success stores the background data as the version's data-quality reference. Any
exception ends as ``failed`` with a message — an MLServeError's own message, or the
exception type and text for anything unexpected (logged with its traceback).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue

from mlserve.errors import MLServeError
from mlserve.platform.data_quality import DataQualityService
from mlserve.platform.deploy_request import DeployRequest
from mlserve.platform.deployments import DeploymentService
from mlserve.platform.protocols import Deployer

logger = logging.getLogger(__name__)


class DeployRunner:
    """Executes deploy requests against a :class:`Deployer`."""

    def __init__(
        self,
        deployments: DeploymentService,
        deployer: Deployer,
        data_quality: DataQualityService,
        *,
        heartbeat_s: float = 30.0,
    ) -> None:
        self.deployments = deployments
        self.deployer = deployer
        self.data_quality = data_quality
        self.heartbeat_s = heartbeat_s
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, deployment_id: int, request: DeployRequest) -> None:
        """Run the deployment as a background task (kept until done; see :meth:`cancel_all`)."""
        task = asyncio.create_task(self.run(deployment_id, request), name=f"deploy-{deployment_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_all(self) -> None:
        """Wait for every submitted deployment to finish (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel_all(self) -> None:
        """Cancel running deployments (shutdown); their records go stale and read as failed."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self, deployment_id: int, request: DeployRequest) -> None:
        """Never raises: the outcome is in the deployment record."""
        lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def log(line: str) -> None:
            lines.put(str(line))
            loop.call_soon_threadsafe(wake.set)

        async def drain() -> None:
            batch: list[str] = []
            while not lines.empty():
                batch.append(lines.get_nowait())
            await self.deployments.append_log(deployment_id, *batch)

        stopping = asyncio.Event()

        async def flush_until_stopped() -> None:
            while not stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.heartbeat_s)
                wake.clear()
                await drain()
                if not stopping.is_set():
                    await self.deployments.heartbeat(deployment_id)

        async def stop_flusher() -> None:
            stopping.set()
            wake.set()
            if flusher is not None:
                with contextlib.suppress(Exception):
                    await flusher

        flusher: asyncio.Task[None] | None = None
        try:
            await self.deployments.mark_building(deployment_id)
            flusher = asyncio.create_task(flush_until_stopped())
            log(f"building {request.name} v{request.version} ({len(request.model_bytes)} bytes)")
            await self.deployer.deploy(
                request.model_bytes,
                request.name,
                request.version,
                request.features,
                request.background,
                request.metrics,
                request.task_type,
                log,
            )
            if request.background:
                await self.data_quality.save_reference(
                    request.name, request.version, request.background, request.features
                )
            log("deployed")
            await stop_flusher()
            await drain()
            await self.deployments.mark_success(deployment_id)
        except Exception as exc:
            message = (
                exc.message if isinstance(exc, MLServeError) else f"{type(exc).__name__}: {exc}"
            )
            if not isinstance(exc, MLServeError):
                logger.exception("deployment %s failed unexpectedly", deployment_id)
            await stop_flusher()
            with contextlib.suppress(Exception):
                log(f"failed: {message}")
                await drain()
                await self.deployments.mark_failed(deployment_id, message)
