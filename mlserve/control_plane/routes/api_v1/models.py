"""Models: deploy, deployments, catalog views, stop/start (thin; logic in mlserve.platform)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from starlette.datastructures import UploadFile
from starlette.requests import Request

from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.api_v1.http_input import (
    bool_query,
    form_text,
    read_form,
)
from mlserve.control_plane.routes.api_v1.mlflow_deploy import start_mlflow_deploy
from mlserve.errors import ConflictError, InvalidInputError, PayloadTooLargeError
from mlserve.platform.auth import User
from mlserve.platform.deploy_request import parse_deploy_form
from mlserve.platform.model_screening import screen_model_bytes
from mlserve.platform.services import PlatformServices
from mlserve.platform.versions import parse_version, version_label

FIELDS_ALLOWANCE = 64 * 1024 * 1024
"""Room for the non-file form fields of a deploy (background data can be large)."""


def models_router(services: PlatformServices, guards: Guards) -> APIRouter:
    router = APIRouter(tags=["models"])
    views = services.models
    limit = services.config.max_upload_bytes

    @router.post("/deploy", status_code=202)
    async def deploy(request: Request, admin: User = Depends(guards.admin)) -> dict[str, Any]:
        """Multipart upload. The file is screened at once (corrupt or not a model: 400,
        nothing stored); conversion and publishing run in the background."""
        form = await read_form(
            request, limit=limit + FIELDS_ALLOWANCE, max_files=2, max_part_size=FIELDS_ALLOWANCE
        )
        if form_text(form, "model_uri") is not None:  # issue 22: import from MLflow
            return await start_mlflow_deploy(services, form, admin)
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
        )
        await asyncio.to_thread(screen_model_bytes, model_bytes)
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
        return {
            "deployment_id": deployment.id,
            "id": deployment.id,
            "model": name,
            "version": version_label(version),
            "status": deployment.status,
            "message": f"deployment {deployment.id} started; poll GET /api/v1/deployments/"
            f"{deployment.id}",
            "notes": notes,
        }

    @router.get("/deployments")
    async def deployments(user: User = Depends(guards.user)) -> list[dict[str, Any]]:
        return [d.public() for d in await services.deployments.list_all()]

    @router.get("/deployments/{deployment_id}")
    async def deployment(deployment_id: str, user: User = Depends(guards.user)) -> dict[str, Any]:
        if not deployment_id.isdigit():
            raise InvalidInputError(f"deployment id must be an integer (got {deployment_id!r})")
        return (await services.deployments.get(int(deployment_id))).public()

    @router.get("/models")
    async def list_models(user: User = Depends(guards.user)) -> list[dict[str, Any]]:
        return await views.list_models()

    @router.get("/models/{name}/latest")
    async def latest(name: str, user: User = Depends(guards.user)) -> dict[str, Any]:
        return await views.latest(name)

    @router.get("/models/{name}/versions")
    async def versions(
        name: str, request: Request, user: User = Depends(guards.user)
    ) -> list[dict[str, Any]]:
        include = bool_query(request.query_params.get("include_inactive"), "include_inactive", True)
        return await views.versions(name, include_inactive=include)

    @router.get("/models/{name}/evolution")
    async def evolution(name: str, user: User = Depends(guards.user)) -> dict[str, Any]:
        return await views.evolution(name)

    @router.post("/stop/{name}/{version}")
    async def stop(
        name: str, version: str, request: Request, admin: User = Depends(guards.admin)
    ) -> dict[str, Any]:
        remove = bool_query(request.query_params.get("remove"), "remove", False)
        return await views.stop(name, parse_version(version), remove)

    @router.post("/start/{name}/{version}")
    async def start(name: str, version: str, admin: User = Depends(guards.admin)) -> dict[str, Any]:
        return await views.start(name, parse_version(version))

    return router
