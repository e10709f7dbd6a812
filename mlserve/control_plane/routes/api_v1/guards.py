"""Who is calling: bearer-token dependencies for the ``/api/v1`` routes.

``Depends(guards.user)`` admits any active account (401 otherwise);
``Depends(guards.admin)`` additionally needs the admin role (403 otherwise). Both declare
the ``bearer`` security scheme, so OpenAPI marks every route that uses them as needing
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request

from mlserve.errors import UnauthorizedError
from mlserve.platform.auth import User, UserService, require_role

bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    description="A token from POST /api/v1/token, sent as `Authorization: Bearer <token>`.",
    auto_error=False,
)
"""Declares the scheme in OpenAPI; the header itself is read by :func:`bearer_token`."""

Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None when absent."""
    header = request.headers.get("authorization")
    return bearer_value(header) if header else None


def bearer_value(header: str) -> str:
    """The token of an ``Authorization`` header's value; UnauthorizedError unless it is
    ``Bearer <token>``."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError(
            "the Authorization header must be 'Bearer <access_token>' (from POST /api/v1/token)"
        )
    return token.strip()


class Guards:
    """FastAPI dependencies that resolve and check the calling user."""

    def __init__(self, users: UserService) -> None:
        self._users = users

    async def user(self, request: Request, credentials: Credentials = None) -> User:
        return await self._users.user_for_token(bearer_token(request))

    async def admin(self, request: Request, credentials: Credentials = None) -> User:
        user = await self.user(request)
        require_role(user, "admin")
        return user
