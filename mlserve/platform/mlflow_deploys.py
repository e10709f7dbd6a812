"""``POST /api/v1/deploy`` with ``model_uri``: an MLflow model deployed in the background.

The URI is resolved before the 202 (so an unknown model is a 404 and an unreachable server
a 503 at once, nothing recorded); download, conversion, parity and publishing then run as
an ordinary deployment record (``GET /api/v1/deployments/{id}``: status and logs), and the
MLflow version is tagged with where and as which version it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from mlserve.converters.base import ExportedModel
from mlserve.converters.mlflow_flavors import PickledExport
from mlserve.converters.mlflow_source import MlflowSource
from mlserve.errors import ConflictError, MLServeError, ParityError
from mlserve.platform.deployments import Deployment, DeploymentService
from mlserve.platform.upload_sandbox import UploadSandbox
from mlserve.repository.store import validate_model_name
from mlserve.serving.publisher import Publisher

logger = logging.getLogger(__name__)


class MlflowDeploys:
    """Starts and runs MLflow imports; ``where`` is the control plane's base URL."""

    def __init__(
        self,
        deployments: DeploymentService,
        publisher: Publisher,
        *,
        tracking_uri: str | None,
        timeout_s: float,
        where: str,
        sandbox: UploadSandbox,
    ) -> None:
        self._sandbox = sandbox
        """Where pickled MLflow models are loaded (never in this process)."""
        self._deployments = deployments
        self._publisher = publisher
        self._tracking_uri = tracking_uri
        self._timeout_s = timeout_s
        self._where = where
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(
        self, model_uri: str, name: str, version: int | None, created_by: str
    ) -> Deployment:
        """Check the URI against the server, record the deployment, run it in the background."""
        validate_model_name(name)
        source = MlflowSource(self._tracking_uri, timeout_s=self._timeout_s)
        await asyncio.to_thread(source.check_reachable)
        await asyncio.to_thread(source.resolve, model_uri)
        repository = self._publisher.repository
        existing = repository.versions(name)
        chosen = version if version is not None else (existing[-1] + 1 if existing else 1)
        if chosen in existing:
            raise ConflictError(
                f"{name} v{chosen} exists already; deploy as v{existing[-1] + 1} or leave "
                "version out"
            )
        deployment = await self._deployments.create(name, chosen, created_by)
        task = asyncio.create_task(self._run(deployment.id, source, model_uri, name, chosen))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return deployment

    async def _run(
        self, deployment_id: int, source: MlflowSource, model_uri: str, name: str, version: int
    ) -> None:
        log = self._deployments.append_log
        try:
            await self._deployments.mark_building(deployment_id)
            await log(deployment_id, f"importing {model_uri} from {source.tracking_uri}")
            imported = await asyncio.to_thread(
                source.export,
                model_uri,
                name=name,
                trusted=False,
                pickled_export=self._sandboxed(name),
            )
            parity = imported.exported.parity
            await log(deployment_id, f"{imported.flavor} model converted; {parity.summary()}")
            if not parity.passed:
                raise ParityError(f"{model_uri} not published: {parity.summary()}")
            await self._publisher.publish(imported.exported, name, version)
            await log(deployment_id, f"{name} v{version} is READY in Triton")
            try:
                await asyncio.to_thread(
                    source.tag_serving, imported, served_as=f"{name} v{version}", where=self._where
                )
                await log(deployment_id, f"tagged {model_uri} in MLflow")
            except Exception as exc:
                await log(deployment_id, f"could not tag the MLflow version: {exc}")
            await self._deployments.mark_success(deployment_id)
        except Exception as exc:
            message = exc.message if isinstance(exc, MLServeError) else f"{type(exc).__name__}"
            if not isinstance(exc, MLServeError):
                logger.exception("MLflow deployment %s failed unexpectedly", deployment_id)
            with contextlib.suppress(Exception):
                await log(deployment_id, f"failed: {message}")
                await self._deployments.mark_failed(deployment_id, message)

    def _sandboxed(self, name: str) -> PickledExport:
        """Exports a pickle's bytes in the upload sandbox, matching the model's input type."""
        from mlserve.converters.loading import existing_input_dtype

        dtype = existing_input_dtype(self._publisher.repository, name)

        def export(
            data: bytes, features: list[str] | None, background: list[dict[str, Any]] | None
        ) -> ExportedModel:
            return self._sandbox.export(
                data,
                name=name,
                features=features,
                background=background,
                metrics=None,
                task_type=None,
                log=lambda line: None,
                input_dtype=dtype,
            )

        return export

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
