"""Which model version answers a request.

Users name models as ``sentiment`` (newest version Triton serves), ``sentiment-v2`` or
``sentiment`` with an explicit version. Resolution reads the repository (what exists) and
Triton (what is ready), and caches per-version objects (metadata, preprocessor) so the hot
path does no file I/O.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from mlserve.errors import NotFoundError, ServiceUnavailableError
from mlserve.preprocessing.pipeline import TextPreprocessor
from mlserve.repository.metadata import ModelMetadata
from mlserve.repository.store import ModelRepository
from mlserve.triton.client import TritonClient

_VERSIONED = re.compile(r"^(?P<name>.+)-v(?P<version>\d+)$")
_READY_TTL_S = 1.0


@dataclass(frozen=True)
class ResolvedModel:
    """A concrete model version with what is needed to serve it."""

    name: str
    version: int
    metadata: ModelMetadata
    version_dir: Path

    @property
    def display(self) -> str:
        return f"{self.name}-v{self.version}"


def parse_model_ref(ref: str) -> tuple[str, int | None]:
    """``"sentiment-v2"`` → ``("sentiment", 2)``; ``"sentiment"`` → ``("sentiment", None)``."""
    match = _VERSIONED.match(ref)
    if match:
        return match["name"], int(match["version"])
    return ref, None


class ModelRegistry:
    """Resolves model references against the repository and Triton's ready versions."""

    def __init__(
        self, repository: ModelRepository, triton: TritonClient, default_model: str
    ) -> None:
        self.repository = repository
        self.triton = triton
        self.default_model = default_model
        self._metadata: dict[tuple[str, int], ModelMetadata] = {}
        self._preprocessors: dict[tuple[str, int], TextPreprocessor] = {}
        self._ready: dict[str, tuple[float, list[int]]] = {}

    async def resolve(self, ref: str | None, version: int | None = None) -> ResolvedModel:
        """The version to serve; NotFoundError lists what exists, 503 when none is ready."""
        name, ref_version = parse_model_ref(ref or self.default_model)
        version = version if version is not None else ref_version
        existing = self.repository.versions(name)
        if not existing:
            available = ", ".join(self.repository.model_names()) or "none"
            raise NotFoundError(
                f"model {name!r} not found; available models: {available}",
                detail={"available": self.repository.model_names()},
            )
        if version is not None:
            if version not in existing:
                listed = ", ".join(f"v{v}" for v in existing)
                raise NotFoundError(
                    f"{name} has no version v{version}; available versions: {listed}",
                    detail={"available": [f"v{v}" for v in existing]},
                )
            return self._resolved(name, version)
        ready = await self.ready_versions(name)
        servable = [v for v in ready if v in existing]
        if not servable:
            raise ServiceUnavailableError(
                f"no version of {name!r} is loaded in Triton right now (published: "
                f"{', '.join(f'v{v}' for v in existing)}); retry shortly"
            )
        return self._resolved(name, servable[-1])

    async def ready_versions(self, name: str) -> list[int]:
        """Triton's ready versions of ``name``, cached for a second."""
        now = time.monotonic()
        cached = self._ready.get(name)
        if cached and now - cached[0] < _READY_TTL_S:
            return cached[1]
        versions = await self.triton.ready_versions(name)
        self._ready[name] = (now, versions)
        return versions

    def invalidate(self, name: str | None = None) -> None:
        """Forget cached readiness (after a publish, load or unload)."""
        if name is None:
            self._ready.clear()
        else:
            self._ready.pop(name, None)

    def preprocessor(self, model: ResolvedModel) -> TextPreprocessor:
        key = (model.name, model.version)
        if key not in self._preprocessors:
            self._preprocessors[key] = TextPreprocessor.for_version(
                model.metadata, model.version_dir
            )
        return self._preprocessors[key]

    def _resolved(self, name: str, version: int) -> ResolvedModel:
        key = (name, version)
        if key not in self._metadata:
            self._metadata[key] = self.repository.metadata(name, version)
        return ResolvedModel(
            name=name,
            version=version,
            metadata=self._metadata[key],
            version_dir=self.repository.version_dir(name, version),
        )
