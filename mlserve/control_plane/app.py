"""The control plane's FastAPI application, built by :func:`create_app`.

Usage::

    app = create_app(get_settings())            # embedded Triton unless MLSERVE_TRITON_URL
    uvicorn.run(app, host=..., port=...)

or ``uvicorn --factory mlserve.control_plane.app:app_from_environment``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from mlserve import __version__
from mlserve.control_plane.access import TokenGate
from mlserve.control_plane.addons import install_addons
from mlserve.control_plane.errors import install_error_handlers
from mlserve.control_plane.gc_policy import serving_gc
from mlserve.control_plane.hot_routes import ControlPlaneApp
from mlserve.control_plane.lifecycle import install_lifecycle
from mlserve.control_plane.platform import build_platform
from mlserve.control_plane.routes import health, inference_v2, models, predict, releases
from mlserve.control_plane.routes.api_v1 import online
from mlserve.control_plane.routes.api_v1.guards import (
    check_trust_loopback,
    tokenless_trusted_local,
)
from mlserve.control_plane.routes.monitoring import monitoring_router
from mlserve.control_plane.stack import ServingStack
from mlserve.monitoring.worker_metrics import worker_metrics_router
from mlserve.settings import Settings, get_settings
from mlserve.triton.client import TritonClient

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, triton: TritonClient | None = None) -> FastAPI:
    """The control plane for ``settings``; ``triton`` overrides the client (tests)."""
    check_trust_loopback(settings.auth.trust_loopback, settings.server.host)
    stack = ServingStack.build(settings, triton=triton)
    api_v1 = build_platform(settings, stack)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await stack.start()
        await api_v1.startup()
        try:
            with serving_gc(settings.server.gc_full_collection_threshold):
                yield
        finally:
            await api_v1.shutdown()
            await stack.stop()

    app = ControlPlaneApp(
        title="mlserve",
        version=__version__,
        description="Text and tabular classifiers served by NVIDIA Triton.",
        lifespan=lifespan,
        # Metrics are Prometheus (mlserve_*); FastAPI's OpenTelemetry hooks would only add
        # per-request checks for providers nobody configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.stack = stack
    app.state.platform = api_v1
    app.state.trust_loopback = settings.auth.trust_loopback is True  # guards.trusted_local
    install_error_handlers(app)
    app.install_hot_routes(
        {
            "/predict": partial(predict.predict_answer, stack),
            "/batch-predict": partial(predict.batch_predict_answer, stack),
        },
        max_body_bytes=predict.max_body_bytes(settings),
        prefix_routes={
            (inference_v2.PREFIX, inference_v2.SUFFIX): partial(inference_v2.infer_answer, stack),
            (online.PREDICT_PREFIX, ""): partial(
                online.online_predict_answer, api_v1.services.online, api_v1.services.users
            ),
        },
        # A token-less local request under loopback trust is the guards' to admit.
        passed_on=(
            {(online.PREDICT_PREFIX, ""): tokenless_trusted_local}
            if app.state.trust_loopback
            else None
        ),
        before_app=stack.bookkeeping.run_pending,
    )
    app.include_router(predict.router)
    app.include_router(inference_v2.router)
    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(worker_metrics_router(stack.worker_metrics))  # scale: workers
    app.include_router(
        monitoring_router(
            stack.monitoring,
            stack.metrics_registry,
            known_versions=stack.repository.versions,
        )
    )
    app.include_router(api_v1.router)
    release_manager = releases.release_manager(stack)
    app.include_router(releases.releases_router(stack, api_v1, release_manager))  # stages
    closed = settings.auth.require_token_for
    if closed:
        key = settings.admin_token.get_secret_value() if settings.admin_token else ""
        users = api_v1.services.users
        app.wrap_entry(
            lambda entry: TokenGate(entry, groups=closed, users=users, static_tokens=[key])
        )
    # After the gate: the request log wraps it too (its 401s are logged).
    install_addons(app, settings, stack, api_v1, release_manager)  # reports, training, logs
    install_lifecycle(app, stack, api_v1, release_manager)  # experiments, dashboard, alerts
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from the environment and config file."""
    return create_app(get_settings())
