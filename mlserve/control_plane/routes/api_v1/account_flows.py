"""The pages behind account e-mail links, password-reset requests and OpenID Connect login.

Links in e-mails open a small HTML page (GET) whose button or form POSTs the token: a
GET changes nothing, so mail scanners that prefetch links cannot use them up. The POSTs
answer JSON. None of these routes takes a bearer token: the link's one-time token, the
e-mail round trip or the login provider proves who is asking. Logic:
:mod:`mlserve.platform.account_flows`, :mod:`mlserve.platform.oidc`.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.json_limits import JsonLimitedRoute
from mlserve.platform.account_flows import INVITE_PATH, RESET_PATH, VERIFY_PATH, AccountFlows
from mlserve.platform.auth import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, Role, User
from mlserve.platform.oidc import OidcLogin

FORM_LIMIT = 64 * 1024
"""Largest body of these routes (a token, an e-mail address, a password)."""
_PREFIX = "/api/v1"
_NO_CACHE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

LinkToken = Annotated[
    str, Query(description="The one-time token of the e-mailed link (put in the page's form).")
]
TokenField = Annotated[str, Form(description="The one-time token of the e-mailed link.")]
PasswordField = Annotated[
    str,
    Form(
        description="The password to set.",
        json_schema_extra={"minLength": MIN_PASSWORD_LENGTH, "maxLength": MAX_PASSWORD_LENGTH},
    ),
]
Provider = Annotated[
    str, Path(description="A configured OpenID Connect provider.", examples=["google"])
]
_HTML_PAGE: dict[int | str, dict[str, Any]] = {
    200: {"description": "An HTML page whose form POSTs the token."}
}


class _Answer(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


class FlowDone(_Answer):
    message: str
    username: str
    user_id: int


class ResetRequest(BaseModel):
    """The 0.4.0 client sends the new password up front; it takes effect when the link
    e-mailed to the account's address is confirmed."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(
        examples=["ada@example.com"],
        json_schema_extra={"minLength": 3, "maxLength": 254},
    )
    new_password: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "minLength": MIN_PASSWORD_LENGTH,
                "maxLength": MAX_PASSWORD_LENGTH,
            }
        ),
    ]


class ResetRequested(_Answer):
    message: str = Field(description="The same whether or not the address has an account.")


class AuthStart(_Answer):
    auth_url: str = Field(description="Open this in a browser to log in at the provider.")
    provider: str
    redirect_uri: str


class OidcToken(_Answer):
    """What the client's ``google_login`` asks the user to paste."""

    access_token: str
    token_type: str
    expires_in: int
    email: str
    username: str
    role: Role


def _as_json(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """``responses`` with their :class:`ErrorBody` spelled out as ``application/json``:
    FastAPI would document a ``model`` with the route's media type (``text/html`` on the
    pages), while errors are always JSON."""
    spelled: dict[int | str, dict[str, Any]] = {}
    for status, entry in responses.items():
        rest = {k: v for k, v in entry.items() if k != "model"}
        schema = {"$ref": f"#/components/schemas/{entry['model'].__name__}"}
        spelled[status] = {**rest, "content": {"application/json": {"schema": schema}}}
    return spelled


def _page(title: str, action: str, token: str, fields: str, button: str) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"<form method='post' action='{html.escape(action)}'>"
        f"<input type='hidden' name='token' value='{html.escape(token)}'>{fields}"
        f"<button type='submit'>{html.escape(button)}</button></form></body></html>"
    )
    return HTMLResponse(body, headers=_NO_CACHE)


def _done(message: str, user: User) -> FlowDone:
    return FlowDone(message=message, username=user.username, user_id=user.id)


