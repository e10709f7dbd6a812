"""The serving stack behind the ``/api/v1`` platform's seams.

:mod:`mlserve.platform.protocols` declares what the platform needs; these classes provide
it over the model repository, the :class:`~mlserve.serving.publisher.Publisher` and Triton:

- :class:`RepositoryCatalog` (``ModelCatalog``): versions as the repository has them; a
  version is *active* when it is in the set Triton is configured to serve (enabled and
  among the newest ``serve_versions``). Cached per model and refreshed when the model's
  ``config.pbtxt`` changes (every publish, stop, start and removal rewrites it), which
  also holds across replicas sharing the repository.
- :class:`TritonDeployer` (``Deployer``): load and export the upload to ONNX with the
  parity check in a sandboxed child process (:mod:`mlserve.platform.upload_sandbox`: the
  server never unpickles an upload), then ``publisher.publish``. Anything wrong
  with the file is a :class:`~mlserve.errors.ConversionError` (400) raised before the
  repository is touched; a version Triton cannot load is rolled back by the publisher.
- :class:`TritonLifecycle` (``ModelLifecycle``): stop/start/remove through the publisher.

Predictions go through the data plane (:class:`mlserve.dataplane.core.DataPlane`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlserve.converters.base import ExportedModel
from mlserve.errors import (
    ConflictError,
    ConversionError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
)
from mlserve.platform.anomaly_quality import anomaly_reference
from mlserve.platform.config import MAX_MODEL_UPLOAD_BYTES
from mlserve.platform.protocols import CatalogVersion
from mlserve.platform.upload_sandbox import UploadSandbox
from mlserve.repository.metadata import ModelMetadata
from mlserve.repository.store import CONFIG_FILE, ModelRepository, validate_model_name
from mlserve.serving.publisher import Publisher
from mlserve.triton.client import TritonClient

LISTED_TASKS = ("classification", "regression", "anomaly-detection")
"""Tasks listings name as they are; any other is listed as classification."""


def catalog_version(
    metadata: ModelMetadata, active: bool, internal_url: str | None = None
) -> CatalogVersion:
    """The platform's view of one version's metadata."""
    declared = metadata.extra.get("task_type")
    task = metadata.task if metadata.task in LISTED_TASKS else "classification"
    shown = metadata.model_dump(mode="json", exclude={"reference_profile"})
    signals = (metadata.reference_profile or {}).get("signals")
    reference = anomaly_reference(signals) if isinstance(signals, dict) else None
    if reference is not None:
        shown["anomaly_reference"] = reference  # data quality compares live scores with it
    return CatalogVersion(
        version=metadata.version,
        active=active,
        deployed_at=metadata.published_at,
        task_type=declared if declared in ("classification", "regression") else task,
        features=list(metadata.features),
        metrics=dict(metadata.metrics),
        metadata=shown,
        internal_url=internal_url,
    )


@dataclass(frozen=True)
class _Snapshot:
    stamp: tuple[int, int, int]
    versions: list[CatalogVersion]


class RepositoryCatalog:
    """``ModelCatalog`` over a :class:`ModelRepository`."""

    def __init__(self, repository: ModelRepository, triton: TritonClient | None = None) -> None:
        self.repository = repository
        self.triton = triton
        self._snapshots: dict[str, _Snapshot] = {}

    async def model_names(self) -> list[str]:
        return await asyncio.to_thread(self.repository.model_names)

    async def versions(self, name: str) -> list[CatalogVersion]:
        """Cheap when nothing changed: one ``stat`` of the model's config."""
        stamp = self._stamp(name)
        if stamp == (0, 0, 0):
            # no such model: nothing to cache (callers may send any name; keep this bounded)
            self._snapshots.pop(name, None)
            return []
        cached = self._snapshots.get(name)
        if cached is not None and cached.stamp == stamp:
            return cached.versions
        versions = await asyncio.to_thread(self._read, name)
        self._snapshots[name] = _Snapshot(stamp, versions)
        return versions

    def _stamp(self, name: str) -> tuple[int, int, int]:
        try:
            validate_model_name(name)
        except InvalidInputError:
            return (0, 0, 0)
        try:
            info = os.stat(self.repository.root / name / CONFIG_FILE)
        except OSError:
            return (0, 0, 0)
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def _read(self, name: str) -> list[CatalogVersion]:
        if self._stamp(name) == (0, 0, 0):
            return []
        active = set(self.repository.active_versions(name))
        rows = []
        for version in self.repository.versions(name):
            try:
                metadata = self.repository.metadata(name, version)
            except NotFoundError:
                continue
            rows.append(catalog_version(metadata, version in active, self._url(name, version)))
        return rows

    def _url(self, name: str, version: int) -> str | None:
        if self.triton is None:
            return None
        return f"grpc://{self.triton.url}/{name}/{version}"


