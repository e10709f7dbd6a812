"""Sending e-mail over SMTP (``aiosmtplib``), for account links.

:class:`SmtpMailer` opens one connection per message (account e-mail is rare; no pool to
go stale) with STARTTLS, implicit TLS or none as configured, logs in when credentials are
set, and raises :class:`~mlserve.errors.ServiceUnavailableError` (503) naming the server
and the reason when the message cannot be handed over, so the caller can say what to do.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

from mlserve.errors import ServiceUnavailableError
from mlserve.settings import MailSettings


class Mailer(Protocol):
    async def send(self, to: str, subject: str, text: str) -> None:
        """Hand one plain-text message to the mail server."""


class SmtpMailer:
    def __init__(self, settings: MailSettings) -> None:
        if not settings.host:
            raise ValueError("SmtpMailer needs mail.host")
        self._settings = settings

    async def send(self, to: str, subject: str, text: str) -> None:
        import aiosmtplib

        s = self._settings
        message = EmailMessage()
        message["From"] = s.from_address
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        try:
            await aiosmtplib.send(
                message,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password.get_secret_value() if s.password else None,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                timeout=s.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ServiceUnavailableError(
                f"could not send e-mail through {s.host}:{s.port} ({exc}); check the mail.* "
                "settings or try again later"
            ) from None
