"""Account flows that go through the user's mailbox: verify a registration, accept an
invitation (choosing a password), confirm a password reset.

With a mailer (``mail.host`` set):

- ``register`` creates the account inactive and mails a verification link; opening it
  (and confirming) activates the account.
- ``invite`` records the invitee and mails a link whose page sets their password and
  activates the account.
- ``request_password_reset(email, new_password)`` (the 0.4.0 client sends the new password
  up front) keeps only the new password's hash in a one-time link mailed to the account's
  address; the password changes when the link is confirmed. The answer is the same whether
  or not the address has an account, and the mail goes out in the background, so neither
  the answer nor its timing tells who has an account.

Without a mailer, ``register`` and ``invite`` keep the admin-activation behaviour and say
so; a password reset is refused with a 503 that says why and what to do instead.
Links: :mod:`mlserve.platform.account_links` (one-time, expiring).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mlserve.errors import MLServeError, ServiceUnavailableError
from mlserve.platform.account_links import AccountLinks
from mlserve.platform.auth import User, UserService, validate_email, validate_password
from mlserve.platform.mail import Mailer
from mlserve.settings import MailSettings

log = logging.getLogger(__name__)

NO_EMAIL = "this server sends no e-mail (mail.host is not set)"
VERIFY_PATH = "/api/v1/verify-email"
INVITE_PATH = "/api/v1/accept-invite"
RESET_PATH = "/api/v1/password-reset/confirm"


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


class AccountFlows:
    def __init__(
        self,
        users: UserService,
        links: AccountLinks,
        *,
        public_url: str,
        mailer: Mailer | None = None,
        mail: MailSettings | None = None,
    ) -> None:
        self._users = users
        self._links = links
        self._mailer = mailer
        self._mail = mail or MailSettings()
        self._public_url = public_url.rstrip("/")
        self._background: set[asyncio.Task[None]] = set()

    @property
    def sends_email(self) -> bool:
        return self._mailer is not None

    def _link(self, path: str, token: str) -> str:
        return f"{self._public_url}{path}?token={token}"

    # -- registration ----------------------------------------------------------------------

    async def register(self, full_name: str, email: str, password: str) -> dict[str, Any]:
        user = await self._users.register(full_name, email, password)
        base = {"user_id": user.id, "username": user.username, "active": user.active}
        if self._mailer is None:
            return {
                **base,
                "email_sent": False,
                "message": (
                    f"Account {user.username!r} created but not active: {NO_EMAIL}; an admin "
                    f"must activate it (POST /api/v1/team/{user.id}/activate) before you can "
                    "log in."
                ),
            }
        ttl = self._mail.verify_link_ttl_seconds
        token = await self._links.issue("verify", user.id, ttl)
        await self._mailer.send(
            email,
            "Verify your MLServe account",
            f"Hello {user.username},\n\nopen this link to verify your e-mail address and "
            f"activate your account:\n\n{self._link(VERIFY_PATH, token)}\n\n"
            f"The link works once, for {_hours(ttl)}. If you did not register, ignore this "
            "e-mail.\n",
        )
        return {
            **base,
            "email_sent": True,
            "message": (
                f"Account created! Please check your email ({email}) and open the verification "
                f"link within {_hours(ttl)} to activate your account."
            ),
        }

    async def verify_email(self, token: str) -> User:
        record = await self._links.consume("verify", token)
        return await self._users.activate(record.user_id)

    # -- invitations -----------------------------------------------------------------------

    async def invite(self, email: str, invited_by: User) -> dict[str, Any]:
        user = await self._users.invite(email)
        base = {"user_id": user.id, "invited_by": invited_by.id}
        if self._mailer is None:
            detail = (
                f"Invitation recorded for {user.email} (user id {user.id}); {NO_EMAIL}: tell "
                "them to register with this address (POST /api/v1/register), then activate the "
                f"account (POST /api/v1/team/{user.id}/activate)."
            )
            return {**base, "email_sent": False, "detail": detail, "message": detail}
        ttl = self._mail.invite_link_ttl_seconds
        token = await self._links.issue("invite", user.id, ttl)
        await self._mailer.send(
            user.email or email,
            "You are invited to MLServe",
            f"Hello,\n\n{invited_by.username} invited you to their MLServe team. Open this "
            f"link to choose your password and join:\n\n{self._link(INVITE_PATH, token)}\n\n"
            f"The link works once, for {_hours(ttl)}.\n",
        )
        detail = f"Invite sent to {user.email}. They join by opening the link in the e-mail."
        return {**base, "email_sent": True, "detail": detail, "message": detail}

    async def accept_invite(self, token: str, password: str) -> User:
        validate_password(password)  # before using the link: a bad password keeps it valid
        record = await self._links.consume("invite", token)
        await self._users.set_password(record.user_id, password)
        return await self._users.activate(record.user_id)

    # -- password reset --------------------------------------------------------------------

    async def request_password_reset(self, email: str, new_password: str) -> dict[str, Any]:
        if self._mailer is None:
            raise ServiceUnavailableError(
                f"password reset confirms by e-mail, and {NO_EMAIL}; ask an admin to set up "
                "e-mail (MLSERVE_MAIL__HOST) or to recreate your account"
            )
        email = validate_email(email)
        password_hash = await self._users.hash_password(new_password)
        ttl = self._mail.reset_link_ttl_seconds
        user = await self._users.find(email)
        if user is not None and user.email and not user.deleted and user.password_hash:
            token = await self._links.issue("reset", user.id, ttl, password_hash=password_hash)
            self._in_background(
                self._mailer.send(
                    user.email,
                    "Confirm your MLServe password change",
                    f"Hello {user.username},\n\nsomeone (hopefully you) asked to change the "
                    "password of your MLServe account. Open this link to confirm the new "
                    f"password:\n\n{self._link(RESET_PATH, token)}\n\nThe link works once, "
                    f"for {_hours(ttl)}. If this was not you, ignore this e-mail: your "
                    "password stays as it is.\n",
                )
            )
        return {
            "message": (
                "Please check your email for instructions to reset your password: if an "
                f"account uses {email}, a confirmation link was sent to it; the new password "
                f"takes effect when you open it (within {_hours(ttl)})."
            )
        }

    async def confirm_password_reset(self, token: str) -> User:
        record = await self._links.consume("reset", token)
        return await self._users.set_password_hash(
            record.user_id, str(record.data["password_hash"])
        )

    def _in_background(self, send: Any) -> None:
        async def run() -> None:
            try:
                await send
            except MLServeError as exc:
                log.warning("password reset e-mail not sent: %s", exc.message)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for e-mails being sent in the background (shutdown, tests)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
