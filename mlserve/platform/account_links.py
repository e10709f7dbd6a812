"""One-time, expiring links for account e-mails (verify, invite, password reset).

Why not a signed token alone: a signature proves who issued a link but cannot make it
single-use, and a reset link must stop working once used. So the link carries 32 random
bytes; the store keeps only their SHA-256 (``link:<sha256>``, a string with the link's TTL)
with the purpose, the user and what to apply (a reset keeps the *hash* of the new password,
never the password). :meth:`AccountLinks.consume` deletes the record before acting: of two
concurrent uses exactly one wins (``DEL`` returns 1 once), so a link works once, and an
expired one is simply gone. Both answer the same 400 (which of the two is not told).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from mlserve.errors import BadRequestError
from mlserve.platform.store import StateStore

Purpose = Literal["verify", "invite", "reset"]


@dataclass(frozen=True)
class LinkRecord:
    purpose: Purpose
    user_id: int
    data: dict[str, Any]


def _key(token: str) -> str:
    return "link:" + hashlib.sha256(token.encode()).hexdigest()


class AccountLinks:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    async def issue(self, purpose: Purpose, user_id: int, ttl_seconds: float, **data: Any) -> str:
        """A new token for ``purpose``; it works once, for ``ttl_seconds``."""
        token = secrets.token_urlsafe(32)
        record = {"purpose": purpose, "user_id": user_id, "data": data}
        await self._store.set(_key(token), json.dumps(record), ttl_seconds=ttl_seconds)
        return token

    async def peek(self, purpose: Purpose, token: str) -> LinkRecord:
        """The record, without using the link (for the confirmation page)."""
        return self._parse(purpose, await self._store.get(_key(token or "-")))

    async def consume(self, purpose: Purpose, token: str) -> LinkRecord:
        """Use the link: its record, after which it no longer works."""
        key = _key(token or "-")
        record = self._parse(purpose, await self._store.get(key))
        if await self._store.delete(key) == 0:
            self._parse(purpose, None)  # used by a concurrent request just now
        return record

    @staticmethod
    def _parse(purpose: Purpose, raw: str | None) -> LinkRecord:
        record = json.loads(raw) if raw else None
        if record is None or record.get("purpose") != purpose:
            what = {"verify": "verification", "invite": "invitation", "reset": "reset"}[purpose]
            again = {
                "verify": "register again or ask an admin to activate the account",
                "invite": "ask an admin for a new invitation",
                "reset": "request a new reset (POST /api/v1/password-reset-request/)",
            }[purpose]
            raise BadRequestError(f"this {what} link is invalid, expired or already used; {again}")
        return LinkRecord(purpose, int(record["user_id"]), dict(record.get("data") or {}))
