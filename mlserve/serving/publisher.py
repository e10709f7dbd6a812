"""Publishing a version end to end: repository, then Triton, with rollback.

``publish`` writes the version atomically (staging folder + rename), asks Triton to reload
the model (Triton loads the new version beside the serving ones and swaps without dropping
requests), and waits until the version is READY. If Triton cannot load it, the version is
removed again and the previous configuration reloaded: the repository and the serving set
end up exactly as before, and the caller gets Triton's reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from mlserve.converters.base import ExportedModel
from mlserve.errors import MLServeError, ServiceUnavailableError
from mlserve.repository.metadata import ModelMetadata
from mlserve.repository.store import CONFIG_FILE, ModelRepository
from mlserve.serving.reference import reference_profile
from mlserve.triton.client import TritonClient
from mlserve.triton.replicas import RepositoryControl, replicas_of

log = logging.getLogger(__name__)
_READY_TIMEOUT_S = 120.0


@dataclass
class Publisher:
    """Publishes, enables, disables and removes versions in the repository and Triton."""

    repository: ModelRepository
    triton: RepositoryControl
    """One Triton, or every replica serving the repository (:class:`TritonReplicas`): a
    publish loads on each and waits until all of them serve the new version."""
    on_change: Callable[[str], None] | None = None
    """Called with the model name after its serving set changed (cache invalidation)."""

    def __post_init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def publish(
        self, exported: ExportedModel, name: str, version: int | None = None
    ) -> ModelMetadata:
        """Publish ``exported`` as ``name`` (next version unless given) and serve it."""
        profile = await asyncio.to_thread(reference_profile, exported)
        async with self._lock(name):
            metadata = await asyncio.to_thread(
                self.repository.publish_version,
                exported,
                name,
                version,
                reference_profile=profile,
            )
            try:
                await self._load_and_wait(name, metadata.version)
            except MLServeError as exc:
                log.error("%s v%s failed to load, rolling back: %s", name, metadata.version, exc)
                await self._rollback(name, metadata.version)
                raise ServiceUnavailableError(
                    f"{name} v{metadata.version} was not published: Triton could not load it "
                    f"({exc.message}); the repository is unchanged"
                ) from None
        self._changed(name)
        return metadata

    async def set_enabled(self, name: str, version: int, enabled: bool) -> None:
        """Serve (``enabled``) or stop serving a version without deleting it."""
        async with self._lock(name):
            await asyncio.to_thread(self.repository.set_version_enabled, name, version, enabled)
            await self._apply(name)
        self._changed(name)

    async def apply_release(self, name: str, wait_for: int | None = None) -> None:
        """Make Triton serve what ``name``'s config says now (after its release state
        changed: versions kept apart stay loaded through the reload) and, with ``wait_for``,
        wait until that version is READY."""
        async with self._lock(name):
            if wait_for is None:
                await self._apply(name)
            else:
                await self._load_and_wait(name, wait_for)
        self._changed(name)

    async def remove(self, name: str, version: int) -> None:
        """Stop serving a version and delete it from the repository."""
        async with self._lock(name):
            await asyncio.to_thread(self.repository.remove_version, name, version)
            await self._apply(name)
        self._changed(name)

    async def load_all(self) -> list[str]:
        """Make Triton (every replica) serve every model with an active version (at
        start-up); returns their names. A model a Triton already serves with exactly the
        active versions and an unchanged config is left alone there: several control planes
        (workers, replicas) starting against one Triton do not reload its models each
        time. A replica that does not answer is skipped (it loads on the next publish or
        control-plane start)."""
        names = [n for n in self.repository.model_names() if self.repository.active_versions(n)]
        changed = {name for name in names if await asyncio.to_thread(self._rewrite_config, name)}
        primary, *others = await replicas_of(self.triton)
        for client in (primary, *others):
            serving = await _serving_versions(client)
            if serving is None and client is not primary:
                log.warning("Triton replica %s did not answer; it loads later", client.url)
                continue
            for name in names:
                active = set(self.repository.active_versions(name))
                if name in changed or (serving or {}).get(name) != active:
                    await client.load_model(name)
        return names

    def _rewrite_config(self, name: str) -> bool:
        """Regenerate ``name``'s config.pbtxt; True when its text changed."""
        path = self.repository.root / name / CONFIG_FILE
        before = path.read_text() if path.is_file() else None
        self.repository.write_config(name)
        return path.read_text() != before

    async def _apply(self, name: str) -> None:
        if self.repository.active_versions(name):
            await self.triton.load_model(name)
        else:
            await self.triton.unload_model(name)

    async def _load_and_wait(self, name: str, version: int) -> None:
        await self.triton.load_model(name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READY_TIMEOUT_S
        while version not in await self.triton.ready_versions(name):
            if loop.time() > deadline:
                raise ServiceUnavailableError(
                    f"{name} v{version} not READY after {_READY_TIMEOUT_S:.0f}s"
                )
            await asyncio.sleep(0.1)

    async def _rollback(self, name: str, version: int) -> None:
        try:
            await asyncio.to_thread(self.repository.remove_version, name, version)
            if self.repository.versions(name):
                await self._apply(name)
            else:
                await self.triton.unload_model(name)
        except MLServeError:
            log.exception("rollback of %s v%s incomplete", name, version)

    def _changed(self, name: str) -> None:
        if self.on_change is not None:
            self.on_change(name)


async def _serving_versions(triton: TritonClient) -> dict[str, set[int]] | None:
    """The versions ``triton`` has READY per model; None when it does not answer."""
    try:
        index = await triton.model_index()
    except MLServeError:
        return None
    serving: dict[str, set[int]] = {}
    for row in index:
        if row.state == "READY" and row.version is not None:
            serving.setdefault(row.name, set()).add(row.version)
    return serving
