"""Stages, aliases and history of a model's versions (seed S2's promote route).

Reading (``GET /models/{name}/versions``) is open like ``GET /models``; changing a release
and reading its history need an admin token from ``POST /api/v1/token``, so every
transition records who made it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.json_limits import JsonLimitedRoute
from mlserve.control_plane.routes.api_v1 import ApiV1
from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.status_contracts import PublishedVersion
from mlserve.control_plane.stack import ServingStack
from mlserve.errors import InvalidInputError
from mlserve.lifecycle.gate import GATE_METRICS, gate_check
from mlserve.lifecycle.release import GateCheck, ReleaseManager
from mlserve.lifecycle.validation import MAX_BYTES, ValidationSet, store_validation_set
from mlserve.platform.auth import User
from mlserve.repository.release_state import ReleaseState, Stage, Transition
from mlserve.serving.catalog import describe_model

ModelName = Annotated[str, Path(description="The model's name, e.g. sentiment.")]
AliasName = Annotated[str, Path(description="e.g. champion, challenger.")]
VersionNumber = Annotated[int, Query(ge=1, description="The version number, e.g. 2.")]
Reason = Annotated[str, Query(max_length=500, description="Why (kept in the history).")]


class ReleaseView(BaseModel):
    """A model's release after a change: which version is where."""

    model_config = ConfigDict(protected_namespaces=())

    name: str
    production: int | None = Field(description="The Production version, if any.")
    stages: dict[int, Stage] = Field(description="Stage per version (unlisted: None).")
    aliases: dict[str, int]
    message: str


class VersionsView(BaseModel):
    """``GET /models/{name}/versions``."""

    name: str
    production: int | None
    aliases: dict[str, int]
    versions: list[PublishedVersion]


class ValidationStored(BaseModel):
    name: str
    items: int


class HistoryView(BaseModel):
    name: str
    transitions: list[Transition] = Field(description="Oldest first.")


def release_manager(stack: ServingStack) -> ReleaseManager:
    """The one :class:`ReleaseManager` of a control plane (the promote route and the
    experiments' auto-promote share it, and with it the per-model locks)."""
    settings = stack.settings.publish
    return ReleaseManager(
        stack.repository,
        stack.publisher.apply_release,
        previous_production=settings.previous_production,
        grace_seconds=settings.promotion_grace_seconds,
    )


def releases_router(stack: ServingStack, api_v1: ApiV1, releases: ReleaseManager) -> APIRouter:
    settings = stack.settings.publish
    guards = Guards(api_v1.services.users)
    router = APIRouter(tags=["releases"], route_class=JsonLimitedRoute, max_body_size=MAX_BYTES)
    changing = error_responses(401, 403, 404, 409, 422)

    def checked_gate(metric: str | None) -> GateCheck:
        return gate_check(
            stack.dataplane.predict,
            stack.repository,
            metric or settings.gate_metric,
            settings.gate_max_recall_drop,
        )

    def view(name: str, state: ReleaseState, message: str) -> ReleaseView:
        return ReleaseView(
            name=name,
            production=state.production(),
            stages=state.stages,
            aliases=state.aliases,
            message=message,
        )

    @router.post("/models/{name}/promote", responses=changing)
    async def promote(
        request: Request,
        name: ModelName,
        version: VersionNumber,
        target_stage: Annotated[
            str, Query(description="None, Staging, Production or Archived.")
        ] = "Production",
        reason: Reason = "",
        gate: Annotated[
            bool,
            Query(
                description="Promote to Production only if the version beats the champion "
                "on the model's validation set (PUT /models/{name}/validation)."
            ),
        ] = False,
        metric: Annotated[
            str | None, Query(description=f"The gate's metric: {', '.join(GATE_METRICS)}.")
        ] = None,
        admin: User = Depends(guards.admin),
    ) -> ReleaseView:
        """Move a version to a stage. Production: the version is loaded and READY before
        requests without a version move to it; the previous Production version is
        Archived (unloaded) or kept as ``@fallback`` (``publish.previous_production``).
        Archived → any other stage restores a version. With ``gate=true`` a version that
        does not beat the champion is refused (409, the report in ``detail``)."""
        if len(request.query_params.getlist("version")) > 1:
            raise InvalidInputError(
                "version is given more than once: a promotion moves one version, and only "
                "one version is in Production at a time; allowed: a single version=N",
                detail={"field": "version"},
            )
        check = checked_gate(metric) if gate else None
        state = await releases.promote(
            name, version, target_stage, by=admin.username, reason=reason, gate=check
        )
        return view(name, state, f"{name} v{version} is now in {state.stage(version)}")

    @router.get("/models/{name}/versions", responses=error_responses(404, 422))
    async def versions(name: ModelName) -> VersionsView:
        """Every version with its stage, aliases, metrics and state in Triton."""
        described = await describe_model(stack.repository, stack.triton, name)
        state = stack.repository.release_state(name)
        return VersionsView(
            name=name,
            production=state.production(),
            aliases=state.aliases,
            versions=[PublishedVersion.model_validate(v) for v in described["versions"]],
        )

    @router.put("/models/{name}/aliases/{alias}", responses=changing)
    async def set_alias(
        name: ModelName,
        alias: AliasName,
        version: VersionNumber,
        reason: Reason = "",
        admin: User = Depends(guards.admin),
    ) -> ReleaseView:
        """Name a version (``"model": "name@alias"`` reaches it; ``champion`` answers
        requests without a version when no version is in Production)."""
        state = await releases.set_alias(name, alias, version, by=admin.username, reason=reason)
        return view(name, state, f"{name}@{alias} is v{version}")

    @router.delete("/models/{name}/aliases/{alias}", responses=changing)
    async def drop_alias(
        name: ModelName, alias: AliasName, reason: Reason = "", admin: User = Depends(guards.admin)
    ) -> ReleaseView:
        state = await releases.drop_alias(name, alias, by=admin.username, reason=reason)
        return view(name, state, f"{name}@{alias} removed")

    @router.put(
        "/models/{name}/validation", responses=error_responses(400, 401, 403, 404, 413, 422)
    )
    async def put_validation(
        name: ModelName, body: ValidationSet, admin: User = Depends(guards.admin)
    ) -> ValidationStored:
        """Store the labelled inputs the gate judges this model's versions on."""
        store_validation_set(stack.repository, name, body)
        return ValidationStored(name=name, items=len(body.labels))

    @router.get("/models/{name}/history", responses=error_responses(401, 403, 404, 422))
    async def history(
        name: ModelName,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        admin: User = Depends(guards.admin),
    ) -> HistoryView:
        """Who moved which version where, when and why (publishes included)."""
        return HistoryView(name=name, transitions=releases.history(name, limit))

    return router


__all__ = ["release_manager", "releases_router"]
