"""One-time account links on both state stores: a link works once (also when two requests
race for it), for one purpose, until it expires."""

from __future__ import annotations

import asyncio

import pytest

from mlserve.errors import BadRequestError
from mlserve.platform.account_links import AccountLinks
from mlserve.platform.store import StateStore


async def test_a_link_works_once_for_its_purpose(store: StateStore) -> None:
    links = AccountLinks(store)
    token = await links.issue("reset", 7, 60, password_hash="$argon2id$...")
    with pytest.raises(BadRequestError, match="invitation link is invalid"):
        await links.consume("invite", token)
    assert (await links.peek("reset", token)).user_id == 7
    results = await asyncio.gather(
        *(links.consume("reset", token) for _ in range(5)), return_exceptions=True
    )
    used = [r for r in results if not isinstance(r, BaseException)]
    assert len(used) == 1
    assert used[0].data == {"password_hash": "$argon2id$..."}
    assert all(isinstance(r, BadRequestError) for r in results if r not in used)
    with pytest.raises(BadRequestError, match="already used"):
        await links.consume("reset", token)


async def test_an_expired_link_is_refused(store: StateStore) -> None:
    links = AccountLinks(store)
    token = await links.issue("verify", 3, 0.2)
    await asyncio.sleep(0.4)
    with pytest.raises(BadRequestError, match="verification link is invalid, expired"):
        await links.consume("verify", token)
    with pytest.raises(BadRequestError):
        await links.consume("verify", "")
