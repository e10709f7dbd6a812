"""The one predict core every route calls: resolve, validate, preprocess, cache, infer,
decode, observe.

Usage (the stack builds it; routes only translate HTTP)::

    batch = await dataplane.predict(PredictRequest(TextInputs(["great"]), model="sentiment"))
    batch.predictions[0].label, batch.model, batch.version, batch.routed_by, batch.timings

Steps, the same for every kind and route: the :class:`~mlserve.dataplane.routing.Router`
picks the version (explicit, A/B, sticky, default); the in-flight bound is taken; the
version's kind validates and canonicalizes the inputs into items (422 naming the field);
the cache answers the items it knows; the rest go to Triton through shared calls
(:mod:`mlserve.dataplane.inference`); the :class:`~mlserve.dataplane.observer.Observer`
records the request (every status, 5xx included) and its predictions (an answered one's
after the answer, in the wait for Triton: :mod:`mlserve.dataplane.bookkeeping`); when an experiment
has a mirror variant, a copy goes there in the background (:mod:`mlserve.dataplane.mirror`).
A request body answered before can be answered again from what that took
(:meth:`DataPlane.replay`, called by the HTTP edge, which remembers bodies).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from mlserve.dataplane.bookkeeping import Bookkeeping
from mlserve.dataplane.inference import SharedCalls
from mlserve.dataplane.mirror import Mirror
from mlserve.dataplane.observer import Observer
from mlserve.dataplane.request import Prediction, PredictionBatch, PredictRequest, Timings
from mlserve.dataplane.routing import Route, Router
from mlserve.errors import InvalidInputError, MLServeError, NotFoundError
from mlserve.kinds import Inputs, RankingInputs, RecordInputs, TextInputs
from mlserve.monitoring.request_context import current_request
from mlserve.serving.cache.base import PredictionCache
from mlserve.serving.cache.keys import CachedPrediction, CacheKey
from mlserve.serving.deadline import Deadline
from mlserve.serving.limiter import InflightLimiter
from mlserve.serving.registry import ResolvedModel
from mlserve.settings import LimitsSettings


@dataclass(frozen=True, slots=True)
class Answered:
    """What answering a request took, enough to answer the same request again
    (:meth:`DataPlane.replay`)."""

    request: PredictRequest
    model: ResolvedModel
    routed_by: str
    items: tuple[Any, ...]
    predictions: tuple[CachedPrediction, ...]


class DataPlane:
    """Serves every kind of model published in the repository through Triton."""

    def __init__(
        self,
        router: Router,
        calls: SharedCalls,
        cache: PredictionCache,
        limiter: InflightLimiter,
        limits: LimitsSettings,
        observer: Observer,
        *,
        default_text_model: str,
        default_record_model: str,
        mirror: Mirror | None = None,
        bookkeeping: Bookkeeping | None = None,
    ) -> None:
        self.router = router
        self.calls = calls
        self.cache = cache
        self.limiter = limiter
        self.limits = limits
        self.observer = observer
        self.default_text_model = default_text_model
        self.default_record_model = default_record_model
        self.mirror = mirror
        """Copies to an experiment's mirror variant, after the answer (never waited for)."""
        self.bookkeeping = bookkeeping or Bookkeeping(max_pending=1)
        """Where an answered request's observations wait for the loop's idle moment
        (without one: each runs at once)."""

    async def predict(self, request: PredictRequest) -> PredictionBatch:
        """Answers for ``request``'s inputs, in order. Raises MLServeError subclasses: 404
        unknown model/version, 409 version not served, 422 bad input or timeout, 429
        overloaded, 503 Triton unavailable, 504 deadline."""
        return (await self.predict_and_keep(request))[1]

    async def predict_and_keep(
        self, request: PredictRequest
    ) -> tuple[Answered | None, PredictionBatch]:
        """:meth:`predict`, plus what a later :meth:`replay` of the same request needs (None
        when the request cannot be replayed: drawn by A/B weights, or routed per item)."""
        started = time.perf_counter()
        deadline = Deadline.from_request(request.timeout_ms, self.limits)
        model: ResolvedModel | None = None
        try:
            if request.route_each_item and request.version is None:
                answered = None
                model, batch = await self._per_item(request, deadline, started)
            else:
                entity = request.entity_ids[0] if request.entity_ids else None
                route = await self._route(request, entity)
                model = route.model
                answered, batch = await self._answer(route, request, deadline, started)
        except MLServeError as exc:
            self.observer.request(request.endpoint, model, exc.status_code, _since(started))
            raise
        except Exception:
            self.observer.request(request.endpoint, model, 500, _since(started))
            raise
        self.bookkeeping.defer(self.observer.request, request.endpoint, model, 200, _since(started))
        _describe(batch)
        return answered, batch

    async def replay(self, answered: Answered) -> PredictionBatch | None:
        """The answer to ``answered.request`` again, all of it from what it took, when the
        same version still answers it; None otherwise (do the whole work). Costs no
        in-flight slot and no deadline: it never waits. Monitoring counts it like any
        cache hit."""
        started = time.perf_counter()
        request = answered.request
        entity = request.entity_ids[0] if request.entity_ids else None
        try:
            route = await self._route(request, entity)
        except MLServeError:
            return None
        if route.model is not answered.model:  # another version answers now, or none does
            return None
        model = route.model
        predictions = _answers(model, answered.predictions, sent=())
        elapsed = _since(started)
        timings = Timings(elapsed, 0.0, 0.0, None)
        defer = self.bookkeeping.defer
        defer(self.observer.predictions, model, answered.items, answered.predictions, (), timings)
        defer(self.observer.request, request.endpoint, model, 200, _since(started))
        batch = PredictionBatch(
            model.name,
            model.version,
            predictions,
            route.routed_by,
            timings,
            model.kind.name,
            ranking=model.served.rank(request.inputs, predictions),
        )
        _describe(batch)
        return batch

    async def _route(self, request: PredictRequest, entity: str | None) -> Route:
        texts = isinstance(request.inputs, TextInputs)
        default = self.default_text_model if texts else self.default_record_model
        try:
            return await self.router.route(
                request.model, request.version, entity, default_model=default
            )
        except NotFoundError:
            if request.model is not None or texts:
                raise
            # Records and no model name: most likely a text request with a misspelt field.
            raise InvalidInputError(
                "the body has no text and names no model, so its fields were read as a "
                f"record for the default tabular model {default!r}, which is not published: "
                'send {"text": "..."} (text models) or name the model with "model"'
            ) from None

    async def _answer(
        self, route: Route, request: PredictRequest, deadline: Deadline, started: float
    ) -> tuple[Answered | None, PredictionBatch]:
        model = route.model
        inputs = request.inputs
        with self.limiter.slot(model.name, cost=len(inputs)):
            items, found, sent, timings = await self._run(model, inputs, deadline, started)
        predictions = _answers(model, found, sent=sent)
        self.bookkeeping.defer(self.observer.predictions, model, items, found, sent, timings)
        if route.mirror is not None and self.mirror is not None:
            self.mirror.copy(model.name, route.mirror, inputs, found)
        batch = PredictionBatch(
            model.name,
            model.version,
            predictions,
            route.routed_by,
            timings,
            model.kind.name,
            ranking=model.served.rank(inputs, predictions),
        )
        if route.routed_by in ("ab", "experiment"):  # a draw: the same body may go elsewhere
            return None, batch
        return Answered(request, model, route.routed_by, tuple(items), tuple(found)), batch

    async def _run(
        self, model: ResolvedModel, inputs: Inputs, deadline: Deadline, started: float
    ) -> tuple[list[Any], list[CachedPrediction], list[int], Timings]:
        """Items, their predictions, which came from Triton, and the timings."""
        served = model.served
        prep_started = time.perf_counter()
        items = served.items(inputs)
        name, version, fingerprint, cache_text = (
            model.name,
            model.version,
            served.fingerprint,
            served.cache_text,
        )
        keys = [CacheKey(name, version, fingerprint, cache_text(item)) for item in items]
        preprocess_s = time.perf_counter() - prep_started
        found = await self.cache.get_many(keys)
        misses = [i for i, hit in enumerate(found) if hit is None]
        if not misses:  # every answer cached: no None left in found
            timings = Timings(_since(started), preprocess_s, 0.0, None)
            return items, cast(list[CachedPrediction], found), misses, timings
        if len(misses) == len(found):  # none cached: the usual cold request
            answer = await self.calls.infer(model, items, deadline)
            answered = answer.predictions
            await self.cache.set_many(list(zip(keys, answered, strict=True)))
        else:
            answer = await self.calls.infer(model, [items[i] for i in misses], deadline)
            for index, prediction in zip(misses, answer.predictions, strict=True):
                found[index] = prediction
            await self.cache.set_many(
                [(keys[i], p) for i, p in zip(misses, answer.predictions, strict=True)]
            )
            answered = [hit for hit in found if hit is not None]
        preprocess_s += answer.encode_s
        timings = Timings(_since(started), preprocess_s, answer.waited_s, answer.infer_s)
        return items, answered, misses, timings

    async def _per_item(
        self, request: PredictRequest, deadline: Deadline, started: float
    ) -> tuple[ResolvedModel, PredictionBatch]:
        """Each item routed on its own (A/B per record, sticky per entity id); the first
        item's version (monitoring labels the request with it) and the answers."""
        inputs = request.inputs
        n = len(inputs)
        ids: Sequence[str | None] = request.entity_ids or [None] * n
        routes = [await self._route(request, entity) for entity in ids]
        groups: dict[int, list[int]] = {}
        for i, route in enumerate(routes):
            groups.setdefault(route.model.version, []).append(i)

        async def group(indexes: list[int]) -> tuple[list[int], PredictionBatch]:
            part = _subset(inputs, indexes)
            sub = PredictRequest(part, request.model, endpoint=request.endpoint)
            _, batch = await self._answer(routes[indexes[0]], sub, deadline, started)
            return indexes, batch

        parts = await asyncio.gather(*(group(ix) for ix in groups.values()))
        predictions: list[Prediction | None] = [None] * n
        versions = [0] * n
        slowest = max((batch.timings for _, batch in parts), key=lambda t: t.total_s)
        for indexes, batch in parts:
            for i, prediction in zip(indexes, batch.predictions, strict=True):
                predictions[i] = prediction
                versions[i] = batch.version
        first = routes[0]
        return first.model, PredictionBatch(
            first.model.name,
            versions[0],
            [p for p in predictions if p is not None],
            first.routed_by,
            slowest._replace(total_s=_since(started)),
            first.model.kind.name,
            tuple(versions),
        )


