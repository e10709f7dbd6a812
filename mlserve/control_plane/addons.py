"""Routes and wrappers added to the control plane beside its core: drift reports, MLflow
imports, training jobs, the request log.

:func:`install_addons` is called once by :func:`mlserve.control_plane.app.create_app`
(one marked line), after the hot routes are installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mlserve.control_plane.hot_routes import ControlPlaneApp
from mlserve.control_plane.request_log import RequestLog
from mlserve.control_plane.routes.api_v1 import ApiV1
from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.drift_report import drift_report_router
from mlserve.control_plane.routes.training import training_router
from mlserve.control_plane.stack import ServingStack
from mlserve.dataplane.bookkeeping import Bookkeeping
from mlserve.lifecycle.release import ReleaseManager
from mlserve.monitoring.drift_report.compare import DriftPolicy
from mlserve.monitoring.drift_report.live import LiveDriftReports
from mlserve.platform.mlflow_deploys import MlflowDeploys
from mlserve.settings import Settings
from mlserve.training.jobs import TrainingJobs
from mlserve.training.promotion import gated_promotion


def _training_dir(settings: Settings) -> Path:
    configured = settings.training.work_dir
    return configured or settings.models_dir.resolve().parent / "var" / "training"


def install_addons(
    app: ControlPlaneApp,
    settings: Settings,
    stack: ServingStack,
    api_v1: ApiV1,
    releases: ReleaseManager,
) -> None:
    """Include the drift-report and training routes (``auto_promote`` releases through
    ``releases`` and the champion/challenger gate); let ``/api/v1/deploy`` import from
    MLflow; stop training jobs and imports at shutdown; log every request (one line)."""
    reports = LiveDriftReports(
        stack.repository,
        api_v1.services.predictions,
        DriftPolicy.from_settings(settings.monitoring),
    )
    app.include_router(drift_report_router(reports))
    host = "127.0.0.1" if settings.server.host in ("0.0.0.0", "::") else settings.server.host
    api_v1.services.mlflow = MlflowDeploys(
        api_v1.services.deployments,
        stack.publisher,
        tracking_uri=settings.mlflow.tracking_uri,
        timeout_s=settings.mlflow.timeout_s,
        where=f"http://{host}:{settings.server.port}",
        sandbox=api_v1.services.upload_sandbox,
    )
    jobs = TrainingJobs(
        settings.training,
        _training_dir(settings),
        stack.publisher,
        tracking_uri=settings.mlflow.tracking_uri,
        promote=gated_promotion(
            releases,
            stack.dataplane.predict,
            stack.repository,
            default_metric=settings.publish.gate_metric,
            max_recall_drop=settings.publish.gate_max_recall_drop,
        ),
    )
    app.include_router(training_router(jobs, Guards(api_v1.services.users)))
    _stop_on_shutdown(app, jobs, api_v1.services.mlflow)
    if settings.logging.requests:
        _log_requests(app, settings, stack.bookkeeping)


def _log_requests(app: ControlPlaneApp, settings: Settings, bookkeeping: Bookkeeping) -> None:
    """Wrap the app's entry, hot routes and the token gate included, with the request log
    (its lines written with the rest of the requests' bookkeeping)."""
    app.wrap_entry(lambda entry: RequestLog(entry, settings.logging, bookkeeping=bookkeeping))


def _stop_on_shutdown(app: ControlPlaneApp, jobs: TrainingJobs, mlflow: MlflowDeploys) -> None:
    """Cancel training jobs and MLflow imports when the app's lifespan ends."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with inner(app) as state:
            try:
                yield state
            finally:
                await jobs.shutdown()
                await mlflow.cancel_all()

    app.router.lifespan_context = lifespan
