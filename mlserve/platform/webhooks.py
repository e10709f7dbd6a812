"""Webhooks: one per user, events in a durable outbox, a delivery log.

Contract:

- ``set_webhook(user, url, secret, is_active)`` registers or replaces the user's single
  webhook (the SDK's MVP). The URL passes :func:`~mlserve.platform.url_safety.check_webhook_url`.
  The webhook is exactly what was sent: omitting ``secret`` means unsigned deliveries. The
  secret is stored as given (it is needed to sign) and never returned.
- ``enqueue(event)`` writes one :class:`Delivery` per active webhook into the store and the
  outbox (a sorted set by due time) *before* anything is sent, so a restart loses nothing:
  the next :class:`~mlserve.platform.webhook_worker.WebhookWorker` resumes the outbox. The
  outbox entry is written first (due after ``enqueue_grace_s``), so a replica killed
  mid-enqueue never leaves a pending delivery no worker will find.
  Every active webhook receives every event (one organisation per server).
- Deliveries carry ``X-MLServe-Delivery`` (the delivery id, stable across retries, for
  de-duplication: delivery is at least once) and, with a secret,
  ``X-MLServe-Signature: sha256=<hex>`` — HMAC-SHA256 of the exact body bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from mlserve.errors import InvalidInputError
from mlserve.platform.store import StateStore
from mlserve.platform.url_safety import (
    Resolver,
    WebhookTarget,
    check_webhook_url,
    resolve_webhook_target,
)

SIGNATURE_HEADER = "X-MLServe-Signature"
DELIVERY_HEADER = "X-MLServe-Delivery"
EVENT_HEADER = "X-MLServe-Event"
MAX_SECRET_LENGTH = 256

CONFIG_KEY = "webhook:config"
DELIVERY_KEY = "webhook:delivery"
OUTBOX_KEY = "webhook:outbox"

ENQUEUE_GRACE_S = 10.0
"""An event's outbox entries exist this long before it is due when its process dies while
writing it: long enough for the rest of the writes, short enough to be sent soon."""

DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver runs: constant-time comparison of the header with our signature."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class WebhookConfig(BaseModel):
    """A user's webhook as stored."""

    user_id: int
    url: str
    secret: str | None = None
    is_active: bool = True
    created_at: str
    updated_at: str

    def public(self) -> dict[str, Any]:
        """API view: never the secret, only whether there is one."""
        data = self.model_dump(exclude={"secret"})
        data["has_secret"] = self.secret is not None
        return data


class Delivery(BaseModel):
    """One event on its way to one webhook."""

    id: str
    user_id: int
    url: str
    event: str
    body: str
    """The exact JSON text sent (and signed)."""
    status: DeliveryStatus = "pending"
    attempts: int = 0
    max_attempts: int
    next_attempt_at: float | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: str
    updated_at: str
    delivered_at: str | None = None

    def public(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"body"})
        data["payload"] = json.loads(self.body)
        return data


def _log_key(user_id: int) -> str:
    return f"webhook:log:{user_id}"


