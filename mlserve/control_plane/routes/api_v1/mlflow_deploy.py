"""The MLflow branch of ``POST /api/v1/deploy``: form field ``model_uri`` instead of a file."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.datastructures import FormData

from mlserve.control_plane.routes.api_v1.http_input import form_text
from mlserve.errors import ServiceUnavailableError
from mlserve.platform.auth import User
from mlserve.platform.services import PlatformServices
from mlserve.platform.versions import parse_version


class MlflowDeployAccepted(BaseModel):
    """The 202 answer: same fields as a file deploy, plus the URI."""

    deployment_id: int
    id: int
    model: str
    version: str
    status: str
    model_uri: str
    message: str
    notes: list[str] = []


async def start_mlflow_deploy(
    services: PlatformServices, form: FormData, admin: User
) -> dict[str, Any]:
    """Fields: ``model_uri`` (models:/... or runs:/...), ``name``, ``version`` (optional,
    default the next one)."""
    if services.mlflow is None:
        raise ServiceUnavailableError("MLflow import is not configured on this server")
    model_uri = str(form_text(form, "model_uri", required=True))
    name = str(form_text(form, "name", required=True))
    version_text = form_text(form, "version")
    version = parse_version(version_text) if version_text else None
    deployment = await services.mlflow.start(model_uri, name, version, admin.username)
    accepted = MlflowDeployAccepted(
        deployment_id=deployment.id,
        id=deployment.id,
        model=name,
        version=deployment.version,
        status=deployment.status,
        model_uri=model_uri,
        message=f"deployment {deployment.id} started; poll GET /api/v1/deployments/{deployment.id}",
    )
    return accepted.model_dump()
