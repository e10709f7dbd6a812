"""Seed S2's experiment routes (thin: the domain is :mod:`mlserve.lifecycle`).

``POST /experiments`` (and S2's ``POST /experiments/create``) and ``POST
/experiments/{id}/stop`` need an admin bearer token, as the ``/api/v1`` admin routes do;
``GET /experiments`` and ``GET /experiments/{id}/results`` are read-only monitoring.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel, Field

from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.json_limits import MAX_JSON_BODY_BYTES, JsonLimitedRoute
from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.lifecycle.experiment_results import experiment_results
from mlserve.lifecycle.experiment_routing import ExperimentRouting
from mlserve.lifecycle.experiment_supervisor import ExperimentSupervisor
from mlserve.lifecycle.experiments import (
    Experiment,
    ExperimentSpec,
    ExperimentStore,
    SuccessMetric,
    Variant,
)
from mlserve.platform.auth import User

ExperimentId = Annotated[str, Path(pattern=r"^exp-[0-9a-f]{12}$", examples=["exp-0123456789ab"])]


class ExperimentView(BaseModel):
    """An experiment as listed and as created."""

    experiment_id: str
    name: str
    description: str
    model: str
    status: str
    variants: list[Variant]
    duration_hours: float
    success_metrics: dict[str, SuccessMetric]
    auto_promote: bool
    created_at: str | None
    created_by: str | None
    ends_at: str | None
    stopped_at: str | None
    stop_reason: str | None
    rolled_back: dict[str, str]
    promoted: str | None
    results_url: str

    @classmethod
    def of(cls, e: Experiment) -> ExperimentView:
        return cls(
            experiment_id=e.id,
            name=e.name,
            description=e.description,
            model=e.model,
            status=e.status,
            variants=e.variants,
            duration_hours=e.duration_hours,
            success_metrics=e.success_metrics,
            auto_promote=e.auto_promote,
            created_at=e.iso(e.created_at),
            created_by=e.created_by,
            ends_at=e.iso(e.ends_at),
            stopped_at=e.iso(e.stopped_at),
            stop_reason=e.stop_reason,
            rolled_back=e.rolled_back,
            promoted=e.promoted,
            results_url=f"/experiments/{e.id}/results",
        )


class Figure(BaseModel):
    """A rate or mean with its always-valid confidence interval."""

    value: float
    n: int
    ci_low: float | None
    ci_high: float | None


class LatencyFigures(BaseModel):
    p50: float | None
    p95: float | None
    mean: Figure | None


class VariantResult(BaseModel):
    name: str
    version: str
    mirror: bool
    traffic_percentage: float
    live_traffic_percentage: float = Field(description="After rollbacks.")
    rolled_back: str | None = Field(description="Why the variant was rolled back, if it was.")
    requests: int
    errors: int
    success_rate: Figure | None
    latency_ms: LatencyFigures
    accuracy: Figure | None = Field(description="From feedback with a true value.")
    mean_reward: Figure | None = Field(description="From feedback with a reward.")
    agreement: Figure | None = Field(
        default=None,
        description="Mirror variant: share of its answers equal to the primary's (same "
        "label; regressors: same value), over the items both answered.",
    )


class ComparisonResult(BaseModel):
    """``variant - control`` on one metric."""

    metric: str
    variant: str
    difference: float
    ci_low: float | None
    ci_high: float | None
    decision: str = Field(description="winner, no_difference or continue")
    better: str | None = Field(description="variant or control, when decided")
    more_observations: int | None


class Decision(BaseModel):
    metric: str
    control: str
    outcome: str = Field(description="winner, no_difference or continue")
    winner: str | None
    more_observations: int | None = Field(description="About how many more per variant.")
    message: str


class ExperimentResults(BaseModel):
    experiment_id: str
    name: str
    model: str
    status: str
    created_at: str | None
    ends_at: str | None
    stopped_at: str | None
    variants: list[VariantResult]
    comparisons: list[ComparisonResult]
    decision: Decision
    promoted: str | None


def experiments_router(
    experiments: ExperimentStore,
    routing: ExperimentRouting,
    supervisor: ExperimentSupervisor,
    outcomes_of: Any,
    guards: Guards,
) -> APIRouter:
    router = APIRouter(
        prefix="/experiments",
        tags=["experiments"],
        route_class=JsonLimitedRoute,
        max_body_size=MAX_JSON_BODY_BYTES,
    )
    create_errors = error_responses(400, 401, 403, 404, 409, 413, 422)

    async def create(spec: ExperimentSpec, admin: User) -> ExperimentView:
        experiment = await experiments.create(spec, created_by=admin.username)
        routing.forget()
        return ExperimentView.of(experiment)

    @router.post("", status_code=201, responses=create_errors)
    async def create_experiment(
        spec: Annotated[ExperimentSpec, Body()], admin: User = Depends(guards.admin)
    ) -> ExperimentView:
        """Start an experiment: split the model's traffic over the variants' versions."""
        return await create(spec, admin)

    @router.post("/create", status_code=201, responses=create_errors)
    async def create_experiment_s2(
        spec: Annotated[ExperimentSpec, Body()], admin: User = Depends(guards.admin)
    ) -> ExperimentView:
        """Seed S2's spelling of ``POST /experiments``."""
        return await create(spec, admin)

    @router.get("")
    async def list_experiments() -> list[ExperimentView]:
        """Every experiment, newest first."""
        return [ExperimentView.of(e) for e in await experiments.list()]

    @router.get("/{experiment_id}/results", responses=error_responses(404, 422))
    async def get_results(experiment_id: ExperimentId) -> ExperimentResults:
        """Per-variant figures with always-valid intervals, and the decision so far."""
        experiment = await experiments.get(experiment_id)
        if experiment.status == "running":
            await supervisor.flush()
        totals = await routing.stats.totals(experiment.id)
        body = await experiment_results(experiment, totals, outcomes_of)
        return ExperimentResults.model_validate(body)

    @router.post("/{experiment_id}/stop", responses=error_responses(401, 403, 404, 422))
    async def stop_experiment(
        experiment_id: ExperimentId, admin: User = Depends(guards.admin)
    ) -> ExperimentView:
        """End the experiment now: the model's traffic goes back to its usual routing.
        Stopping is never auto-promoting (that happens only at the planned end)."""
        experiment = await experiments.get(experiment_id)
        ended = await supervisor.finish(experiment, "stopped", f"stopped by {admin.username}")
        return ExperimentView.of(ended)

    return router
