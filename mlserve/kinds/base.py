"""What a kind of model is: how requests for it become tensors and tensors answers.

A *kind* (text, tokens, tabular, custom Python, ...) is one module under
:mod:`mlserve.kinds` that defines a :class:`ModelKind` and registers it in
:data:`mlserve.kinds.KINDS`. For each published version the kind builds a
:class:`ServedModel` from the version's metadata: the object the data plane uses on every
request to validate inputs, key the cache, encode tensors for Triton, decode Triton's
outputs and hand inputs to drift monitoring. Nothing here knows HTTP or Triton's wire format.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy.typing as npt

from mlserve.repository.metadata import ModelMetadata
from mlserve.serving.cache.keys import CachedPrediction

InputForm = Literal["text", "records", "ranking"]
"""What a request carries for a kind: texts, feature records, or one user's candidates."""


@dataclass(frozen=True, slots=True)
class TextInputs:
    """Texts, in request order."""

    texts: Sequence[str]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True, slots=True)
class RecordInputs:
    """Feature records in request order: objects by feature name, or positional rows in the
    model's feature order."""

    records: Sequence[Mapping[str, Any] | Sequence[Any]]

    def __len__(self) -> int:
        return len(self.records)


@dataclass(frozen=True, slots=True)
class RankingInputs:
    """One user and the candidates to rank for them (:mod:`mlserve.kinds.recommender`):
    each candidate is an object of its id and item features. Its items are the candidates,
    in request order; ranking them by score is the answer's job, ``top_k`` its length."""

    user: Mapping[str, Any]
    candidates: Sequence[Any]
    top_k: int | None = None

    def __len__(self) -> int:
        return len(self.candidates)


Inputs = TextInputs | RecordInputs | RankingInputs


class ServedModel(ABC):
    """One published version, ready to serve: built once per version, used per request.

    ``items`` turns a request's inputs into hashable canonical items (a cleaned text, a
    record's values in feature order); everything after works on items, so requests of
    different clients can share one Triton call.
    """

    fingerprint: str
    """Part of every cache key: changes whenever the same item could be answered differently."""
    outputs: tuple[str, ...]
    """Triton outputs to ask for."""
    drift_names: tuple[str, ...] | None = None
    """The feature names of :meth:`drift_input`'s mapping when they are the same for every
    item of the version, in order (monitoring reads them here instead of building the
    first item's mapping per request); None: read them off an item."""
    rows_per_item: int = 1
    """Rows one item becomes in Triton's batch (a causal model's: one per action); calls
    carry at most ``max_batch_size // rows_per_item`` items."""

    @abstractmethod
    def items(self, inputs: Inputs) -> list[Any]:
        """Validate and canonicalize; InvalidInputError names the field and the fix."""

    @abstractmethod
    def cache_text(self, item: Any) -> str:
        """The item as text for its cache key."""

    @abstractmethod
    def encode(self, items: Sequence[Any]) -> tuple[dict[str, npt.NDArray[Any]], list[bool]]:
        """Triton input tensors for ``items``, and which items were truncated."""

    @abstractmethod
    def decode(
        self, outputs: Mapping[str, npt.NDArray[Any]], truncated: Sequence[bool]
    ) -> list[CachedPrediction]:
        """One prediction per item from Triton's outputs; TritonError on a shape mismatch."""

    @abstractmethod
    def drift_input(self, item: Any) -> str | Mapping[str, Any]:
        """What drift monitoring sees of an item: the text, or the record by feature name."""

    def rank(self, inputs: Inputs, predictions: Sequence[Any]) -> list[dict[str, Any]] | None:
        """For kinds whose answer orders the items (recommenders): the ranked items of
        ``inputs`` given their ``predictions`` (the data plane's answers, in item order);
        None for every other kind."""
        return None


class ModelKind(ABC):
    """A kind of model: one instance per kind, registered in :data:`mlserve.kinds.KINDS`."""

    name: str
    """The ``input_kind`` stored in a version's metadata."""
    input_form: InputForm
    """What requests carry: texts or records."""
    description: str
    """One line for docs and error messages."""

    @abstractmethod
    def serve(self, metadata: ModelMetadata, version_dir: Path) -> ServedModel:
        """The runtime of one published version (loads tokenizers, specs, ...)."""

    def triton_backend(self, default: str) -> str:
        """The Triton backend that runs this kind (``default``: the configured ONNX one)."""
        return default

    @abstractmethod
    def example(self, metadata: ModelMetadata) -> str:
        """An example ``/predict`` body for a version of this kind, for error messages."""
