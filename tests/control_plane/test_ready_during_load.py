"""``/ready`` and ``/health`` stay green while Triton loads a model.

Triton's strict readiness reports the whole server not ready during any model load (about
4 s per publish here) while the loaded versions keep serving; a load balancer or Kubernetes
probe following it would take every replica out during each publish. The control plane
judges Triton by its model index instead.
"""

from __future__ import annotations

import asyncio

import httpx

from mlserve.samples.sentiment_model import train_sentiment
from mlserve.serving.publisher import Publisher
from mlserve.triton.client import TritonClient
from tests.conftest import Stack


async def test_ready_and_health_stay_up_while_a_version_loads(stack: Stack) -> None:
    triton = TritonClient(stack.triton.grpc_url)
    strict: list[bool] = []
    answers: list[tuple[int, str]] = []
    done = asyncio.Event()

    async def probe() -> None:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as http:
            while not done.is_set():
                strict.append(await triton.server_ready())
                ready = await http.get("/ready")
                health = (await http.get("/health")).json()["triton"]
                answers.append((ready.status_code, health))
                await asyncio.sleep(0.05)

    prober = asyncio.create_task(probe())
    await asyncio.sleep(0.2)
    await Publisher(stack.repository, triton).publish(train_sentiment(1), "ready-probe")
    done.set()
    await prober
    await triton.close()
    assert False in strict, "Triton's own flag never dropped: the load was not observed"
    assert set(answers) == {(200, "ready")}
