"""Request-scoped access to the serving stack."""

from __future__ import annotations

from starlette.requests import Request

from mlserve.control_plane.stack import ServingStack


def get_stack(request: Request) -> ServingStack:
    """The app's :class:`ServingStack` (set by the lifespan)."""
    stack: ServingStack = request.app.state.stack
    return stack
