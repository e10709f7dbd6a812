"""The ``/api/v1`` API that ``mlserve-sdk``'s ``MLServeClient`` speaks.

Usage (the app factory)::

    api = build_api_v1(settings, deployer=..., lifecycle=..., predictor=...,
                       model_catalog=...)
    app.include_router(api.router)
    # lifespan: await api.startup() ... await api.shutdown()

Routes are thin: they take typed bodies (:mod:`.contracts`), check the bearer token/role
and call :class:`~mlserve.platform.services.PlatformServices`. Errors are MLServeError
subclasses, rendered as ``{"error": ...}`` by the app's one handler. Every body is bounded:
:data:`~mlserve.control_plane.json_limits.MAX_JSON_BODY_BYTES` unless a router or route
says otherwise (deploy uploads, feedback and predict batches), JSON nesting by
:data:`~mlserve.control_plane.json_limits.MAX_JSON_DEPTH`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from fastapi import APIRouter

from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.json_limits import MAX_JSON_BODY_BYTES
from mlserve.control_plane.routes.api_v1.account_flows import account_flows_router
from mlserve.control_plane.routes.api_v1.accounts import accounts_router
from mlserve.control_plane.routes.api_v1.churn import churn_router
from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.api_v1.models import models_router
from mlserve.control_plane.routes.api_v1.online import online_router
from mlserve.control_plane.routes.api_v1.operations import operations_router
from mlserve.control_plane.routes.api_v1.predictions import predictions_router
from mlserve.platform.config import PlatformConfig
from mlserve.platform.protocols import Deployer, ModelCatalog, ModelLifecycle, PredictCore
from mlserve.platform.services import PlatformServices
from mlserve.platform.store import StateStore
from mlserve.platform.url_safety import Resolver
from mlserve.settings import Settings

PREFIX = "/api/v1"
PREDICT_BODY_LIMIT = 16 * 1024 * 1024
"""Largest ``/api/v1/predict`` body: room for ``MAX_RECORDS`` records of a few dozen
features."""


@dataclass
class ApiV1:
    """The router plus the services behind it; run ``startup``/``shutdown`` in the app's
    lifespan (they start and stop the webhook worker and close the state store)."""

    services: PlatformServices
    router: APIRouter

    async def startup(self) -> None:
        await self.services.startup()

    async def shutdown(self) -> None:
        await self.services.shutdown()


def build_api_v1(
    settings: Settings,
    *,
    deployer: Deployer,
    lifecycle: ModelLifecycle,
    predictor: PredictCore,
    model_catalog: ModelCatalog,
    store: StateStore | None = None,
    password_hasher: PasswordHasher | None = None,
    resolver: Resolver | None = None,
    worker_options: dict[str, Any] | None = None,
) -> ApiV1:
    """Wire the platform services from ``settings`` and the four serving seams.

    ``store``, ``password_hasher``, ``resolver`` and ``worker_options`` default to the
    production choices (Redis or SQLite from settings, argon2 defaults, the system DNS
    resolver, default retry timings); tests pass their own."""
    services = PlatformServices.build(
        PlatformConfig.from_settings(settings),
        deployer=deployer,
        lifecycle=lifecycle,
        predictor=predictor,
        model_catalog=model_catalog,
        store=store,
        password_hasher=password_hasher,
        resolver=resolver,
        worker_options=worker_options,
    )
    guards = Guards(services.users)
    router = APIRouter(prefix=PREFIX, max_body_size=MAX_JSON_BODY_BYTES)
    router.include_router(accounts_router(services.users, guards, services.accounts))
    router.include_router(account_flows_router(services.accounts, services.oidc))
    router.include_router(models_router(services, guards))
    router.include_router(
        predictions_router(services, guards),
        max_body_size=PREDICT_BODY_LIMIT,
        responses=error_responses(400, 401, 404, 409, 413, 422, 429, 503),
    )
    router.include_router(online_router(services.online, guards))
    router.include_router(operations_router(services, guards))
    router.include_router(churn_router(services.store, guards))
    return ApiV1(services=services, router=router)
