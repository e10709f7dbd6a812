"""The webhook delivery worker: drains the durable outbox with retries.

Contract:

- Due outbox entries are *leased* (their due time is moved ``lease_s`` ahead with an atomic
  compare-and-set) before they are sent, so several replicas can run workers on one store
  without sending an entry twice at once; an entry whose worker died becomes due again when
  the lease runs out. A worker stopped mid-request hands its lease back at once.
- A 2xx answer marks the delivery ``delivered``. A permanent 4xx (any 4xx but 408 and 429)
  marks it ``failed`` at once: the same request would be refused again. Anything else
  (5xx, 408, 429, redirect, timeout, connection error) is retried after
  ``backoff_base_s * 2**(attempts-1)`` seconds capped at ``backoff_max_s``, with jitter
  (between half and all of it, so receivers that come back are not hit by every replica
  at once), or after the receiver's ``Retry-After`` when that is longer, until
  ``max_attempts``; then it is marked ``failed``. A URL that no longer passes the SSRF
  check, or a webhook switched off, ends the delivery at once.
- Each attempt resolves the host once, checks every address and connects to a checked
  address (the ``Host`` header and TLS server name stay the URL's host), so DNS rebinding
  between the check and the connection cannot reach an internal address.
- State is written before the outbox is touched, so a crash between the two at worst
  re-sends a delivery (receivers de-duplicate by ``X-MLServe-Delivery``), never loses one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from mlserve.errors import InvalidInputError
from mlserve.platform.url_safety import WebhookTarget
from mlserve.platform.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    OUTBOX_KEY,
    SIGNATURE_HEADER,
    Delivery,
    WebhookService,
    sign,
)

logger = logging.getLogger(__name__)
USER_AGENT = "mlserve-webhooks/1"


class WebhookWorker:
    """Sends due deliveries; ``start()``/``stop()`` run it as a background task."""

    def __init__(
        self,
        service: WebhookService,
        *,
        backoff_base_s: float = 2.0,
        backoff_max_s: float = 600.0,
        timeout_s: float = 10.0,
        poll_interval_s: float = 1.0,
        lease_s: float = 60.0,
        batch_size: int = 16,
        client: httpx.AsyncClient | None = None,
        jitter_source: Callable[[], float] = random.random,
    ) -> None:
        self.service = service
        self._random = jitter_source
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self.lease_s = max(lease_s, timeout_s * 2)
        self.batch_size = batch_size
        self._client = client
        self._own_client = client is None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        service.on_enqueue(self.wake)

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        if self._task is not None:
            return
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout_s,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
        self._task = asyncio.create_task(self._run(), name="mlserve-webhook-worker")

    async def stop(self) -> None:
        """Stop promptly; pending deliveries stay in the outbox for the next worker."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("webhook worker pass failed; retrying after the poll interval")
                sent = 0
            if sent == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)

    async def run_once(self) -> int:
        """Lease and process the deliveries due now; returns how many were processed."""
        store = self.service.store
        now = time.time()
        due = await store.zrange_by_score(OUTBOX_KEY, float("-inf"), now, limit=self.batch_size)
        claimed = [
            delivery_id
            for delivery_id, _ in due
            if await store.zclaim(OUTBOX_KEY, delivery_id, now, now + self.lease_s)
        ]
        await asyncio.gather(*(self._process(delivery_id) for delivery_id in claimed))
        return len(claimed)

    async def _process(self, delivery_id: str) -> None:
        store = self.service.store
        delivery = await self.service.get_delivery(delivery_id)
        if delivery is None or delivery.status != "pending":
            await store.zrem(OUTBOX_KEY, delivery_id)
            return
        try:
            delivery = await self._attempt(delivery)
        except asyncio.CancelledError:
            await asyncio.shield(store.zadd(OUTBOX_KEY, {delivery_id: time.time()}))
            raise
        await self.service.save_delivery(delivery)
        if delivery.status == "pending" and delivery.next_attempt_at is not None:
            await store.zadd(OUTBOX_KEY, {delivery_id: delivery.next_attempt_at})
        else:
            await store.zrem(OUTBOX_KEY, delivery_id)

    async def _attempt(self, delivery: Delivery) -> Delivery:
        """One HTTP attempt; returns the delivery with its new state."""
        config = await self.service.get_webhook(delivery.user_id)
        if config is None or not config.is_active:
            return self._final(delivery, "cancelled", "the webhook was removed or deactivated")
        try:
            target = await self.service.resolve_target(config.url)
        except InvalidInputError as exc:
            return self._final(delivery, "failed", exc.message)
        url = target.url
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: delivery.id,
            EVENT_HEADER: delivery.event,
        }
        if config.secret:
            headers[SIGNATURE_HEADER] = sign(config.secret, body)
        attempts = delivery.attempts + 1
        assert self._client is not None, "start() the worker before running it"
        status_code: int | None = None
        retry_after = 0.0
        try:
            response = await send_pinned(self._client, target, body, headers)
            status_code = response.status_code
            error = None if response.is_success else f"HTTP {status_code} from the receiver"
            retry_after = _retry_after(response)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        update: dict[str, object] = {
            "attempts": attempts,
            "url": url,
            "last_status_code": status_code,
            "last_error": error,
        }
        if error is None:
            update.update(status="delivered", next_attempt_at=None, delivered_at=_now_iso())
        elif is_permanent(status_code):
            update.update(status="failed", next_attempt_at=None)
            update["last_error"] = f"{error} (a permanent refusal: not retried)"
        elif attempts >= delivery.max_attempts:
            update.update(status="failed", next_attempt_at=None)
        else:
            update.update(next_attempt_at=time.time() + self.retry_delay(attempts, retry_after))
        return delivery.model_copy(update=update)

    def retry_delay(self, attempts: int, retry_after: float = 0.0) -> float:
        """Seconds before the next attempt: exponential, jittered, at least ``retry_after``
        (the receiver's ``Retry-After``), at most ``backoff_max_s``."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (attempts - 1))
        jittered = ceiling * (0.5 + 0.5 * self._random())
        return min(self.backoff_max_s, max(jittered, retry_after))

    @staticmethod
    def _final(delivery: Delivery, status: str, reason: str) -> Delivery:
        return delivery.model_copy(
            update={"status": status, "last_error": reason, "next_attempt_at": None}
        )


RETRIED_4XX = (408, 429)


def is_permanent(status_code: int | None) -> bool:
    """A 4xx other than 408 (timeout) and 429 (slow down): retrying cannot help."""
    return status_code is not None and 400 <= status_code < 500 and status_code not in RETRIED_4XX


async def send_pinned(
    client: httpx.AsyncClient, target: WebhookTarget, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST ``body`` to ``target``, connecting only to its checked addresses (in order, the
    next on a connection error)."""
    parts = urlsplit(target.url)
    pinned_headers = {**headers, "Host": parts.netloc.rpartition("@")[2]}
    extensions = {"sni_hostname": target.host} if parts.scheme == "https" else {}
    last: httpx.ConnectError | None = None
    for address in target.addresses:
        literal = f"[{address}]" if ":" in address else address
        url = urlunsplit((parts.scheme, f"{literal}:{target.port}", parts.path, parts.query, ""))
        try:
            return await client.post(
                url, content=body, headers=pinned_headers, extensions=extensions
            )
        except httpx.ConnectError as exc:
            last = exc
    assert last is not None
    raise last


def _retry_after(response: httpx.Response) -> float:
    value = str(response.headers.get("Retry-After", ""))
    return float(value) if value.isdigit() else 0.0


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()
