"""``GET /models``: what is published and what Triton serves."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from mlserve.control_plane.dependencies import get_stack
from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.routes.status_contracts import PublishedModel, PublishedModels
from mlserve.control_plane.stack import ServingStack
from mlserve.serving.catalog import describe_model, describe_models

router = APIRouter(tags=["models"])
Stack = Annotated[ServingStack, Depends(get_stack)]


@router.get("/models")
async def list_models(stack: Stack) -> PublishedModels:
    """Published models with their versions, metrics and serving state."""
    models = await describe_models(stack.repository, stack.triton)
    return PublishedModels.model_validate({"models": models})


@router.get("/models/{name}", responses=error_responses(404, 422))
async def get_model(name: str, stack: Stack) -> PublishedModel:
    """One model's versions (404 listing the models that exist)."""
    return PublishedModel.model_validate(await describe_model(stack.repository, stack.triton, name))
