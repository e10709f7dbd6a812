"""Text predictions: resolve, clean, look up the cache, send the misses to Triton.

Misses go to Triton through one :class:`~mlserve.serving.coalescer.CallCoalescer` per model
version: a request goes at once while a call is free, and requests that arrive while the
calls are busy share the next one (Triton's dynamic batcher then merges calls from every
client). The in-flight bound is taken before any work, the deadline is carried to Triton as
both the client timeout and the queue timeout, and monitoring sees every request and
prediction. A request body answered before is answered again from what that took
(:mod:`mlserve.serving.repeats`, :meth:`Predictor.replay`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from mlserve.errors import MLServeError, TritonError
from mlserve.monitoring.hub import MonitoringHub
from mlserve.monitoring.recorder import PredictionRecorder
from mlserve.preprocessing.pipeline import TextPreprocessor
from mlserve.serving.cache.base import PredictionCache
from mlserve.serving.cache.keys import CachedPrediction, CacheKey
from mlserve.serving.coalescer import CallCoalescer, InferTexts
from mlserve.serving.deadline import Deadline
from mlserve.serving.limiter import InflightLimiter
from mlserve.serving.registry import ModelRegistry, ResolvedModel
from mlserve.serving.repeats import Repeat, RepeatedRequests
from mlserve.settings import LimitsSettings
from mlserve.triton.client import TritonClient


class TextPrediction(NamedTuple):
    """One text's answer (a named tuple: built for every answer, cheaper than a dataclass)."""

    label: str
    confidence: float
    probabilities: dict[str, float]
    truncated: bool
    cached: bool


class PredictionBatch(NamedTuple):
    """Answers for a request, in input order, with the version that produced them."""

    model: str
    version: int
    predictions: list[TextPrediction]
    latency_ms: float
    triton_ms: float | None = None