def _subset(inputs: Inputs, indexes: list[int]) -> Inputs:
    if isinstance(inputs, TextInputs):
        return TextInputs([inputs.texts[i] for i in indexes])
    if isinstance(inputs, RankingInputs):  # one user's candidates go to one version
        raise InvalidInputError("a ranking request is answered by one version: name none per item")
    return RecordInputs([inputs.records[i] for i in indexes])


def _answers(
    model: ResolvedModel, found: Sequence[CachedPrediction], *, sent: Sequence[int]
) -> list[Prediction]:
    """The answers to ``found``, labelled; those at positions ``sent`` came from Triton."""
    labels = model.metadata.labels
    if len(sent) == len(found) or not sent:  # all from Triton, or all from the cache
        cached = [not sent] * len(found)
    else:
        sent_to_triton = set(sent)
        cached = [i not in sent_to_triton for i in range(len(found))]
    return [
        Prediction(
            hit.label,
            hit.confidence,
            dict(zip(labels, hit.probabilities, strict=False))
            if hit.probabilities is not None
            else None,
            hit.truncated,
            from_cache,
            hit.value,
            hit.score,
            hit.details,
        )
        for hit, from_cache in zip(found, cached, strict=True)
    ]


def _describe(batch: PredictionBatch) -> None:
    """What the request log line says of this answer (:mod:`mlserve.monitoring.request_context`:
    a few attribute writes on the request's record, or on a detached one outside a request)."""
    record = current_request()
    record.model = batch.model
    record.version = batch.version
    predictions = batch.predictions
    record.cached = (
        predictions[0].cached if len(predictions) == 1 else all(p.cached for p in predictions)
    )
    record.routed_by = batch.routed_by
    timings = batch.timings
    parts = {"preprocess_ms": timings.preprocess_s * 1000, "queue_ms": timings.queue_s * 1000}
    if timings.triton_s is not None:
        parts["triton_ms"] = timings.triton_s * 1000
    record.timings = parts


def _since(started: float) -> float:
    return time.perf_counter() - started
