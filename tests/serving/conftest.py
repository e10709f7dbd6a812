"""Fixtures for the serving tests: real redis-server processes (never a mock).

``redis_server`` (session, shared) comes from the ``tests.support.redis_fixture`` plugin
that the root conftest loads.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_server import RedisServer


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, which it may stop, pause and restart."""
    with RedisServer() as server:
        yield server
