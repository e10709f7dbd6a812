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
from functools import lru_cache
from pathlib import Path

from mlserve.errors import NotFoundError, ServiceUnavailableError
from mlserve.preprocessing.pipeline import TextPreprocessor
from mlserve.repository.metadata import METADATA_FILE, ModelMetadata
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


@lru_cache(maxsize=1024)
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
        self._resolved_cache: dict[tuple[str, int], ResolvedModel] = {}
        self._stamps: dict[tuple[str, int], int | None] = {}
        self._preprocessors: dict[tuple[str, int], TextPreprocessor] = {}
        self._ready: dict[str, tuple[float, list[int]]] = {}
        self._published: dict[str, tuple[float, list[int]]] = {}

    async def resolve(self, ref: str | None, version: int | None = None) -> ResolvedModel:
        """The version to serve; NotFoundError lists what exists, 503 when none is ready."""
        name, ref_version = parse_model_ref(ref or self.default_model)
        version = version if version is not None else ref_version
        existing = self.published_versions(name)
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

    def published_versions(self, name: str) -> list[int]:
        """Versions on disk, cached for a second (the hot path does no directory scans)."""
        now = time.monotonic()
        cached = self._published.get(name)
        if cached and now - cached[0] < _READY_TTL_S:
            return cached[1]
        versions = self.repository.versions(name)
        self._published[name] = (now, versions)
        self._forget_changed(name, versions)
        return versions

    def _forget_changed(self, name: str, versions: list[int]) -> None:
        # A version removed and published again under the same number is a new model.
        for key in [k for k in self._resolved_cache if k[0] == name]:
            stamp = _stamp(self.repository.version_dir(*key) / METADATA_FILE)
            if key[1] not in versions or stamp != self._stamps.get(key):
                self._resolved_cache.pop(key, None)
                self._preprocessors.pop(key, None)

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
            self._published.clear()
            self._resolved_cache.clear()
        else:
            self._ready.pop(name, None)
            self._published.pop(name, None)
            for key in [k for k in self._resolved_cache if k[0] == name]:
                del self._resolved_cache[key]
                self._preprocessors.pop(key, None)

    def preprocessor(self, model: ResolvedModel) -> TextPreprocessor:
        key = (model.name, model.version)
        if key not in self._preprocessors:
            self._preprocessors[key] = TextPreprocessor.for_version(
                model.metadata, model.version_dir
            )
        return self._preprocessors[key]

    def _resolved(self, name: str, version: int) -> ResolvedModel:
        key = (name, version)
        resolved = self._resolved_cache.get(key)
        if resolved is None:
            resolved = ResolvedModel(
                name=name,
                version=version,
                metadata=self.repository.metadata(name, version),
                version_dir=self.repository.version_dir(name, version),
            )
            self._resolved_cache[key] = resolved
            self._stamps[key] = _stamp(resolved.version_dir / METADATA_FILE)
        return resolved


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
