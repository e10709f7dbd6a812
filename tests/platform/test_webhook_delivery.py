"""Webhook hardening: embedded-IPv4 forms of internal addresses are refused, a delivery
connects to the address its check resolved (no DNS rebinding), permanent 4xx answers are
not retried, and retry delays are jittered."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from mlserve.errors import InvalidInputError
from mlserve.platform.store_sqlite import SqliteStore
from mlserve.platform.url_safety import check_webhook_url
from mlserve.platform.webhook_worker import WebhookWorker
from mlserve.platform.webhooks import OUTBOX_KEY, WebhookService
from tests.platform.conftest import Harness
from tests.platform.webhook_receiver import WebhookReceiver


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://[2002:7f00:1::]/", "6to4-embedded 127.0.0.1"),
        ("http://[2002:a00:1::]/hook", "6to4-embedded 10.0.0.1"),
        ("http://[2002:a9fe:a9fe::]/", "6to4-embedded 169.254.169.254"),
        ("http://[2606:4700::5efe:7f00:1]/", "ISATAP-embedded 127.0.0.1"),
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "2001:0:4136:e378:8000:63bf:80ff:fffe"),
        ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1"),
        ("http://[64:ff9b:1::a00:1]/", "NAT64 local-use"),
        ("http://[::127.0.0.1]/", "::7f00:1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
    ],
)
async def test_ipv6_forms_embedding_internal_ipv4_are_refused(url: str, shown: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        await check_webhook_url(url, allow_private=False)
    assert shown in refused.value.message
    assert "MLSERVE_WEBHOOK_ALLOW_PRIVATE=true" in refused.value.message


async def test_embedded_forms_from_dns_are_refused_and_public_6to4_passes() -> None:
    async def dns(host: str, port: int) -> list[str]:
        return {"evil.example.com": ["2002:7f00:1::"], "ok.example.com": ["2002:808:808::"]}[host]

    with pytest.raises(InvalidInputError, match=r"6to4-embedded 127\.0\.0\.1"):
        await check_webhook_url("https://evil.example.com/", allow_private=False, resolver=dns)
    url = "https://ok.example.com/"
    assert await check_webhook_url(url, allow_private=False, resolver=dns) == url


class RebindingDNS:
    """Answers 127.0.0.1 for odd lookups and an unroutable address for even ones: a delivery
    that resolved again at connect time (after its check) would go nowhere."""

    def __init__(self) -> None:
        self.lookups = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        assert host == "receiver.mlserve.test"
        return ["127.0.0.1"] if self.lookups % 2 == 1 else ["10.255.255.1"]


async def test_a_delivery_connects_to_the_address_its_check_resolved(tmp_path: Path) -> None:
    dns = RebindingDNS()
    store = SqliteStore(tmp_path / "state.sqlite3")
    service = WebhookService(store, allow_private=True, max_attempts=3, resolver=dns)
    worker = WebhookWorker(service, poll_interval_s=0.05, timeout_s=2.0)
    with WebhookReceiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1].split("/", 1)[0]
        await service.set_webhook(1, f"http://receiver.mlserve.test:{port}/hook", None, True)
        dns.lookups = 0
        await service.enqueue([{"event": "ping"}])
        await worker.start()
        try:
            received = await receiver.wait_for_async(1, timeout_s=10)
        finally:
            await worker.stop()
    assert received[0].headers["Host"] == f"receiver.mlserve.test:{port}"
    assert json.loads(received[0].body) == {"event": "ping"}
    assert dns.lookups == 1, "one resolution per attempt, and that answer is connected to"
    await store.close()


class DiesBeforeTheOutbox(SqliteStore):
    """A store whose process "dies" (raises) when an enqueue makes its deliveries due."""

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> None:
        if key == OUTBOX_KEY and all(score <= time.time() for score in mapping.values()):
            raise RuntimeError("killed")
        await super().zadd(key, mapping)


async def test_a_replica_killed_mid_enqueue_leaves_no_delivery_behind(tmp_path: Path) -> None:
    dying = DiesBeforeTheOutbox(tmp_path / "state.sqlite3")
    service = WebhookService(dying, allow_private=True, max_attempts=3, enqueue_grace_s=0.5)
    with WebhookReceiver() as receiver:
        await service.set_webhook(1, receiver.url, None, True)
        with pytest.raises(RuntimeError, match="killed"):
            await service.enqueue([{"event": "ping"}])
        # Another replica on the same store sends it once the grace period ends.
        survivor = SqliteStore(tmp_path / "state.sqlite3")
        other = WebhookService(survivor, allow_private=True, max_attempts=3)
        worker = WebhookWorker(other, poll_interval_s=0.05, timeout_s=2.0)
        await worker.start()
        try:
            received = await receiver.wait_for_async(1, timeout_s=10)
            await asyncio.sleep(0.3)
        finally:
            await worker.stop()
    assert len(receiver.requests) == 1
    assert json.loads(received[0].body) == {"event": "ping"}
    assert await survivor.zcard(OUTBOX_KEY) == 0
    await survivor.close()
    await dying.close()


async def wait_for_status(h: Harness) -> dict[str, object]:
    for _ in range(200):
        log = (await h.client.get("/api/v1/webhook/deliveries", headers=h.admin)).json()
        if log and log[0]["status"] != "pending":
            return dict(log[0])
        await asyncio.sleep(0.05)
    raise AssertionError("the delivery never left 'pending'")


async def send_event(h: Harness, receiver: WebhookReceiver) -> None:
    hook = await h.client.post("/api/v1/webhook", headers=h.admin, json={"url": receiver.url})
    assert hook.status_code == 200, hook.text
    ack = await h.client.post(
        "/api/v1/predict/churn/v2",
        headers=h.admin,
        json={"inputs": [{"age": 50.0, "income": 1.0}], "entity_ids": ["a1"], "materialize": True},
    )
    assert ack.status_code == 200, ack.text


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
async def test_a_permanent_4xx_is_not_retried(harness: Harness, status: int) -> None:
    with WebhookReceiver(responses=[status, 200]) as receiver:
        await send_event(harness, receiver)
        delivery = await wait_for_status(harness)
        await asyncio.sleep(0.3)
        assert len(receiver.requests) == 1
    assert (delivery["status"], delivery["attempts"]) == ("failed", 1)
    assert "not retried" in str(delivery["last_error"])


async def test_408_and_429_are_retried(harness: Harness) -> None:
    with WebhookReceiver(responses=[429, 408]) as receiver:
        await send_event(harness, receiver)
        delivery = await wait_for_status(harness)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)


def test_retry_delays_are_jittered_and_respect_retry_after(tmp_path: Path) -> None:
    service = WebhookService(
        SqliteStore(tmp_path / "s.sqlite3"), allow_private=True, max_attempts=6
    )
    low = WebhookWorker(service, backoff_base_s=2.0, backoff_max_s=600, jitter_source=lambda: 0.0)
    high = WebhookWorker(service, backoff_base_s=2.0, backoff_max_s=600, jitter_source=lambda: 1.0)
    assert [low.retry_delay(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert [high.retry_delay(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert high.retry_delay(20) == 600
    assert low.retry_delay(1, retry_after=30) == 30
    assert low.retry_delay(1, retry_after=10_000) == 600
    spread = {round(WebhookWorker(service).retry_delay(4), 3) for _ in range(50)}
    assert len(spread) > 10
    assert all(8.0 <= delay <= 16.0 for delay in spread)
