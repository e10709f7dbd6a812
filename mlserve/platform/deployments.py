"""Deployment records: what ``POST /api/v1/deploy`` started and how it went.

A deployment goes ``pending -> building -> success | failed`` (or ``pending -> failed``);
any other transition raises ConflictError. Logs are appended as the deployer reports
progress. The process running a deployment refreshes a heartbeat; a ``pending`` or
``building`` deployment without a heartbeat for ``stale_after_s`` (its control plane
stopped) is reported — and stored — as ``failed``, so a client polling it never waits
forever.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mlserve.errors import ConflictError, NotFoundError
from mlserve.platform.store import StateStore
from mlserve.platform.versions import version_label

DeploymentStatus = Literal["pending", "building", "success", "failed"]
IN_FLIGHT: tuple[DeploymentStatus, ...] = ("pending", "building")
_NEXT: dict[str, set[str]] = {"pending": {"building", "failed"}, "building": {"success", "failed"}}

_RECORDS, _NEXT_ID = "deployments", "deploy:next_id"
MAX_LOG_LINE = 2000


def _logs_key(deployment_id: int) -> str:
    return f"deploy:logs:{deployment_id}"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Deployment(BaseModel):
    """One deployment as the API shows it (``logs`` is filled on read)."""

    id: int
    model_name: str
    version: str
    status: DeploymentStatus = "pending"
    error: str | None = None
    created_by: str | None = None
    created_at: str
    updated_at: str
    started_at: str | None = None
    finished_at: str | None = None
    heartbeat_at: float
    logs: list[str] = Field(default_factory=list)

    def public(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"heartbeat_at"})
        data["deployment_id"] = self.id
        return data


class DeploymentService:
    """Create, advance and read deployment records."""

    def __init__(self, store: StateStore, *, stale_after_s: float = 300.0) -> None:
        self._store = store
        self.stale_after_s = stale_after_s

    async def create(self, model_name: str, version: int, created_by: str | None) -> Deployment:
        label = version_label(version)
        for other in await self.list_all():
            if (
                other.model_name == model_name
                and other.version == label
                and other.status in IN_FLIGHT
            ):
                raise ConflictError(
                    f"{model_name} {label} is already being deployed (deployment {other.id}, "
                    f"{other.status}); wait for it with GET /api/v1/deployments/{other.id}"
                )
        now = _now_iso()
        deployment = Deployment(
            id=await self._store.incr(_NEXT_ID),
            model_name=model_name,
            version=label,
            created_by=created_by,
            created_at=now,
            updated_at=now,
            heartbeat_at=time.time(),
        )
        await self._save(deployment)
        return deployment

    async def get(self, deployment_id: int, *, with_logs: bool = True) -> Deployment:
        raw = await self._store.hget(_RECORDS, str(deployment_id))
        if raw is None:
            raise NotFoundError(
                f"no deployment {deployment_id}; GET /api/v1/deployments lists them"
            )
        deployment = await self._expire_if_stale(Deployment.model_validate_json(raw))
        if with_logs:
            logs = await self._store.lrange(_logs_key(deployment_id), 0, -1)
            deployment = deployment.model_copy(update={"logs": logs})
        return deployment

    async def list_all(self) -> list[Deployment]:
        """All deployments, newest first, without logs."""
        raws = (await self._store.hgetall(_RECORDS)).values()
        deployments = [await self._expire_if_stale(Deployment.model_validate_json(r)) for r in raws]
        return sorted(deployments, key=lambda d: d.id, reverse=True)

    async def in_flight_versions(self, model_name: str) -> list[str]:
        return [
            d.version
            for d in await self.list_all()
            if d.model_name == model_name and d.status in IN_FLIGHT
        ]

    async def append_log(self, deployment_id: int, *lines: str) -> None:
        if lines:
            await self._store.rpush(_logs_key(deployment_id), *(ln[:MAX_LOG_LINE] for ln in lines))

    async def heartbeat(self, deployment_id: int) -> None:
        deployment = await self.get(deployment_id, with_logs=False)
        if deployment.status in IN_FLIGHT:
            await self._save(deployment.model_copy(update={"heartbeat_at": time.time()}))

    async def mark_building(self, deployment_id: int) -> Deployment:
        return await self._advance(deployment_id, "building", started_at=_now_iso())

    async def mark_success(self, deployment_id: int) -> Deployment:
        return await self._advance(deployment_id, "success", finished_at=_now_iso())

    async def mark_failed(self, deployment_id: int, error: str) -> Deployment:
        return await self._advance(deployment_id, "failed", error=error, finished_at=_now_iso())

    async def _advance(self, deployment_id: int, status: str, **fields: Any) -> Deployment:
        deployment = await self.get(deployment_id, with_logs=False)
        if status not in _NEXT.get(deployment.status, set()):
            raise ConflictError(
                f"deployment {deployment_id} is {deployment.status}; it cannot become {status}"
            )
        deployment = deployment.model_copy(
            update={"status": status, "heartbeat_at": time.time(), **fields}
        )
        await self._save(deployment)
        return deployment

    async def _expire_if_stale(self, deployment: Deployment) -> Deployment:
        silent = time.time() - deployment.heartbeat_at
        if deployment.status not in IN_FLIGHT or silent <= self.stale_after_s:
            return deployment
        error = (
            f"interrupted: no progress for {silent:.0f} s (the control plane running it "
            "stopped); deploy again"
        )
        deployment = deployment.model_copy(
            update={"status": "failed", "error": error, "finished_at": _now_iso()}
        )
        await self._save(deployment)
        return deployment

    async def _save(self, deployment: Deployment) -> None:
        record = deployment.model_copy(update={"updated_at": _now_iso(), "logs": []})
        await self._store.hset(_RECORDS, {str(deployment.id): record.model_dump_json()})
