"""Custom Python models: a user's ``predict(records)`` served by Triton's Python backend.

Seed S4's heuristic rule model is the example: a ``.py`` file with a ``predict`` function
(or a class with a ``predict`` method) that maps feature records to labels or values,
optionally ``predict_proba``. ``mlserve load rules.py`` publishes it as a version like any
other model (:mod:`mlserve.converters.custom_python`); Triton runs it in the Python-based
backend ``mlserve_python`` (:mod:`mlserve.triton.backend.python_model`), so versioning,
routing, batching, caching and monitoring are the same as for ONNX models. Requests carry
records exactly as for tabular models.
"""

from __future__ import annotations

from pathlib import Path

from mlserve.kinds.base import ModelKind, ServedModel
from mlserve.kinds.tabular import TABULAR, ServedTabular
from mlserve.repository.metadata import ModelMetadata

PYTHON_BACKEND = "mlserve_python"
"""The Python-based Triton backend that runs custom models."""


class ServedCustom(ServedTabular):
    """Records in, the user's code in Triton out: same contract as a tabular version."""

    def __init__(self, metadata: ModelMetadata) -> None:
        super().__init__(metadata)
        self.fingerprint = f"custom:{metadata.version}"


class CustomKind(ModelKind):
    """A user's Python ``predict(records)`` run by Triton's Python backend."""

    name = "custom"
    input_form = "records"
    description = "custom Python: a predict(records) function or class (rules, heuristics)"

    def serve(self, metadata: ModelMetadata, version_dir: Path) -> ServedModel:
        return ServedCustom(metadata)

    def triton_backend(self, default: str) -> str:
        return PYTHON_BACKEND

    def example(self, metadata: ModelMetadata) -> str:
        return TABULAR.example(metadata)


CUSTOM = CustomKind()
