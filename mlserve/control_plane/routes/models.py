"""``GET /models``: what is published and what Triton serves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from mlserve.control_plane.dependencies import get_stack
from mlserve.control_plane.stack import ServingStack
from mlserve.serving.catalog import describe_model, describe_models

router = APIRouter(tags=["models"])
Stack = Annotated[ServingStack, Depends(get_stack)]


@router.get("/models")
async def list_models(stack: Stack) -> dict[str, Any]:
    """Published models with their versions, metrics and serving state."""
    return {"models": await describe_models(stack.repository, stack.triton)}


@router.get("/models/{name}")
async def get_model(name: str, stack: Stack) -> dict[str, Any]:
    """One model's versions (404 listing the models that exist)."""
    return await describe_model(stack.repository, stack.triton, name)
