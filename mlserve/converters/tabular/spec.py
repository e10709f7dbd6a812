"""The contract between a tabular ONNX export and the code that feeds it records.

Tensor layout Triton receives (batch dimension first, not listed in ``dims``):

* ``input``      FP32   ``[n_numeric]``  every numeric feature, in :attr:`TabularSpec.features`
  order (string features skipped); a missing value is NaN when the model accepts it.
* ``input_str``  BYTES  ``[n_string]``   every string (categorical) feature, same order rule;
  present only when the model has string features.

Outputs, per task:

* ``classification``     ``probabilities`` FP32 ``[n_classes]``, columns in the order of
  ``ExportedModel.labels`` (the classes as strings).
* ``regression``         ``prediction`` FP32 ``[n_targets]`` (``[1]`` for one target).
* ``anomaly-detection``  ``scores`` FP32 ``[1]`` (the native ``decision_function``:
  negative means outlier) and ``label`` INT64 ``[1]`` (1 inlier, -1 outlier).

The spec is stored in the version's metadata as ``preprocessing`` (see :meth:`to_dict`) so
the serving side can rebuild it with :meth:`TabularSpec.from_dict` and call
:func:`mlserve.converters.tabular.records_to_inputs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mlserve.errors import InvalidInputError
from mlserve.triton.model_config import DataType, TensorSpec

NUMERIC_INPUT = "input"
STRING_INPUT = "input_str"
PROBABILITIES = "probabilities"
PREDICTION = "prediction"
SCORES = "scores"
LABEL = "label"
PREPROCESSING_KIND = "tabular"

FeatureKind = Literal["numeric", "string"]


@dataclass(frozen=True)
class TabularFeature:
    """One named model input column."""

    name: str
    kind: FeatureKind


@dataclass(frozen=True)
class TabularSpec:
    """How records map to the input tensors of one exported tabular model."""

    features: tuple[TabularFeature, ...]
    """All features, in the order the model was trained on."""
    accepts_missing: bool = False
    """Whether ``None``/NaN numeric values may be sent (as NaN); proven by the parity check."""
    ignored: tuple[str, ...] = ()
    """Columns the model was trained with but never reads (dropped by its ColumnTransformer):
    records may carry them, their values are discarded."""
    numeric_dtype: Literal["float32", "float64"] = "float32"
    """Type of the ``input`` tensor: ``float64`` where the export computes its
    preprocessing in double precision, as scikit-learn does (exact at tree thresholds)."""

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def numeric_features(self) -> list[str]:
        """Columns of the ``input`` tensor, in order."""
        return [f.name for f in self.features if f.kind == "numeric"]

    @property
    def string_features(self) -> list[str]:
        """Columns of the ``input_str`` tensor, in order."""
        return [f.name for f in self.features if f.kind == "string"]

    def input_specs(self) -> tuple[TensorSpec, ...]:
        """The Triton inputs of the export (only the tensors that have columns)."""
        specs: list[TensorSpec] = []
        if self.numeric_features:
            kind = DataType.FP64 if self.numeric_dtype == "float64" else DataType.FP32
            specs.append(TensorSpec(NUMERIC_INPUT, kind, (len(self.numeric_features),)))
        if self.string_features:
            specs.append(TensorSpec(STRING_INPUT, DataType.STRING, (len(self.string_features),)))
        return tuple(specs)

    def to_dict(self) -> dict[str, Any]:
        """The form kept in ``ModelMetadata.preprocessing``."""
        return {
            "kind": PREPROCESSING_KIND,
            "features": [{"name": f.name, "kind": f.kind} for f in self.features],
            "accepts_missing": self.accepts_missing,
            "ignored_features": list(self.ignored),
            "numeric_input": NUMERIC_INPUT,
            "numeric_dtype": self.numeric_dtype,
            "string_input": STRING_INPUT,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TabularSpec:
        """Rebuild the spec from ``ModelMetadata.preprocessing``.

        Raises :class:`InvalidInputError` when ``data`` is not a tabular spec (e.g. the
        metadata of a text model), so a tabular request to a text model fails clearly.
        """
        if data.get("kind") != PREPROCESSING_KIND or not isinstance(data.get("features"), list):
            raise InvalidInputError(
                "this model does not take feature records (its metadata has no tabular "
                "feature spec): send texts instead, or pick a tabular model"
            )
        features = []
        for item in data["features"]:
            kind = item.get("kind")
            if kind not in ("numeric", "string"):
                raise InvalidInputError(f"feature spec {item!r} has unknown kind {kind!r}")
            features.append(TabularFeature(name=str(item["name"]), kind=kind))
        return cls(
            features=tuple(features),
            accepts_missing=bool(data.get("accepts_missing")),
            ignored=tuple(str(n) for n in data.get("ignored_features", [])),
            numeric_dtype="float64" if data.get("numeric_dtype") == "float64" else "float32",
        )
