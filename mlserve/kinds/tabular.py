"""Tabular models: feature records in; a class, a value or an anomaly score out.

Covers scikit-learn estimators and pipelines, XGBoost, LightGBM, CatBoost and PyTorch
tabular modules exported to ONNX. A version's ``metadata.json`` carries its feature spec
(``preprocessing``, see :class:`~mlserve.converters.tabular.spec.TabularSpec`) and its task.
Items are a record's values in the model's feature order (numbers as floats, strings as
strings, ``None`` for missing), so two records with the same values share a cache entry and
records of different requests share a Triton call.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from mlserve.converters.tabular.records import FLOAT32_MAX, records_to_arrays
from mlserve.converters.tabular.spec import (
    LABEL,
    NUMERIC_INPUT,
    PREDICTION,
    PROBABILITIES,
    SCORES,
    STRING_INPUT,
    TabularSpec,
)
from mlserve.errors import InvalidInputError, MLServeError, TritonError
from mlserve.kinds.base import Inputs, ModelKind, RecordInputs, ServedModel, TextInputs
from mlserve.kinds.text import probabilities_to_predictions
from mlserve.repository.metadata import ModelMetadata
from mlserve.serving.cache.keys import CachedPrediction

_INTEGER = re.compile(r"^-?\d{1,18}$")
_NUMPY_TYPES = {"FP32": np.float32, "FP64": np.float64}
_PLAIN_INT = 2**53
"""Integers up to this size are exact as floats: larger ones take the full checks."""


@lru_cache(maxsize=4096)
def label_value(label: str | None) -> Any:
    """Class labels are stored as text; give numbers back as numbers (``"1"`` -> ``1``)."""
    if label is None or _INTEGER.match(label):
        return None if label is None else int(label)
    try:
        number = float(label)
    except ValueError:
        return label
    return number if math.isfinite(number) else label


def record_by_name(
    record: Mapping[str, Any] | Sequence[Any],
    i: int,
    names: Sequence[str],
    model: str,
    described: str = "",
) -> Mapping[str, Any]:
    """``features[i]`` as an object of feature: value; a positional row is read in the
    order of ``names`` (``described`` says what they are, for the error message)."""
    if isinstance(record, Mapping):
        return record
    if isinstance(record, str) or not isinstance(record, Sequence):
        raise InvalidInputError(
            f"features[{i}] must be an object of feature: value or a list of "
            f"{len(names)} values in the order {list(names)}"
        )
    if len(record) != len(names):
        raise InvalidInputError(
            f"features[{i}] has {len(record)} values; {model} takes "
            f"{len(names)}{described}, in this order: {list(names)}"
        )
    return dict(zip(names, record, strict=True))


class ServedTabular(ServedModel):
    """A tabular version: validates records against its feature spec."""

    def __init__(self, metadata: ModelMetadata) -> None:
        self.metadata = metadata
        self.spec = TabularSpec.from_dict(metadata.preprocessing)
        self.names = self.spec.names
        self.numeric = self.spec.numeric_features
        self.strings = self.spec.string_features
        self._numeric_at = [self.names.index(n) for n in self.numeric]
        self._string_at = [self.names.index(n) for n in self.strings]
        self._expected = frozenset(self.names)
        self.drift_names = tuple(self.names)
        self._ignored = bool(self.spec.ignored)
        dtypes = {i.name: i.datatype for i in metadata.inputs}
        self.numeric_datatype = dtypes.get(NUMERIC_INPUT, "FP32")
        """Triton's datatype of the numeric input (FP64 for versions exact at thresholds)."""
        self._numeric_dtype = _NUMPY_TYPES.get(self.numeric_datatype, np.float32)
        self.task = metadata.task
        self.outputs = _needed_outputs(metadata)
        self.labels = list(metadata.labels)
        self.fingerprint = f"tabular:{metadata.version}"

    def items(self, inputs: Inputs) -> list[Any]:
        if not isinstance(inputs, RecordInputs):
            got = "text" if isinstance(inputs, TextInputs) else "a user and candidates"
            raise InvalidInputError(
                f"{self.metadata.name} v{self.metadata.version} is a tabular model and takes "
                f"feature records, not {got}: send {TABULAR.example(self.metadata)}"
            )
        items = []
        for record in inputs.records:
            item = self._plain_item(record)
            if item is None:
                return self._checked_items(inputs.records)
            items.append(item)
        return items

    def _plain_item(self, record: Any) -> tuple[Any, ...] | None:
        """The item of a record whose keys and values are plainly valid (the common case:
        exactly the model's features, finite numbers, strings), without building arrays;
        None sends the request down :meth:`_checked_items`, which gives the same items or
        the error naming the field."""
        if type(record) is dict:
            if self._ignored or record.keys() != self._expected:
                return None
            row = [record[name] for name in self.names]
        elif type(record) is list and len(record) == len(self.names):
            row = list(record)
        else:
            return None
        for at in self._numeric_at:
            value = row[at]
            kind = type(value)
            if kind is int:
                if not -_PLAIN_INT <= value <= _PLAIN_INT:
                    return None
                row[at] = float(value)
            elif kind is not float or not -FLOAT32_MAX <= value <= FLOAT32_MAX:
                return None  # NaN fails the range test too: missing values take the checks
        for at in self._string_at:
            if type(row[at]) is not str:
                return None
        return tuple(row)

    def _checked_items(self, records: Sequence[Any]) -> list[Any]:
        """Items through the full record checks (:func:`records_to_arrays`)."""
        by_name = [self._by_name(record, i) for i, record in enumerate(records)]
        arrays = records_to_arrays(by_name, self.spec)
        numeric = arrays.get(NUMERIC_INPUT)
        strings = arrays.get(STRING_INPUT)
        items = []
        for i in range(len(by_name)):
            row: list[Any] = [None] * len(self.names)
            if numeric is not None:
                for j, at in enumerate(self._numeric_at):
                    value = float(numeric[i, j])
                    row[at] = None if math.isnan(value) else value
            if strings is not None:
                for j, at in enumerate(self._string_at):
                    row[at] = strings[i, j]
            items.append(tuple(row))
        return items

    def _by_name(self, record: Mapping[str, Any] | Sequence[Any], i: int) -> Mapping[str, Any]:
        return record_by_name(record, i, self.names, self.metadata.name)

    def cache_text(self, item: Any) -> str:
        return orjson.dumps(item).decode()

    def encode(self, items: Sequence[Any]) -> tuple[dict[str, npt.NDArray[Any]], list[bool]]:
        tensors: dict[str, npt.NDArray[Any]] = {}
        if self.numeric:
            rows = [
                [math.nan if row[at] is None else row[at] for at in self._numeric_at]
                for row in items
            ]
            tensors[NUMERIC_INPUT] = np.array(rows, dtype=self._numeric_dtype)
        if self.strings:
            strings = [[row[at] for at in self._string_at] for row in items]
            tensors[STRING_INPUT] = np.array(strings, dtype=np.object_)
        return tensors, [False] * len(items)

    def decode(
        self, outputs: Mapping[str, npt.NDArray[Any]], truncated: Sequence[bool]
    ) -> list[CachedPrediction]:
        n = len(truncated)
        if self.task == "regression":
            values = np.asarray(outputs[PREDICTION], dtype=np.float64).reshape(n, -1)
            return [
                CachedPrediction(
                    None, None, None, False, float(row[0]) if row.size == 1 else row.tolist()
                )
                for row in values
            ]
        if self.task == "anomaly-detection":
            scores = np.asarray(outputs[SCORES], dtype=np.float64).reshape(n, -1)
            flags = np.asarray(outputs[LABEL]).reshape(n, -1)
            return [
                CachedPrediction(
                    "outlier" if int(flags[i, 0]) < 0 else "inlier",
                    None,
                    None,
                    False,
                    int(flags[i, 0]),
                    float(scores[i, 0]),
                )
                for i in range(n)
            ]
        probabilities = np.asarray(outputs[PROBABILITIES])
        labels = self.labels or [str(i) for i in range(probabilities.reshape(n, -1).shape[1])]
        if probabilities.reshape(n, -1).shape[1] != len(labels):
            raise TritonError(
                f"{self.metadata.name} v{self.metadata.version} returned "
                f"{probabilities.reshape(n, -1).shape[1]} probabilities for {len(labels)} "
                "labels; redeploy the model"
            )
        return probabilities_to_predictions(probabilities.reshape(n, -1), labels, truncated, n)

    def drift_input(self, item: Any) -> Mapping[str, Any]:
        return dict(zip(self.names, item, strict=True))


