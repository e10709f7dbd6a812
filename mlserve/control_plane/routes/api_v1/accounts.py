"""Accounts: login, logout, register, invite, team, roles (thin; logic in platform.auth)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path
from starlette.requests import Request

from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.json_limits import JsonLimitedRoute
from mlserve.control_plane.routes.api_v1.contracts import (
    InviteAnswer,
    InviteRequest,
    MessageAnswer,
    RegisterAnswer,
    RegisterRequest,
    RoleAnswer,
    RoleRequest,
    TierAnswer,
    TokenAnswer,
    UserChangeAnswer,
    UserView,
)
from mlserve.control_plane.routes.api_v1.guards import Guards, bearer_token
from mlserve.platform.account_flows import AccountFlows
from mlserve.platform.auth import MAX_PASSWORD_LENGTH, USER_TIER, User, UserService

FORM_LIMIT = 64 * 1024
"""Largest body of the account routes (a login form, a sign-up document)."""
MAX_USER_ID = 2**53 - 1
"""Largest user id a path may name (the state stores keep 64-bit integers)."""

UserId = Annotated[int, Path(ge=0, le=MAX_USER_ID, description="GET /api/v1/team/ lists ids.")]
LoginField = Annotated[str, Form(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


def _view(user: User) -> UserView:
    return UserView.model_validate(user.public())


def accounts_router(users: UserService, guards: Guards, flows: AccountFlows) -> APIRouter:
    router = APIRouter(tags=["accounts"], route_class=JsonLimitedRoute, max_body_size=FORM_LIMIT)
    signed_in = error_responses(401)
    admin_only = error_responses(401, 403)

    @router.post("/token", responses=error_responses(400, 401, 413, 422, 429))
    async def login(request: Request, username: LoginField, password: LoginField) -> TokenAnswer:
        """OAuth2 password form (``username``, ``password``, form-encoded) -> bearer token;
        429 with ``Retry-After`` after too many failures for the user or the address."""
        client = request.client.host if request.client else None
        issued = await users.login(username, password, client)
        return TokenAnswer(
            access_token=issued.access_token,
            token_type="bearer",
            expires_in=issued.expires_in,
            username=issued.user.username,
            role=issued.user.role,
        )

    @router.post("/logout", responses=signed_in)
    async def logout(request: Request, user: User = Depends(guards.user)) -> MessageAnswer:
        """Revoke the token of this request at once."""
        await users.revoke_token(str(bearer_token(request)))
        return MessageAnswer(message=f"logged out {user.username}; the token no longer works")

    @router.post("/register", status_code=201, responses=error_responses(400, 409, 413, 422))
    async def register(body: RegisterRequest) -> RegisterAnswer:
        """Self-service sign-up: with SMTP configured a verification link is mailed; without
        it the account waits for an admin to activate it (the answer says which)."""
        answer = await flows.register(body.full_name, body.email, body.password)
        return RegisterAnswer.model_validate(answer)

    async def invite(body: InviteRequest, admin: User = Depends(guards.admin)) -> InviteAnswer:
        """Invite by e-mail (a link that sets a password, with SMTP configured); without SMTP
        the invitation is recorded and the invitee registers."""
        return InviteAnswer.model_validate(await flows.invite(body.email, admin))

    async def team(admin: User = Depends(guards.admin)) -> list[UserView]:
        """Every account that was not removed."""
        return [_view(u) for u in await users.list_users()]

    for path in ("/invite/", "/invite"):
        router.add_api_route(
            path,
            invite,
            methods=["POST"],
            status_code=201,
            include_in_schema=path.endswith("/"),
            responses=error_responses(400, 401, 403, 409, 413, 422),
        )
    for path in ("/team/", "/team"):
        router.add_api_route(
            path,
            team,
            methods=["GET"],
            include_in_schema=path.endswith("/"),
            responses=admin_only,
        )

    @router.put(
        "/team/{user_id}/role", responses=error_responses(400, 401, 403, 404, 409, 413, 422)
    )
    async def set_role(
        user_id: UserId, body: RoleRequest, admin: User = Depends(guards.admin)
    ) -> UserChangeAnswer:
        user = await users.set_role(user_id, body.role)
        return UserChangeAnswer(message=f"{user.username} is now {user.role}", user=_view(user))

    @router.delete("/team/{user_id}/remove", responses=error_responses(401, 403, 404, 409, 422))
    async def remove(user_id: UserId, admin: User = Depends(guards.admin)) -> UserChangeAnswer:
        """Soft delete: the account can no longer log in; its history stays."""
        user = await users.remove(user_id)
        return UserChangeAnswer(
            message=f"{user.username} removed: the account can no longer log in (history kept)",
            user=_view(user),
        )

    @router.post("/team/{user_id}/activate", responses=error_responses(401, 403, 404, 409, 422))
    async def activate(user_id: UserId, admin: User = Depends(guards.admin)) -> UserChangeAnswer:
        user = await users.activate(user_id)
        return UserChangeAnswer(
            message=f"{user.username} is active and can log in", user=_view(user)
        )

    @router.get("/user_role", responses=signed_in)
    async def user_role(user: User = Depends(guards.user)) -> RoleAnswer:
        return RoleAnswer(role=user.role, username=user.username, user_id=user.id)

    @router.get("/user_tier", responses=signed_in)
    async def user_tier(user: User = Depends(guards.user)) -> TierAnswer:
        return TierAnswer(tier=USER_TIER, username=user.username)

    return router