class WebhookService:
    """Webhook registrations, the outbox and the delivery log."""

    def __init__(
        self,
        store: StateStore,
        *,
        allow_private: bool,
        max_attempts: int,
        log_size: int = 1000,
        resolver: Resolver | None = None,
        enqueue_grace_s: float = ENQUEUE_GRACE_S,
    ) -> None:
        self.store = store
        self.enqueue_grace_s = enqueue_grace_s
        self.allow_private = allow_private
        self.max_attempts = max_attempts
        self.log_size = log_size
        self.resolver = resolver
        self._listeners: list[Callable[[], None]] = []

    def on_enqueue(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after events are enqueued (the local worker wakes up)."""
        self._listeners.append(listener)

    async def check_url(self, url: str) -> str:
        return await check_webhook_url(
            url, allow_private=self.allow_private, resolver=self.resolver
        )

    async def resolve_target(self, url: str) -> WebhookTarget:
        """The checked URL and the addresses a delivery must connect to (resolved once)."""
        return await resolve_webhook_target(
            url, allow_private=self.allow_private, resolver=self.resolver
        )

    async def set_webhook(
        self, user_id: int, url: str, secret: str | None, is_active: bool
    ) -> WebhookConfig:
        url = await self.check_url(url)
        if secret is not None and not 1 <= len(secret) <= MAX_SECRET_LENGTH:
            raise InvalidInputError(
                f"webhook secret must be 1-{MAX_SECRET_LENGTH} characters (got {len(secret)}); "
                "omit it for unsigned deliveries"
            )
        previous = await self.get_webhook(user_id)
        now = _now_iso()
        config = WebhookConfig(
            user_id=user_id,
            url=url,
            secret=secret,
            is_active=is_active,
            created_at=previous.created_at if previous else now,
            updated_at=now,
        )
        await self.store.hset(CONFIG_KEY, {str(user_id): config.model_dump_json()})
        return config

    async def get_webhook(self, user_id: int) -> WebhookConfig | None:
        raw = await self.store.hget(CONFIG_KEY, str(user_id))
        return None if raw is None else WebhookConfig.model_validate_json(raw)

    async def active_webhooks(self) -> list[WebhookConfig]:
        configs = [
            WebhookConfig.model_validate_json(v)
            for v in (await self.store.hgetall(CONFIG_KEY)).values()
        ]
        return [c for c in configs if c.is_active]

    async def enqueue(self, events: list[Mapping[str, Any]]) -> list[Delivery]:
        """Persist one delivery per (event, active webhook) and put it in the outbox."""
        hooks = await self.active_webhooks() if events else []
        if not hooks:
            return []
        now, created = time.time(), _now_iso()
        deliveries = [
            Delivery(
                id=uuid.uuid4().hex,
                user_id=hook.user_id,
                url=hook.url,
                event=str(event.get("event", "event")),
                body=json.dumps(event, separators=(",", ":"), sort_keys=True),
                max_attempts=self.max_attempts,
                next_attempt_at=now,
                created_at=created,
                updated_at=created,
            )
            for event in events
            for hook in hooks
        ]
        # Outbox first, due only after a grace period, then the deliveries, then due now: a
        # process killed between the writes leaves no pending delivery outside the outbox
        # (it is sent when the grace ends); one killed before the deliveries were written
        # leaves entries the worker drops (nothing was acknowledged for them).
        await self.store.zadd(OUTBOX_KEY, {d.id: now + self.enqueue_grace_s for d in deliveries})
        await self.store.hset(DELIVERY_KEY, {d.id: d.model_dump_json() for d in deliveries})
        for hook in hooks:
            mine = {d.id: now for d in deliveries if d.user_id == hook.user_id}
            await self.store.zadd(_log_key(hook.user_id), mine)
            await self._trim_log(hook.user_id)
        await self.store.zadd(OUTBOX_KEY, {d.id: now for d in deliveries})
        for listener in self._listeners:
            listener()
        return deliveries

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        raw = await self.store.hget(DELIVERY_KEY, delivery_id)
        return None if raw is None else Delivery.model_validate_json(raw)

    async def save_delivery(self, delivery: Delivery) -> None:
        delivery = delivery.model_copy(update={"updated_at": _now_iso()})
        await self.store.hset(DELIVERY_KEY, {delivery.id: delivery.model_dump_json()})

    async def deliveries(self, user_id: int, limit: int = 100) -> list[Delivery]:
        """The user's most recent deliveries, newest first."""
        if not 1 <= limit <= self.log_size:
            raise InvalidInputError(f"limit must be 1-{self.log_size} (got {limit})")
        ids = await self.store.zrange_by_score(_log_key(user_id), float("-inf"), float("inf"))
        newest = [member for member, _ in reversed(ids)][:limit]
        raws = await self.store.hmget(DELIVERY_KEY, newest)
        return [Delivery.model_validate_json(raw) for raw in raws if raw is not None]

    async def _trim_log(self, user_id: int) -> None:
        key = _log_key(user_id)
        excess = await self.store.zcard(key) - self.log_size
        if excess <= 0:
            return
        oldest = [
            m
            for m, _ in await self.store.zrange_by_score(
                key, float("-inf"), float("inf"), limit=excess
            )
        ]
        await self.store.zrem(key, *oldest)
        raws = await self.store.hmget(DELIVERY_KEY, oldest)
        finished = [
            delivery_id
            for delivery_id, raw in zip(oldest, raws, strict=True)
            if raw is not None and Delivery.model_validate_json(raw).status != "pending"
        ]
        await self.store.hdel(DELIVERY_KEY, *finished)
