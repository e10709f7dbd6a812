"""Account flows through real mailboxes and a real OpenID Connect provider: a local SMTP
server (aiosmtpd) receives the e-mails and the tests follow their links; a local OIDC
provider signs the ID tokens. The ``/api/v1`` app runs over ASGI on a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from mlserve.control_plane.routes.api_v1 import build_api_v1
from mlserve.settings import AuthSettings, Settings
from tests.platform.conftest import ADMIN, ADMIN_PASSWORD, Harness, error_app, fast_hasher
from tests.platform.platform_fakes import FakeCatalog, FakeDeployer, FakeLifecycle, FakePredictor
from tests.support.oidc_provider import OidcProvider, OidcUser
from tests.support.smtp_sink import SmtpSink, link_in

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SMTP_USER, SMTP_PASSWORD = "relay-user", "relay-password"
CLIENT_ID, CLIENT_SECRET = "mlserve-test", "client-secret-1"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(SMTP_USER, SMTP_PASSWORD) as server:
        yield server


@asynccontextmanager
async def harness_with(tmp_path: Path, **settings: Any) -> AsyncIterator[Harness]:
    catalog = FakeCatalog()
    api = build_api_v1(
        Settings(
            models_dir=tmp_path / "models",
            admin_user=ADMIN,
            admin_password=ADMIN_PASSWORD,
            auth=AuthSettings(state_path=tmp_path / "platform.sqlite3", public_url="http://api"),
            **settings,
        ),
        deployer=FakeDeployer(catalog),
        lifecycle=FakeLifecycle(catalog),
        predictor=FakePredictor(),
        model_catalog=catalog,
        password_hasher=fast_hasher(),
    )
    await api.startup()
    transport = httpx.ASGITransport(app=error_app(api))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            h = Harness(
                api,
                client,
                catalog,
                FakeDeployer(catalog),
                FakeLifecycle(catalog),
                FakePredictor(),
                "",
            )
            h.admin_token = await h.login(ADMIN, ADMIN_PASSWORD)
            yield h
    finally:
        await api.shutdown()


def mail_settings(sink: SmtpSink, **overrides: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": sink.port,
        "security": "none",
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "from_address": "MLServe <no-reply@mlserve.test>",
        **overrides,
    }


@pytest.fixture
async def mailing(tmp_path: Path, sink: SmtpSink) -> AsyncIterator[Harness]:
    async with harness_with(tmp_path, mail=mail_settings(sink)) as h:
        yield h


async def mailbox(sink: SmtpSink, to: str) -> str:
    """The link in the newest e-mail to ``to``, as a path for the ASGI client."""
    message = await asyncio.to_thread(sink.wait_for, to)
    assert message["From"] == "MLServe <no-reply@mlserve.test>"
    url = urlsplit(link_in(message))
    assert url.netloc == "api"
    return f"{url.path}?{url.query}"


async def follow(h: Harness, link: str, **fields: str) -> httpx.Response:
    """Open the link's page, then submit its form (as a browser would)."""
    page = await h.client.get(link)
    assert page.status_code == 200, page.text
    assert "<form method='post'" in page.text
    token = link.split("token=", 1)[1]
    assert f"value='{token}'" in page.text
    return await h.client.post(link.split("?")[0], data={"token": token, **fields})


async def login_status(h: Harness, username: str, password: str) -> httpx.Response:
    return await h.client.post("/api/v1/token", data={"username": username, "password": password})


