"""Accounts and bearer tokens for the ``/api/v1`` API.

Contract:

- A user has an integer id, a unique username (and optional unique e-mail), a role
  (``admin`` or ``user``), an ``active`` flag and a ``deleted`` flag (removal is a soft
  delete: the record and its history stay, but the account can never log in again).
- Passwords are stored as argon2id hashes only. There is no default account or password:
  the first admin comes from ``mlserve user create --admin`` or ``MLSERVE_ADMIN_USER`` /
  ``MLSERVE_ADMIN_PASSWORD`` (:mod:`mlserve.platform.bootstrap`).
- ``register`` and ``invite`` create *inactive* accounts: this server sends no e-mail, so an
  admin activates them (``POST /api/v1/team/{id}/activate``).
- Tokens are random, stored only as their SHA-256 with a TTL, and can be revoked (logout).
  :meth:`UserService.user_for_token` raises :class:`UnauthorizedError` for a missing,
  expired or revoked token and for an inactive or removed account, so deactivating a user
  takes effect on their next request. A verified token is remembered for
  ``token_cache_seconds`` (:mod:`mlserve.platform.token_cache`): changes made through this
  replica apply at once, changes made through another replica within that bound.
- Logins are throttled per user name and per client address, and argon2 runs on a bounded
  pool (:mod:`mlserve.platform.login_limits`): 429 with ``Retry-After`` past the limits.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel

from mlserve.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UnauthorizedError,
)
from mlserve.platform.login_limits import LoginThrottle, PasswordWork
from mlserve.platform.store import StateStore
from mlserve.platform.token_cache import VerifiedTokens

Role = Literal["admin", "user"]
ROLES: tuple[Role, ...] = ("admin", "user")
USER_TIER = "self-hosted"
"""The tier every account has: a self-hosted server has no plans or quotas."""
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
MAX_NAME_LENGTH = 64

_USERS, _BY_NAME, _BY_EMAIL, _NEXT_ID = "users", "users:by_name", "users:by_email", "user:next_id"
_BAD_LOGIN = "invalid username or password"


class User(BaseModel):
    """One account as stored (the password hash never leaves this module's callers' hands:
    use :meth:`public` for API output)."""

    id: int
    username: str
    email: str | None = None
    full_name: str | None = None
    role: Role = "user"
    active: bool = False
    deleted: bool = False
    invited: bool = False
    created_at: str
    password_hash: str | None = None

    def public(self) -> dict[str, Any]:
        """The fields an API may show (``user_id`` duplicates ``id`` for the SDK)."""
        data = self.model_dump(exclude={"password_hash"})
        data["user_id"] = self.id
        return data


@dataclass(frozen=True)
class IssuedToken:
    """What ``POST /api/v1/token`` returns."""

    access_token: str
    expires_in: int
    user: User
    token_type: str = "bearer"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _token_key(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode()).hexdigest()


def validate_password(password: str, field: str = "password") -> str:
    """Length rules, named in the error so the caller knows the fix."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"{field} must be {MIN_PASSWORD_LENGTH}-{MAX_PASSWORD_LENGTH} characters long "
            f"(got {len(password)}); choose a longer password"
        )
    return password


def validate_username(username: str, field: str = "username") -> str:
    name = username.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH or any(ord(ch) < 32 for ch in name):
        raise InvalidInputError(
            f"{field} must be 1-{MAX_NAME_LENGTH} printable characters (got {username!r})"
        )
    return name


def validate_email(email: str, field: str = "email") -> str:
    value = email.strip()
    local, _, domain = value.partition("@")
    # No whitespace or control characters: the address goes into mail headers.
    if (
        not local
        or "." not in domain
        or len(value) > 254
        or any(c.isspace() or not c.isprintable() for c in value)
    ):
        raise InvalidInputError(f"{field} {email!r} is not an e-mail address (name@domain.tld)")
    return value


def require_role(user: User, role: Role) -> None:
    """Raise ForbiddenError unless ``user`` has ``role`` (admins pass every check)."""
    if user.role != role and user.role != "admin":
        raise ForbiddenError(
            f"this action needs the {role!r} role; user {user.username!r} has role "
            f"{user.role!r} — ask an admin"
        )