@dataclass
class Predictor:
    """Serves text classifiers published in the repository through Triton."""

    registry: ModelRegistry
    triton: TritonClient
    cache: PredictionCache
    limiter: InflightLimiter
    limits: LimitsSettings
    monitoring: MonitoringHub | None = None
    recorder: PredictionRecorder | None = None
    """Where predictions go for drift monitoring (off the request path)."""
    max_batch_size: int = 64
    """Triton's ``max_batch_size``: larger requests are split into several Triton calls."""
    calls_in_flight: int = 1
    """Triton calls in flight per model version; 0 sends each request as its own call."""
    gather_turns: int = 0
    """Event-loop turns a shared call waits for more requests (:class:`CallCoalescer`)."""
    repeats: RepeatedRequests | None = None
    """Request bodies answered before (None: every request does the whole work)."""
    _coalescers: dict[tuple[str, int, str], CallCoalescer] = field(
        default_factory=dict, init=False, repr=False
    )

    async def predict_texts(
        self,
        ref: str | None,
        texts: Sequence[str],
        *,
        version: int | None = None,
        timeout_ms: float | None = None,
        endpoint: str = "predict",
        remember_as: bytes | None = None,
    ) -> PredictionBatch:
        """Predict ``texts`` with model ``ref`` (``name``, ``name-vN`` or None for the
        default). Raises MLServeError subclasses: 404 unknown model/version, 422 bad text
        or timeout, 429 overloaded, 503 Triton unavailable, 504 deadline.

        With ``remember_as`` (the request body these arguments came from), a later
        :meth:`replay` of the same body at the same ``endpoint`` answers from this one's
        work."""
        started = time.perf_counter()
        deadline = Deadline.from_request(timeout_ms, self.limits)
        model: ResolvedModel | None = None
        try:
            model = await self.registry.resolve(ref, version)
            async with self.limiter.slot(model.name, cost=len(texts)):
                batch, cleaned, answered = await self._predict(model, texts, deadline, started)
        except MLServeError as exc:
            self._record(endpoint, model, ref, exc.status_code, started)
            raise
        self._record(endpoint, model, ref, 200, started)
        if remember_as is not None and self.repeats is not None:
            repeat = Repeat(ref, version, model, cleaned, answered)
            self.repeats.put(endpoint, remember_as, repeat)
        return batch

    async def replay(self, body: bytes, *, endpoint: str = "predict") -> PredictionBatch | None:
        """The answer to a request ``body`` given to :meth:`predict_texts` before as
        ``remember_as`` with the same ``endpoint``, all of it from the cache, when the same
        model version still answers it; None otherwise (then do the whole work).

        Costs no in-flight slot and no deadline: it never waits. Monitoring counts it like
        any cache hit."""
        repeats = self.repeats
        repeat = repeats.get(endpoint, body) if repeats is not None else None
        if repeats is None or repeat is None:
            return None
        started = time.perf_counter()
        try:
            model = await self.registry.resolve(repeat.ref, repeat.version)
        except MLServeError:
            model = None
        if model is not repeat.model:  # another version answers now, or none does
            repeats.forget(endpoint, body)
            return None
        predictions = self._answers(model, repeat.predictions, sent=())
        self._observe(model, repeat.cleaned, predictions, time.perf_counter() - started, None)
        self._record(endpoint, model, repeat.ref, 200, started)
        return PredictionBatch(
            model=model.name,
            version=model.version,
            predictions=predictions,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    async def _predict(
        self, model: ResolvedModel, texts: Sequence[str], deadline: Deadline, started: float
    ) -> tuple[PredictionBatch, tuple[str, ...], tuple[CachedPrediction, ...]]:
        """The answers, and the cleaned texts and predictions they came from."""
        preprocessor = self.registry.preprocessor(model)
        cleaned = preprocessor.clean(texts)
        keys = [
            CacheKey(model.name, model.version, preprocessor.fingerprint, text) for text in cleaned
        ]
        found = await self.cache.get_many(keys)
        misses = [i for i, hit in enumerate(found) if hit is None]
        triton_ms: float | None = None
        prep_s = time.perf_counter() - started
        if misses:
            sent = time.perf_counter()
            fresh = await self._infer(model, preprocessor, [cleaned[i] for i in misses], deadline)
            prep_s = time.perf_counter() - started - (time.perf_counter() - sent)
            triton_ms = (time.perf_counter() - sent) * 1000
            for index, prediction in zip(misses, fresh, strict=True):
                found[index] = prediction
            await self.cache.set_many([(keys[i], p) for i, p in zip(misses, fresh, strict=True)])
        answered = tuple(hit for hit in found if hit is not None)
        predictions = self._answers(model, answered, sent=misses)
        self._observe(model, cleaned, predictions, prep_s, triton_ms)
        batch = PredictionBatch(
            model=model.name,
            version=model.version,
            predictions=predictions,
            latency_ms=(time.perf_counter() - started) * 1000,
            triton_ms=triton_ms,
        )
        return batch, tuple(cleaned), answered

    @staticmethod
    def _answers(
        model: ResolvedModel, found: Sequence[CachedPrediction], *, sent: Sequence[int]
    ) -> list[TextPrediction]:
        """The answers to ``found``, labelled; those at positions ``sent`` came from Triton."""
        labels = model.metadata.labels
        sent_to_triton = set(sent)
        return [
            TextPrediction(
                label=hit.label,
                confidence=hit.confidence,
                probabilities=dict(zip(labels, hit.probabilities, strict=False)),
                truncated=hit.truncated,
                cached=i not in sent_to_triton,
            )
            for i, hit in enumerate(found)
        ]

    async def _infer(
        self,
        model: ResolvedModel,
        preprocessor: TextPreprocessor,
        cleaned: list[str],
        deadline: Deadline,
    ) -> list[CachedPrediction]:
        """Triton calls for ``cleaned``: one per ``max_batch_size`` texts, sent together."""
        size = max(1, self.max_batch_size)
        send = self._sender(model, preprocessor)
        if len(cleaned) <= size:
            return await send(cleaned, deadline)
        chunks = [cleaned[i : i + size] for i in range(0, len(cleaned), size)]
        results = await asyncio.gather(*(send(chunk, deadline) for chunk in chunks))
        return [prediction for chunk in results for prediction in chunk]

    def _sender(self, model: ResolvedModel, preprocessor: TextPreprocessor) -> InferTexts:
        """How texts for ``model`` reach Triton: its coalescer, or direct calls."""
        if self.calls_in_flight < 1:
            return lambda texts, deadline: self._infer_chunk(model, preprocessor, texts, deadline)
        key = (model.name, model.version, preprocessor.fingerprint)
        coalescer = self._coalescers.get(key)
        if coalescer is None:
            # Idle coalescers of this model's other versions go (they hold preprocessors).
            for other in [k for k, c in self._coalescers.items() if k[0] == key[0] and c.idle]:
                del self._coalescers[other]
            # No call can hold more texts than the in-flight bound admits: none waits for more.
            call_texts = min(self.max_batch_size, self.limits.max_inflight_per_model)
            coalescer = self._coalescers[key] = CallCoalescer(
                lambda texts, deadline: self._infer_chunk(model, preprocessor, texts, deadline),
                calls_in_flight=self.calls_in_flight,
                max_batch_size=max(1, call_texts),
                gather_turns=self.gather_turns,
            )
        return coalescer.predict

    async def _infer_chunk(
        self,
        model: ResolvedModel,
        preprocessor: TextPreprocessor,
        cleaned: list[str],
        deadline: Deadline,
    ) -> list[CachedPrediction]:
        inputs, truncated = preprocessor.inputs_for(cleaned)
        output = model.metadata.outputs[0].name
        result = await self.triton.infer(
            model.name,
            model.version,
            inputs,
            [output],
            timeout_s=deadline.client_timeout_s("preprocessing"),
            queue_timeout_us=deadline.queue_timeout_us("preprocessing"),
        )
        return _to_predictions(result[output], model.metadata.labels, truncated, len(cleaned))

    def _observe(
        self,
        model: ResolvedModel,
        cleaned: Sequence[str],
        predictions: list[TextPrediction],
        prep_s: float,
        triton_ms: float | None,
    ) -> None:
        hub = self.monitoring
        if hub is None:
            return
        metrics = hub.metrics
        metrics.observe_preprocessing(model.name, prep_s)
        if triton_ms is not None:
            metrics.observe_triton_call(model.name, model.version, triton_ms / 1000)
        for text, prediction in zip(cleaned, predictions, strict=True):
            metrics.observe_cache(model.name, hit=prediction.cached)
            if self.recorder is not None:
                self.recorder.record(
                    model.name,
                    model.version,
                    text,
                    list(prediction.probabilities.values()),
                    prediction.label,
                )

    def _record(
        self,
        endpoint: str,
        model: ResolvedModel | None,
        ref: str | None,
        status: int,
        started: float,
    ) -> None:
        if self.monitoring is None:
            return
        # An unresolved name is client input: never a metric label (unbounded cardinality).
        name = model.name if model else "-"
        self.monitoring.record_request(
            endpoint, name, model.version if model else None, status, time.perf_counter() - started
        )


def _to_predictions(
    probabilities: Any, labels: list[str], truncated: list[bool], expected: int
) -> list[CachedPrediction]:
    """One prediction per row of Triton's probabilities: the first best label, its
    probability, and every probability rounded to 6 places (numpy rounds all rows at once;
    a Python ``round`` per value cost 4x more at batch 8)."""
    matrix = np.asarray(probabilities, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != expected:
        raise TritonError(
            f"Triton returned probabilities of shape {matrix.shape} for {expected} texts"
        )
    known = len(labels)
    predictions = []
    for row, rounded, cut in zip(matrix.tolist(), matrix.round(6).tolist(), truncated, strict=True):
        confidence = max(row)
        best = row.index(confidence)
        label = labels[best] if best < known else str(best)
        predictions.append(CachedPrediction(label, confidence, tuple(rounded), bool(cut)))
    return predictions
