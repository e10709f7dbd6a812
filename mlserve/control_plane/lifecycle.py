"""Wiring of the model-lifecycle features (experiments, per-model dashboard, custom alerts)
onto the control plane: one call from ``create_app``.

:func:`install_lifecycle` builds the objects over the platform's state store, includes
their routers, runs the experiment supervisor for the app's lifetime (a router lifespan)
and leaves the :class:`Lifecycle` on ``app.state.lifecycle``: the data plane's router takes
``app.state.lifecycle.routing`` (an :class:`ExperimentRouting`) to send requests to
experiment variants.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI

from mlserve.control_plane.routes.api_v1 import ApiV1
from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.experiments import experiments_router
from mlserve.control_plane.routes.model_monitoring import model_monitoring_router
from mlserve.control_plane.stack import ServingStack
from mlserve.errors import MLServeError
from mlserve.lifecycle.experiment_routing import ExperimentRouting
from mlserve.lifecycle.experiment_stats import ExperimentStats
from mlserve.lifecycle.experiment_supervisor import ExperimentSupervisor, Notify, PromotionHook
from mlserve.lifecycle.experiments import Experiment, ExperimentStore, Variant
from mlserve.lifecycle.model_watch import ModelWatch
from mlserve.lifecycle.release import ReleaseManager
from mlserve.monitoring.custom_alerts import AlertRules
from mlserve.platform.services import PlatformServices


@dataclass
class Lifecycle:
    experiments: ExperimentStore
    routing: ExperimentRouting
    supervisor: ExperimentSupervisor
    notify: Notify
    watch: ModelWatch | None = None


def promote_to_production(releases: ReleaseManager) -> PromotionHook:
    """The auto-promote hook: the winner becomes the model's Production version, as
    ``POST /models/{name}/promote`` does (loaded and READY before requests without a version
    move to it; the previous one Archived or kept as ``@fallback``), recorded in the history
    as done by the experiment. A promotion the release rules refuse (e.g. a failed parity
    check) is reported in the experiment's ``promoted`` instead of raised."""

    async def promote(experiment: Experiment, winner: Variant) -> str:
        label = f"{experiment.model} v{int(winner.version)} ({winner.name})"
        try:
            await releases.promote(
                experiment.model,
                int(winner.version),
                "Production",
                by=f"experiment {experiment.id}",
                reason=f"won experiment {experiment.name!r}",
            )
        except MLServeError as exc:
            return f"{label} not promoted: {exc.message}"
        return f"{label} is now in Production"

    return promote


def build_lifecycle(
    services: PlatformServices, *, promote: PromotionHook | None = None, interval_s: float = 1.0
) -> Lifecycle:
    experiments = ExperimentStore(services.store, services.models.version_states)
    routing = ExperimentRouting(experiments, ExperimentStats(services.store))

    async def notify(event: str, payload: Mapping[str, Any]) -> None:
        await services.webhooks.enqueue([{"event": event, **payload}])

    supervisor = ExperimentSupervisor(
        experiments,
        routing,
        services.feedback.outcomes,
        promote=promote,
        notify=notify,
        interval_s=interval_s,
    )
    return Lifecycle(experiments, routing, supervisor, notify)


def install_lifecycle(
    app: FastAPI, stack: ServingStack, api_v1: ApiV1, releases: ReleaseManager
) -> Lifecycle:
    """Include the lifecycle routes in ``app`` and run the supervisor and the model watch
    while it runs; experiments auto-promote through ``releases`` (the one the promote
    route uses, so the two never move one model's stages at once)."""
    services = api_v1.services
    lifecycle = build_lifecycle(services, promote=promote_to_production(releases))
    registry = stack.router.registry
    gauges = stack.monitoring.metrics.lifecycle

    def show_stages() -> None:
        stages: dict[str, dict[int, str]] = {}
        for model in registry.repository.model_names():
            state = registry.release_state(model)
            versions = registry.published_versions(model)
            stages[model] = {v: state.stage(v) for v in versions}
        gauges.set_stages(stages)

    watch = ModelWatch(
        services.store,
        stack.metrics_registry,
        stack.monitoring,
        AlertRules(services.store),
        services.feedback.online_metrics,
        lifecycle.notify,
        stages=show_stages,
    )
    lifecycle.watch = watch
    lifecycle.supervisor.decisions = gauges

    async def current_version(model: str) -> int | None:
        try:
            return (await registry.resolve(model)).version
        except MLServeError:
            return None

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        lifecycle.supervisor.start()
        watch.start()
        try:
            yield
        finally:
            await watch.stop()
            await lifecycle.supervisor.stop()

    guards = Guards(services.users)
    router = APIRouter(lifespan=lifespan)
    router.include_router(
        experiments_router(
            lifecycle.experiments,
            lifecycle.routing,
            lifecycle.supervisor,
            services.feedback.outcomes,
            guards,
        )
    )
    router.include_router(
        model_monitoring_router(
            watch,
            stack.monitoring,
            services.feedback.online_metrics,
            services.models.version_states,
            current_version,
            guards,
        )
    )
    app.include_router(router)
    app.state.lifecycle = lifecycle
    stack.router.use_experiments(lifecycle.routing)
    stack.dataplane.observer.experiments = lifecycle.routing
    lifecycle.routing.counter = gauges
    if stack.dataplane.mirror is not None:
        stack.dataplane.mirror.sink = lifecycle.routing
    return lifecycle
