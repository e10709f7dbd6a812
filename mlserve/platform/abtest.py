"""A/B weights per model and routing by them.

Contract:

- Weights are ``{"v1": 0.7, "v2": 0.3}``: every version must exist and (when its weight is
  above zero) be active; weights are finite, non-negative and sum to more than zero. They
  need not sum to one: shares are ``weight / sum``.
- Without entity ids each record goes to a version drawn at random by weight.
- With an entity id the choice is sticky: ``sha256(model, fingerprint, entity_id)`` maps to
  a point in ``[0, 1)`` that falls into one version's slice of the cumulative weights, so the
  same entity always lands on the same version for a given weight config. Changing the
  weights (or a version of the config stopping) changes the fingerprint and may move
  entities — that is the point of a new config.
- A model without a config, or whose weighted versions are all stopped now, is served by
  its newest active version.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from mlserve.errors import InvalidInputError, NotFoundError, ServiceUnavailableError
from mlserve.platform.store import StateStore
from mlserve.platform.versions import parse_version, version_label

VersionStates = Callable[[str], Awaitable[dict[int, bool]]]
"""``model -> {version: active}`` for every published version (empty: unknown model)."""

_KEY = "abtest"
MAX_VERSIONS_IN_TEST = 32


class ABConfig(BaseModel):
    """The weights in force for one model."""

    model: str
    weights: dict[str, float]
    fingerprint: str
    updated_at: str
    updated_by: str | None = None

    def shares(self) -> dict[str, float]:
        total = sum(self.weights.values())
        return {v: w / total for v, w in self.weights.items()}


def fingerprint(weights: Mapping[int, float]) -> str:
    """A short stable id of a weight config (order-insensitive)."""
    canonical = json.dumps(sorted((v, float(w)) for v, w in weights.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def sticky_point(model: str, config_fingerprint: str, entity_id: str) -> float:
    """Where an entity falls in ``[0, 1)`` for one model and weight config."""
    digest = hashlib.sha256(f"{model}\x1f{config_fingerprint}\x1f{entity_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def pick_version(weights: Sequence[tuple[int, float]], point: float) -> int:
    """The version whose slice of the cumulative weights contains ``point`` in ``[0, 1)``."""
    live = [(v, w) for v, w in weights if w > 0]
    total = sum(w for _, w in live)
    threshold = point * total
    cumulative = 0.0
    for version, weight in live:
        cumulative += weight
        if threshold < cumulative:
            return version
    return live[-1][0]


def parse_weights(raw: Any, states: Mapping[int, bool], model: str) -> dict[int, float]:
    """Validate a weights document against the model's versions; InvalidInputError names
    the offending version or weight and the fix."""
    known = (
        ", ".join(
            f"{version_label(v)}{'' if on else ' (stopped)'}" for v, on in sorted(states.items())
        )
        or "none"
    )
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInputError(
            f"A/B weights for {model} must be a non-empty JSON object like "
            f'{{"v1": 0.7, "v2": 0.3}}; versions of {model}: {known}'
        )
    if len(raw) > MAX_VERSIONS_IN_TEST:
        raise InvalidInputError(f"at most {MAX_VERSIONS_IN_TEST} versions per A/B test")
    weights: dict[int, float] = {}
    for label, value in raw.items():
        version = parse_version(str(label), field=f"A/B version key {label!r}")
        if version not in states:
            raise InvalidInputError(
                f"A/B weight for {label!r}: {model} has no version {version_label(version)}; "
                f"versions: {known}"
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InvalidInputError(f"A/B weight for {label!r} must be a number (got {value!r})")
        if value < 0:
            raise InvalidInputError(
                f"A/B weight for {label!r} is {value}: weights must be >= 0 (use 0 to send no "
                "traffic)"
            )
        if value > 0 and not states[version]:
            raise InvalidInputError(
                f"A/B weight for {label!r} is {value} but {model} {version_label(version)} is "
                f"stopped; start it (POST /api/v1/start/{model}/{version_label(version)}) or "
                "give it weight 0"
            )
        if version in weights:
            raise InvalidInputError(f"A/B weights name {version_label(version)} twice")
        weights[version] = float(value)
    if sum(weights.values()) <= 0:
        raise InvalidInputError(
            f"A/B weights for {model} sum to 0: give at least one active version a weight > 0"
        )
    return weights


class ABTestService:
    """Stores weights per model and routes records to versions."""

    def __init__(
        self, store: StateStore, version_states: VersionStates, rng: random.Random | None = None
    ) -> None:
        self._store = store
        self._states = version_states
        self._rng = rng or random.Random()
        self._listeners: list[Callable[[str], None]] = []

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(model)`` after a model's weights change in this process."""
        self._listeners.append(listener)

    async def set_weights(self, model: str, raw: Any, updated_by: str | None = None) -> ABConfig:
        states = await self._states(model)
        if not states:
            raise NotFoundError(f"unknown model {model!r}: deploy it before setting A/B weights")
        weights = parse_weights(raw, states, model)
        config = ABConfig(
            model=model,
            weights={version_label(v): w for v, w in sorted(weights.items())},
            fingerprint=fingerprint(weights),
            updated_at=datetime.now(UTC).isoformat(),
            updated_by=updated_by,
        )
        await self._store.hset(_KEY, {model: config.model_dump_json()})
        for listener in self._listeners:
            listener(model)
        return config

    async def get(self, model: str) -> ABConfig | None:
        raw = await self._store.hget(_KEY, model)
        return None if raw is None else ABConfig.model_validate_json(raw)

    async def route(self, model: str, entity_ids: Sequence[str | None] | None, n: int) -> list[int]:
        """The version serving each of ``n`` records (sticky where an entity id is given)."""
        states = await self._states(model)
        active = sorted(v for v, on in states.items() if on)
        if not states:
            raise NotFoundError(f"unknown model {model!r}; GET /api/v1/models lists models")
        if not active:
            raise ServiceUnavailableError(
                f"{model} has no active version; start one with POST /api/v1/start/{model}/v<N>"
            )
        config = await self.get(model)
        weights = self._live_weights(config, states)
        if not weights:
            return [active[-1]] * n
        fp = fingerprint(dict(weights))
        ids: Sequence[str | None] = entity_ids if entity_ids is not None else [None] * n
        return [
            pick_version(
                weights,
                sticky_point(model, fp, str(eid)) if eid is not None else self._rng.random(),
            )
            for eid in ids
        ]

    @staticmethod
    def _live_weights(
        config: ABConfig | None, states: Mapping[int, bool]
    ) -> list[tuple[int, float]]:
        if config is None:
            return []
        live = [
            (parse_version(label), w)
            for label, w in config.weights.items()
            if states.get(parse_version(label)) and w > 0
        ]
        return sorted(live)
