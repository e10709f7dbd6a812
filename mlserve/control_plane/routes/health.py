"""Liveness and readiness."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from mlserve.control_plane.dependencies import get_stack
from mlserve.control_plane.errors import error_responses, json_response
from mlserve.control_plane.routes.status_contracts import HealthAnswer, ReadyAnswer
from mlserve.control_plane.stack import ServingStack
from mlserve.errors import MLServeError

router = APIRouter(tags=["health"])
Stack = Annotated[ServingStack, Depends(get_stack)]


@router.get("/health")
async def health(stack: Stack) -> HealthAnswer:
    """Liveness: the control plane runs; says whether Triton and the cache are reachable
    (Triton by its model index: its server-ready flag is false while any model loads)."""
    triton_ready = await stack.triton.answers()
    return HealthAnswer(
        status="ok" if triton_ready else "degraded",
        triton="ready" if triton_ready else "unavailable",
        cache="available" if stack.cache.available else "unavailable",
    )


@router.get("/ready", response_model=ReadyAnswer, responses=error_responses(503))
async def ready(stack: Stack) -> Response:
    """Readiness: 200 when Triton serves the default model, else 503 with the reason.

    Judged from Triton's repository index, not its server-ready flag: Triton's strict
    readiness reports the whole server not ready while any model loads (~4 s per publish
    here) although the versions already loaded keep serving, and a load balancer or
    Kubernetes that trusted it would take every replica out during each publish."""
    try:
        index = await stack.triton.model_index()
    except MLServeError:
        return json_response({"error": "Triton is not reachable or not ready"}, 503)
    name = stack.settings.default_model
    if stack.repository.versions(name):
        versions = sorted(
            row.version
            for row in index
            if row.name == name and row.state == "READY" and row.version is not None
        )
        if not versions:
            return json_response(
                {"error": f"default model {name!r} has no version loaded yet"}, status_code=503
            )
        return json_response({"status": "ready", "model": name, "versions": versions})
    return json_response({"status": "ready", "model": None, "versions": []})
