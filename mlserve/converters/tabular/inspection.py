"""What a fitted tabular model is: its task, library, feature names and column kinds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from mlserve.converters.base import Task
from mlserve.converters.tabular.spec import TabularFeature, TabularSpec
from mlserve.errors import ConversionError

SUPPORTED = (
    "supported: fitted scikit-learn classifiers (with predict_proba), regressors and outlier "
    "detectors (IsolationForest, OneClassSVM), Pipelines of them (ColumnTransformer with "
    "OneHotEncoder/StandardScaler/SimpleImputer, ...), xgboost XGBClassifier/XGBRegressor "
    "and lightgbm LGBMClassifier/LGBMRegressor"
)
_LIBRARIES = {"sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm"}

Layout = Literal["matrix", "columns"]
"""``matrix``: the model reads one numeric 2-D array; ``columns``: its ColumnTransformer
selects DataFrame columns by name (one ONNX input per column)."""


@dataclass(frozen=True)
class ModelAnatomy:
    """Everything the exporter needs to know about a fitted model."""

    model: Any
    final: Any
    """The final estimator (the model itself unless it is a Pipeline)."""
    task: Task
    framework: str
    layout: Layout
    spec: TabularSpec
    model_columns: tuple[str, ...] | None
    """Columns the native model expects in a DataFrame; None when trained on an array."""
    labels: tuple[str, ...] = ()
    categories: dict[str, list[Any]] = field(default_factory=dict)
    """Known categories per column (from fitted encoders), for synthetic rows."""

    @property
    def type_name(self) -> str:
        return type_name(self.model)


def type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def inspect_model(model: Any, features: Sequence[str] | None) -> ModelAnatomy:
    """Classify ``model`` and resolve its features; :class:`ConversionError` if unsupported."""
    from sklearn.base import BaseEstimator, is_classifier, is_outlier_detector, is_regressor
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    final = final_estimator(model)
    framework = _LIBRARIES.get(type(final).__module__.split(".")[0])
    if framework is None or not isinstance(model, BaseEstimator):
        raise ConversionError(f"{type_name(model)} is not supported; {SUPPORTED}")
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise ConversionError(
            f"{type_name(model)} is not fitted: fit it before deploying"
        ) from None
    except TypeError as exc:
        raise ConversionError(f"{type_name(model)} is not supported ({exc}); {SUPPORTED}") from None

    labels: tuple[str, ...] = ()
    task: Task
    if is_outlier_detector(final):
        task = "anomaly-detection"
    elif is_classifier(final):
        task = "classification"
        classes = getattr(model, "classes_", None)
        if not hasattr(model, "predict_proba") or classes is None:
            raise ConversionError(
                f"{type_name(final)} has no predict_proba, so it cannot serve probabilities: "
                "use a probabilistic classifier or wrap it in CalibratedClassifierCV"
            )
        if isinstance(classes, list) or np.ndim(classes) != 1:
            raise ConversionError(
                f"{type_name(final)} is a multi-output classifier, which is not supported; "
                "deploy one classifier per target"
            )
        labels = tuple(str(c) for c in classes)
    elif is_regressor(final):
        task = "regression"
    else:
        raise ConversionError(
            f"{type_name(final)} is neither a classifier, a regressor nor an outlier detector; "
            f"{SUPPORTED}"
        )

    trained_names = _trained_names(model)
    column_transformer = _leading_column_transformer(model)
    columns_layout = column_transformer is not None and trained_names is not None
    used: set[str] | None = None
    categories: dict[str, list[Any]] = {}
    strings: set[str] = set()
    if column_transformer is not None and trained_names is not None:
        used = _used_columns(column_transformer, trained_names)
        categories, strings = _encoded_columns(column_transformer, trained_names)
    names = _resolve_features(model, trained_names, used, features)
    spec = TabularSpec(
        features=tuple(TabularFeature(n, "string" if n in strings else "numeric") for n in names),
        ignored=tuple(n for n in (trained_names or ()) if n not in names),
    )
    return ModelAnatomy(
        model=model,
        final=final,
        task=task,
        framework=framework,
        layout="columns" if columns_layout else "matrix",
        spec=spec,
        model_columns=trained_names,
        labels=labels,
        categories=categories,
    )


def final_estimator(model: Any) -> Any:
    """The last step of (possibly nested) Pipelines, else the model itself."""
    from sklearn.pipeline import Pipeline

    while isinstance(model, Pipeline):
        model = model.steps[-1][1]
    return model


def _leading_column_transformer(model: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    while isinstance(model, Pipeline):
        model = model.steps[0][1]
    return model if isinstance(model, ColumnTransformer) else None


def _trained_names(model: Any) -> tuple[str, ...] | None:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return None
    return tuple(str(n) for n in names)


def _column_names(columns: Any, all_names: Sequence[str]) -> list[str]:
    """A ColumnTransformer column selection as names (str, int, slice, mask or list)."""
    if isinstance(columns, slice):
        return list(all_names[columns])
    if isinstance(columns, (str, int, np.integer)):
        columns = [columns]
    selected = list(columns)
    if selected and all(isinstance(c, (bool, np.bool_)) for c in selected):
        return [n for n, keep in zip(all_names, selected, strict=False) if keep]
    return [all_names[int(c)] if isinstance(c, (int, np.integer)) else str(c) for c in selected]


def _used_columns(column_transformer: Any, all_names: Sequence[str]) -> set[str]:
    used: set[str] = set()
    for _, transformer, columns in column_transformer.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        used.update(_column_names(columns, all_names))
    return used


def _encoded_columns(
    column_transformer: Any, all_names: Sequence[str]
) -> tuple[dict[str, list[Any]], set[str]]:
    """Categories of encoded columns, and which columns hold strings (categories or text)."""
    from sklearn.pipeline import Pipeline

    categories: dict[str, list[Any]] = {}
    strings: set[str] = set()
    for _, transformer, columns in column_transformer.transformers_:
        steps = (
            [s for _, s in transformer.steps]
            if isinstance(transformer, Pipeline)
            else [transformer]
        )
        names = _column_names(columns, all_names)
        if any(hasattr(s, "vocabulary_") for s in steps):
            strings.update(names)
            continue
        encoder = next((s for s in steps if hasattr(s, "categories_")), None)
        if encoder is None or len(encoder.categories_) != len(names):
            continue
        for name, cats in zip(names, encoder.categories_, strict=True):
            known = [c for c in cats if not (isinstance(c, float) and math.isnan(c))]
            categories[name] = known
            if any(isinstance(c, (str, bytes)) for c in known):
                strings.add(name)
    return categories, strings


def _resolve_features(
    model: Any,
    trained: tuple[str, ...] | None,
    used: set[str] | None,
    features: Sequence[str] | None,
) -> list[str]:
    """The model's features in training order (only those it reads)."""
    if features is not None:
        features = list(features)
        if not features or not all(isinstance(f, str) and f for f in features):
            raise ConversionError("`features` must be a non-empty list of column names")
        duplicates = sorted({f for f in features if features.count(f) > 1})
        if duplicates:
            raise ConversionError(f"`features` lists {duplicates} more than once")
    if trained is None:
        n_features = getattr(model, "n_features_in_", None)
        if features is None:
            raise ConversionError(
                f"{type_name(model)} does not record its feature names (it was trained on an "
                f"array, not a DataFrame): pass `features` with its {n_features or 'N'} column "
                "names in training order"
            )
        if n_features is not None and len(features) != n_features:
            raise ConversionError(
                f"`features` lists {len(features)} names but {type_name(model)} takes "
                f"{n_features} columns: pass {n_features} names in training order"
            )
        return features
    read = [n for n in trained if used is None or n in used]
    if features is not None and set(features) not in (set(trained), set(read)):
        missing = sorted(set(read) - set(features))
        extra = sorted(set(features) - set(trained))
        raise ConversionError(
            f"`features` do not match the columns the model was trained on "
            f"(missing {missing}, unknown {extra}): pass the training columns "
            "or leave `features` out to use them"
        )
    return read
