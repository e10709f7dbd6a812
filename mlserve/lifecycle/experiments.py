"""Experiments over one model's versions (seed S2): what they are and where they live.

Contract:

- An experiment splits one model's traffic over two to eight *variants* (``{name, version,
  traffic_percentage}``); the percentages of the serving variants sum to 100. A variant
  with ``mirror: true`` (Seldon's shadow) takes a percentage of 0 and receives a copy of
  the traffic; its answers are never returned. The first serving variant is the control:
  the others are compared with it, and it cannot be rolled back.
- At most one experiment runs per model (an atomic claim in the store), over versions that
  exist and are served now. Bad input is an :class:`~mlserve.errors.InvalidInputError`,
  :class:`~mlserve.errors.NotFoundError` or :class:`~mlserve.errors.ConflictError` naming
  the field, and nothing is stored.
- Everything is kept in the platform's :class:`~mlserve.platform.store.StateStore` (JSON per
  experiment in hash ``experiment``, the running one per model in ``experiment:running``),
  so experiments survive a restart and every replica sees the same ones.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlserve.errors import ConflictError, InvalidInputError, NotFoundError
from mlserve.platform.store import StateStore
from mlserve.platform.versions import parse_version, version_label

VersionStates = Callable[[str], Awaitable[dict[int, bool]]]
"""``model -> {version: served now}`` for every published version (empty: unknown model)."""

METRICS = ("success_rate", "accuracy", "mean_reward", "avg_latency_ms", "p95_latency_ms")
"""Metrics an experiment can be judged on (``success_metrics`` keys)."""

LOWER_IS_BETTER = frozenset({"avg_latency_ms", "p95_latency_ms"})

_EXPERIMENTS = "experiment"
_RUNNING = "experiment:running"
MAX_DURATION_HOURS = 24 * 90
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._:/()-]{0,127}$"

Status = Literal["running", "stopped", "completed"]


class Variant(BaseModel):
    """One arm: a version of the model and its share of the traffic."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", examples=["control"])
    version: str = Field(description="``1``, ``2`` or ``v2``.", examples=["1"])
    traffic_percentage: float = Field(ge=0, le=100, examples=[50])
    mirror: bool = Field(
        default=False, description="Receives a copy of the traffic; its answers are dropped."
    )
    mirror_percentage: float = Field(
        default=100,
        gt=0,
        le=100,
        description="A mirror variant's share of requests copied (each copy is a second "
        "inference: on CPU, 100 roughly doubles the work per request).",
        examples=[25],
    )

    @field_validator("version", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class SuccessMetric(BaseModel):
    """S2's ``{"threshold": 0.95, "weight": 1.0}``: the level a variant must hold (a
    guardrail) and how much the metric counts in the decision (highest weight decides)."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(allow_inf_nan=False)
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)


class ExperimentSpec(BaseModel):
    """The body of ``POST /experiments`` (S2's shape; ``model`` may replace ``model_type``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, examples=["Event Classifier v1 vs v2"])
    description: str = Field(default="", max_length=2000)
    model_type: str | None = Field(default=None, description="The model's name (S2).")
    model: str | None = Field(default=None, description="Same as ``model_type``.")
    variants: list[Variant] = Field(min_length=2, max_length=8)
    duration_hours: float = Field(gt=0, le=MAX_DURATION_HOURS, allow_inf_nan=False)
    success_metrics: dict[str, SuccessMetric] = Field(default_factory=dict, max_length=8)
    auto_promote: bool = Field(
        default=False, description="Promote the winner when the experiment ends (opt-in)."
    )
    guardrail_min_requests: int = Field(
        default=20, ge=1, le=100_000, description="Requests a variant needs before a guardrail."
    )
    guardrail_window_seconds: float = Field(default=30.0, ge=1, le=3600)
    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="Error rate of the decision.")


class Experiment(BaseModel):
    """A stored experiment."""

    id: str
    name: str
    description: str
    model: str
    variants: list[Variant]
    duration_hours: float
    success_metrics: dict[str, SuccessMetric]
    auto_promote: bool
    guardrail_min_requests: int
    guardrail_window_seconds: float
    alpha: float
    status: Status = "running"
    created_at: float
    created_by: str | None = None
    ends_at: float
    stopped_at: float | None = None
    stop_reason: str | None = None
    rolled_back: dict[str, str] = Field(default_factory=dict)
    """Variant name -> why it was rolled back (its traffic went to the control)."""
    promoted: str | None = None
    """What auto-promote did at the end, if anything."""

    @property
    def control(self) -> Variant:
        return next(v for v in self.variants if not v.mirror)

    def live_split(self) -> list[tuple[int, float]]:
        """``(version, percentage)`` of the serving variants now: rolled-back variants'
        shares go to the control."""
        control = self.control
        moved = sum(
            v.traffic_percentage
            for v in self.variants
            if not v.mirror and v.name in self.rolled_back
        )
        split = []
        for v in self.variants:
            if v.mirror or v.name in self.rolled_back:
                continue
            share = v.traffic_percentage + (moved if v is control else 0.0)
            if share > 0:
                split.append((int(v.version), share))
        return split

    def mirror_version(self) -> tuple[int, float] | None:
        """The mirror variant's version and the share of requests (0-1) it gets a copy of."""
        for v in self.variants:
            if v.mirror and v.name not in self.rolled_back:
                return int(v.version), v.mirror_percentage / 100
        return None

    def iso(self, ts: float | None) -> str | None:
        return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None


class ExperimentStore:
    """Create, read and end experiments in the state store."""

    def __init__(self, store: StateStore, version_states: VersionStates) -> None:
        self._store = store
        self._states = version_states

    async def create(self, spec: ExperimentSpec, created_by: str | None = None) -> Experiment:
        model = await self._validate(spec)
        now = time.time()
        variants = [
            v.model_copy(update={"version": str(parse_version(v.version))}) for v in spec.variants
        ]
        experiment = Experiment(
            id=f"exp-{uuid.uuid4().hex[:12]}",
            name=spec.name,
            description=spec.description,
            model=model,
            variants=variants,
            duration_hours=spec.duration_hours,
            success_metrics=spec.success_metrics,
            auto_promote=spec.auto_promote,
            guardrail_min_requests=spec.guardrail_min_requests,
            guardrail_window_seconds=spec.guardrail_window_seconds,
            alpha=spec.alpha,
            created_at=now,
            created_by=created_by,
            ends_at=now + spec.duration_hours * 3600,
        )
        if not await self._store.hsetnx(_RUNNING, model, experiment.id):
            running = await self._store.hget(_RUNNING, model)
            raise ConflictError(
                f"model_type: {model} already has a running experiment ({running}); "
                f"stop it first with POST /experiments/{running}/stop"
            )
        await self._store.hset(_EXPERIMENTS, {experiment.id: experiment.model_dump_json()})
        return experiment

    async def _validate(self, spec: ExperimentSpec) -> str:
        model = spec.model_type or spec.model
        if not model:
            raise InvalidInputError("model_type: required (the model's name, e.g. sentiment)")
        if spec.model_type and spec.model and spec.model_type != spec.model:
            raise InvalidInputError("model_type and model name different models: send one")
        unknown = sorted(set(spec.success_metrics) - set(METRICS))
        if unknown:
            raise InvalidInputError(
                f"success_metrics.{unknown[0]}: unknown metric; allowed: {', '.join(METRICS)}"
            )
        serving = [v for v in spec.variants if not v.mirror]
        mirrors = [v for v in spec.variants if v.mirror]
        if not serving:
            raise InvalidInputError("variants: at least one variant must serve (mirror: false)")
        if len(mirrors) > 1:
            raise InvalidInputError("variants: at most one mirror variant")
        if any(v.traffic_percentage != 0 for v in mirrors):
            raise InvalidInputError(
                "variants[].traffic_percentage: a mirror variant takes 0 (it gets a copy)"
            )
        if any(v.mirror_percentage != 100 for v in serving):
            raise InvalidInputError(
                "variants[].mirror_percentage applies to a mirror variant (mirror: true) only; "
                "leave it out of serving variants"
            )
        total = sum(v.traffic_percentage for v in serving)
        if not math.isclose(total, 100.0, abs_tol=1e-6):
            raise InvalidInputError(
                f"variants[].traffic_percentage: the serving variants' percentages must sum "
                f"to 100 (they sum to {total:g})"
            )
        names = [v.name for v in spec.variants]
        if len(set(names)) != len(names):
            raise InvalidInputError("variants[].name: names must be unique")
        states = await self._states(model)
        if not states:
            raise NotFoundError(f"model_type: no model named {model!r}; GET /models lists them")
        versions: list[int] = []
        for i, variant in enumerate(spec.variants):
            try:
                version = parse_version(variant.version)
            except InvalidInputError as exc:
                raise InvalidInputError(f"variants[{i}].version: {exc}") from None
            if version not in states:
                known = ", ".join(version_label(v) for v in sorted(states))
                raise NotFoundError(
                    f"variants[{i}].version: {model} has no version {version}; versions: {known}"
                )
            if not states[version]:
                raise ConflictError(
                    f"variants[{i}].version: {model} {version_label(version)} is not served "
                    f"(stopped or being removed); start it with POST /api/v1/start/{model}/"
                    f"{version_label(version)}"
                )
            versions.append(version)
        if len(set(versions)) != len(versions):
            raise InvalidInputError("variants[].version: each variant needs its own version")
        return model

    async def served_versions(self, model: str) -> set[int]:
        """The model's versions served now (empty: the model is gone)."""
        return {v for v, served in (await self._states(model)).items() if served}

    async def get(self, experiment_id: str) -> Experiment:
        raw = await self._store.hget(_EXPERIMENTS, experiment_id)
        if raw is None:
            raise NotFoundError(f"no experiment {experiment_id!r}; GET /experiments lists them")
        return Experiment.model_validate_json(raw)

    async def list(self) -> list[Experiment]:
        rows = await self._store.hgetall(_EXPERIMENTS)
        experiments = [Experiment.model_validate_json(raw) for raw in rows.values()]
        return sorted(experiments, key=lambda e: e.created_at, reverse=True)

    async def running(self) -> dict[str, str]:
        """``model -> experiment id`` of the running experiments."""
        return await self._store.hgetall(_RUNNING)

    async def save(self, experiment: Experiment) -> None:
        await self._store.hset(_EXPERIMENTS, {experiment.id: experiment.model_dump_json()})

    async def end(self, experiment: Experiment, status: Status, reason: str) -> Experiment:
        """Mark ``experiment`` ended (no-op when it already is) and free its model."""
        if experiment.status != "running":
            return experiment
        ended = experiment.model_copy(
            update={"status": status, "stopped_at": time.time(), "stop_reason": reason}
        )
        await self.save(ended)
        if await self._store.hget(_RUNNING, ended.model) == ended.id:
            await self._store.hdel(_RUNNING, ended.model)
        return ended
