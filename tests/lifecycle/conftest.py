"""Release tests publish their own models into the session's Triton (the sample
``sentiment`` that other tests rely on is never promoted)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from mlserve.converters.base import ExportedModel
from mlserve.samples.sentiment_model import train_sentiment
from tests.conftest import Stack
from tests.dataplane.conftest import admin_token, client, publish, wait_served

__all__ = ["admin_token", "client"]
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def sentiment_versions() -> tuple[ExportedModel, ExportedModel]:
    return train_sentiment(1), train_sentiment(2)


@pytest.fixture
def release_model(
    stack: Stack, sentiment_versions: tuple[ExportedModel, ExportedModel]
) -> Callable[[int], str]:
    """``release_model(n)``: a new model name with versions 1..n published and served."""

    def make(count: int) -> str:
        name = f"release-{next(_numbers)}"
        for version in range(count):
            publish(stack, sentiment_versions[version % 2], name)
        wait_served(stack.base_url, {"model": f"{name}-v{count}", "text": "great"})
        return name

    return make
