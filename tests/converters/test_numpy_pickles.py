"""Models pickled under numpy 1.26 and under numpy 2 both load, in the CLI's loader and in
the upload sandbox's restricted unpickler, and predict as they did when they were saved.

The numpy 1.26 files are fixtures made once by ``fixtures/make_numpy126_pickles.py`` in a
venv with numpy 1.26.4 and this project's scikit-learn (the script says how); the numpy 2
files are pickled here, by the numpy the tests run with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.neural_network import MLPClassifier

from mlserve.converters.loading import load_model_file
from mlserve.errors import ConversionError
from mlserve.platform.model_screening import load_restricted

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "numpy126_expected.json").read_text())
NAMES = ["gradient_boosting", "hist_gradient_boosting", "mlp"]
LIMIT = 10_000_000


def test_the_server_runs_numpy_2() -> None:
    assert int(np.__version__.split(".")[0]) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_fixture_was_pickled_by_numpy_1(name: str) -> None:
    raw = (FIXTURES / f"numpy126_{name}.joblib").read_bytes()
    assert EXPECTED["numpy"].startswith("1.26")
    assert b"numpy.core" in raw  # numpy 1.x module paths; numpy 2 writes numpy._core
    assert b"numpy._core" not in raw


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("loader", ["cli", "sandbox"])
def test_numpy_126_pickle_loads_and_predicts_as_saved(name: str, loader: str) -> None:
    path = FIXTURES / f"numpy126_{name}.joblib"
    model: Any = (
        load_model_file(path, max_bytes=LIMIT) if loader == "cli" else load_restricted(path)
    )

    got = model.predict_proba(np.array(EXPECTED["rows"]))

    np.testing.assert_allclose(got, EXPECTED["probabilities"][name], rtol=0, atol=1e-12)


def _numpy2_models() -> dict[str, Any]:
    x, y = make_classification(
        n_samples=120, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    return {
        "gradient_boosting": GradientBoostingClassifier(n_estimators=5, max_depth=2).fit(x, y),
        "hist_gradient_boosting": HistGradientBoostingClassifier(max_iter=5).fit(x, y),
        "mlp": MLPClassifier(hidden_layer_sizes=(4,), max_iter=300, random_state=0).fit(x, y),
    }


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("loader", ["cli", "sandbox"])
def test_numpy_2_pickles_load_and_predict_as_saved(tmp_path: Path, loader: str) -> None:
    rows = np.array(EXPECTED["rows"])
    for name, model in _numpy2_models().items():
        path = tmp_path / f"{name}.joblib"
        joblib.dump(model, path)
        assert b"numpy._core" in path.read_bytes()
        loaded: Any = (
            load_model_file(path, max_bytes=LIMIT) if loader == "cli" else load_restricted(path)
        )
        np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))


FUTURE_NUMPY_MODULE = b"\x80\x02cnumpy._core._future_module\nthing\n)R."
"""A pickle naming a numpy module this numpy lacks: what numpy 2 pickles were to numpy
1.25 (no ``numpy._core``), and what a later numpy's may be to this one."""


def test_a_pickle_needing_another_numpy_names_numpy_and_this_version(tmp_path: Path) -> None:
    path = tmp_path / "future.pkl"
    path.write_bytes(FUTURE_NUMPY_MODULE)

    with pytest.raises(ConversionError) as caught:
        load_model_file(path, max_bytes=LIMIT)

    message = caught.value.message
    assert message.startswith("model file was pickled with another numpy version")
    assert f"numpy {np.__version__}" in message
    assert "numpy._core._future_module" in message
