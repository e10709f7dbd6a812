"""A model published without a queue policy still serves the control plane's requests,
which always carry a per-request queue timeout."""

from __future__ import annotations

import numpy as np
import pytest

from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository
from mlserve.samples.sentiment_model import train_sentiment
from mlserve.triton.client import TritonClient
from tests.support.triton_server import TritonServer


@pytest.mark.parametrize("protocol", ["http", "grpc"])
async def test_a_model_without_queue_policy_serves_requests_with_a_queue_timeout(
    triton_server: TritonServer, protocol: str
) -> None:
    options = ServingOptions(max_queue_size=0, queue_timeout_us=0)
    repository = ModelRepository(triton_server.repository_path, options)
    repository.publish_version(train_sentiment(1), "no-policy")
    assert (
        "default_queue_policy"
        not in repository.root.joinpath("no-policy", "config.pbtxt").read_text()
    )
    http_url = triton_server.http_url if protocol == "http" else None
    triton = TritonClient(triton_server.grpc_url, http_url=http_url)
    try:
        await triton.load_model("no-policy")
        texts = np.array([["This product is amazing!"]], dtype=object)
        result = await triton.infer(
            "no-policy", 1, {"text": texts}, ["probabilities"], queue_timeout_us=2_000_000
        )
        assert result["probabilities"].shape == (1, 3)
    finally:
        await triton.unload_model("no-policy")
        await triton.close()
        repository.remove_version("no-policy", 1)
