"""The one internal request and answer every predict route speaks.

Transports (``/predict``, ``/batch-predict``, ``/api/v1/predict``, the Open Inference
Protocol) parse their own wire format into a :class:`PredictRequest` and render a
:class:`PredictionBatch` back in their own shape; the data plane knows neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from mlserve.kinds.base import Inputs

RoutedBy = Literal["explicit", "alias", "experiment", "ab", "sticky", "default"]
"""Why a version answered: named by the request, named by an alias (``name@champion``),
assigned by a running experiment, drawn by A/B weights, pinned by the request's entity id
under A/B weights, or the model's default version (Production, else the ``champion``
alias, else the newest ready)."""


@dataclass(frozen=True, slots=True)
class PredictRequest:
    """What a client asked for, whatever route it came through."""

    inputs: Inputs
    model: str | None = None
    """``name`` or ``name-v<N>``; None: the default model for the inputs' form."""
    version: int | None = None
    """An explicit version (wins over a ``-v<N>`` suffix)."""
    entity_ids: Sequence[str | None] | None = None
    """Sticky routing keys: one for the whole request, or one per input item."""
    timeout_ms: float | None = None
    endpoint: str = "predict"
    """Metric label of the route (``predict``, ``batch-predict``, ``api_v1``, ``v2``)."""
    route_each_item: bool = False
    """Route every item on its own (``/api/v1``: per-record versions); otherwise the
    whole request goes to one version."""


class Prediction(NamedTuple):
    """One item's answer (a named tuple: built for every answer, cheaper than a class)."""

    label: str | None
    confidence: float | None
    probabilities: dict[str, float] | None
    truncated: bool
    cached: bool
    value: Any = None
    """The regression value(s), or 1/-1 for anomaly detectors."""
    score: float | None = None
    """Anomaly score (the native ``decision_function``: negative means outlier), or a
    recommender's score of a candidate."""
    details: dict[str, Any] | None = None
    """A causal model's outcome and effect per action (:mod:`mlserve.kinds.causal`)."""


class Timings(NamedTuple):
    """Where a request's time went, in seconds (parts of calls it shared included)."""

    total_s: float
    preprocess_s: float
    """Validation, cleaning and tensor building (tokenization included)."""
    queue_s: float
    """Waiting for a shared Triton call."""
    triton_s: float | None
    """The Triton round trip; None when every answer came from the cache."""


class PredictionBatch(NamedTuple):
    """Answers in input order, with the version(s) that produced them."""

    model: str
    version: int
    """The version that answered (the first item's, under per-item routing)."""
    predictions: list[Prediction]
    routed_by: RoutedBy
    timings: Timings
    kind: str
    """The ``input_kind`` of the answering version."""
    versions: tuple[int, ...] | None = None
    """Per item, under per-item routing."""
    ranking: list[dict[str, Any]] | None = None
    """A recommender's candidates by score (``id``, ``score``, ``rank``, ``cached``), the
    first ``top_k``; None for other kinds (:meth:`ServedModel.rank`)."""

    @property
    def latency_ms(self) -> float:
        return self.timings.total_s * 1000
