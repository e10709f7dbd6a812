"""What ``/api/v1/models*``, ``/stop`` and ``/start`` answer, assembled from the catalog.

Shapes follow ``MLServeClient``: ``list_models`` gets one entry per model;
``get_latest_version`` gets ``latest_version`` and ``next_version`` (which also skips
versions being deployed right now); ``list_model_versions`` gets rows with ``version,
weight, internal_url, url, active, deployed_at, features, model_metadata, metrics,
task_type``; ``get_model_evolution`` gets ``versions`` with ``metrics`` and ``deltas``
(``<metric>_delta`` vs the previous version that had the metric).
"""

from __future__ import annotations

from typing import Any

from mlserve.errors import NotFoundError
from mlserve.platform.abtest import ABTestService
from mlserve.platform.deployments import DeploymentService
from mlserve.platform.protocols import CatalogVersion, ModelCatalog, ModelLifecycle
from mlserve.platform.versions import parse_version, version_label


class ModelViews:
    """Read models from the catalog; stop/start through the lifecycle."""

    def __init__(
        self,
        catalog: ModelCatalog,
        lifecycle: ModelLifecycle,
        abtests: ABTestService,
        deployments: DeploymentService,
    ) -> None:
        self.catalog = catalog
        self.lifecycle = lifecycle
        self.abtests = abtests
        self.deployments = deployments

    async def version_states(self, name: str) -> dict[int, bool]:
        """``{version: active}`` — what A/B validation and routing need."""
        return {v.version: v.active for v in await self.catalog.versions(name)}

    async def task_of(self, name: str, version: int) -> str:
        for v in await self.catalog.versions(name):
            if v.version == version:
                return v.task_type
        return "classification"

    async def _versions(self, name: str) -> list[CatalogVersion]:
        versions = await self.catalog.versions(name)
        if not versions:
            known = ", ".join(await self.catalog.model_names()) or "none"
            raise NotFoundError(f"unknown model {name!r}; models: {known}")
        return versions

    async def list_models(self) -> list[dict[str, Any]]:
        models = []
        for name in await self.catalog.model_names():
            versions = await self.catalog.versions(name)
            if not versions:
                continue
            newest = versions[-1]
            models.append(
                {
                    "name": name,
                    "versions": [version_label(v.version) for v in versions],
                    "active_versions": [version_label(v.version) for v in versions if v.active],
                    "latest_version": version_label(newest.version),
                    "task_type": newest.task_type,
                    "deployed_at": newest.deployed_at.isoformat(),
                }
            )
        return models

    async def latest(self, name: str) -> dict[str, Any]:
        """Unknown models answer ``latest_version: null, next_version: "v1"`` (what a first
        deploy needs) rather than 404."""
        versions = await self.catalog.versions(name)
        in_flight = [parse_version(v) for v in await self.deployments.in_flight_versions(name)]
        highest = max([v.version for v in versions] + in_flight, default=0)
        newest = versions[-1] if versions else None
        return {
            "model": name,
            "latest_version": version_label(newest.version) if newest else None,
            "version": version_label(newest.version) if newest else None,
            "next_version": version_label(highest + 1),
            "deployed_at": newest.deployed_at.isoformat() if newest else None,
            "active": newest.active if newest else None,
            "deploying": [version_label(v) for v in sorted(in_flight)],
        }

    async def versions(self, name: str, include_inactive: bool = True) -> list[dict[str, Any]]:
        versions = await self._versions(name)
        weights = await self._weights(name, versions)
        return [
            {
                "version": version_label(v.version),
                "weight": weights.get(v.version, 0.0),
                "internal_url": v.internal_url or f"{name}/{v.version}",
                "url": f"/api/v1/predict/{name}/{version_label(v.version)}",
                "active": v.active,
                "deployed_at": v.deployed_at.isoformat(),
                "features": v.features,
                "model_metadata": v.metadata,
                "metrics": v.metrics,
                "task_type": v.task_type,
            }
            for v in versions
            if include_inactive or v.active
        ]

    async def _weights(self, name: str, versions: list[CatalogVersion]) -> dict[int, float]:
        """Traffic share per version as routing applies it now."""
        states = {v.version: v.active for v in versions}
        config = await self.abtests.get(name)
        live = {
            parse_version(label): w
            for label, w in (config.weights.items() if config else [])
            if states.get(parse_version(label)) and w > 0
        }
        if live:
            total = sum(live.values())
            return {v: w / total for v, w in live.items()}
        active = [v for v, on in sorted(states.items()) if on]
        return {active[-1]: 1.0} if active else {}

    async def evolution(self, name: str) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        last_seen: dict[str, float] = {}
        for v in await self._versions(name):
            deltas = {
                f"{metric}_delta": value - last_seen[metric]
                for metric, value in v.metrics.items()
                if metric in last_seen
            }
            last_seen.update(v.metrics)
            rows.append(
                {
                    "version": version_label(v.version),
                    "deployed_at": v.deployed_at.isoformat(),
                    "metrics": v.metrics,
                    "deltas": deltas,
                }
            )
        return {"model": name, "versions": rows}

    async def stop(self, name: str, version: int, remove: bool) -> dict[str, Any]:
        await self._require(name, version)
        await self.lifecycle.stop(name, version, remove)
        return {
            "model": name,
            "version": version_label(version),
            "status": "removed" if remove else "stopped",
            "message": f"{name} {version_label(version)} "
            + ("removed" if remove else "stopped; POST /api/v1/start/... serves it again"),
        }

    async def start(self, name: str, version: int) -> dict[str, Any]:
        await self._require(name, version)
        await self.lifecycle.start(name, version)
        return {"model": name, "version": version_label(version), "status": "started"}

    async def _require(self, name: str, version: int) -> None:
        versions = await self._versions(name)
        if all(v.version != version for v in versions):
            known = ", ".join(version_label(v.version) for v in versions)
            raise NotFoundError(
                f"{name} has no version {version_label(version)}; versions: {known}"
            )
