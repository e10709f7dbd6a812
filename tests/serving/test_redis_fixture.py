"""The shared ``redis_server`` fixture: a real server that outage tests cannot leave broken."""

from __future__ import annotations

import redis

from tests.support.redis_fixture import ensure_up
from tests.support.redis_server import RedisServer, ping


def test_the_session_server_answers_at_its_url(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("fixture-test-key", b"1", px=5_000)
    assert client.get("fixture-test-key") == b"1"
    assert redis_server.url == f"redis://{redis_server.host}:{redis_server.port}/0"


def test_ensure_up_restarts_a_stopped_server_on_the_same_port(redis_server: RedisServer) -> None:
    port = redis_server.port
    redis_server.stop()
    assert not ping(redis_server.host, port)

    ensure_up(redis_server)

    assert redis_server.port == port
    assert ping(redis_server.host, port)


def test_ensure_up_resumes_a_paused_server(redis_server: RedisServer) -> None:
    redis_server.pause()
    assert not ping(redis_server.host, redis_server.port, timeout_s=0.2)

    ensure_up(redis_server)

    assert ping(redis_server.host, redis_server.port)
