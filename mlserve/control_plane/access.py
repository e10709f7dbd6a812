"""Optional bearer tokens on the plain API: ``auth.require_token_for``.

By default only ``/api/v1`` needs a token (its own guards); ``/predict``, ``/metrics``,
``/monitoring`` and ``/docs`` are open, as fits a stack bound to loopback. When the control
plane listens on a network, ``auth.require_token_for`` closes any of these groups:

* ``predict``: ``/predict``, ``/batch-predict`` and the Open Inference Protocol's ``/v2``
  routes (not ``/v2/health/*``, which probes use);
* ``metrics``: ``/metrics``; ``monitoring``: ``/monitoring/*``;
* ``docs``: ``/docs``, ``/redoc``, ``/openapi.json``.

A request to a closed group needs ``Authorization: Bearer <token>`` with a token from
``POST /api/v1/token`` (any active account) or the static ``admin_token`` (an API key for
services such as Prometheus); otherwise it gets a 401 with ``WWW-Authenticate: Bearer``.
:class:`TokenGate` answers ahead of everything else (the hot routes included). Account
tokens are checked by :meth:`UserService.user_for_token`, which trusts a token it verified
for ``auth.token_cache_seconds`` (:mod:`mlserve.platform.token_cache`): predict requests do
not read the store each time, and a logout applies at once on the replica that served it,
within that bound on the others.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from mlserve.errors import UnauthorizedError
from mlserve.platform.auth import UserService

GROUPS: dict[str, tuple[str, ...]] = {
    "predict": ("/predict", "/batch-predict", "/v2"),
    "metrics": ("/metrics",),
    "monitoring": ("/monitoring",),
    "docs": ("/docs", "/redoc", "/openapi.json"),
}
"""Path prefixes of each group ``auth.require_token_for`` can close."""
_OPEN = ("/v2/health/",)


class TokenGate:
    """Lets a request through to ``app`` when its path is open or it carries a valid token."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        groups: Iterable[str],
        users: UserService,
        static_tokens: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.prefixes = tuple(p for g in groups for p in GROUPS[g])
        self.users = users
        self.static_tokens = [t.encode() for t in static_tokens if t]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._closed(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            await self._check(_bearer(scope))
        except UnauthorizedError as exc:
            body = orjson.dumps(exc.to_dict())
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                (b"www-authenticate", b'Bearer realm="mlserve"'),
            ]
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _closed(self, path: str) -> bool:
        if not path.startswith(self.prefixes) or path.startswith(_OPEN):
            return False
        return any(path == p or path.startswith(p + "/") for p in self.prefixes)

    async def _check(self, token: str | None) -> None:
        if token is None:
            raise UnauthorizedError(
                "this server requires a bearer token here (auth.require_token_for): log in at "
                "POST /api/v1/token and send 'Authorization: Bearer <access_token>'"
            )
        encoded = token.encode()
        if any(hmac.compare_digest(encoded, key) for key in self.static_tokens):
            return
        await self.users.user_for_token(token)  # raises UnauthorizedError


def _bearer(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            raise UnauthorizedError("the Authorization header must be 'Bearer <token>'")
    return None
