"""The control plane's FastAPI application, built by :func:`create_app`.

Usage::

    app = create_app(get_settings())            # embedded Triton unless MLSERVE_TRITON_URL
    uvicorn.run(app, host=..., port=...)

or ``uvicorn --factory mlserve.control_plane.app:app_from_environment``.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from mlserve import __version__
from mlserve.control_plane.addons import install_addons
from mlserve.control_plane.errors import install_error_handlers
from mlserve.control_plane.hot_routes import ControlPlaneApp
from mlserve.control_plane.platform import build_platform
from mlserve.control_plane.routes import health, models, predict
from mlserve.control_plane.routes.monitoring import monitoring_router
from mlserve.control_plane.stack import ServingStack
from mlserve.settings import Settings, get_settings
from mlserve.triton.client import TritonClient

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, triton: TritonClient | None = None) -> FastAPI:
    """The control plane for ``settings``; ``triton`` overrides the client (tests)."""
    stack = ServingStack.build(settings, triton=triton)
    api_v1 = build_platform(settings, stack)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await stack.start()
        await api_v1.startup()
        # What start-up created (libraries, models, settings) lives as long as the process:
        # frozen, it is no longer rescanned by every full collection (~80 ms pauses of the
        # whole loop under load, measured with gc.callbacks). Start-up garbage is collected
        # first, or it would be frozen with the rest and never freed.
        gc.collect()
        gc.freeze()
        try:
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
    install_error_handlers(app)
    app.install_hot_routes(
        {
            "/predict": partial(predict.predict_answer, stack),
            "/batch-predict": partial(predict.batch_predict_answer, stack),
        },
        max_body_bytes=predict.max_body_bytes(settings),
    )
    app.include_router(predict.router)
    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(
        monitoring_router(
            stack.monitoring,
            stack.metrics_registry,
            known_versions=stack.repository.versions,
        )
    )
    app.include_router(api_v1.router)
    install_addons(app, settings, stack, api_v1)  # issue 22: reports, training, request logs
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from the environment and config file."""
    return create_app(get_settings())
