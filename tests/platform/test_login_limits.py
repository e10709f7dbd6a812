"""F6: ``POST /api/v1/token`` is throttled per user and per client address (429 with
``Retry-After``), and argon2 work is bounded so logins cannot take every core."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from mlserve.errors import OverloadedError
from mlserve.platform.auth import UserService
from mlserve.platform.login_limits import LoginThrottle, PasswordWork
from mlserve.platform.store_sqlite import SqliteStore
from tests.platform.conftest import ADMIN, ADMIN_PASSWORD, Harness


async def attempt(h: Harness, username: str, password: str) -> Any:
    return await h.client.post("/api/v1/token", data={"username": username, "password": password})


async def test_wrong_passwords_for_one_user_end_in_429_with_retry_after(harness: Harness) -> None:
    statuses = [(await attempt(harness, ADMIN, "wrong-password")).status_code for _ in range(5)]
    assert statuses == [401] * 5
    locked = await attempt(harness, ADMIN, ADMIN_PASSWORD)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 300
    assert f"too many failed logins for user {ADMIN!r}" in locked.json()["error"]
    _, token = await harness.make_user("other")
    assert token, "another user still logs in"


async def test_one_client_guessing_many_users_is_throttled(harness: Harness) -> None:
    statuses = [
        (await attempt(harness, f"nobody{i}", "wrong-password")).status_code for i in range(20)
    ]
    assert statuses == [401] * 20
    refused = await attempt(harness, "someone-else", "wrong-password")
    assert refused.status_code == 429
    assert "client address" in refused.json()["error"]
    assert int(refused.headers["Retry-After"]) >= 1


async def test_successful_logins_are_never_throttled(harness: Harness) -> None:
    for _ in range(30):
        assert (await attempt(harness, ADMIN, ADMIN_PASSWORD)).status_code == 200


def test_failures_leave_the_window() -> None:
    now = [0.0]
    throttle = LoginThrottle(per_user=2, per_client=10, window_seconds=60, clock=lambda: now[0])
    throttle.begin("ada", "10.0.0.1")
    throttle.begin("ada", "10.0.0.1")
    with pytest.raises(OverloadedError) as refused:
        throttle.begin("ADA ", "10.0.0.2")
    assert refused.value.retry_after == 60
    now[0] = 61.0
    throttle.begin("ada", "10.0.0.1")


class CountingHasher(PasswordHasher):
    """Real argon2id that records how many verifications ran at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=2, memory_cost=16 * 1024, parallelism=1)
        self.active = 0
        self.most = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.active -= 1


async def test_concurrent_logins_run_argon2_one_at_a_time(tmp_path: Path) -> None:
    hasher = CountingHasher()
    store = SqliteStore(tmp_path / "state.sqlite3")
    users = UserService(store, token_ttl_seconds=60, hasher=hasher)
    for i in range(16):
        await users.create_user(f"user{i}", "right-password-1")
    results = await asyncio.gather(
        *(users.login(f"user{i}", "wrong-password") for i in range(16)), return_exceptions=True
    )
    assert all(type(r).__name__ == "UnauthorizedError" for r in results)
    assert hasher.most == 1
    await store.close()


async def test_a_full_argon2_queue_answers_429_at_once() -> None:
    work = PasswordWork(slots=1, max_waiting=2)
    release = threading.Event()
    blocked = [asyncio.ensure_future(work.run(release.wait)) for _ in range(3)]
    await asyncio.sleep(0.05)
    with pytest.raises(OverloadedError, match="password checks are in progress"):
        await work.run(lambda: True)
    release.set()
    assert await asyncio.gather(*blocked) == [True, True, True]
