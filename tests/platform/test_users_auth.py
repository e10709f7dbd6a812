"""Accounts, passwords and tokens (UserService) on both state stores."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from mlserve.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UnauthorizedError,
)
from mlserve.platform.auth import UserService, require_role, validate_email
from mlserve.platform.bootstrap import (
    activate_user_from_cli,
    create_user_from_cli,
    ensure_initial_admin,
)
from mlserve.platform.config import PlatformConfig
from mlserve.platform.store import StateStore
from mlserve.settings import AuthSettings, Settings
from tests.platform.conftest import fast_hasher


def users_on(store: StateStore, ttl: float = 60.0) -> UserService:
    return UserService(store, token_ttl_seconds=ttl, hasher=fast_hasher())


async def test_login_issues_a_token_that_resolves_to_the_user(store: StateStore) -> None:
    users = users_on(store)
    ada = await users.create_user("ada", "correct horse", email="ada@example.com")
    issued = await users.login("ada", "correct horse")
    assert (await users.user_for_token(issued.access_token)).id == ada.id
    by_email = await users.login("ADA@example.com", "correct horse")
    assert (await users.user_for_token(by_email.access_token)).username == "ada"
    stored = await store.hget("users", str(ada.id))
    assert stored is not None
    assert "correct horse" not in stored
    assert "$argon2id$" in stored


async def test_wrong_password_and_unknown_user_get_the_same_answer(store: StateStore) -> None:
    users = users_on(store)
    await users.create_user("ada", "correct horse")
    with pytest.raises(UnauthorizedError, match="invalid username or password") as wrong:
        await users.authenticate("ada", "wrong password")
    with pytest.raises(UnauthorizedError, match="invalid username or password") as unknown:
        await users.authenticate("bob", "correct horse")
    assert wrong.value.message == unknown.value.message


async def test_tokens_expire(store: StateStore) -> None:
    users = users_on(store, ttl=0.3)
    await users.create_user("ada", "correct horse")
    token = (await users.login("ada", "correct horse")).access_token
    await users.user_for_token(token)
    await asyncio.sleep(0.45)
    with pytest.raises(UnauthorizedError, match="expired or revoked"):
        await users.user_for_token(token)


async def test_logout_revokes_only_that_token(store: StateStore) -> None:
    users = users_on(store)
    await users.create_user("ada", "correct horse")
    first = (await users.login("ada", "correct horse")).access_token
    second = (await users.login("ada", "correct horse")).access_token
    assert await users.revoke_token(first) is True
    with pytest.raises(UnauthorizedError):
        await users.user_for_token(first)
    assert (await users.user_for_token(second)).username == "ada"


async def test_revocation_bound_across_replicas(store: StateStore) -> None:
    """Two replicas over one store: a logout or removal through one applies there at once
    and on the other within its ``token_cache_seconds`` (the documented bound), not later."""
    here = UserService(store, token_ttl_seconds=60, hasher=fast_hasher(), token_cache_seconds=0.3)
    there = UserService(store, token_ttl_seconds=60, hasher=fast_hasher(), token_cache_seconds=0.3)
    await here.create_user("root", "root-password", role="admin")
    ada = await here.create_user("ada", "correct horse")
    token = (await here.login("ada", "correct horse")).access_token
    other = (await here.login("ada", "correct horse")).access_token
    assert (await there.user_for_token(token)).id == ada.id  # now remembered by "there"
    assert await here.revoke_token(token) is True
    with pytest.raises(UnauthorizedError, match="expired or revoked"):
        await here.user_for_token(token)
    assert (await there.user_for_token(token)).id == ada.id  # within the bound
    await asyncio.sleep(0.35)
    with pytest.raises(UnauthorizedError, match="expired or revoked"):
        await there.user_for_token(token)

    assert (await here.user_for_token(other)).id == ada.id
    assert (await there.user_for_token(other)).id == ada.id
    await there.remove(ada.id)
    with pytest.raises(UnauthorizedError, match="removed"):
        await there.user_for_token(other)  # the replica that changed it: at once
    await asyncio.sleep(0.35)
    with pytest.raises(UnauthorizedError, match="removed"):
        await here.user_for_token(other)


async def test_a_remembered_token_skips_the_store_and_logout_forgets_it(
    store: StateStore,
) -> None:
    users = users_on(store)
    await users.create_user("ada", "correct horse")
    token = (await users.login("ada", "correct horse")).access_token
    await users.user_for_token(token)
    # Taken out of the store behind the service's back: the remembered answer still holds.
    await store.delete("token:" + hashlib.sha256(token.encode()).hexdigest())
    assert (await users.user_for_token(token)).username == "ada"
    await users.revoke_token(token)
    with pytest.raises(UnauthorizedError):
        await users.user_for_token(token)
    uncached = UserService(store, token_ttl_seconds=60, hasher=fast_hasher(), token_cache_seconds=0)
    second = (await uncached.login("ada", "correct horse")).access_token
    await uncached.user_for_token(second)
    await store.delete("token:" + hashlib.sha256(second.encode()).hexdigest())
    with pytest.raises(UnauthorizedError):
        await uncached.user_for_token(second)


async def test_missing_token_names_the_login_endpoint(store: StateStore) -> None:
    with pytest.raises(UnauthorizedError, match="POST /api/v1/token"):
        await users_on(store).user_for_token(None)


async def test_register_is_inactive_until_an_admin_activates(store: StateStore) -> None:
    users = users_on(store)
    user = await users.register("Grace Hopper", "grace@example.com", "cobol-forever")
    assert not user.active
    with pytest.raises(UnauthorizedError, match="an admin must activate it"):
        await users.login("grace@example.com", "cobol-forever")
    await users.activate(user.id)
    assert (await users.login("Grace Hopper", "cobol-forever")).user.id == user.id


async def test_removed_user_cannot_log_in_and_old_tokens_die(store: StateStore) -> None:
    users = users_on(store)
    await users.create_user("root", "root-password", role="admin")
    ada = await users.create_user("ada", "correct horse")
    token = (await users.login("ada", "correct horse")).access_token
    await users.remove(ada.id)
    with pytest.raises(UnauthorizedError, match="removed"):
        await users.user_for_token(token)
    with pytest.raises(UnauthorizedError, match="removed"):
        await users.login("ada", "correct horse")
    history = await users.list_users(include_removed=True)
    assert [u.username for u in history if u.deleted] == ["ada"]
    assert "ada" not in [u.username for u in await users.list_users()]


async def test_invited_account_is_completed_by_register(store: StateStore) -> None:
    users = users_on(store)
    invited = await users.invite("lin@example.com")
    assert invited.invited
    assert not invited.active
    assert invited.password_hash is None
    with pytest.raises(ConflictError, match="register"):
        await users.activate(invited.id)
    registered = await users.register("Lin", "lin@example.com", "a-long-password")
    assert registered.id == invited.id
    assert not registered.active
    await users.activate(invited.id)
    assert (await users.login("Lin", "a-long-password")).user.id == invited.id


async def test_duplicates_and_bad_input_are_refused_with_the_field(store: StateStore) -> None:
    users = users_on(store)
    await users.create_user("ada", "correct horse", email="ada@example.com")
    with pytest.raises(ConflictError, match="username 'ADA' is taken"):
        await users.create_user("ADA", "correct horse")
    with pytest.raises(ConflictError, match="already registered"):
        await users.register("Someone", "ada@example.com", "correct horse")
    with pytest.raises(InvalidInputError, match="password must be 8-256 characters"):
        await users.create_user("bob", "short")
    with pytest.raises(InvalidInputError, match="email 'nope' is not an e-mail"):
        await users.register("Bob", "nope", "correct horse")
    with pytest.raises(InvalidInputError, match="role must be one of admin, user"):
        await users.create_user("carl", "correct horse", role="owner")  # type: ignore[arg-type]


async def test_roles_and_the_last_admin(store: StateStore) -> None:
    users = users_on(store)
    root = await users.create_user("root", "root-password", role="admin")
    ada = await users.create_user("ada", "correct horse")
    with pytest.raises(ForbiddenError, match="needs the 'admin' role"):
        require_role(ada, "admin")
    require_role(root, "user")
    with pytest.raises(ConflictError, match="last active admin"):
        await users.set_role(root.id, "user")
    with pytest.raises(ConflictError, match="last active admin"):
        await users.remove(root.id)
    promoted = await users.set_role(ada.id, "admin")
    require_role(promoted, "admin")
    assert (await users.set_role(root.id, "user")).role == "user"
    with pytest.raises(NotFoundError, match="no user with id 999"):
        await users.set_role(999, "user")


async def test_initial_admin_from_settings_is_created_once(store: StateStore) -> None:
    users = users_on(store)
    config = PlatformConfig(
        redis_url=None, state_path=Path("unused"), admin_user="root", admin_password="first-pass"
    )
    assert (await ensure_initial_admin(users, config)) is not None
    changed = PlatformConfig(
        redis_url=None, state_path=Path("unused"), admin_user="root", admin_password="second-pass"
    )
    assert await ensure_initial_admin(users, changed) is None
    assert (await users.login("root", "first-pass")).user.role == "admin"
    half = PlatformConfig(redis_url=None, state_path=Path("unused"), admin_user="root")
    with pytest.raises(InvalidInputError, match="MLSERVE_ADMIN_PASSWORD"):
        await ensure_initial_admin(users, half)
    empty = PlatformConfig(redis_url=None, state_path=Path("unused"))
    assert await ensure_initial_admin(users, empty) is None


async def test_replicas_starting_together_create_the_initial_admin_once(
    store: StateStore,
) -> None:
    # Two control planes on one state store run their start-up at the same moment.
    config = PlatformConfig(
        redis_url=None, state_path=Path("unused"), admin_user="root", admin_password="first-pass"
    )
    created = await asyncio.gather(
        *(ensure_initial_admin(users_on(store), config) for _ in range(4))
    )
    assert sum(user is not None for user in created) == 1
    assert (await users_on(store).login("root", "first-pass")).user.role == "admin"


def test_admin_settings_come_from_the_documented_env_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLSERVE_ADMIN_USER", "ops")
    monkeypatch.setenv("MLSERVE_ADMIN_PASSWORD", "ops-password")
    monkeypatch.setenv("MLSERVE_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("MLSERVE_AUTH__TOKEN_TTL_SECONDS", "90")
    config = PlatformConfig.from_settings(Settings(models_dir=tmp_path / "models"))
    assert (config.admin_user, config.admin_password) == ("ops", "ops-password")
    assert config.webhook_allow_private is True
    assert config.token_ttl_seconds == 90
    assert config.state_path == tmp_path / "var" / "platform.sqlite3"
    assert "ops-password" not in repr(Settings())


def test_cli_creates_and_activates_users_in_the_configured_store(tmp_path: Path) -> None:
    settings = Settings(
        models_dir=tmp_path / "models", auth=AuthSettings(state_path=tmp_path / "state.db")
    )
    admin = create_user_from_cli(settings, username="boss", password="boss-password", admin=True)
    assert admin.role == "admin"
    assert admin.active
    with pytest.raises(ConflictError):
        create_user_from_cli(settings, username="boss", password="boss-password")
    with pytest.raises(NotFoundError, match="no user named 'ghost'"):
        activate_user_from_cli(settings, login="ghost")


@pytest.mark.parametrize("email", ["a\n@b.c", "a@b.c\r\nBcc: x@y.z", "a\t@b.c", "a b@c.d"])
def test_an_address_with_whitespace_or_control_characters_is_refused(email: str) -> None:
    # It would go into a mail header (register, invite, password reset).
    with pytest.raises(InvalidInputError, match="not an e-mail address"):
        validate_email(email)
