"""The verified-token cache: trust window, token expiry, bound, forgetting (pure logic)."""

from __future__ import annotations

import time

import pytest

from mlserve.platform.token_cache import VerifiedTokens


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_is_trusted_for_the_ttl_only() -> None:
    clock = Clock()
    cache: VerifiedTokens[str] = VerifiedTokens(2.0, clock=clock)
    cache.put("k", "ada", 1, time.time() + 60)
    clock.now += 1.99
    assert cache.get("k") == "ada"
    clock.now += 0.02
    assert cache.get("k") is None
    assert len(cache) == 0


def test_never_past_the_token_expiry() -> None:
    cache: VerifiedTokens[str] = VerifiedTokens(60.0)
    cache.put("k", "ada", 1, time.time() - 0.001)
    assert cache.get("k") is None


def test_bounded_least_recently_used_first() -> None:
    cache: VerifiedTokens[str] = VerifiedTokens(60.0, max_entries=2)
    far = time.time() + 60
    cache.put("a", "ada", 1, far)
    cache.put("b", "bob", 2, far)
    assert cache.get("a") == "ada"  # a is now the most recent
    cache.put("c", "cy", 3, far)
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") == "ada"
    assert cache.get("c") == "cy"


def test_forget_one_token_and_every_token_of_a_user() -> None:
    cache: VerifiedTokens[str] = VerifiedTokens(60.0)
    far = time.time() + 60
    cache.put("a1", "ada", 1, far)
    cache.put("a2", "ada", 1, far)
    cache.put("b", "bob", 2, far)
    cache.forget("a1")
    assert cache.get("a1") is None
    assert cache.get("a2") == "ada"
    cache.forget_user(1)
    assert cache.get("a2") is None
    assert cache.get("b") == "bob"


def test_zero_ttl_remembers_nothing_and_negative_is_refused() -> None:
    cache: VerifiedTokens[str] = VerifiedTokens(0.0)
    cache.put("k", "ada", 1, time.time() + 60)
    assert cache.get("k") is None
    with pytest.raises(ValueError, match="ttl_seconds"):
        VerifiedTokens(-1.0)
