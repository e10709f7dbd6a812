"""Feature records in, predictions out: tabular model versions served by Triton.

Implements :class:`mlserve.platform.protocols.TabularPredictor` for ``/api/v1/predict``.
A version's ``metadata.json`` says everything needed: the feature spec
(``preprocessing``, rebuilt with :meth:`TabularSpec.from_dict`), the outputs, the task and
the class labels. Records become tensors with
:func:`mlserve.converters.tabular.records.records_to_inputs` (which names a bad
``records[i].feature``); batches larger than the model's ``max_batch_size`` are split and
sent concurrently, so Triton's dynamic batcher sees requests it accepts.

Answers, one per record: ``{"prediction": ..., "probabilities": {label: p} | None}`` —
the most probable label for classifiers (a number when the label is one), the value (or
list of values) for regressors, ``1``/``-1`` (inlier/outlier) plus ``score`` for anomaly
detectors. Metadata is cached per version and re-read when its file changes (a version
removed and deployed again under the same number).
"""

from __future__ import annotations

import asyncio
import math
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlserve.converters.tabular.records import records_to_inputs
from mlserve.converters.tabular.spec import (
    LABEL,
    PREDICTION,
    PROBABILITIES,
    SCORES,
    TabularSpec,
)
from mlserve.errors import InvalidInputError, MLServeError
from mlserve.repository.metadata import METADATA_FILE, ModelMetadata
from mlserve.repository.store import ModelRepository
from mlserve.triton.client import TritonClient

_INTEGER = re.compile(r"^-?\d{1,18}$")


@dataclass(frozen=True)
class _Version:
    """What serving one version needs, read once from its metadata."""

    stamp: tuple[int, int]
    metadata: ModelMetadata
    spec: TabularSpec
    outputs: tuple[str, ...]


def label_value(label: str) -> Any:
    """Class labels are stored as text; give numbers back as numbers (``"1"`` -> ``1``)."""
    if _INTEGER.match(label):
        return int(label)
    try:
        number = float(label)
    except ValueError:
        return label
    return number if math.isfinite(number) else label


class TabularPredictor:
    """Runs tabular versions in Triton on feature records."""

    def __init__(
        self,
        repository: ModelRepository,
        triton: TritonClient,
        *,
        timeout_s: float | None = None,
        max_batch_size: int | None = None,
    ) -> None:
        self.repository = repository
        self.triton = triton
        self.timeout_s = timeout_s
        self.max_batch_size = max(1, max_batch_size or repository.options.max_batch_size)
        self._versions: dict[tuple[str, int], _Version] = {}

    async def predict_records(
        self, name: str, version: int, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """One result per record, in order; InvalidInputError names a bad feature,
        NotFoundError an unknown version, Triton failures keep their own status."""
        served = await self._version(name, version)
        inputs = records_to_inputs(records, served.spec)
        n = len(records)
        step = self.max_batch_size
        chunks = await asyncio.gather(
            *(
                self.triton.infer(
                    name,
                    version,
                    {key: array[start : start + step] for key, array in inputs.items()},
                    served.outputs,
                    timeout_s=self.timeout_s,
                )
                for start in range(0, n, step)
            )
        )
        merged = {
            out: np.concatenate([chunk[out] for chunk in chunks], axis=0) for out in served.outputs
        }
        return _decode(served.metadata, merged, n)

    async def _version(self, name: str, version: int) -> _Version:
        path = self.repository.version_dir(name, version) / METADATA_FILE
        try:
            info = os.stat(path)
            stamp = (info.st_ino, info.st_mtime_ns)
        except OSError:
            stamp = (0, 0)
        cached = self._versions.get((name, version))
        if cached is not None and cached.stamp == stamp:
            return cached
        metadata = await asyncio.to_thread(self.repository.metadata, name, version)
        if metadata.input_kind != "tabular":
            raise InvalidInputError(
                f"{name} v{version} is a {metadata.input_kind} model, not a tabular one: "
                "/api/v1/predict takes feature records; use the text prediction API for this model"
            )
        spec = TabularSpec.from_dict(metadata.preprocessing)
        outputs = tuple(o.name for o in metadata.outputs)
        needed = _needed_outputs(metadata)
        missing = [o for o in needed if o not in outputs]
        if missing:
            raise MLServeError(
                f"{name} v{version} metadata lists outputs {list(outputs)} but a "
                f"{metadata.task} model needs {missing}; redeploy the model"
            )
        served = _Version(stamp=stamp, metadata=metadata, spec=spec, outputs=needed)
        self._versions[(name, version)] = served
        return served


def _needed_outputs(metadata: ModelMetadata) -> tuple[str, ...]:
    if metadata.task == "regression":
        return (PREDICTION,)
    if metadata.task == "anomaly-detection":
        return (SCORES, LABEL)
    return (PROBABILITIES,)


def _decode(
    metadata: ModelMetadata, outputs: dict[str, npt.NDArray[Any]], n: int
) -> list[dict[str, Any]]:
    if metadata.task == "regression":
        values = outputs[PREDICTION].reshape(n, -1).astype(np.float64)
        return [
            {
                "prediction": float(row[0]) if row.size == 1 else [float(v) for v in row],
                "probabilities": None,
            }
            for row in values
        ]
    if metadata.task == "anomaly-detection":
        scores = outputs[SCORES].reshape(n, -1).astype(np.float64)
        labels = outputs[LABEL].reshape(n, -1)
        return [
            {"prediction": int(labels[i, 0]), "probabilities": None, "score": float(scores[i, 0])}
            for i in range(n)
        ]
    probabilities = outputs[PROBABILITIES].reshape(n, -1).astype(np.float64)
    names = metadata.labels or [str(i) for i in range(probabilities.shape[1])]
    if len(names) != probabilities.shape[1]:
        raise MLServeError(
            f"{metadata.name} v{metadata.version} returned {probabilities.shape[1]} "
            f"probabilities for {len(names)} labels; redeploy the model"
        )
    results = []
    for row in probabilities:
        best = int(row.argmax())
        results.append(
            {
                "prediction": label_value(names[best]),
                "probabilities": {
                    label: round(float(p), 6) for label, p in zip(names, row, strict=True)
                },
            }
        )
    return results
