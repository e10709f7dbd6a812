"""Replicas: 2 control planes and 2 Tritons behind a real HAProxy (docs/scaling.md, Replicas).

Both control planes share the model repository and a durable Redis (users, tokens,
webhooks, feedback, policy updates); each sends inference to its own Triton and lists both
in ``triton.replicas``.

* Hot swap: a new version published (as ``mlserve load`` does, with the replicas'
  settings) under 20-client load through the load balancer: no request fails, the publish
  returns once both Tritons serve the new version, and every control plane routes to it.
  Then a version loaded on one Triton only is routed to by no control plane (not even the
  one whose own Triton has it) until the other Triton has loaded it too.
* One control plane SIGKILLed under 20-client load (predictions, materialized predictions
  with webhooks, feedback, policy updates): only requests in flight on it fail, and retried
  by the client they succeed; afterwards the durable store holds every acknowledged
  feedback and policy update, and the local webhook receiver got every delivery, each once
  (the killed replica's leased deliveries are sent by the other one once the lease runs
  out) except in the window no protocol closes: a replica killed between the receiver's
  2xx and recording it, or an attempt timing out after the receiver got it, sends that
  delivery id once more.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis

from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository
from mlserve.samples.sentiment_model import SAMPLE_NAME, train_sentiment
from mlserve.serving.publisher import Publisher
from mlserve.triton.client import TritonClient
from mlserve.triton.replicas import TritonReplicas
from tests.platform.webhook_receiver import WebhookReceiver
from tests.support.replica_stack import ADMIN_PASSWORD, ADMIN_USER, ReplicaStack, replica_stack

CLIENTS = 20
POLICY = "promo"
CONTRACT = {"features": [{"name": "age", "type": "continuous"}], "actions": ["a", "b"]}


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaStack]:
    root = tmp_path_factory.mktemp("replicas")
    repository = ModelRepository(root / "model_repository", ServingOptions())
    repository.publish_version(train_sentiment(1), SAMPLE_NAME, 1)
    with replica_stack(root, [SAMPLE_NAME]) as stack:
        yield stack


@dataclass
class Load:
    """What the clients saw: answers, first-attempt failures (with their send time)."""

    versions: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: list[tuple[float, str]] = field(default_factory=list)
    retried: collections.Counter[str] = field(default_factory=collections.Counter)
    answered: list[tuple[float, str]] = field(default_factory=list)
    served_by: list[tuple[float, str]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


async def call(
    http: httpx.AsyncClient, load: Load, what: str, path: str, **kwargs: Any
) -> httpx.Response:
    """POST with the client's retry: a transport error or a 502/503 from the load balancer
    (a request in flight on a replica that died) is retried on a new connection."""
    for attempt in range(10):
        sent = time.monotonic()
        try:
            response = await http.post(path, **kwargs)
        except httpx.TransportError as exc:
            failure = f"{what}: {type(exc).__name__}"
        else:
            load.served_by.append((time.monotonic(), response.headers.get("X-Served-By", "")))
            if response.status_code not in (502, 503):
                if attempt:
                    load.retried[what] += 1
                return response
            failure = f"{what}: HTTP {response.status_code} {response.text[:120]}"
        load.failures.append((sent, failure))
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} still failing after 10 attempts")


async def predict_client(url: str, i: int, load: Load, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        n = 0
        while not stop.is_set():
            n += 1
            body = {"text": f"client {i} request {n}: great value, fast shipping"}
            response = await call(http, load, "predict", "/predict", json=body)
            load.statuses[response.status_code] += 1
            if response.status_code == 200:
                version = response.json()["version"]
                load.versions[version] += 1
                load.answered.append((time.monotonic(), version))
            else:
                load.unexpected.append(f"/predict {response.status_code}: {response.text}")


async def wait_ready(client: TritonClient, version: int) -> None:
    for _ in range(1200):
        if version in await client.ready_versions(SAMPLE_NAME):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"v{version} not ready on {client.url} after 60 s")


def test_hot_swap_under_20_clients_fails_no_request(replicas: ReplicaStack) -> None:
    load = Load()
    repository = ModelRepository(replicas.repository, ServingOptions())
    v3 = train_sentiment(3)

    async def scenario() -> tuple[float, float]:
        stop = asyncio.Event()
        clients = [
            asyncio.create_task(predict_client(replicas.url, i, load, stop)) for i in range(CLIENTS)
        ]
        first, second = (TritonClient(t.grpc_url) for t in replicas.tritons)
        await asyncio.sleep(1.0)
        # Publish v2 as `mlserve load` does with the replicas' settings (a publish from a
        # control plane goes through the same Publisher and TritonReplicas).
        control = TritonReplicas.of(first, [t.grpc_url for t in replicas.tritons])
        started = time.monotonic()
        await Publisher(repository, control).publish(train_sentiment(2), SAMPLE_NAME, 2)
        took = time.monotonic() - started
        # The publish returned: every Triton serves v2.
        assert await first.ready_versions(SAMPLE_NAME) == [1, 2]
        assert await second.ready_versions(SAMPLE_NAME) == [1, 2]
        await asyncio.sleep(1.5)  # each control plane re-reads readiness every second

        # A replica that lags: v3 loaded on the first Triton only. Both control planes,
        # the first one's own Triton included, keep routing to v2 until the second has it.
        await asyncio.to_thread(repository.publish_version, v3, SAMPLE_NAME, 3)
        await first.load_model(SAMPLE_NAME)
        await wait_ready(first, 3)
        await asyncio.sleep(2.0)
        second_loads_at = time.monotonic()
        await second.load_model(SAMPLE_NAME)
        await wait_ready(second, 3)
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*clients)
        await control.close()
        await first.close()
        await second.close()
        return took, second_loads_at

    took, second_loads_at = asyncio.run(scenario())
    assert load.unexpected == []
    assert load.failures == [], load.failures[:5]
    assert sum(load.statuses.values()) > 200, load.statuses
    assert set(load.versions) == {"v1", "v2", "v3"}, load.versions
    early = [at - second_loads_at for at, version in load.answered if version == "v3"]
    assert min(early) > 0, "v3 was routed to before the second Triton loaded it"
    # Afterwards every control plane routes to v3 (both Tritons have it).
    for plane in replicas.control_planes:
        answer = httpx.post(f"{plane.url}/predict", json={"text": "great"}, timeout=30).json()
        assert answer["version"] == "v3", (plane.name, answer)
    print(
        f"hot swap: {sum(load.statuses.values())} requests {dict(load.versions)}, publish to "
        f"both Tritons took {took:.1f}s"
    )


async def platform_client(
    url: str, token: str, i: int, load: Load, stop: asyncio.Event, acked: dict[str, list[str]]
) -> None:
    """Materialized predictions (a webhook each), feedback on them, policy updates."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as http:
        n = 0
        while not stop.is_set():
            n += 1
            body = {"inputs": [f"order {i}-{n} arrived"], "entity_ids": [f"e{i}-{n}"]}
            response = await call(
                http,
                load,
                "materialize",
                f"/api/v1/predict/{SAMPLE_NAME}",
                json={**body, "materialize": True},
            )
            if response.status_code != 200:
                load.unexpected.append(f"materialize {response.status_code}: {response.text}")
                continue
            (prediction_id,) = response.json()["prediction_ids"]
            acked["materialize"].append(prediction_id)
            feedback = {"feedback": [{"prediction_id": prediction_id, "true_value": "positive"}]}
            response = await call(http, load, "feedback", "/api/v1/feedback", json=feedback)
            if response.status_code != 200 or response.json()["accepted"] != 1:
                load.unexpected.append(f"feedback {response.status_code}: {response.text}")
                continue
            acked["feedback"].append(prediction_id)
            row = {"features": {"age": 20 + n % 50}, "action": "a", "reward": 1.0, "policy_id": 0}
            response = await call(
                http,
                load,
                "policy",
                f"/api/v1/online_feedback/{POLICY}/v1",
                json={"feedback": [row]},
            )
            if response.status_code != 200:
                load.unexpected.append(f"policy {response.status_code}: {response.text}")
                continue
            acked["policy"].append(prediction_id)