class TritonDeployer:
    """``Deployer``: export in the upload sandbox (from a worker thread), publish."""

    def __init__(
        self,
        publisher: Publisher,
        *,
        max_upload_bytes: int = MAX_MODEL_UPLOAD_BYTES,
        scratch_dir: Path | None = None,
        sandbox: UploadSandbox | None = None,
    ) -> None:
        self.publisher = publisher
        self.max_upload_bytes = max_upload_bytes
        self.sandbox = sandbox or UploadSandbox(scratch_dir=scratch_dir)

    async def deploy(
        self,
        model_bytes: bytes,
        name: str,
        version: int,
        features: list[str] | None,
        background: list[dict[str, Any]] | None,
        metrics: dict[str, float] | None,
        task_type: str | None,
        log: Callable[[str], None],
    ) -> None:
        exported = await asyncio.to_thread(
            self._export, model_bytes, name, features, background, metrics, task_type, log
        )
        log(f"publishing {name} v{version} to Triton")
        await self.publisher.publish(exported, name, version)
        log(f"{name} v{version} is READY in Triton")

    def _export(
        self,
        model_bytes: bytes,
        name: str,
        features: list[str] | None,
        background: list[dict[str, Any]] | None,
        metrics: dict[str, float] | None,
        task_type: str | None,
        log: Callable[[str], None],
    ) -> ExportedModel:
        if len(model_bytes) > self.max_upload_bytes:
            raise PayloadTooLargeError(
                f"model file is larger than {self.max_upload_bytes} bytes: upload a smaller model"
            )
        log("loading the upload in the sandbox (allowlist of model classes, no network)")
        from mlserve.converters.loading import existing_input_dtype

        exported = self.sandbox.export(
            model_bytes,
            name=name,
            features=features,
            background=background,
            metrics=metrics,
            task_type=task_type,
            log=log,
            input_dtype=existing_input_dtype(self.publisher.repository, name),
        )
        if exported.input_kind not in ("tabular", "causal", "recommender"):
            raise ConversionError(
                f"{name}: /api/v1/deploy serves models that take feature records; this is a "
                f"{exported.input_kind} model — publish it with `mlserve load` instead"
            )
        log(exported.parity.summary())
        for line in exported.parity.worst_lines():
            log(line)
        if not exported.parity.passed:
            raise ConversionError(
                f"{name}: the ONNX export does not reproduce the model "
                f"({exported.parity.summary()}); nothing was published"
            )
        log(f"exported: task {exported.task}, features {exported.features}")
        return exported


class TritonLifecycle:
    """``ModelLifecycle`` through the :class:`Publisher` (which reloads Triton)."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def stop(self, name: str, version: int, remove: bool) -> None:
        if remove:
            await self.publisher.remove(name, version)
        else:
            await self.publisher.set_enabled(name, version, False)

    async def start(self, name: str, version: int) -> None:
        await self.publisher.set_enabled(name, version, True)
        repository = self.publisher.repository
        if version not in await asyncio.to_thread(repository.active_versions, name):
            limit = repository.options.serve_versions
            raise ConflictError(
                f"{name} v{version} is enabled but not served: only the newest {limit} enabled "
                f"versions are loaded (MLSERVE_TRITON__SERVE_VERSIONS); stop a newer version "
                "first or raise that setting"
            )
