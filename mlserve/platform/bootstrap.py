"""Getting the first admin: from settings at start, or from the CLI.

There is no default account. ``MLSERVE_ADMIN_USER`` + ``MLSERVE_ADMIN_PASSWORD`` create an
active admin at start when no user of that name exists (an existing user is left alone:
changing the variable never resets a password; replicas starting at once create it once).
``mlserve user create --admin`` calls :func:`create_user_from_cli`; ``mlserve user activate``
calls :func:`activate_user_from_cli`.
"""

from __future__ import annotations

import asyncio

from mlserve.errors import ConflictError, InvalidInputError, NotFoundError
from mlserve.platform.auth import User, UserService
from mlserve.platform.config import PlatformConfig
from mlserve.platform.store import open_store
from mlserve.settings import Settings


async def ensure_initial_admin(users: UserService, config: PlatformConfig) -> User | None:
    """Create the admin named by the settings if missing; returns it when created."""
    if not config.admin_user and not config.admin_password:
        return None
    if not config.admin_user or not config.admin_password:
        raise InvalidInputError(
            "set both MLSERVE_ADMIN_USER and MLSERVE_ADMIN_PASSWORD to create the first admin "
            "(or neither, and run `mlserve user create --admin`)"
        )
    if await users.find(config.admin_user) is not None:
        return None
    try:
        return await users.create_user(
            config.admin_user, config.admin_password, role="admin", active=True
        )
    except ConflictError:
        # Replicas starting together on one state store: another one created it first
        # (user names are claimed atomically, so there is exactly one).
        if await users.find(config.admin_user) is None:
            raise
        return None


def create_user_from_cli(
    settings: Settings,
    *,
    username: str,
    password: str,
    email: str | None = None,
    admin: bool = False,
) -> User:
    """Create an active account in the configured state store (what the CLI verb runs)."""

    async def run() -> User:
        config = PlatformConfig.from_settings(settings)
        store = open_store(config)
        try:
            users = UserService(store, token_ttl_seconds=config.token_ttl_seconds)
            return await users.create_user(
                username, password, email=email, role="admin" if admin else "user", active=True
            )
        finally:
            await store.close()

    return asyncio.run(run())


def activate_user_from_cli(settings: Settings, *, login: str) -> User:
    """Activate the account whose username or e-mail is ``login``."""

    async def run() -> User:
        config = PlatformConfig.from_settings(settings)
        store = open_store(config)
        try:
            users = UserService(store, token_ttl_seconds=config.token_ttl_seconds)
            user = await users.find(login)
            if user is None:
                raise NotFoundError(f"no user named {login!r}; GET /api/v1/team/ lists users")
            return await users.activate(user.id)
        finally:
            await store.close()

    return asyncio.run(run())
