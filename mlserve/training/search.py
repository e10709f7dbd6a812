"""Estimator families and their Optuna search spaces; every one exports to ONNX.

Each family is built single-threaded (``n_jobs=1``): the training process's CPU share is
set by how many processes run, not by threads inside them.
"""

from __future__ import annotations

from typing import Any

from mlserve.training.options import AUTO_FAMILIES


def suggest(trial: Any, task: str, family: str) -> dict[str, Any]:
    """Hyperparameters of ``family`` drawn by ``trial`` (``auto``: one of ``AUTO_FAMILIES``)."""
    if family == "auto":
        family = trial.suggest_categorical("estimator", list(AUTO_FAMILIES[task]))
    params: dict[str, Any] = {"estimator": family}
    if family == "logistic_regression":
        params["C"] = trial.suggest_float("C", 1e-3, 1e2, log=True)
    elif family == "ridge":
        params["alpha"] = trial.suggest_float("alpha", 1e-3, 1e2, log=True)
    elif family == "random_forest":
        params["n_estimators"] = trial.suggest_int("n_estimators", 20, 100, step=20)
        params["max_depth"] = trial.suggest_int("max_depth", 3, 12)
        params["min_samples_leaf"] = trial.suggest_int("min_samples_leaf", 1, 20, log=True)
    elif family in ("xgboost", "lightgbm"):
        params["n_estimators"] = trial.suggest_int("n_estimators", 20, 160, step=20)
        params["learning_rate"] = trial.suggest_float("learning_rate", 0.02, 0.3, log=True)
        params["max_depth"] = trial.suggest_int("max_depth", 2, 8)
    return params


def default_params(task: str, family: str) -> dict[str, Any]:
    """One reasonable configuration, for ``optimize: false`` (``auto``: LightGBM)."""
    chosen = "lightgbm" if family == "auto" else family
    return {"estimator": chosen}


def build(task: str, params: dict[str, Any], seed: int) -> Any:
    """An unfitted estimator for ``params`` (as :func:`suggest` returns them)."""
    family = params["estimator"]
    rest = {k: v for k, v in params.items() if k != "estimator"}
    classify = task == "classification"
    if family in ("logistic_regression", "ridge"):
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        linear = LogisticRegression(max_iter=1000, **rest) if classify else Ridge(**rest)
        return make_pipeline(StandardScaler(), linear)
    if family == "random_forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        forest = RandomForestClassifier if classify else RandomForestRegressor
        return forest(random_state=seed, n_jobs=1, **rest)
    if family == "xgboost":
        from xgboost import XGBClassifier, XGBRegressor

        booster = XGBClassifier if classify else XGBRegressor
        return booster(random_state=seed, n_jobs=1, tree_method="hist", **rest)
    if family == "lightgbm":
        from lightgbm import LGBMClassifier, LGBMRegressor

        gbm = LGBMClassifier if classify else LGBMRegressor
        return gbm(random_state=seed, n_jobs=1, verbose=-1, **rest)
    raise ValueError(f"unknown estimator family {family!r}")
