"""Text predictions: resolve, clean, look up the cache, send the misses to Triton.

Misses go to Triton through one :class:`~mlserve.serving.coalescer.CallCoalescer` per model
version: a request goes at once while a call is free, and requests that arrive while the
calls are busy share the next one (Triton's dynamic batcher then merges calls from every
client). The in-flight bound is taken before any work, the deadline is carried to Triton as
both the client timeout and the queue timeout, and monitoring sees every request and
prediction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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
from mlserve.settings import LimitsSettings
from mlserve.triton.client import TritonClient


@dataclass(frozen=True)
class TextPrediction:
    """One text's answer."""

    label: str
    confidence: float
    probabilities: dict[str, float]
    truncated: bool
    cached: bool


@dataclass(frozen=True)
class PredictionBatch:
    """Answers for a request, in input order, with the version that produced them."""

    model: str
    version: int
    predictions: list[TextPrediction]
    latency_ms: float
    triton_ms: float | None = None
    timings: dict[str, float] = field(default_factory=dict)


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
    ) -> PredictionBatch:
        """Predict ``texts`` with model ``ref`` (``name``, ``name-vN`` or None for the
        default). Raises MLServeError subclasses: 404 unknown model/version, 422 bad text
        or timeout, 429 overloaded, 503 Triton unavailable, 504 deadline."""
        started = time.perf_counter()
        deadline = Deadline.from_request(timeout_ms, self.limits)
        model: ResolvedModel | None = None
        try:
            model = await self.registry.resolve(ref, version)
            async with self.limiter.slot(model.name, cost=len(texts)):
                batch = await self._predict(model, texts, deadline, started)
        except MLServeError as exc:
            self._record(endpoint, model, ref, exc.status_code, started)
            raise
        self._record(endpoint, model, ref, 200, started)
        return batch

    async def _predict(
        self, model: ResolvedModel, texts: Sequence[str], deadline: Deadline, started: float
    ) -> PredictionBatch:
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
        labels = model.metadata.labels
        sent_to_triton = set(misses)
        predictions = [
            TextPrediction(
                label=hit.label,
                confidence=hit.confidence,
                probabilities=dict(zip(labels, hit.probabilities, strict=False)),
                truncated=hit.truncated,
                cached=i not in sent_to_triton,
            )
            for i, hit in enumerate(found)
            if hit is not None
        ]
        self._observe(model, cleaned, predictions, prep_s, triton_ms)
        return PredictionBatch(
            model=model.name,
            version=model.version,
            predictions=predictions,
            latency_ms=(time.perf_counter() - started) * 1000,
            triton_ms=triton_ms,
        )

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
            coalescer = self._coalescers[key] = CallCoalescer(
                lambda texts, deadline: self._infer_chunk(model, preprocessor, texts, deadline),
                calls_in_flight=self.calls_in_flight,
                max_batch_size=max(1, self.max_batch_size),
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
        cleaned: list[str],
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
    matrix = np.asarray(probabilities, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != expected:
        raise TritonError(
            f"Triton returned probabilities of shape {matrix.shape} for {expected} texts"
        )
    best = matrix.argmax(axis=1)
    return [
        CachedPrediction(
            label=labels[int(b)] if int(b) < len(labels) else str(int(b)),
            confidence=float(row[b]),
            probabilities=[round(float(p), 6) for p in row],
            truncated=bool(t),
        )
        for row, b, t in zip(matrix, best, truncated, strict=True)
    ]
