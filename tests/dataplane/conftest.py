"""Models of every kind published into the session's Triton, for the data-plane tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest

from mlserve.converters.base import ExportedModel
from mlserve.preprocessing.config import PreprocessingConfig, TokenizerConfig
from mlserve.samples.iris import rules_model, train_iris
from mlserve.serving.publisher import Publisher
from mlserve.triton.client import TritonClient
from mlserve.triton.model_config import DataType, TensorSpec
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack

TOKEN_VOCABULARY = ["good", "bad", "great", "awful", "fine", "the", "movie", "was"]
TOKEN_LABELS = ["negative", "positive"]


def token_model() -> ExportedModel:
    """A small word-id PyTorch classifier: positive when it sees good/great/fine."""
    import torch
    from torch import nn

    from mlserve.converters.pytorch import export_pytorch

    class Words(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(len(TOKEN_VOCABULARY) + 2, 2)
            with torch.no_grad():
                self.embedding.weight.zero_()
                for word, sign in (("good", 1), ("great", 1), ("fine", 1), ("bad", -1)):
                    self.embedding.weight[TOKEN_VOCABULARY.index(word) + 2] = torch.tensor(
                        [-3.0 * sign, 3.0 * sign]
                    )

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            mask = attention_mask.unsqueeze(-1).float()
            return (self.embedding(input_ids) * mask).sum(1)

    config = PreprocessingConfig(
        tokenizer=TokenizerConfig(kind="word", vocabulary=TOKEN_VOCABULARY, max_length=16)
    )
    ids = np.array(
        [
            [2 + TOKEN_VOCABULARY.index(w) for w in (a, b)]
            for a, b in [("good", "movie"), ("bad", "movie"), ("the", "great"), ("was", "awful")]
        ]
    )
    return export_pytorch(
        Words().eval(),
        input_spec=(
            TensorSpec("input_ids", DataType.INT64, (-1,)),
            TensorSpec("attention_mask", DataType.INT64, (-1,)),
        ),
        labels=TOKEN_LABELS,
        sample_inputs={"input_ids": ids, "attention_mask": np.ones_like(ids)},
        preprocessing=config,
    )


@dataclass
class Kinds:
    """Published model names, by kind."""

    text: str = "sentiment"
    tokens: str = "dp-tokens"
    tabular: str = "iris"
    custom: str = "iris-rules"


def publish(stack: Stack, exported: ExportedModel, name: str) -> None:
    async def run() -> None:
        client = TritonClient(stack.triton.grpc_url, timeout_s=60)
        try:
            await Publisher(stack.repository, client).publish(exported, name)
        finally:
            await client.close()

    asyncio.run(run())


def wait_served(base_url: str, body: dict[str, Any], timeout_s: float = 20.0) -> None:
    """Until ``/predict`` answers ``body`` (the control plane sees a new version within a
    second of its readiness cache)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = httpx.post(f"{base_url}/predict", json=body, timeout=30)
        if answer.status_code == 200 or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text
            return
        time.sleep(0.2)


@pytest.fixture(scope="session")
def kinds(stack: Stack) -> Kinds:
    """Every kind of model, published once per session next to the sample ``sentiment``."""
    names = Kinds()
    existing = stack.repository.model_names()
    for name, build in (
        (names.tokens, token_model),
        (names.tabular, train_iris),
        (names.custom, rules_model),
    ):
        if name not in existing:
            publish(stack, build(), name)
    wait_served(stack.base_url, {"model": names.custom, "features": [[5.1, 3.5, 1.4, 0.2]]})
    wait_served(stack.base_url, {"model": names.tokens, "text": "good"})
    return names


@pytest.fixture(scope="session")
def admin_token(stack: Stack) -> str:
    answer = httpx.post(
        f"{stack.base_url}/api/v1/token",
        data={"username": ADMIN_USER, "password": ADMIN_PASSWORD},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        yield http