class UserService:
    """Users, passwords and tokens over a :class:`StateStore`."""

    def __init__(
        self,
        store: StateStore,
        *,
        token_ttl_seconds: float,
        hasher: PasswordHasher | None = None,
        inactive_hint: str = "this server sends no e-mail, an admin must activate it",
        throttle: LoginThrottle | None = None,
        password_work: PasswordWork | None = None,
        token_cache_seconds: float = 2.0,
    ) -> None:
        self._store = store
        self._verified: VerifiedTokens[User] = VerifiedTokens(token_cache_seconds)
        self.token_ttl_seconds = token_ttl_seconds
        self.inactive_hint = inactive_hint
        self._hasher = hasher or PasswordHasher()
        self.throttle = throttle or LoginThrottle(per_user=5, per_client=20, window_seconds=300)
        self._work = password_work or PasswordWork()
        self._dummy_hash: str | None = None

    # -- reading -------------------------------------------------------------------------

    async def get(self, user_id: int) -> User:
        raw = await self._store.hget(_USERS, str(user_id))
        if raw is None:
            raise NotFoundError(f"no user with id {user_id}; GET /api/v1/team/ lists users")
        return User.model_validate_json(raw)

    async def find(self, login: str) -> User | None:
        """The user whose username or e-mail is ``login`` (case-insensitive)."""
        key = login.strip().lower()
        user_id = await self._store.hget(_BY_NAME, key) or await self._store.hget(_BY_EMAIL, key)
        return None if user_id is None else await self.get(int(user_id))

    async def list_users(self, *, include_removed: bool = False) -> list[User]:
        users = [User.model_validate_json(v) for v in (await self._store.hgetall(_USERS)).values()]
        return sorted((u for u in users if include_removed or not u.deleted), key=lambda u: u.id)

    # -- creating ------------------------------------------------------------------------

    async def create_user(
        self,
        username: str,
        password: str | None,
        *,
        email: str | None = None,
        full_name: str | None = None,
        role: Role = "user",
        active: bool = True,
        invited: bool = False,
    ) -> User:
        """Create an account; ConflictError when the username or e-mail is taken."""
        username = validate_username(username)
        email = validate_email(email) if email else None
        if role not in ROLES:
            raise InvalidInputError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
        password_hash = await self._hash(validate_password(password)) if password else None
        user_id = await self._store.incr(_NEXT_ID)
        if not await self._store.hsetnx(_BY_NAME, username.lower(), str(user_id)):
            raise ConflictError(f"username {username!r} is taken; choose another one")
        if email and not await self._store.hsetnx(_BY_EMAIL, email.lower(), str(user_id)):
            await self._store.hdel(_BY_NAME, username.lower())
            raise ConflictError(f"e-mail {email!r} is already registered; log in instead")
        user = User(
            id=user_id,
            username=username,
            email=email,
            full_name=full_name,
            role=role,
            active=active,
            invited=invited,
            created_at=_now_iso(),
            password_hash=password_hash,
        )
        await self._save(user)
        return user

    async def register(self, full_name: str, email: str, password: str) -> User:
        """Self-service sign-up: an inactive account an admin must activate. An invited
        e-mail completes the invited record (still inactive until an admin activates it)."""
        full_name = validate_username(full_name, "full_name")
        email = validate_email(email)
        validate_password(password)
        existing = await self._store.hget(_BY_EMAIL, email.lower())
        if existing is None:
            return await self.create_user(
                full_name, password, email=email, full_name=full_name, active=False
            )
        user = await self.get(int(existing))
        if not user.invited or user.password_hash is not None or user.deleted:
            raise ConflictError(f"e-mail {email!r} is already registered; log in instead")
        if full_name.lower() != user.username.lower():
            if not await self._store.hsetnx(_BY_NAME, full_name.lower(), str(user.id)):
                raise ConflictError(f"username {full_name!r} is taken; choose another one")
            await self._store.hdel(_BY_NAME, user.username.lower())
        user = user.model_copy(
            update={
                "username": full_name,
                "full_name": full_name,
                "password_hash": await self._hash(password),
            }
        )
        await self._save(user)
        return user

    async def invite(self, email: str) -> User:
        """Record an invitation: an inactive account named after the e-mail, no password.
        The invitee registers with that e-mail; an admin then activates the account."""
        return await self.create_user(email, None, email=email, active=False, invited=True)

    # -- changing ------------------------------------------------------------------------

    async def activate(self, user_id: int) -> User:
        user = await self.get(user_id)
        if user.deleted:
            raise ConflictError(f"user {user_id} was removed and cannot be activated")
        if user.password_hash is None:
            raise ConflictError(
                f"user {user_id} ({user.username}) has no password yet: the invitee must "
                "first register with that e-mail (POST /api/v1/register)"
            )
        user = user.model_copy(update={"active": True})
        await self._save(user)
        return user

    async def set_role(self, user_id: int, role: str) -> User:
        if role not in ROLES:
            raise InvalidInputError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
        user = await self.get(user_id)
        if user.deleted:
            raise NotFoundError(f"user {user_id} was removed")
        if user.role == "admin" and role != "admin":
            await self._ensure_other_admin(user, "demote")
        user = user.model_copy(update={"role": role})
        await self._save(user)
        return user

    async def remove(self, user_id: int) -> User:
        """Soft delete: the record stays (history), the account can no longer log in."""
        user = await self.get(user_id)
        if user.deleted:
            raise NotFoundError(f"user {user_id} was already removed")
        if user.role == "admin":
            await self._ensure_other_admin(user, "remove")
        user = user.model_copy(update={"deleted": True, "active": False})
        await self._save(user)
        return user

    async def hash_password(self, password: str) -> str:
        """The argon2 hash of a valid ``password`` (length rules enforced)."""
        return await self._hash(validate_password(password))

    async def set_password_hash(self, user_id: int, password_hash: str) -> User:
        """Store a hash made by :meth:`hash_password` (a confirmed password reset)."""
        user = await self.get(user_id)
        if user.deleted:
            raise NotFoundError(f"user {user_id} was removed")
        user = user.model_copy(update={"password_hash": password_hash})
        await self._save(user)
        return user

    async def set_password(self, user_id: int, password: str) -> User:
        user = await self.get(user_id)
        user = user.model_copy(
            update={"password_hash": await self._hash(validate_password(password))}
        )
        await self._save(user)
        return user

    # -- authentication ------------------------------------------------------------------

    async def authenticate(self, username: str, password: str) -> User:
        """The user if the password matches and the account may log in."""
        user = await self.find(username) if username else None
        if user is None or user.password_hash is None:
            await self._verify(await self._dummy(), password)
            raise UnauthorizedError(_BAD_LOGIN)
        if not await self._verify(user.password_hash, password):
            raise UnauthorizedError(_BAD_LOGIN)
        self._check_may_log_in(user)
        return user

    async def login(self, username: str, password: str, client: str | None = None) -> IssuedToken:
        """A token for the right password; 429 (OverloadedError) once ``username`` or
        ``client`` (the caller's address) has too many recent failures."""
        self.throttle.begin(username, client)
        user = await self.authenticate(username, password)
        self.throttle.succeeded(username, client)
        return await self.issue_token(user)

    async def issue_token_checked(self, user: User) -> IssuedToken:
        """A token for ``user`` once it may log in (active, not removed): for logins proven
        elsewhere (OpenID Connect)."""
        self._check_may_log_in(user)
        return await self.issue_token(user)

    async def issue_token(self, user: User) -> IssuedToken:
        token = secrets.token_urlsafe(32)
        expires_at = time.time() + self.token_ttl_seconds
        record = json.dumps({"user_id": user.id, "expires_at": expires_at})
        await self._store.set(_token_key(token), record, ttl_seconds=self.token_ttl_seconds)
        return IssuedToken(token, int(self.token_ttl_seconds), user)

    async def user_for_token(self, token: str | None) -> User:
        """The active user behind ``token``; UnauthorizedError otherwise."""
        if not token:
            raise UnauthorizedError(
                "missing bearer token: log in at POST /api/v1/token and send "
                "'Authorization: Bearer <access_token>'"
            )
        key = _token_key(token)
        cached = self._verified.get(key)
        if cached is not None:
            return cached
        raw = await self._store.get(key)
        record = json.loads(raw) if raw else None
        if record is None or float(record["expires_at"]) <= time.time():
            raise UnauthorizedError(
                "token is invalid, expired or revoked; log in again at POST /api/v1/token"
            )
        try:
            user = await self.get(int(record["user_id"]))
        except NotFoundError:
            raise UnauthorizedError("the account behind this token no longer exists") from None
        self._check_may_log_in(user)
        self._verified.put(key, user, user.id, float(record["expires_at"]))
        return user

    async def revoke_token(self, token: str) -> bool:
        """Logout: the token stops working at once on this replica, within
        ``token_cache_seconds`` on the others; True when it existed."""
        key = _token_key(token)
        self._verified.forget(key)
        return await self._store.delete(key) > 0

    # -- helpers -------------------------------------------------------------------------

    def _check_may_log_in(self, user: User) -> None:
        if user.deleted:
            raise UnauthorizedError(f"account {user.username!r} was removed")
        if not user.active:
            raise UnauthorizedError(
                f"account {user.username!r} is not active yet: {self.inactive_hint}"
            )

    async def _ensure_other_admin(self, user: User, action: str) -> None:
        admins = [
            u for u in await self.list_users() if u.role == "admin" and u.active and u.id != user.id
        ]
        if not admins:
            raise ConflictError(
                f"cannot {action} {user.username!r}: it is the last active admin; "
                "make another user admin first"
            )

    async def _save(self, user: User) -> None:
        await self._store.hset(_USERS, {str(user.id): user.model_dump_json()})
        self._verified.forget_user(user.id)

    async def _hash(self, password: str) -> str:
        return await self._work.run(lambda: self._hasher.hash(password))

    async def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return await self._work.run(lambda: self._hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy(self) -> str:
        """A hash to verify against for unknown users, so timing does not reveal them."""
        if self._dummy_hash is None:
            self._dummy_hash = await self._hash(secrets.token_hex(16))
        return self._dummy_hash