def account_flows_router(flows: AccountFlows, oidc: OidcLogin) -> APIRouter:
    router = APIRouter(tags=["accounts"], route_class=JsonLimitedRoute, max_body_size=FORM_LIMIT)
    page = {**_HTML_PAGE, **_as_json(error_responses(422))}
    link_used = error_responses(400, 404, 409, 413, 422)

    @router.get(VERIFY_PATH.removeprefix(_PREFIX), response_class=HTMLResponse, responses=page)
    async def verify_page(token: LinkToken = "") -> HTMLResponse:
        """The page a verification e-mail links to; its button confirms (nothing changes
        on GET)."""
        return _page("Verify your e-mail address", VERIFY_PATH, token, "", "Verify")

    @router.post(VERIFY_PATH.removeprefix(_PREFIX), responses=link_used)
    async def verify(token: TokenField) -> FlowDone:
        """Activate the account of a verification link (form-encoded; the link works once)."""
        user = await flows.verify_email(token)
        return _done(f"e-mail verified: {user.username} is active and can log in", user)

    @router.get(INVITE_PATH.removeprefix(_PREFIX), response_class=HTMLResponse, responses=page)
    async def invite_page(token: LinkToken = "") -> HTMLResponse:
        """The page an invitation e-mail links to: choose a password and join."""
        field = "<label>Password <input type='password' name='password' minlength='8'></label>"
        return _page("Join MLServe: choose your password", INVITE_PATH, token, field, "Join")

    @router.post(INVITE_PATH.removeprefix(_PREFIX), responses=link_used)
    async def accept_invite(token: TokenField, password: PasswordField) -> FlowDone:
        """Set the invitee's password and activate the account (a refused password keeps
        the link valid)."""
        user = await flows.accept_invite(token, password)
        return _done(
            f"welcome: {user.username} is active; log in with this e-mail and password", user
        )

    async def request_reset(body: ResetRequest) -> ResetRequested:
        """Mail a link that confirms ``new_password`` (503 when this server sends no
        e-mail)."""
        answer = await flows.request_password_reset(body.email, body.new_password)
        return ResetRequested.model_validate(answer)

    for path in ("/password-reset-request/", "/password-reset-request"):
        router.add_api_route(
            path,
            request_reset,
            methods=["POST"],
            include_in_schema=path.endswith("/"),
            responses=error_responses(400, 413, 422, 503),
        )

    @router.get(RESET_PATH.removeprefix(_PREFIX), response_class=HTMLResponse, responses=page)
    async def reset_page(token: LinkToken = "") -> HTMLResponse:
        """The page a password-reset e-mail links to; its button confirms the new password."""
        return _page("Confirm your new password", RESET_PATH, token, "", "Confirm")

    @router.post(RESET_PATH.removeprefix(_PREFIX), responses=link_used)
    async def confirm_reset(token: TokenField) -> FlowDone:
        """Set the password the reset request sent (form-encoded; the link works once)."""
        user = await flows.confirm_password_reset(token)
        return _done(f"password changed for {user.username}; log in with the new one", user)

    @router.get("/auth/{provider}", responses=error_responses(404, 422, 503))
    async def auth_start(provider: Provider) -> AuthStart:
        """Where to send the browser (the client's ``google_login`` opens ``auth_url``)."""
        return AuthStart.model_validate(await oidc.start(provider))

    @router.get("/auth/{provider}/callback", responses=error_responses(400, 401, 404, 422, 503))
    async def auth_callback(
        provider: Provider,
        code: Annotated[str | None, Query(description="From the provider.")] = None,
        state: Annotated[str | None, Query(description="From the provider.")] = None,
        error: Annotated[str | None, Query(description="From the provider.")] = None,
    ) -> OidcToken:
        """The provider redirects the browser here; the JSON answer is what the client's
        ``google_login`` asks the user to paste."""
        issued, email = await oidc.finish(provider, code, state, error)
        return OidcToken(
            access_token=issued.access_token,
            token_type=issued.token_type,
            expires_in=issued.expires_in,
            email=email,
            username=issued.user.username,
            role=issued.user.role,
        )

    return router
