"""Parity rows at the decision boundaries of tree models, for exports without background.

Random rows rarely land near a split, yet real values do (ages, prices, counts sit on
round numbers that trees split between): a float32 export may decide those differently.
For every split threshold ``t`` of a feature the model reads directly, rows take ``t``
itself and the float32 values just below and above it; every known category of an
encoded column appears too (the synthetic rows already draw them). Thresholds come from
scikit-learn trees (``tree_``), XGBoost and LightGBM boosters, for models that read the
feature matrix as given (a bare estimator, or a Pipeline ending in one after scalers whose
inverse maps the threshold back to the raw feature).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlserve.converters.tabular.inspection import ModelAnatomy
from mlserve.converters.tabular.parity import ParityRows
from mlserve.converters.tabular.spec import NUMERIC_INPUT

MAX_THRESHOLD_ROWS = 600
"""Most rows added (thresholds are sampled evenly beyond that)."""


def threshold_rows(anatomy: ModelAnatomy, base: ParityRows) -> ParityRows | None:
    """``base`` rows with one feature set at, or one float32 step around, a threshold."""
    numeric = base.values.get(NUMERIC_INPUT)
    if numeric is None or anatomy.layout != "matrix":
        return None
    points = _thresholds(anatomy.model, numeric.shape[1])
    if not points:
        return None
    values = []
    for column, threshold in points:
        here = np.float32(threshold)
        for value in (
            threshold,
            float(np.nextafter(here, np.float32(-np.inf))),
            float(here),
            float(np.nextafter(here, np.float32(np.inf))),
        ):
            values.append((column, value))
    if len(values) > MAX_THRESHOLD_ROWS:
        keep = np.linspace(0, len(values) - 1, MAX_THRESHOLD_ROWS).round().astype(int)
        values = [values[i] for i in keep]
    rows = base.take(np.arange(len(values)) % base.n_rows)
    matrix = rows.values[NUMERIC_INPUT].copy()
    for i, (column, value) in enumerate(values):
        matrix[i, column] = value
    return ParityRows({**rows.values, NUMERIC_INPUT: matrix}, "thresholds", base.numeric_dtype)


def combine(first: ParityRows, second: ParityRows | None) -> ParityRows:
    if second is None:
        return first
    merged = {k: np.concatenate([v, second.values[k]]) for k, v in first.values.items()}
    return ParityRows(merged, first.source, first.numeric_dtype)


def _thresholds(model: Any, n_features: int) -> list[tuple[int, float]]:
    """(column, threshold) in raw feature units, for the estimator after scalers."""
    from sklearn.pipeline import Pipeline

    scalers: list[Any] = []
    estimator = model
    if isinstance(model, Pipeline):
        *head, (_, estimator) = model.steps
        for _, step in head:
            if step in (None, "passthrough"):
                continue
            if not hasattr(step, "inverse_transform") or type(step).__name__ not in (
                "StandardScaler",
                "MinMaxScaler",
                "MaxAbsScaler",
                "RobustScaler",
            ):
                return []
            scalers.append(step)
    points = _estimator_thresholds(estimator)
    if not points or any(c >= n_features for c, _ in points):
        return []
    if not scalers:
        return points
    scaled = np.zeros((len(points), n_features))
    for i, (column, threshold) in enumerate(points):
        scaled[i, column] = threshold
    for scaler in reversed(scalers):
        scaled = scaler.inverse_transform(scaled)
    return [(column, float(scaled[i, column])) for i, (column, _) in enumerate(points)]


def _estimator_thresholds(estimator: Any) -> list[tuple[int, float]]:
    found: set[tuple[int, float]] = set()
    trees = []
    if hasattr(estimator, "tree_"):
        trees = [estimator]
    elif hasattr(estimator, "estimators_"):
        trees = [t for t in np.ravel(np.asarray(estimator.estimators_, dtype=object))]
    for tree in trees:
        structure = getattr(tree, "tree_", None)
        if structure is None:
            continue
        inner = structure.children_left >= 0
        found.update(
            zip(structure.feature[inner].tolist(), structure.threshold[inner].tolist(), strict=True)
        )
    found.update(float64_tree_thresholds(estimator))
    if type(estimator).__module__.split(".")[0] == "xgboost":
        found.update(_booster_frame(estimator) or [])
    return sorted(found)


def float64_tree_thresholds(estimator: Any) -> list[tuple[int, float]]:
    """(column, threshold) of models that compare float64 values with float64 thresholds:
    HistGradientBoosting and LightGBM."""
    found: list[tuple[int, float]] = []
    for predictors in getattr(estimator, "_predictors", None) or []:
        for predictor in predictors:
            nodes = predictor.nodes[~predictor.nodes["is_leaf"].astype(bool)]
            found.extend(
                zip(
                    nodes["feature_idx"].astype(int).tolist(),
                    nodes["num_threshold"].astype(float).tolist(),
                    strict=True,
                )
            )
    if type(estimator).__module__.split(".")[0] == "lightgbm":
        found.extend(_booster_frame(estimator) or [])
    return found


def _booster_frame(estimator: Any) -> list[tuple[int, float]] | None:
    module = type(estimator).__module__.split(".")[0]
    try:
        if module == "xgboost":
            splits_of_json = _xgboost_splits(estimator.get_booster())
            if splits_of_json is not None:
                return splits_of_json
            frame = estimator.get_booster().trees_to_dataframe()
            splits = frame[frame["Feature"] != "Leaf"]
            names = estimator.get_booster().feature_names
            index = {n: i for i, n in enumerate(names)} if names else None
            return [
                (index[f] if index else int(str(f).lstrip("f")), float(t))
                for f, t in zip(splits["Feature"], splits["Split"], strict=True)
            ]
        if module == "lightgbm":
            frame = estimator.booster_.trees_to_dataframe()
            splits = frame[frame["split_feature"].notna()]
            names = list(estimator.booster_.feature_name())
            return [
                (names.index(f), float(t))
                for f, t in zip(splits["split_feature"], splits["threshold"], strict=True)
            ]
    except Exception:
        return None
    return None


def _xgboost_splits(booster: Any) -> list[tuple[int, float]] | None:
    """(column, threshold) of every split from the booster's JSON model: the exact float32
    thresholds, ~5x faster than ``trees_to_dataframe`` (which parses a text dump rounded to
    9 digits); None when the JSON has another layout."""
    import orjson

    try:
        document = orjson.loads(bytes(booster.save_raw("json")))
        trees = document["learner"]["gradient_booster"]["model"]["trees"]
        found: set[tuple[int, float]] = set()
        for tree in trees:
            for left, column, threshold in zip(
                tree["left_children"], tree["split_indices"], tree["split_conditions"], strict=True
            ):
                if left != -1:  # thresholds are float32, printed in their shortest form
                    found.add((int(column), float(np.float32(threshold))))
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        return None
    return sorted(found)
