"""pytest plugin: ``mlflow_url``, one real ``mlflow server`` for the session (it takes
tens of seconds to start here, so it is shared)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mlflow_server import mlflow_server


@pytest.fixture(scope="session")
def mlflow_url() -> Iterator[str]:
    with mlflow_server() as url:
        yield url
