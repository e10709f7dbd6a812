"""Read the predict APIs' bodies as JSON whatever form encoding the client claimed.

``curl -d '{"text": "..."}'`` sends ``application/x-www-form-urlencoded``, and a client that
sends no content type at all is just as common. The predict routes take only JSON, so for
them such a body is read as JSON: a body that is not JSON still gets a 422 that says so.
A pure ASGI middleware: it touches only the headers of matching requests.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

_CONTENT_TYPE = b"content-type"
_FORM = b"application/x-www-form-urlencoded"


class JsonBodyByDefault:
    """Serve ``paths`` (POST) as JSON when the request says form-encoded or nothing."""

    def __init__(self, app: ASGIApp, paths: Iterable[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.paths:
            headers = scope["headers"]
            declared = next((value for key, value in headers if key == _CONTENT_TYPE), None)
            if declared is None or declared.split(b";", 1)[0].strip().lower() == _FORM:
                scope = dict(scope)
                scope["headers"] = [
                    (key, value) for key, value in headers if key != _CONTENT_TYPE
                ] + [(_CONTENT_TYPE, b"application/json")]
        await self.app(scope, receive, send)
