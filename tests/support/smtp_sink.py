"""A real SMTP server (aiosmtpd) on a free 127.0.0.1 port that keeps what it receives.

Optionally requires AUTH LOGIN/PLAIN with one username and password (over plain SMTP, as a
local relay would), so the mailer's credential settings are exercised too.
"""

from __future__ import annotations

import email
import re
import threading
import time
from email.message import Message
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.redis_server import free_port


class SmtpSink:
    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.username, self.password = username, password
        sink = self

        class Handler:
            async def handle_DATA(  # noqa: N802 (aiosmtpd calls it by this name)
                self, server: Any, session: Any, envelope: Any
            ) -> str:
                with sink._lock:
                    sink.messages.append(email.message_from_bytes(envelope.content))
                    sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == username
                and data.password.decode() == password
            )
            return AuthResult(success=ok)

        options: dict[str, Any] = {}
        if username is not None:
            options = {
                "authenticator": authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()

    def wait_for(self, to: str, timeout: float = 10.0, nth: int | None = None) -> Message:
        """The newest message to ``to`` (or, with ``nth``, the nth one, 1-based), waiting
        up to ``timeout`` for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.sent_to(to)
            if received and (nth is None or len(received) >= nth):
                return received[-1] if nth is None else received[nth - 1]
            time.sleep(0.02)
        raise AssertionError(f"no e-mail (#{nth}) to {to} within {timeout} s: {self.messages}")

    def sent_to(self, to: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m["To"] == to]


def link_in(message: Message) -> str:
    """The one http(s) link in a plain-text e-mail."""
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    links = re.findall(r"https?://\S+", payload.decode())
    assert len(links) == 1, links
    return links[0]
