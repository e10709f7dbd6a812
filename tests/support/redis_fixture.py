"""Pytest plugin with the session ``redis_server`` fixture (a real ``redis-server``).

Load it from ``tests/conftest.py``::

    pytest_plugins = ["tests.support.redis_fixture"]

``redis_server`` is a :class:`tests.support.redis_server.RedisServer`: ``.url``
(``redis://127.0.0.1:<port>/0``), ``.host``, ``.port``, ``.running``, and ``stop()`` /
``start()`` (same port, data gone), ``restart()``, ``pause()`` / ``resume()`` (SIGSTOP, a
hung Redis) for outage tests. A test that stops or pauses it must bring it back before it
ends; the fixture checks that it answers again (restarting it if needed) after every test
that used it, so one outage test cannot break the next. Keys are shared across the session:
use names unique to the test. Requesting the fixture starts the server (once); tests that
don't request it never start one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_server import RedisServer, ping


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session (session-scoped fixtures may use it)."""
    with RedisServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _redis_server_back_up(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used ``redis_server``, make sure it answers again."""
    yield
    if "redis_server" in request.fixturenames:
        server: RedisServer = request.getfixturevalue("redis_server")
        ensure_up(server)


def ensure_up(server: RedisServer) -> None:
    """Resume a paused server and restart a stopped or hung one (same port)."""
    server.resume()
    if not (server.running and ping(server.host, server.port, timeout_s=1.0)):
        server.restart()
