"""The upload allowlist admits classes and known reconstructors only: no callable of numpy,
pandas, scipy or scikit-learn that writes files or runs code, and still every global that
real fitted models pickle."""

from __future__ import annotations

import importlib
import inspect
import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from mlserve.errors import ConversionError
from mlserve.platform.model_screening import RECONSTRUCTORS, admits, load_restricted

SCANNED_MODULES = (
    "numpy",
    "numpy.lib.npyio",
    "numpy.lib.format",
    "numpy.ma",
    "numpy.random",
    "pandas",
    "pandas.io.pickle",
    "pandas.core.computation.eval",
    "scipy",
    "scipy.io",
    "scipy.sparse",
    "scipy.stats",
    "sklearn",
    "sklearn.datasets",
    "sklearn.utils",
    "sklearn.base",
    "joblib",
    "os",
    "subprocess",
    "builtins",
)
SCANNED_CLASSES = (pd.DataFrame, pd.Series, pd.Index, np.ndarray)


def module_functions() -> list[tuple[str, str, Any]]:
    """(module, name, object) of every public non-class callable in the scanned modules."""
    found = []
    for module_name in SCANNED_MODULES:
        module = importlib.import_module(module_name)
        for name in dir(module):
            obj = getattr(module, name, None)
            if callable(obj) and not isinstance(obj, type):
                found.append((module_name, name, obj))
    return found


def class_methods() -> list[tuple[str, str, Any]]:
    """(module, "Class.method", function) for every method of DataFrame, Series, ndarray."""
    found = []
    for cls in SCANNED_CLASSES:
        for name, member in inspect.getmembers(cls):
            if callable(member) and not isinstance(member, type):
                found.append((cls.__module__, f"{cls.__name__}.{name}", member))
    return found


def test_no_function_or_method_of_the_model_libraries_is_admitted() -> None:
    functions = module_functions() + class_methods()
    assert len(functions) > 2000
    admitted = [
        f"{module}.{name}"
        for module, name, obj in functions
        if admits(module, name, obj) and f"{module}.{name}" not in RECONSTRUCTORS
    ]
    assert admitted == []


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("pandas.core.frame", "DataFrame.to_csv"),
        ("pandas.core.generic", "NDFrame.to_pickle"),
        ("pandas", "read_pickle"),
        ("pandas", "eval"),
        ("numpy", "save"),
        ("numpy", "savetxt"),
        ("numpy", "savez"),
        ("numpy", "savez_compressed"),
        ("numpy.lib._npyio_impl", "savez_compressed"),  # where numpy 2 defines it
        ("numpy.lib.format", "open_memmap"),
        ("numpy", "memmap"),
        ("numpy.lib.npyio", "DataSource"),  # numpy 2 removed numpy.DataSource
        ("numpy", "vectorize"),
        ("numpy", "ndarray.tofile"),
        ("scipy", "LowLevelCallable"),
        ("scipy.io", "savemat"),
        ("sklearn.datasets", "dump_svmlight_file"),
        ("joblib", "dump"),
        ("os", "system"),
        ("subprocess", "Popen"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "open"),
        ("builtins", "getattr"),
        ("builtins", "__import__"),
    ],
)
def test_named_side_effect_callables_are_refused(module: str, name: str) -> None:
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    assert not admits(module, name, obj)


def real_models() -> list[Any]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        IsolationForest,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from xgboost import XGBClassifier

    rng = np.random.default_rng(0)
    x = rng.random((60, 3))
    y = (x[:, 0] > 0.5).astype(int)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(kind=["p", "q", "r"] * 20)
    encode = ColumnTransformer([("oh", OneHotEncoder(), ["kind"])], remainder="passthrough")
    return [
        RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y),
        GradientBoostingClassifier(n_estimators=3).fit(x, y),
        HistGradientBoostingClassifier(max_iter=3).fit(x, y),
        IsolationForest(n_estimators=3, random_state=0).fit(x),
        make_pipeline(StandardScaler(), LogisticRegression()).fit(frame[["a", "b", "c"]], y),
        make_pipeline(encode, LogisticRegression()).fit(frame, y),
        Ridge().fit(x, y),
        KNeighborsClassifier().fit(x, y),
        XGBClassifier(n_estimators=3).fit(x, y),
        frame,
    ]


@pytest.mark.parametrize("compress", [0, 3])
def test_real_fitted_models_load_under_the_allowlist(tmp_path: Path, compress: int) -> None:
    for model in real_models():
        path = tmp_path / "model.joblib"
        joblib.dump(model, path, compress=compress)
        loaded = load_restricted(path)
        assert type(loaded) is type(model)
        path.write_bytes(pickle.dumps(model))
        assert type(load_restricted(path)) is type(model)


def test_a_refused_global_is_named_with_the_skops_hint(tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"cos\nsystem\n(S'touch pwned'\ntR.")
    with pytest.raises(ConversionError, match=r"'os\.system'.*skops\.io\.dump"):
        load_restricted(path)
    assert not (tmp_path / "pwned").exists()
