"""Which published version is which: names, versions, readiness, and each version's runtime.

Users name models as ``sentiment`` (the default version), ``sentiment-v2`` or ``sentiment``
with an explicit version. The registry reads the repository (what exists, what is enabled)
and Triton (what is ready), and caches per version the objects needed to serve it
(metadata, the kind's :class:`~mlserve.kinds.base.ServedModel`) so the hot path does no
file I/O. Names from requests are checked before they touch a path, and names that do not
exist are never cached (a flood of bogus names costs no memory).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mlserve.errors import ConflictError, NotFoundError, ServiceUnavailableError
from mlserve.kinds import ModelKind, ServedModel, kind_named
from mlserve.repository.metadata import METADATA_FILE, ModelMetadata
from mlserve.repository.release_state import CHAMPION, ReleaseState
from mlserve.repository.store import ModelRepository, check_requested_name
from mlserve.triton.replicas import RepositoryControl

_VERSIONED = re.compile(r"^(?P<name>.+)-v(?P<version>\d{1,9})$")
_BARE_VERSION = re.compile(r"^v(?P<version>\d{1,9})$")
_READY_TTL_S = 1.0


@dataclass(frozen=True)
class ResolvedModel:
    """A concrete model version with what is needed to serve it."""

    name: str
    version: int
    metadata: ModelMetadata
    version_dir: Path
    kind: ModelKind
    served: ServedModel

    @property
    def display(self) -> str:
        return f"{self.name}-v{self.version}"


@lru_cache(maxsize=1024)
def parse_model_ref(ref: str) -> tuple[str | None, int | None]:
    """``"sentiment-v2"`` → ``("sentiment", 2)``; ``"sentiment"`` → ``("sentiment", None)``;
    ``"v2"`` → ``(None, 2)``: version 2 of the default model (seed S1's ``model_version``)."""
    bare = _BARE_VERSION.match(ref)
    if bare:
        return None, int(bare["version"])
    match = _VERSIONED.match(ref)
    if match:
        return match["name"], int(match["version"])
    return ref, None


@lru_cache(maxsize=1024)
def _split(ref: str | None, default_model: str) -> tuple[str, int | None]:
    """:meth:`ModelRegistry.split`, remembered for the references seen most (a name that
    fails the check raises and is not remembered)."""
    name, version = parse_model_ref(ref) if ref else (None, None)
    if name is None:
        default_name, default_version = parse_model_ref(default_model)
        name = default_name or default_model
        version = version if version is not None else default_version
    check_requested_name(name)
    return name, version


class ModelRegistry:
    """Resolves model references against the repository and Triton's ready versions."""

    def __init__(
        self, repository: ModelRepository, triton: RepositoryControl, default_model: str
    ) -> None:
        """``triton``: one Triton, or every replica (:class:`TritonReplicas`: a version is
        ready once every reachable replica serving the model has loaded it)."""
        self.repository = repository
        self.triton = triton
        self.default_model = default_model
        self._resolved_cache: dict[tuple[str, int], ResolvedModel] = {}
        self._stamps: dict[tuple[str, int], int | None] = {}
        self._ready: dict[str, tuple[float, list[int]]] = {}
        self._published: dict[str, tuple[float, list[int], list[int]]] = {}
        self._releases: dict[str, tuple[float, ReleaseState, int | None]] = {}

    async def resolve(self, ref: str | None, version: int | None = None) -> ResolvedModel:
        """The version to serve for ``ref`` (default: the default model) and an explicit
        ``version``: that version (404 unknown, 409 not served, 503 not ready yet), or the
        newest ready version. A malformed name is a 422 naming the rule."""
        name, ref_version = self.split(ref)
        version = version if version is not None else ref_version
        if version is not None:
            return await self.resolve_version(name, version)
        return await self.newest_ready(name)

    async def newest_ready(self, name: str) -> ResolvedModel:
        """The newest version of ``name`` (a checked name) that is served and ready: 404
        for an unknown model, 503 while none is ready."""
        existing, active = self.published(name)
        cached = self._ready.get(name)  # read within the last second: no coroutine needed
        if cached and time.monotonic() - cached[0] < _READY_TTL_S:
            ready = cached[1]
        else:
            ready = await self.ready_versions(name)
        servable = [v for v in ready if v in active]
        if not servable:
            raise ServiceUnavailableError(
                f"no version of {name!r} is loaded in Triton right now (published: "
                f"{', '.join(f'v{v}' for v in existing)}); retry shortly"
            )
        return self._resolved(name, servable[-1])

    def ready_now(self, name: str, version: int | None) -> ResolvedModel | None:
        """``version`` of ``name`` (None: its newest servable version) without a coroutine,
        when the last second's reads say it is published, served and ready in Triton; None
        when that takes a fresh read or is not so (then :meth:`resolve_version` or
        :meth:`newest_ready` answer, with their errors)."""
        now = time.monotonic()
        published = self._published.get(name)
        ready = self._ready.get(name)
        if (
            published is None
            or ready is None
            or now - published[0] >= _READY_TTL_S
            or now - ready[0] >= _READY_TTL_S
        ):
            return None
        active, loaded = published[2], ready[1]
        if version is None:
            servable = [v for v in loaded if v in active]
            if not servable:
                return None
            version = servable[-1]
        elif version not in active or version not in loaded:
            return None
        return self._resolved(name, version)

    def split(self, ref: str | None) -> tuple[str, int | None]:
        """The model name and version a reference names (the default model's when it names
        none); InvalidInputError for a name that could never exist."""
        return _split(ref, self.default_model)

    async def resolve_version(self, name: str, version: int) -> ResolvedModel:
        """``name`` version ``version`` when Triton serves it: 404 when it does not exist,
        409 when it is outside the serving window, 503 while it loads."""
        existing, active = self.published(name)
        if version not in existing:
            listed = ", ".join(f"v{v}" for v in existing)
            raise NotFoundError(
                f"{name} has no version v{version}; available versions: {listed}",
                detail={"available": [f"v{v}" for v in existing]},
            )
        if version not in active:
            limit = self.repository.options.serve_versions
            raise ConflictError(
                f"{name} v{version} is published but not served: only enabled versions among "
                f"the newest {limit} are loaded (serving: {', '.join(f'v{v}' for v in active)}). "
                f"Start it with POST /api/v1/start/{name}/v{version}, or raise "
                "triton.serve_versions (MLSERVE_TRITON__SERVE_VERSIONS)"
            )
        if version not in await self.ready_versions(name):
            raise ServiceUnavailableError(
                f"{name} v{version} is not loaded in Triton yet; retry shortly"
            )
        return self._resolved(name, version)

    def published(self, name: str) -> tuple[list[int], list[int]]:
        """Versions on disk and the ones configured to be served, cached for a second (the
        hot path does no directory scans). NotFoundError for an unknown model (not cached)."""
        now = time.monotonic()
        cached = self._published.get(name)
        if cached and now - cached[0] < _READY_TTL_S:
            return cached[1], cached[2]
        versions = self.repository.versions(name)
        if not versions:
            self._published.pop(name, None)
            available = self.repository.model_names()
            raise NotFoundError(
                f"model {name!r} not found; available models: {', '.join(available) or 'none'}",
                detail={"available": available},
            )
        active = self.repository.active_versions(name)
        self._published[name] = (now, versions, active)
        self._forget_changed(name, versions)
        return versions, active

    def release_state(self, name: str) -> ReleaseState:
        """``name``'s stages and aliases, cached for a second like :meth:`published` (a
        replica sees a promotion within a second; this process at once)."""
        return self._release(name)[1]

    def released_version(self, name: str) -> int | None:
        """The version requests without one go to: Production, else the ``champion`` alias;
        None when neither is set (the newest ready version answers then)."""
        return self._release(name)[2]

    def _release(self, name: str) -> tuple[float, ReleaseState, int | None]:
        now = time.monotonic()
        cached = self._releases.get(name)
        if cached and now - cached[0] < _READY_TTL_S:
            return cached
        self.published(name)  # NotFoundError for an unknown model, before any caching
        state = self.repository.release_state(name)
        released = state.production()
        if released is None:
            released = state.aliases.get(CHAMPION)
        entry = (now, state, released)
        self._releases[name] = entry
        return entry

    def published_versions(self, name: str) -> list[int]:
        """Versions on disk (empty for an unknown model)."""
        try:
            return self.published(name)[0]
        except NotFoundError:
            return []

    def _forget_changed(self, name: str, versions: list[int]) -> None:
        # A version removed and published again under the same number is a new model.
        for key in [k for k in self._resolved_cache if k[0] == name]:
            stamp = _stamp(self.repository.version_dir(*key) / METADATA_FILE)
            if key[1] not in versions or stamp != self._stamps.get(key):
                self._resolved_cache.pop(key, None)

    async def ready_versions(self, name: str) -> list[int]:
        """Triton's ready versions of ``name`` (with replicas: the ones all of them serve),
        cached for a second."""
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
            self._releases.clear()
            self._resolved_cache.clear()
        else:
            self._ready.pop(name, None)
            self._published.pop(name, None)
            self._releases.pop(name, None)
            for key in [k for k in self._resolved_cache if k[0] == name]:
                del self._resolved_cache[key]

    def _resolved(self, name: str, version: int) -> ResolvedModel:
        key = (name, version)
        resolved = self._resolved_cache.get(key)
        if resolved is None:
            metadata = self.repository.metadata(name, version)
            version_dir = self.repository.version_dir(name, version)
            kind = kind_named(metadata.input_kind)
            resolved = ResolvedModel(
                name=name,
                version=version,
                metadata=metadata,
                version_dir=version_dir,
                kind=kind,
                served=kind.serve(metadata, version_dir),
            )
            self._resolved_cache[key] = resolved
            self._stamps[key] = _stamp(version_dir / METADATA_FILE)
        return resolved


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
