"""Text models: an ONNX graph that takes raw strings (TF-IDF pipelines), or token ids made
by the version's own tokenizer (PyTorch and Hugging Face classifiers, kind ``tokens``).

Items are the cleaned texts (cleaning as the version's metadata says); the answer is the
most probable label with every class's probability.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlserve.errors import InvalidInputError, TritonError
from mlserve.kinds.base import Inputs, ModelKind, RecordInputs, ServedModel, TextInputs
from mlserve.preprocessing.pipeline import TextPreprocessor
from mlserve.repository.metadata import ModelMetadata
from mlserve.serving.cache.keys import CachedPrediction


class ServedText(ServedModel):
    """A text or token classifier version."""

    def __init__(self, metadata: ModelMetadata, preprocessor: TextPreprocessor) -> None:
        self.metadata = metadata
        self.preprocessor = preprocessor
        self.fingerprint = preprocessor.fingerprint
        self.outputs = (metadata.outputs[0].name,)
        self.labels = list(metadata.labels)

    def items(self, inputs: Inputs) -> list[Any]:
        if not isinstance(inputs, TextInputs):
            got = "feature records" if isinstance(inputs, RecordInputs) else "a user and candidates"
            raise InvalidInputError(
                f"{self.metadata.name} v{self.metadata.version} is a text model and takes "
                f"text, not {got}: send {TEXT.example(self.metadata)}"
            )
        return self.preprocessor.clean(inputs.texts)

    def cache_text(self, item: Any) -> str:
        return str(item)

    def encode(self, items: Sequence[Any]) -> tuple[dict[str, npt.NDArray[Any]], list[bool]]:
        return self.preprocessor.inputs_for(items)

    def decode(
        self, outputs: Mapping[str, npt.NDArray[Any]], truncated: Sequence[bool]
    ) -> list[CachedPrediction]:
        return probabilities_to_predictions(
            outputs[self.outputs[0]], self.labels, truncated, len(truncated)
        )

    def drift_input(self, item: Any) -> str:
        return str(item)


def probabilities_to_predictions(
    probabilities: Any, labels: list[str], truncated: Sequence[bool], expected: int
) -> list[CachedPrediction]:
    """One prediction per row of Triton's probabilities: the first best label (the first
    class in ``labels`` order on a tie, as scikit-learn's ``classes_[argmax]``), its
    probability, and every probability rounded to 6 places (numpy rounds all rows at once;
    a Python ``round`` per value cost 4x more at batch 8)."""
    matrix = np.asarray(probabilities, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != expected:
        raise TritonError(f"Triton returned probabilities of shape {matrix.shape} for {expected}")
    known = len(labels)
    predictions = []
    for row, rounded, cut in zip(matrix.tolist(), matrix.round(6).tolist(), truncated, strict=True):
        confidence = max(row)
        best = row.index(confidence)
        label = labels[best] if best < known else str(best)
        predictions.append(CachedPrediction(label, confidence, tuple(rounded), bool(cut)))
    return predictions


class TextKind(ModelKind):
    """Raw text in; the ONNX graph (or the version's tokenizer) does the rest."""

    input_form = "text"

    def __init__(self, name: str, description: str) -> None:
        self.name = name
        self.description = description

    def serve(self, metadata: ModelMetadata, version_dir: Path) -> ServedModel:
        return ServedText(metadata, TextPreprocessor.for_version(metadata, version_dir))

    def example(self, metadata: ModelMetadata) -> str:
        return json.dumps({"text": "This product is amazing!", "model": metadata.name})


TEXT = TextKind("text", "scikit-learn text pipelines: raw strings into the ONNX graph")
TOKENS = TextKind(
    "tokens", "PyTorch / Hugging Face classifiers: token ids from the version's tokenizer"
)
