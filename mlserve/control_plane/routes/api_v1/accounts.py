"""Accounts: login, logout, register, invite, team, roles (thin; logic in platform.auth)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request

from mlserve.control_plane.routes.api_v1.guards import Guards, bearer_token
from mlserve.control_plane.routes.api_v1.http_input import form_text, read_form, read_json
from mlserve.errors import InvalidInputError
from mlserve.platform.auth import USER_TIER, User, UserService

_FORM_LIMIT = 64 * 1024
_NO_EMAIL = "this server sends no e-mail"


def _text(body: Any, field: str, example: str) -> str:
    if not isinstance(body, dict):
        raise InvalidInputError(f"body must be a JSON object like {example}")
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{field} is required (a string); send e.g. {example}")
    return value


def _user_id(raw: str) -> int:
    if not raw.isdigit():
        raise InvalidInputError(f"user id must be an integer (got {raw!r}); see GET /api/v1/team/")
    return int(raw)


def accounts_router(users: UserService, guards: Guards) -> APIRouter:
    router = APIRouter(tags=["accounts"])

    @router.post("/token")
    async def login(request: Request) -> dict[str, Any]:
        """OAuth2 password form (``username``, ``password``) -> bearer token."""
        form = await read_form(request, limit=_FORM_LIMIT, max_files=0)
        username = form_text(form, "username", required=True)
        password = form_text(form, "password", required=True)
        client = request.client.host if request.client else None
        issued = await users.login(str(username), str(password), client)
        return {
            "access_token": issued.access_token,
            "token_type": issued.token_type,
            "expires_in": issued.expires_in,
            "username": issued.user.username,
            "role": issued.user.role,
        }

    @router.post("/logout")
    async def logout(request: Request, user: User = Depends(guards.user)) -> dict[str, Any]:
        """Revoke the token of this request at once."""
        await users.revoke_token(str(bearer_token(request)))
        return {"message": f"logged out {user.username}; the token no longer works"}

    @router.post("/register", status_code=201)
    async def register(request: Request) -> dict[str, Any]:
        example = '{"full_name": "Ada", "email": "ada@example.com", "password": "..."}'
        body = await read_json(request, example, limit=_FORM_LIMIT)
        user = await users.register(
            _text(body, "full_name", example),
            _text(body, "email", example),
            _text(body, "password", example),
        )
        return {
            "message": (
                f"Account {user.username!r} created but not active: {_NO_EMAIL}; an admin must "
                f"activate it (POST /api/v1/team/{user.id}/activate) before you can log in."
            ),
            "user_id": user.id,
            "username": user.username,
            "active": user.active,
        }

    async def invite(request: Request, admin: User = Depends(guards.admin)) -> dict[str, Any]:
        example = '{"email": "ada@example.com"}'
        body = await read_json(request, example, limit=_FORM_LIMIT)
        user = await users.invite(_text(body, "email", example))
        detail = (
            f"Invitation recorded for {user.email} (user id {user.id}); no e-mail is sent: tell "
            "them to register with this address (POST /api/v1/register), then activate the "
            f"account (POST /api/v1/team/{user.id}/activate)."
        )
        return {"detail": detail, "message": detail, "user_id": user.id, "invited_by": admin.id}

    async def team(admin: User = Depends(guards.admin)) -> list[dict[str, Any]]:
        return [u.public() for u in await users.list_users()]

    for path in ("/invite/", "/invite"):
        router.add_api_route(
            path, invite, methods=["POST"], status_code=201, include_in_schema=path.endswith("/")
        )
    for path in ("/team/", "/team"):
        router.add_api_route(path, team, methods=["GET"], include_in_schema=path.endswith("/"))

    @router.put("/team/{user_id}/role")
    async def set_role(
        user_id: str, request: Request, admin: User = Depends(guards.admin)
    ) -> dict[str, Any]:
        body = await read_json(request, '{"role": "admin"}', limit=_FORM_LIMIT)
        user = await users.set_role(_user_id(user_id), _text(body, "role", '{"role": "admin"}'))
        return {"message": f"{user.username} is now {user.role}", "user": user.public()}

    @router.delete("/team/{user_id}/remove")
    async def remove(user_id: str, admin: User = Depends(guards.admin)) -> dict[str, Any]:
        user = await users.remove(_user_id(user_id))
        return {
            "message": f"{user.username} removed: the account can no longer log in (history kept)",
            "user": user.public(),
        }

    @router.post("/team/{user_id}/activate")
    async def activate(user_id: str, admin: User = Depends(guards.admin)) -> dict[str, Any]:
        user = await users.activate(_user_id(user_id))
        return {"message": f"{user.username} is active and can log in", "user": user.public()}

    @router.get("/user_role")
    async def user_role(user: User = Depends(guards.user)) -> dict[str, Any]:
        return {"role": user.role, "username": user.username, "user_id": user.id}

    @router.get("/user_tier")
    async def user_tier(user: User = Depends(guards.user)) -> dict[str, Any]:
        return {"tier": USER_TIER, "username": user.username}

    return router
