"""The pages behind account e-mail links, password-reset requests and OpenID Connect login.

Links in e-mails open a small HTML page (GET) whose button or form POSTs the token: a
GET changes nothing, so mail scanners that prefetch links cannot use them up. The POSTs
answer JSON. Logic: :mod:`mlserve.platform.account_flows`, :mod:`mlserve.platform.oidc`.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from starlette.requests import Request

from mlserve.control_plane.routes.api_v1.http_input import form_text, read_form, read_json
from mlserve.errors import InvalidInputError
from mlserve.platform.account_flows import INVITE_PATH, RESET_PATH, VERIFY_PATH, AccountFlows
from mlserve.platform.oidc import OidcLogin

_FORM_LIMIT = 64 * 1024
_PREFIX = "/api/v1"


class FlowDone(BaseModel):
    message: str
    username: str
    user_id: int


class ResetRequested(BaseModel):
    message: str


class AuthStart(BaseModel):
    auth_url: str
    provider: str
    redirect_uri: str


class OidcToken(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    email: str
    username: str
    role: str


def _page(title: str, action: str, token: str, fields: str, button: str) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"<form method='post' action='{html.escape(action)}'>"
        f"<input type='hidden' name='token' value='{html.escape(token)}'>{fields}"
        f"<button type='submit'>{html.escape(button)}</button></form></body></html>"
    )
    return HTMLResponse(
        body, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


def _done(message: str, user: Any) -> dict[str, Any]:
    return {"message": message, "username": user.username, "user_id": user.id}


def _text(body: Any, field: str, example: str) -> str:
    value = body.get(field) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{field} is required (a string); send e.g. {example}")
    return value


def account_flows_router(flows: AccountFlows, oidc: OidcLogin) -> APIRouter:
    router = APIRouter(tags=["accounts"])

    @router.get(VERIFY_PATH.removeprefix(_PREFIX), response_class=HTMLResponse)
    async def verify_page(request: Request) -> HTMLResponse:
        token = request.query_params.get("token", "")
        return _page("Verify your e-mail address", VERIFY_PATH, token, "", "Verify")

    @router.post(VERIFY_PATH.removeprefix(_PREFIX), response_model=FlowDone)
    async def verify(request: Request) -> dict[str, Any]:
        form = await read_form(request, limit=_FORM_LIMIT, max_files=0)
        user = await flows.verify_email(str(form_text(form, "token", required=True)))
        return _done(f"e-mail verified: {user.username} is active and can log in", user)

    @router.get(INVITE_PATH.removeprefix(_PREFIX), response_class=HTMLResponse)
    async def invite_page(request: Request) -> HTMLResponse:
        token = request.query_params.get("token", "")
        field = "<label>Password <input type='password' name='password' minlength='8'></label>"
        return _page("Join MLServe: choose your password", INVITE_PATH, token, field, "Join")

    @router.post(INVITE_PATH.removeprefix(_PREFIX), response_model=FlowDone)
    async def accept_invite(request: Request) -> dict[str, Any]:
        form = await read_form(request, limit=_FORM_LIMIT, max_files=0)
        user = await flows.accept_invite(
            str(form_text(form, "token", required=True)),
            str(form_text(form, "password", required=True)),
        )
        return _done(
            f"welcome: {user.username} is active; log in with this e-mail and password", user
        )

    async def request_reset(request: Request) -> dict[str, Any]:
        example = '{"email": "ada@example.com", "new_password": "..."}'
        body = await read_json(request, example, limit=_FORM_LIMIT)
        return await flows.request_password_reset(
            _text(body, "email", example), _text(body, "new_password", example)
        )

    for path in ("/password-reset-request/", "/password-reset-request"):
        router.add_api_route(
            path,
            request_reset,
            methods=["POST"],
            response_model=ResetRequested,
            include_in_schema=path.endswith("/"),
        )

    @router.get(RESET_PATH.removeprefix(_PREFIX), response_class=HTMLResponse)
    async def reset_page(request: Request) -> HTMLResponse:
        token = request.query_params.get("token", "")
        return _page("Confirm your new password", RESET_PATH, token, "", "Confirm")

    @router.post(RESET_PATH.removeprefix(_PREFIX), response_model=FlowDone)
    async def confirm_reset(request: Request) -> dict[str, Any]:
        form = await read_form(request, limit=_FORM_LIMIT, max_files=0)
        user = await flows.confirm_password_reset(str(form_text(form, "token", required=True)))
        return _done(f"password changed for {user.username}; log in with the new one", user)

    @router.get("/auth/{provider}", response_model=AuthStart)
    async def auth_start(provider: str) -> dict[str, str]:
        """Where to send the browser (the client's ``google_login`` opens ``auth_url``)."""
        return await oidc.start(provider)

    @router.get("/auth/{provider}/callback", response_model=OidcToken)
    async def auth_callback(provider: str, request: Request) -> dict[str, Any]:
        """The provider redirects the browser here; the JSON answer is what the client's
        ``google_login`` asks the user to paste."""
        query = request.query_params
        issued, email = await oidc.finish(
            provider, query.get("code"), query.get("state"), query.get("error")
        )
        return {
            "access_token": issued.access_token,
            "token_type": issued.token_type,
            "expires_in": issued.expires_in,
            "email": email,
            "username": issued.user.username,
            "role": issued.user.role,
        }

    return router
