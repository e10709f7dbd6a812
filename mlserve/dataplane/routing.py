"""Which version answers: an explicit version, A/B weights (sticky per entity), or the
model's default version.

The order, for a request that names model ``m``:

1. a version named by the request (``"version": 2``, ``"m-v2"``, or seed S1's
   ``"model_version": "v2"`` for the default model) answers: ``explicit``;
2. a version named by an alias (``"m@champion"``) answers: ``alias``;
3. else, when an experiment runs on ``m``, its variant for this request answers
   (``experiment``; sticky per entity id; :mod:`mlserve.lifecycle.experiment_routing`),
   and its mirror variant, if any, gets a copy (:attr:`Route.mirror`);
4. else, when ``m`` has A/B weights over versions that are served, a version drawn by
   weight answers: ``sticky`` when the request carries an entity id (the same entity always
   lands on the same version for a weight config), else ``ab`` (a random draw);
5. else the release's version answers: the Production version, else the ``champion``
   alias, else (none set, or not loaded) the newest ready version: ``default``.

The weights come from the platform's A/B service (``POST /api/v1/abtest/{model}``), read at
most once a second per model (a replica sees a change within a second; this process at once,
through :meth:`Router.forget_weights`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import NamedTuple, Protocol

from mlserve.dataplane.request import RoutedBy
from mlserve.errors import ConflictError, InvalidInputError, NotFoundError, ServiceUnavailableError
from mlserve.lifecycle.stages import check_alias
from mlserve.platform.abtest import fingerprint, pick_version, sticky_point
from mlserve.serving.registry import ModelRegistry, ResolvedModel

_WEIGHTS_TTL_S = 1.0


class WeightConfig(Protocol):
    """An A/B weight config as the platform stores it."""

    weights: dict[str, float]
    """``{"v1": 0.7, "v2": 0.3}``"""


class WeightSource(Protocol):
    """Where A/B weights are kept (the platform's :class:`ABTestService`)."""

    async def get(self, model: str) -> WeightConfig | None: ...


class ExperimentSource(Protocol):
    """Running experiments (the lifecycle's :class:`ExperimentRouting`)."""

    def surely_idle(self, model: str) -> bool:
        """True when, as last read, no experiment runs for ``model`` (no coroutine)."""
        ...

    async def variant_for(self, model: str, entity_id: str | None) -> int | None: ...

    async def mirror_for(self, model: str) -> int | None: ...


class Route(NamedTuple):
    model: ResolvedModel
    routed_by: RoutedBy
    mirror: int | None = None
    """The version that gets a copy of this request (an experiment's mirror variant)."""


class Router:
    """Resolves a request's model reference to the version that answers it."""

    def __init__(
        self,
        registry: ModelRegistry,
        weights: WeightSource | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.registry = registry
        self.weights = weights
        self.experiments: ExperimentSource | None = None
        """Running experiments, which route their model's requests before A/B weights."""
        self._rng = rng or random.Random()
        self._cached: dict[str, tuple[float, tuple[tuple[int, float], ...]]] = {}

    def use_weights(self, weights: WeightSource) -> None:
        """Route by the weights ``weights`` keeps (wired once the platform exists)."""
        self.weights = weights
        self._cached.clear()

    def use_experiments(self, experiments: ExperimentSource) -> None:
        """Route the models of running experiments by their variants' shares."""
        self.experiments = experiments

    def forget_weights(self, model: str | None = None) -> None:
        """Read ``model``'s weights (all models': None) again on its next request."""
        if model is None:
            self._cached.clear()
        else:
            self._cached.pop(model, None)

    async def route(
        self,
        ref: str | None,
        version: int | None,
        entity_id: str | None,
        *,
        default_model: str | None = None,
    ) -> Route:
        """The version for one request (or one item), and why. Raises what
        :class:`ModelRegistry` raises: 404, 409, 422, 503."""
        registry = self.registry
        if ref is not None and "@" in ref:
            return await self._by_alias(ref, version, default_model)
        name, ref_version = registry.split(ref or default_model)
        version = version if version is not None else ref_version
        if version is not None:
            return Route(await registry.resolve_version(name, version), "explicit")
        active = registry.published(name)[1]  # 404 for an unknown model, before any lookup
        experiments = self.experiments
        if experiments is not None and not experiments.surely_idle(name):
            picked = await experiments.variant_for(name, entity_id)
            if picked is not None and picked in active:
                mirror = await experiments.mirror_for(name)
                if mirror == picked or mirror not in active:
                    mirror = None
                model = await registry.resolve_version(name, picked)
                return Route(model, "experiment", mirror)
        weights = self._known_weights(name, active)
        if weights is None:  # not read within the last second
            weights = await self._live_weights(name, active)
        if weights:
            if entity_id:
                point = sticky_point(name, fingerprint(dict(weights)), entity_id)
            else:
                point = self._rng.random()
            picked = pick_version(weights, point)
            model = await registry.resolve_version(name, picked)
            return Route(model, "sticky" if entity_id else "ab")
        released = registry.released_version(name)
        ready = registry.ready_now(name, released)  # what the last second's reads say
        if ready is not None:
            return Route(ready, "default")
        if released is not None:
            try:
                return Route(await registry.resolve_version(name, released), "default")
            except (NotFoundError, ConflictError, ServiceUnavailableError):
                pass  # stopped or still loading: the newest ready version answers
        return Route(await registry.newest_ready(name), "default")

    async def _by_alias(self, ref: str, version: int | None, default_model: str | None) -> Route:
        """``name@alias``: the version the alias names (404 listing the aliases)."""
        model_ref, _, alias = ref.partition("@")
        check_alias(alias)
        if version is not None:
            raise InvalidInputError(
                f"model {ref!r} names an alias; drop the version, or name the model "
                "without '@alias'"
            )
        name, _ = self.registry.split(model_ref or default_model)
        aliases = self.registry.release_state(name).aliases
        picked = aliases.get(alias)
        if picked is None:
            known = ", ".join(f"{a} (v{v})" for a, v in sorted(aliases.items())) or "none"
            raise NotFoundError(
                f"{name} has no alias {alias!r}; its aliases: {known}. Set one with "
                f"PUT /models/{name}/aliases/{{alias}}?version=N",
                detail={"aliases": aliases},
            )
        return Route(await self.registry.resolve_version(name, picked), "alias")

    def _known_weights(self, name: str, active: list[int]) -> tuple[tuple[int, float], ...] | None:
        """:meth:`_live_weights` when no read is due (no weight source, or weights read
        within the last second), without a coroutine; None when they must be read."""
        if self.weights is None:
            return ()
        cached = self._cached.get(name)
        if cached is None or time.monotonic() - cached[0] >= _WEIGHTS_TTL_S:
            return None
        return _over(cached[1], active)

    async def _live_weights(self, name: str, active: list[int]) -> tuple[tuple[int, float], ...]:
        """``name``'s weights over its ``active`` versions (empty: none apply)."""
        if self.weights is None:
            return ()
        now = time.monotonic()
        cached = self._cached.get(name)
        if cached is not None and now - cached[0] < _WEIGHTS_TTL_S:
            weights = cached[1]
        else:
            config = await self.weights.get(name)
            weights = _parse(config.weights) if config is not None else ()
            self._cached[name] = (now, weights)
        return _over(weights, active)


def _over(
    weights: tuple[tuple[int, float], ...], active: list[int]
) -> tuple[tuple[int, float], ...]:
    """The ``weights`` of the ``active`` versions (empty: none apply)."""
    if not weights:
        return ()
    return tuple((v, w) for v, w in weights if v in active)


def _parse(weights: Mapping[str, float]) -> tuple[tuple[int, float], ...]:
    parsed = []
    for label, weight in weights.items():
        digits = label.lstrip("vV")
        if digits.isdigit() and weight > 0:
            parsed.append((int(digits), float(weight)))
    return tuple(sorted(parsed))