async def test_register_sends_a_verification_link_that_activates_once(
    mailing: Harness, sink: SmtpSink
) -> None:
    h = mailing
    registered = await h.client.post(
        "/api/v1/register",
        json={"full_name": "Ada", "email": "ada@example.com", "password": "ada-password-1"},
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["email_sent"] is True
    assert "check your email (ada@example.com)" in registered.json()["message"]
    link = await mailbox(sink, "ada@example.com")
    assert link.startswith("/api/v1/verify-email?token=")
    before = await login_status(h, "ada@example.com", "ada-password-1")
    assert before.status_code == 401
    assert "open the verification link e-mailed to you" in before.json()["error"]

    page_only = await h.client.get(link)  # a prefetching mail scanner changes nothing
    assert page_only.status_code == 200
    assert (await login_status(h, "Ada", "ada-password-1")).status_code == 401

    verified = await follow(h, link)
    assert verified.status_code == 200, verified.text
    assert verified.json()["username"] == "Ada"
    assert (await login_status(h, "ada@example.com", "ada-password-1")).status_code == 200
    reused = await follow(h, link)
    assert reused.status_code == 400
    assert "invalid, expired or already used" in reused.json()["error"]
    forged = await h.client.post("/api/v1/verify-email", data={"token": "forged"})
    assert forged.status_code == 400


async def test_invite_mails_a_link_that_sets_the_password(mailing: Harness, sink: SmtpSink) -> None:
    h = mailing
    invited = await h.client.post(
        "/api/v1/invite/", headers=h.admin, json={"email": "bo@example.com"}
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["detail"].startswith("Invite sent to bo@example.com")
    message = await asyncio.to_thread(sink.wait_for, "bo@example.com")
    assert "root invited you" in str(message.get_payload())
    link = await mailbox(sink, "bo@example.com")
    assert link.startswith("/api/v1/accept-invite?token=")

    short = await follow(h, link, password="short")
    assert short.status_code == 422
    assert "password must be 8-256 characters" in short.json()["error"]
    joined = await follow(h, link, password="bo-password-1")  # the link survived the typo
    assert joined.status_code == 200, joined.text
    assert (await login_status(h, "bo@example.com", "bo-password-1")).status_code == 200
    again = await follow(h, link, password="another-password")
    assert again.status_code == 400
    assert (await login_status(h, "bo@example.com", "another-password")).status_code == 401


async def test_password_reset_changes_the_password_only_when_confirmed(
    mailing: Harness, sink: SmtpSink
) -> None:
    h = mailing
    user = await h.api.services.users.create_user(
        "cy", "old-password-1", email="cy@example.com", active=True
    )
    asked = await h.client.post(
        "/api/v1/password-reset-request/",
        json={"email": "cy@example.com", "new_password": "new-password-1"},
    )
    assert asked.status_code == 200, asked.text
    assert "check your email" in asked.json()["message"]
    link = await mailbox(sink, "cy@example.com")
    assert link.startswith("/api/v1/password-reset/confirm?token=")
    assert (await login_status(h, "cy", "old-password-1")).status_code == 200
    confirmed = await follow(h, link)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["user_id"] == user.id
    assert (await login_status(h, "cy", "new-password-1")).status_code == 200
    assert (await login_status(h, "cy", "old-password-1")).status_code == 401
    reused = await follow(h, link)
    assert reused.status_code == 400
    assert "request a new reset" in reused.json()["error"]

    unknown = await h.client.post(
        "/api/v1/password-reset-request/",
        json={"email": "nobody@example.com", "new_password": "new-password-1"},
    )
    assert unknown.status_code == 200
    assert unknown.json()["message"].replace("nobody", "cy") == asked.json()["message"]
    await h.api.services.accounts.drain()
    assert sink.sent_to("nobody@example.com") == []
    weak = await h.client.post(
        "/api/v1/password-reset-request/", json={"email": "cy@example.com", "new_password": "x"}
    )
    assert weak.status_code == 422
    assert "password must be 8-256" in weak.json()["error"]


async def test_an_expired_reset_link_is_refused(tmp_path: Path, sink: SmtpSink) -> None:
    async with harness_with(tmp_path, mail=mail_settings(sink, reset_link_ttl_seconds=0.5)) as h:
        await h.api.services.users.create_user(
            "dee", "old-password-1", email="dee@example.com", active=True
        )
        asked = await h.client.post(
            "/api/v1/password-reset-request/",
            json={"email": "dee@example.com", "new_password": "new-password-1"},
        )
        assert asked.status_code == 200
        link = await mailbox(sink, "dee@example.com")
        await asyncio.sleep(0.8)
        expired = await follow(h, link)
        assert expired.status_code == 400
        assert "invalid, expired or already used" in expired.json()["error"]
        assert (await login_status(h, "dee", "old-password-1")).status_code == 200


async def test_wrong_smtp_credentials_answer_503_naming_the_server(
    tmp_path: Path, sink: SmtpSink
) -> None:
    async with harness_with(tmp_path, mail=mail_settings(sink, password="wrong")) as h:
        registered = await h.client.post(
            "/api/v1/register",
            json={"full_name": "Eve", "email": "eve@example.com", "password": "eve-password-1"},
        )
        assert registered.status_code == 503
        assert f"127.0.0.1:{sink.port}" in registered.json()["error"]
        assert sink.sent_to("eve@example.com") == []


async def test_without_smtp_admins_activate_and_resets_say_why_not(harness: Harness) -> None:
    registered = await harness.client.post(
        "/api/v1/register",
        json={"full_name": "Fay", "email": "fay@example.com", "password": "fay-password-1"},
    )
    assert registered.status_code == 201
    assert registered.json()["email_sent"] is False
    assert "an admin must activate it" in registered.json()["message"]
    reset = await harness.client.post(
        "/api/v1/password-reset-request/",
        json={"email": "fay@example.com", "new_password": "new-password-1"},
    )
    assert reset.status_code == 503
    assert "this server sends no e-mail (mail.host is not set)" in reset.json()["error"]


# -- OpenID Connect ------------------------------------------------------------------------


def oidc_settings(provider: OidcProvider, *, auto_activate: bool = True) -> dict[str, Any]:
    return {
        "providers": {
            "google": {
                "issuer": provider.issuer,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "auto_activate": auto_activate,
            }
        }
    }


async def browser_login(h: Harness, provider: str = "google") -> httpx.Response:
    """What a browser does with ``auth_url``: the provider logs the user in and redirects
    to our callback, whose answer is the JSON the user pastes into the client."""
    started = await h.client.get(f"/api/v1/auth/{provider}")
    assert started.status_code == 200, started.text
    auth_url = started.json()["auth_url"]
    async with httpx.AsyncClient() as browser:
        at_provider = await browser.get(auth_url)
    assert at_provider.status_code == 302, at_provider.text
    callback = urlsplit(at_provider.headers["location"])
    assert callback.netloc == "api"
    return await h.client.get(f"{callback.path}?{callback.query}")


async def test_openid_connect_login_issues_our_token(tmp_path: Path) -> None:
    user = OidcUser(email="gil@example.com", name="Gil")
    with OidcProvider(CLIENT_ID, CLIENT_SECRET, user) as provider:
        async with harness_with(tmp_path, oidc=oidc_settings(provider)) as h:
            answer = await browser_login(h)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["email"] == "gil@example.com"
            assert provider.redirect_uris == {"http://api/api/v1/auth/google/callback"}
            role = await h.client.get("/api/v1/user_role", headers=h.auth(body["access_token"]))
            assert role.json() == {
                "role": "user",
                "username": "gil@example.com",
                "user_id": role.json()["user_id"],
            }
            again = await browser_login(h)  # the same account, not a second one
            assert again.json()["username"] == "gil@example.com"
            users = await h.client.get("/api/v1/team/", headers=h.admin)
            assert [u["email"] for u in users.json()].count("gil@example.com") == 1


async def test_openid_connect_refuses_bad_state_and_unverified_or_inactive_users(
    tmp_path: Path,
) -> None:
    user = OidcUser(email="hal@example.com")
    with OidcProvider(CLIENT_ID, CLIENT_SECRET, user) as provider:
        async with harness_with(tmp_path, oidc=oidc_settings(provider, auto_activate=False)) as h:
            forged = await h.client.get("/api/v1/auth/google/callback?code=x&state=forged")
            assert forged.status_code == 400
            assert "state mismatch" in forged.json()["error"]
            missing = await h.client.get("/api/v1/auth/google/callback?code=x")
            assert missing.status_code == 400

            started = await h.client.get("/api/v1/auth/google")
            async with httpx.AsyncClient() as browser:
                redirect = (await browser.get(started.json()["auth_url"])).headers["location"]
            callback = urlsplit(redirect)
            inactive = await h.client.get(f"{callback.path}?{callback.query}")
            assert inactive.status_code == 401
            assert "not active yet" in inactive.json()["error"]
            replayed = await h.client.get(f"{callback.path}?{callback.query}")
            assert replayed.status_code == 400
            assert "state mismatch" in replayed.json()["error"]

            denied = await h.client.get("/api/v1/auth/google/callback?error=access_denied")
            assert denied.status_code == 401
            assert "access_denied" in denied.json()["error"]
            unknown = await h.client.get("/api/v1/auth/github")
            assert unknown.status_code == 404
            assert "configured: google" in unknown.json()["error"]

            user.email_verified = False
            user.email = "ivy@example.com"
            unverified = await browser_login(h)
            assert unverified.status_code == 401
            assert "no verified e-mail" in unverified.json()["error"]


@pytest.mark.parametrize("forgery", ["audience", "signature", "issuer"])
async def test_a_forged_or_misdirected_id_token_is_refused(tmp_path: Path, forgery: str) -> None:
    with OidcProvider(CLIENT_ID, CLIENT_SECRET, OidcUser(email="jo@example.com")) as provider:
        async with harness_with(tmp_path, oidc=oidc_settings(provider)) as h:
            if forgery == "audience":
                provider.audience = "another-client"
            elif forgery == "issuer":
                provider.claimed_issuer = "https://accounts.google.com"
            else:
                provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
            answer = await browser_login(h)
            assert answer.status_code == 401, answer.text
            assert "the ID token from 'google' is not valid" in answer.json()["error"]
            users = await h.client.get("/api/v1/team/", headers=h.admin)
            assert "jo@example.com" not in [u["email"] for u in users.json()]


def test_google_id_tokens_may_name_the_issuer_without_scheme() -> None:
    from mlserve.platform.oidc import _issuers
    from mlserve.settings import OidcProviderSettings

    google = OidcProviderSettings(
        issuer="https://accounts.google.com", client_id="c", client_secret="s"
    )
    assert _issuers({"issuer": "https://accounts.google.com"}, google) == [
        "https://accounts.google.com",
        "accounts.google.com",
    ]
    other = OidcProviderSettings(issuer="https://id.example.com", client_id="c", client_secret="s")
    assert _issuers({}, other) == ["https://id.example.com"]
