"""The platform's view of :class:`~mlserve.settings.Settings`, resolved once.

Some values can be given two ways (``MLSERVE_ADMIN_USER`` or ``MLSERVE_AUTH__ADMIN_USER``);
this module decides which wins (the top-level shortcut) so the rest of the package reads one
plain object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlserve.errors import SettingsError
from mlserve.platform.store_durability import same_as_cache
from mlserve.platform.upload_sandbox import SandboxSettings
from mlserve.settings import MailSettings, OidcSettings, Settings

MAX_MODEL_UPLOAD_BYTES = 200 * 1024 * 1024
"""Largest model file ``POST /api/v1/deploy`` accepts (the SDK's limit, enforced here too)."""

KEY_PREFIX = "mlserve:"
"""Prefix of every Redis key the platform writes."""


@dataclass(frozen=True)
class PlatformConfig:
    """Everything the platform services are configured with."""

    redis_url: str | None
    """Redis holding platform state (``auth.state_redis_url``); None: SQLite at
    ``state_path``. Never the prediction cache's Redis."""
    state_path: Path
    key_prefix: str = KEY_PREFIX
    token_ttl_seconds: float = 12 * 3600.0
    token_cache_seconds: float = 2.0
    admin_user: str | None = None
    admin_password: str | None = None
    webhook_allow_private: bool = False
    webhook_max_attempts: int = 6
    webhook_timeout_s: float = 10.0
    webhook_lease_s: float = 60.0
    materialize_ttl_seconds: float = 7 * 24 * 3600.0
    prediction_log_size: int = 100_000
    max_upload_bytes: int = MAX_MODEL_UPLOAD_BYTES
    public_url: str = "http://127.0.0.1:8080"
    mail: MailSettings | None = None
    """None when no SMTP host is configured: no e-mail, admins activate accounts."""
    oidc: OidcSettings = field(default_factory=OidcSettings)
    login_failures_per_user: int = 5
    login_failures_per_client: int = 20
    login_window_seconds: float = 300.0
    password_hash_concurrency: int = 1
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    """Limits of the child process that screens and exports uploads."""

    @classmethod
    def from_settings(cls, settings: Settings) -> PlatformConfig:
        """Resolve shortcuts and defaults: top-level ``admin_*``/``webhook_allow_private``
        override the ``auth`` section; the SQLite file defaults to
        ``<models_dir>/../var/platform.sqlite3``. Raises SettingsError when the state Redis is
        the prediction cache's Redis (which may evict)."""
        auth = settings.auth
        if same_as_cache(auth.state_redis_url, settings.effective_redis_url):
            raise SettingsError(
                "auth.state_redis_url is the prediction cache's Redis (redis_url or "
                "cache.redis_url), which may evict: give platform state its own noeviction, "
                "persisted Redis or unset MLSERVE_AUTH__STATE_REDIS_URL to use SQLite"
            )
        password = settings.admin_password or auth.admin_password
        state_path = auth.state_path or (
            settings.models_dir.resolve().parent / "var" / "platform.sqlite3"
        )
        return cls(
            redis_url=auth.state_redis_url,
            state_path=state_path,
            token_ttl_seconds=auth.token_ttl_seconds,
            token_cache_seconds=auth.token_cache_seconds,
            admin_user=settings.admin_user or auth.admin_user,
            admin_password=password.get_secret_value() if password else None,
            webhook_allow_private=settings.webhook_allow_private or auth.webhook_allow_private,
            webhook_max_attempts=auth.webhook_max_attempts,
            webhook_timeout_s=auth.webhook_timeout_s,
            webhook_lease_s=auth.webhook_lease_seconds,
            materialize_ttl_seconds=auth.materialize_ttl_seconds,
            prediction_log_size=auth.prediction_log_size,
            public_url=(
                auth.public_url or f"http://{settings.server.host}:{settings.server.port}"
            ).rstrip("/"),
            mail=settings.mail if settings.mail.host else None,
            oidc=settings.oidc,
            sandbox=sandbox_settings(settings),
            login_failures_per_user=auth.login_failures_per_user,
            login_failures_per_client=auth.login_failures_per_client,
            login_window_seconds=auth.login_window_seconds,
            password_hash_concurrency=auth.password_hash_concurrency,
        )


def sandbox_settings(settings: Settings) -> SandboxSettings:
    """The upload sandbox's limits from the ``auth.upload_*`` settings."""
    auth = settings.auth
    return SandboxSettings(
        memory_bytes=auth.upload_memory_bytes,
        cpu_seconds=auth.upload_cpu_seconds,
        max_decompressed_bytes=auth.upload_max_decompressed_bytes,
        wall_seconds=auth.upload_wall_seconds,
    )
