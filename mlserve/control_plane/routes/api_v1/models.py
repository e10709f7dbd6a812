"""Models: deploy, deployments, catalog views, stop/start (thin; logic in mlserve.platform)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from starlette.datastructures import UploadFile
from starlette.requests import Request

from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.json_limits import MAX_JSON_BODY_BYTES, JsonLimitedRoute
from mlserve.control_plane.routes.api_v1.contracts import (
    DeployAnswer,
    DeployForm,
    DeploymentView,
    Evolution,
    LatestVersion,
    LifecycleAnswer,
    ModelSummary,
    VersionView,
)
from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.api_v1.http_input import form_text, read_form
from mlserve.control_plane.routes.api_v1.mlflow_deploy import start_mlflow_deploy
from mlserve.converters.tabular.decisions import check_features
from mlserve.errors import ConflictError, InvalidInputError, PayloadTooLargeError
from mlserve.platform.auth import User
from mlserve.platform.deploy_request import parse_deploy_form
from mlserve.platform.services import PlatformServices
from mlserve.platform.versions import parse_version, version_label

FIELDS_ALLOWANCE = 64 * 1024 * 1024
"""Room for the non-file form fields of a deploy (background data can be large)."""
MAX_DEPLOYMENT_ID = 2**53 - 1

DeploymentId = Annotated[int, Path(ge=0, le=MAX_DEPLOYMENT_ID)]
ModelName = Annotated[str, Path(description="The model's name, e.g. churn.")]
VersionLabel = Annotated[str, Path(description="``v<N>`` or ``<N>``.", examples=["v1"])]

_DEPLOY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": DeployForm.model_json_schema()}},
    }
}


def models_router(services: PlatformServices, guards: Guards) -> APIRouter:
    router = APIRouter(
        tags=["models"], route_class=JsonLimitedRoute, max_body_size=MAX_JSON_BODY_BYTES
    )
    views = services.models
    limit = services.config.max_upload_bytes
    signed_in = error_responses(401, 422)
    admin_on_version = error_responses(401, 403, 404, 422)

    @router.post(
        "/deploy",
        status_code=202,
        openapi_extra=_DEPLOY_BODY,
        responses=error_responses(400, 401, 403, 409, 413, 422),
        max_body_size=limit + FIELDS_ALLOWANCE,
    )
    async def deploy(request: Request, admin: User = Depends(guards.admin)) -> DeployAnswer:
        """Multipart upload. The file is screened at once (corrupt or not a model: 400,
        nothing stored); conversion and publishing run in the background."""
        form = await read_form(
            request, limit=limit + FIELDS_ALLOWANCE, max_files=2, max_part_size=FIELDS_ALLOWANCE
        )
        if form_text(form, "model_uri") is not None:  # issue 22: import from MLflow
            return DeployAnswer.model_validate(await start_mlflow_deploy(services, form, admin))
        upload = form.get("model_file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError("model_file is required: attach the model as a file part")
        size = upload.size if upload.size is not None else 0
        if size > limit:
            raise PayloadTooLargeError(
                f"model_file is {size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB — "
                "reduce the model size"
            )
        model_bytes = await upload.read()
        if len(model_bytes) > limit:
            raise PayloadTooLargeError(f"model_file is larger than {limit / 2**20:.0f} MB")
        name = str(form_text(form, "name", required=True))
        version_text = form_text(form, "version")
        if version_text is None:
            latest = await views.latest(name)
            raise InvalidInputError(
                f"form field 'version' is required, e.g. 'v1'; the next free version of {name} "
                f"is {latest['next_version']}"
            )
        deploy_request = parse_deploy_form(
            model_bytes=model_bytes,
            name=name,
            version=version_text,
            features=form_text(form, "features"),
            background_data=form_text(form, "background_data"),
            metrics=form_text(form, "metrics"),
            task_type=form_text(form, "task_type"),
            task_options=form_text(form, "task_options"),
        )
        _, fitted_on = await asyncio.to_thread(services.upload_sandbox.inspect, model_bytes)
        decision = deploy_request.decision
        if decision is not None and fitted_on is not None:
            check_features(decision, fitted_on)  # 422 before anything is stored
        name, version = deploy_request.name, deploy_request.version
        existing = await views.catalog.versions(name)
        if any(v.version == version for v in existing):
            latest = await views.latest(name)
            raise ConflictError(
                f"{name} {version_label(version)} exists already; deploy as "
                f"{latest['next_version']} (GET /api/v1/models/{name}/latest)"
            )
        deployment = await services.deployments.create(name, version, admin.username)
        services.deploy_runner.submit(deployment.id, deploy_request)
        notes = []
        if form.get("requirements_file") is not None:
            notes.append("requirements_file ignored: models run as ONNX, nothing is installed")
        return DeployAnswer(
            deployment_id=deployment.id,
            id=deployment.id,
            model=name,
            version=version_label(version),
            status=deployment.status,
            message=f"deployment {deployment.id} started; poll GET /api/v1/deployments/"
            f"{deployment.id}",
            notes=notes,
        )

    @router.get("/deployments", responses=signed_in)
    async def deployments(user: User = Depends(guards.user)) -> list[DeploymentView]:
        return [_deployment(d.public()) for d in await services.deployments.list_all()]

    @router.get("/deployments/{deployment_id}", responses=error_responses(401, 404, 422))
    async def deployment(
        deployment_id: DeploymentId, user: User = Depends(guards.user)
    ) -> DeploymentView:
        return _deployment((await services.deployments.get(deployment_id)).public())

    @router.get("/models", responses=signed_in)
    async def list_models(user: User = Depends(guards.user)) -> list[ModelSummary]:
        return [ModelSummary.model_validate(m) for m in await views.list_models()]

    @router.get("/models/{name}/latest", responses=signed_in)
    async def latest(name: ModelName, user: User = Depends(guards.user)) -> LatestVersion:
        """Unknown models answer ``latest_version: null, next_version: "v1"``."""
        return LatestVersion.model_validate(await views.latest(name))

    @router.get("/models/{name}/versions", responses=error_responses(401, 404, 422))
    async def versions(
        name: ModelName,
        user: User = Depends(guards.user),
        include_inactive: Annotated[bool, Query()] = True,
    ) -> list[VersionView]:
        rows = await views.versions(name, include_inactive=include_inactive)
        return [VersionView.model_validate(row) for row in rows]

    @router.get("/models/{name}/evolution", responses=error_responses(401, 404, 422))
    async def evolution(name: ModelName, user: User = Depends(guards.user)) -> Evolution:
        return Evolution.model_validate(await views.evolution(name))

    @router.post(
        "/stop/{name}/{version}", responses=admin_on_version, response_model_exclude_unset=True
    )
    async def stop(
        name: ModelName,
        version: VersionLabel,
        admin: User = Depends(guards.admin),
        remove: Annotated[bool, Query(description="Also unpublish the version.")] = False,
    ) -> LifecycleAnswer:
        return LifecycleAnswer.model_validate(
            await views.stop(name, parse_version(version), remove)
        )

    @router.post(
        "/start/{name}/{version}", responses=admin_on_version, response_model_exclude_unset=True
    )
    async def start(
        name: ModelName, version: VersionLabel, admin: User = Depends(guards.admin)
    ) -> LifecycleAnswer:
        answer = await views.start(name, parse_version(version))
        return LifecycleAnswer.model_validate(answer)

    return router


def _deployment(public: dict[str, Any]) -> DeploymentView:
    return DeploymentView.model_validate(public)
