"""Tabular models (scikit-learn, XGBoost, LightGBM) to ONNX, and records to tensors.

The export side is :func:`export_tabular_model`; the predict side rebuilds the
:class:`TabularSpec` stored in a version's ``preprocessing`` and calls
:func:`records_to_inputs`. The tensor layout and output names are documented in
:mod:`mlserve.converters.tabular.spec`.
"""

from mlserve.converters.tabular.export import REFERENCE_ROWS, export_tabular_model
from mlserve.converters.tabular.records import records_to_inputs
from mlserve.converters.tabular.spec import (
    LABEL,
    NUMERIC_INPUT,
    PREDICTION,
    PROBABILITIES,
    SCORES,
    STRING_INPUT,
    TabularFeature,
    TabularSpec,
)

__all__ = [
    "LABEL",
    "NUMERIC_INPUT",
    "PREDICTION",
    "PROBABILITIES",
    "REFERENCE_ROWS",
    "SCORES",
    "STRING_INPUT",
    "TabularFeature",
    "TabularSpec",
    "export_tabular_model",
    "records_to_inputs",
]
