"""Fixtures for the platform tests: real state stores (SQLite file, real redis-server),
a fast argon2 hasher, and an ``/api/v1`` app driven over ASGI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from mlserve.control_plane.errors import install_error_handlers
from mlserve.control_plane.routes.api_v1 import ApiV1, build_api_v1
from mlserve.platform.store import StateStore
from mlserve.platform.store_redis import RedisStore
from mlserve.platform.store_sqlite import SqliteStore
from mlserve.settings import AuthSettings, Settings
from tests.platform.platform_fakes import FakeCatalog, FakeDeployer, FakeLifecycle, FakePredictor
from tests.support.redis_server import RedisServer

ADMIN, ADMIN_PASSWORD = "root", "root-password-1"


def fast_hasher() -> PasswordHasher:
    """argon2id with small costs: same code path, milliseconds instead of 130 ms per hash."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session")
def platform_redis() -> Iterator[RedisServer]:
    """One real redis-server for the platform tests; each test uses its own key prefix."""
    with RedisServer() as server:
        yield server


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture(params=["sqlite", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, platform_redis: RedisServer
) -> AsyncIterator[StateStore]:
    """The same tests run against both backends."""
    backend: StateStore
    if request.param == "sqlite":
        backend = SqliteStore(tmp_path / "state.sqlite3")
    else:
        backend = RedisStore.from_url(platform_redis.url, prefix=unique_prefix())
    try:
        yield backend
    finally:
        await backend.close()


def error_app(api: ApiV1) -> FastAPI:
    """A FastAPI app with the router and the control plane's error handlers (``{"error":
    ...}`` bodies, ``Retry-After`` on 429)."""
    app = FastAPI()
    app.include_router(api.router)
    install_error_handlers(app)
    return app


@dataclass
class Harness:
    """An ``/api/v1`` app over ASGI with fakes of the lead's seams."""

    api: ApiV1
    client: httpx.AsyncClient
    catalog: FakeCatalog
    deployer: FakeDeployer
    lifecycle: FakeLifecycle
    predictor: FakePredictor
    admin_token: str

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.auth(self.admin_token)

    async def login(self, username: str, password: str) -> str:
        response = await self.client.post(
            "/api/v1/token", data={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def make_user(self, name: str, password: str = "user-password-1") -> tuple[int, str]:
        """Register + activate through the API; returns (user id, token)."""
        response = await self.client.post(
            "/api/v1/register",
            json={"full_name": name, "email": f"{name}@example.com", "password": password},
        )
        assert response.status_code == 201, response.text
        user_id: int = response.json()["user_id"]
        activated = await self.client.post(f"/api/v1/team/{user_id}/activate", headers=self.admin)
        assert activated.status_code == 200, activated.text
        return user_id, await self.login(name, password)


def platform_settings(tmp_path: Path, **auth: Any) -> Settings:
    return Settings(
        models_dir=tmp_path / "models",
        admin_user=ADMIN,
        admin_password=ADMIN_PASSWORD,
        auth=AuthSettings(state_path=tmp_path / "platform.sqlite3", **auth),
    )


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    catalog = FakeCatalog()
    catalog.add("churn", 1, metrics={"accuracy": 0.80, "f1": 0.70})
    catalog.add("churn", 2, metrics={"accuracy": 0.85, "f1": 0.72})
    deployer, lifecycle = FakeDeployer(catalog), FakeLifecycle(catalog)
    predictor = FakePredictor(catalog=catalog)
    api = build_api_v1(
        platform_settings(tmp_path, webhook_allow_private=True),
        deployer=deployer,
        lifecycle=lifecycle,
        predictor=predictor,
        model_catalog=catalog,
        password_hasher=fast_hasher(),
        worker_options={"backoff_base_s": 0.05, "poll_interval_s": 0.05},
    )
    predictor.route = api.services.abtests.route
    await api.startup()
    transport = httpx.ASGITransport(app=error_app(api))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            h = Harness(api, client, catalog, deployer, lifecycle, predictor, "")
            h.admin_token = await h.login(ADMIN, ADMIN_PASSWORD)
            yield h
    finally:
        await api.shutdown()