def test_a_killed_control_plane_loses_nothing(replicas: ReplicaStack) -> None:
    load = Load()
    acked: dict[str, list[str]] = {"materialize": [], "feedback": [], "policy": []}
    admin = httpx.Client(base_url=replicas.url, timeout=30)
    token = admin.post(
        "/api/v1/token", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    ).json()["access_token"]
    admin.headers["Authorization"] = f"Bearer {token}"
    configured = admin.post(
        "/api/v1/model_config",
        data={
            "name": POLICY,
            "version": "v1",
            "task_type": "contextual_bandit",
            "feature_contract": json.dumps(CONTRACT),
        },
    )
    assert configured.status_code == 200, configured.text

    with WebhookReceiver() as receiver:
        hooked = admin.post("/api/v1/webhook", json={"url": receiver.url, "is_active": True})
        assert hooked.status_code == 200, hooked.text

        async def scenario() -> float:
            stop = asyncio.Event()
            clients = [
                asyncio.create_task(predict_client(replicas.url, i, load, stop))
                for i in range(CLIENTS - 6)
            ]
            clients += [
                asyncio.create_task(platform_client(replicas.url, token, i, load, stop, acked))
                for i in range(6)
            ]
            # Under way on both replicas (cold control planes answer their first requests
            # slowly on a busy machine), then the kill.
            for _ in range(300):
                counts = collections.Counter(by for _, by in load.served_by)
                if min(counts["cp1"], counts["cp2"]) >= 20:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            killed_at = time.monotonic()
            replicas.kill(0)
            await asyncio.sleep(2.5)
            stop.set()
            await asyncio.gather(*clients)
            return killed_at

        killed_at = asyncio.run(scenario())
        survivor = replicas.control_planes[1]

        # Only requests in flight on the killed replica failed: sent before (or at) the kill,
        # at most one per client; the client's retry made each succeed.
        assert load.unexpected == [], load.unexpected[:5]
        late = [(sent - killed_at, what) for sent, what in load.failures if sent > killed_at + 0.5]
        assert late == [], late
        assert len(load.failures) <= CLIENTS, load.failures
        before = collections.Counter(by for at, by in load.served_by if at < killed_at)
        after = collections.Counter(by for at, by in load.served_by if at > killed_at + 0.5)
        assert before["cp1"] > 0, before
        assert before["cp2"] > 0, before
        assert set(after) == {"cp2"}, after
        assert load.statuses[200] > 100, load.statuses
        assert min(len(v) for v in acked.values()) > 5, {k: len(v) for k, v in acked.items()}

        # Every webhook delivered: the killed replica's leased deliveries go out once its
        # lease (6 s) runs out. An outbox entry the killed replica wrote before its delivery
        # record (killed mid-enqueue; nothing was acknowledged for it) is dropped by the
        # survivor once the enqueue grace (10 s) ends, so the outbox empties too.
        state = redis.Redis.from_url(replicas.redis.url, decode_responses=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            deliveries = {
                k: json.loads(v) for k, v in state.hgetall("mlserve:webhook:delivery").items()
            }
            outbox = state.zrange("mlserve:webhook:outbox", 0, -1)
            if not outbox and all(d["status"] != "pending" for d in deliveries.values()):
                break
            time.sleep(0.2)
        time.sleep(1.5)  # a duplicate would arrive now
        unsent = [d for d in deliveries.values() if d["status"] != "delivered"]
        assert unsent == [], unsent[:3]
        assert outbox == [], [(entry, entry in deliveries) for entry in outbox]
        receipts: dict[str, list[float]] = collections.defaultdict(list)
        for request in receiver.requests:
            receipts[request.headers["X-MLServe-Delivery"]].append(request.at)
        assert set(receipts) == set(deliveries)
        # Exactly once per delivery id, but for the window no protocol can close: a replica
        # killed after the receiver's 2xx and before the store write (sent again by the
        # other replica once the lease ran out, attempts then 1), or an attempt that timed
        # out after the receiver got it (attempts 2). Both repeat the X-MLServe-Delivery id.
        again = {k: v for k, v in receipts.items() if len(v) > 1}
        for delivery_id, times in again.items():
            attempts = deliveries[delivery_id]["attempts"]
            assert len(times) == 2, (delivery_id, times)
            # (the receiver records a request a little after the dead replica sent it; the
            # resend waits for the lease)
            by_the_killed = times[0] <= killed_at + 0.5 and times[1] > killed_at + 1.0
            assert attempts == 2 or by_the_killed, (attempts, [t - killed_at for t in times])
        announced = {json.loads(r.body)["prediction_id"] for r in receiver.requests}
        assert set(acked["materialize"]) <= announced

    # Every acknowledged feedback and policy update is in the durable store.
    stored = state.hmget("mlserve:feedback", acked["feedback"])
    assert all(item is not None for item in stored)
    metrics = httpx.get(
        f"{survivor.url}/api/v1/metrics/rl/{POLICY}/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    applied = metrics["n_feedback"]
    # A retried update whose first attempt was applied before the kill counts twice.
    assert len(acked["policy"]) <= applied <= len(acked["policy"]) + load.retried["policy"]
    print(
        f"kill: {sum(load.statuses.values())} predictions, served by {dict(before)} before, "
        f"{dict(after)} after, {len(load.failures)} failed first attempts, {len(again)} "
        "webhooks sent twice "
        f"of {len(deliveries)} webhooks, {len(acked['feedback'])} feedback, "
        f"{applied} policy updates"
    )
