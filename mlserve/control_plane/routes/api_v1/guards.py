"""Who is calling: bearer-token dependencies for the ``/api/v1`` routes.

``Depends(guards.user)`` admits any active account (401 otherwise);
``Depends(guards.admin)`` additionally needs the admin role (403 otherwise). Both declare
the ``bearer`` security scheme, so OpenAPI marks every route that uses them as needing
``Authorization: Bearer <token>``. With ``auth.trust_loopback`` on, a request from this
machine that sends no token acts as :data:`LOCAL_ADMIN` (:func:`trusted_local`).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Scope

from mlserve.errors import SettingsError, UnauthorizedError
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


LOCAL_ADMIN = User(id=0, username="local-admin", role="admin", active=True, created_at="")
"""Who a trusted loopback request acts as (``auth.trust_loopback``); no stored account."""

_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
"""A request that came through a proxy: its peer address is the proxy's."""
_BROWSER_HEADERS = ("origin", "referer", "sec-fetch-site", "sec-fetch-mode")
"""A request a browser sent: a web page may have made it (cross-site request forgery)."""


def is_loopback(host: str | None) -> bool:
    """``host`` is a loopback address (``127.0.0.0/8``, ``::1``) or ``localhost``."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_trust_loopback(trust: bool | None, host: str) -> None:
    """Refuse ``auth.trust_loopback: true`` on a server bound beyond loopback (one line)."""
    if trust is True and not is_loopback(host):
        raise SettingsError(
            f"auth.trust_loopback is on but the server binds {host}: it would make every "
            "local request admin on a networked server; bind 127.0.0.1 (server.host) or set "
            "MLSERVE_AUTH__TRUST_LOOPBACK=false"
        )


def trusted_local(request: Request) -> bool:
    """``auth.trust_loopback`` is on (``app.state.trust_loopback``) and
    :func:`trusted_local_scope` admits the request."""
    if getattr(request.app.state, "trust_loopback", False) is not True:
        return False
    return trusted_local_scope(request.scope)


def trusted_local_scope(scope: Scope) -> bool:
    """The peer is a loopback address, the ``Host`` names a loopback address (not a name
    rebound to 127.0.0.1 by a web page's DNS), and no proxy or browser sent it (a page
    visited on this machine must not promote models: browsers send ``Origin``/``Sec-Fetch-*``;
    curl and the SDK do not). Read from the ASGI scope, so hot routes can ask it too."""
    client = scope.get("client")
    if client is None or not is_loopback(client[0]):
        return False
    headers = Headers(scope=scope)
    host = headers.get("host", "")
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    if not is_loopback(hostname):
        return False
    return not any(headers.get(h) for h in (*_PROXY_HEADERS, *_BROWSER_HEADERS))


def tokenless_trusted_local(scope: Scope) -> bool:
    """A request that sends no token and that loopback trust admits: the hot routes leave it
    to the FastAPI route, whose guards make it :data:`LOCAL_ADMIN` (only asked when
    ``auth.trust_loopback`` is on)."""
    has_token = any(key == b"authorization" for key, _ in scope.get("headers", ()))
    return not has_token and trusted_local_scope(scope)


class Guards:
    """FastAPI dependencies that resolve and check the calling user."""

    def __init__(self, users: UserService) -> None:
        self._users = users

    async def user(self, request: Request, credentials: Credentials = None) -> User:
        token = bearer_token(request)
        if token is None and trusted_local(request):
            return LOCAL_ADMIN
        return await self._users.user_for_token(token)

    async def admin(self, request: Request, credentials: Credentials = None) -> User:
        user = await self.user(request)
        require_role(user, "admin")
        return user
