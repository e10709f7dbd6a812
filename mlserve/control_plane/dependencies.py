"""Request-scoped access to the serving stack."""

from __future__ import annotations

from starlette.requests import Request

from mlserve.control_plane.stack import ServingStack


async def get_stack(request: Request) -> ServingStack:
    """The app's :class:`ServingStack`. Async on purpose: a sync dependency would send
    every request through the thread pool."""
    return stack_of(request)


def stack_of(request: Request) -> ServingStack:
    """The app's :class:`ServingStack`, for hot routes that skip dependency resolution."""
    stack: ServingStack = request.app.state.stack
    return stack