def _needed_outputs(metadata: ModelMetadata) -> tuple[str, ...]:
    if metadata.task == "regression":
        needed: tuple[str, ...] = (PREDICTION,)
    elif metadata.task == "anomaly-detection":
        needed = (SCORES, LABEL)
    else:
        needed = (PROBABILITIES,)
    have = [o.name for o in metadata.outputs]
    missing = [o for o in needed if o not in have]
    if missing:
        raise MLServeError(
            f"{metadata.name} v{metadata.version} metadata lists outputs {have} but a "
            f"{metadata.task} model needs {missing}; redeploy the model"
        )
    return needed


def example_record(metadata: ModelMetadata) -> dict[str, Any]:
    """A record with every feature of ``metadata``, for error messages and docs."""
    try:
        spec = TabularSpec.from_dict(metadata.preprocessing)
    except InvalidInputError:
        return {name: 0.0 for name in metadata.features}
    return {f.name: ("a" if f.kind == "string" else 0.0) for f in spec.features}


class TabularKind(ModelKind):
    """Feature records in, ONNX graph in Triton."""

    name = "tabular"
    input_form = "records"
    description = "scikit-learn, XGBoost, LightGBM, CatBoost and PyTorch tabular models"

    def serve(self, metadata: ModelMetadata, version_dir: Path) -> ServedModel:
        return ServedTabular(metadata)

    def example(self, metadata: ModelMetadata) -> str:
        return json.dumps({"model": metadata.name, "features": example_record(metadata)})


TABULAR = TabularKind()
