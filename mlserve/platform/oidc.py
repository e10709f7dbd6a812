"""Log in with OpenID Connect (authorization code flow with PKCE and a nonce).

``google_login`` in the 0.4.0 client calls ``GET /api/v1/auth/google`` for ``auth_url``,
opens it in a browser, and expects the page the browser lands on to be JSON holding
``access_token``. So: :meth:`OidcLogin.start` makes the provider URL (random ``state``,
``nonce`` and PKCE verifier kept in the store for ``state_ttl_seconds``);
the provider sends the browser to ``/api/v1/auth/{provider}/callback``, where
:meth:`OidcLogin.finish` uses the state once (an unknown, expired or reused state is a
400), exchanges the code (authlib), verifies the ID token's signature against the
provider's JWKS and its ``iss``, ``aud``, ``exp`` and ``nonce`` (joserfc via authlib's
claim rules), requires ``email_verified``, and issues one of our bearer tokens for the
account with that e-mail (created when unknown: active only with ``auto_activate``).

Google is one configured provider (issuer ``https://accounts.google.com``); any OpenID
Connect provider with discovery works the same way.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx

from mlserve.errors import (
    BadRequestError,
    NotFoundError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from mlserve.platform.auth import IssuedToken, UserService
from mlserve.platform.store import StateStore
from mlserve.settings import OidcProviderSettings, OidcSettings

_METADATA_TTL_S = 3600.0


class OidcLogin:
    def __init__(
        self, store: StateStore, users: UserService, settings: OidcSettings, public_url: str
    ) -> None:
        self._store = store
        self._users = users
        self._settings = settings
        self._public_url = public_url.rstrip("/")
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}

    def _provider(self, name: str) -> OidcProviderSettings:
        provider = self._settings.providers.get(name)
        if provider is None:
            configured = ", ".join(sorted(self._settings.providers)) or "none"
            raise NotFoundError(
                f"no login provider {name!r} is configured (configured: {configured}); an "
                f"admin sets MLSERVE_OIDC__PROVIDERS__{name.upper()}__ISSUER, __CLIENT_ID and "
                "__CLIENT_SECRET"
            )
        return provider

    def redirect_uri(self, name: str) -> str:
        return f"{self._public_url}/api/v1/auth/{name}/callback"

    async def _discover(self, name: str, provider: OidcProviderSettings) -> dict[str, Any]:
        cached = self._metadata.get(name)
        if cached and time.monotonic() - cached[0] < _METADATA_TTL_S:
            return cached[1]
        url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                response = await client.get(url)
                response.raise_for_status()
                metadata: dict[str, Any] = response.json()
                jwks = await client.get(metadata["jwks_uri"])
                jwks.raise_for_status()
                metadata["jwks"] = jwks.json()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise ServiceUnavailableError(
                f"login provider {name!r} is unreachable or not OpenID Connect ({url}: {exc})"
            ) from None
        self._metadata[name] = (time.monotonic(), metadata)
        return metadata

    async def start(self, name: str) -> dict[str, str]:
        """The provider URL to open in a browser."""
        from authlib.integrations.httpx_client import AsyncOAuth2Client

        provider = self._provider(name)
        metadata = await self._discover(name, provider)
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        client = AsyncOAuth2Client(
            client_id=provider.client_id,
            redirect_uri=self.redirect_uri(name),
            scope=provider.scopes,
            code_challenge_method="S256",
        )
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
        )
        record = json.dumps({"provider": name, "nonce": nonce, "verifier": verifier})
        await self._store.set(
            f"oidc:state:{state}", record, ttl_seconds=self._settings.state_ttl_seconds
        )
        return {"auth_url": url, "provider": name, "redirect_uri": self.redirect_uri(name)}

    async def finish(
        self, name: str, code: str | None, state: str | None, error: str | None
    ) -> tuple[IssuedToken, str]:
        """Our bearer token and the e-mail it was issued for."""
        provider = self._provider(name)
        again = f"start again at GET /api/v1/auth/{name}"
        if error:
            raise UnauthorizedError(f"the login provider answered {error!r}; {again}")
        key = f"oidc:state:{state or '-'}"
        raw = await self._store.get(key)
        if raw is None or not state or await self._store.delete(key) == 0:
            raise BadRequestError(
                f"state mismatch: the login's state is unknown, expired or already used; {again}"
            )
        record = json.loads(raw)
        if record["provider"] != name:
            raise BadRequestError(
                f"state mismatch: this login was started for another provider; {again}"
            )
        if not code:
            raise BadRequestError(f"the callback has no 'code'; {again}")
        metadata = await self._discover(name, provider)
        claims = await self._exchange(name, provider, metadata, code, record)
        email = claims.get("email")
        if not isinstance(email, str) or claims.get("email_verified") is not True:
            raise UnauthorizedError(
                f"the {name} account has no verified e-mail address; verify it at the provider"
            )
        user = await self._users.find(email)
        if user is None:
            user = await self._users.create_user(
                email,
                None,
                email=email,
                full_name=claims.get("name"),
                active=provider.auto_activate,
            )
        return await self._users.issue_token_checked(user), email

    async def _exchange(
        self,
        name: str,
        provider: OidcProviderSettings,
        metadata: dict[str, Any],
        code: str,
        record: dict[str, str],
    ) -> dict[str, Any]:
        from authlib.integrations.base_client import OAuthError
        from authlib.integrations.httpx_client import AsyncOAuth2Client
        from authlib.oidc.core import CodeIDToken
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet
        from joserfc.jws import JWSRegistry

        client = AsyncOAuth2Client(
            client_id=provider.client_id,
            client_secret=provider.client_secret.get_secret_value(),
            redirect_uri=self.redirect_uri(name),
            timeout=10.0,
        )
        try:
            async with client:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=record["verifier"]
                )
        except (OAuthError, httpx.HTTPError) as exc:
            raise UnauthorizedError(
                f"the login provider refused the code ({exc}); start again at "
                f"GET /api/v1/auth/{name}"
            ) from None
        if "id_token" not in token:
            raise UnauthorizedError(f"provider {name!r} returned no id_token (scope 'openid'?)")
        algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        try:
            decoded = jwt.decode(
                token["id_token"],
                KeySet.import_key_set(metadata["jwks"]),
                registry=JWSRegistry(algorithms=algorithms),
            )
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "values": _issuers(metadata, provider)},
                    "aud": {"essential": True, "value": provider.client_id},
                },
                {
                    "nonce": record["nonce"],
                    "client_id": provider.client_id,
                    "access_token": token.get("access_token"),
                },
            )
            claims.validate(leeway=60)
        except (JoseError, ValueError) as exc:
            raise UnauthorizedError(f"the ID token from {name!r} is not valid: {exc}") from None
        return dict(claims)


def _issuers(metadata: dict[str, Any], provider: OidcProviderSettings) -> list[str]:
    """The ``iss`` values to accept: the discovered issuer; Google also signs ID tokens with
    ``accounts.google.com`` (no scheme), which its documentation says to accept."""
    issuer = str(metadata.get("issuer", provider.issuer))
    if issuer == "https://accounts.google.com":
        return [issuer, "accounts.google.com"]
    return [issuer]
