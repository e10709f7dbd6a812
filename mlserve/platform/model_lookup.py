"""Whether a model (and version) exists, for routes that report on one.

Metrics and data-quality routes used to answer zero-filled rows, "no logged inputs" or
``{}`` with a 200 for a name nobody deployed, which hides typos. A model exists when the
serving catalog lists the version (active or stopped) or an online policy model of that
name and version is configured; otherwise :class:`~mlserve.errors.NotFoundError` (404)
names what does exist.
"""

from __future__ import annotations

from mlserve.errors import NotFoundError
from mlserve.platform.policies.service import OnlinePolicyService
from mlserve.platform.protocols import ModelCatalog
from mlserve.platform.versions import version_label


class ModelLookup:
    def __init__(self, catalog: ModelCatalog, online: OnlinePolicyService) -> None:
        self._catalog = catalog
        self._online = online

    async def require(self, name: str, version: int | None) -> None:
        """Return when ``name`` (and ``version``, if given) exists; 404 otherwise."""
        versions = [v.version for v in await self._catalog.versions(name)]
        online = await self._online.versions(name)
        if version is None and (versions or online):
            return
        if version is not None and (version in versions or version in online):
            return
        if not versions and not online:
            names = sorted(set(await self._catalog.model_names()) | set(await self._online.names()))
            raise NotFoundError(
                f"unknown model {name!r}; models: {', '.join(names) or 'none'} (GET /api/v1/models)"
            )
        known = ", ".join(version_label(v) for v in sorted(set(versions) | set(online)))
        raise NotFoundError(
            f"{name} has no version {version_label(version or 0)}; versions: {known}"
        )
