"""Fixtures for the serving tests: real redis-server processes (never a mock)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_server import RedisServer


@pytest.fixture(scope="session")
def shared_redis() -> Iterator[RedisServer]:
    """One redis-server for the tests that only read and write (keys are per-test unique)."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, which it may stop, pause and restart."""
    with RedisServer() as server:
        yield server
