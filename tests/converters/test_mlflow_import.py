"""``mlserve load models:/...`` / ``runs:/...`` against a real ``mlflow server``.

Models are logged and registered with the MLflow client (sklearn with signature and input
example, xgboost, and a pyfunc-only model mlserve cannot convert), then imported through
the installed ``mlserve`` console script into an empty repository (no Triton: published
for the next start).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from xgboost import XGBClassifier

from mlserve.repository.metadata import ModelMetadata
from tests.repository.test_store import tree_digest
from tests.support.cli import run_mlserve

FEATURES = ["age", "income", "tenure"]


def churn_data(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50.0, 15.0, n).round(2),
            "tenure": rng.integers(0, 120, n).astype(float),
        }
    )
    y = ((frame.age / 80 + frame.income / 100 - frame.tenure / 200) > 0.8).astype(int)
    return frame, y.to_numpy()


class Echo(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: pd.DataFrame) -> pd.DataFrame:
        return model_input


@pytest.fixture(scope="module")
def registry(mlflow_url: str) -> dict[str, Any]:
    """Registered: churn-sk v1 (alias champion), churn-xgb v1, churn-lgbm v1, echo-pyfunc v1."""
    mlflow.set_tracking_uri(mlflow_url)
    mlflow.set_experiment("mlserve-import-tests")
    frame, y = churn_data()
    sk = LogisticRegression(max_iter=500).fit(frame, y)
    signature = infer_signature(frame, sk.predict_proba(frame))
    with mlflow.start_run() as run:
        mlflow.log_params({"C": 1.0, "max_iter": 500})
        accuracy = float(sk.score(frame, y))
        mlflow.log_metric("accuracy", accuracy)
        mlflow.sklearn.log_model(
            sk,
            name="model",
            signature=signature,
            input_example=frame.head(30),
            registered_model_name="churn-sk",
        )
    # Trained on the array: the ONNX converter refuses named XGBoost features (f0, f1 ...
    # only); the signature still names the columns.
    xgb = XGBClassifier(n_estimators=20, max_depth=3).fit(frame.to_numpy(), y)
    with mlflow.start_run():
        mlflow.xgboost.log_model(
            xgb,
            name="model",
            signature=infer_signature(frame, xgb.predict_proba(frame.to_numpy())),
            input_example=frame.head(30),
            registered_model_name="churn-xgb",
        )
    lgbm = LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1).fit(frame.to_numpy(), y)
    with mlflow.start_run():
        mlflow.lightgbm.log_model(
            lgbm,
            name="model",
            signature=infer_signature(frame, lgbm.predict_proba(frame.to_numpy())),
            input_example=frame.head(30),
            registered_model_name="churn-lgbm",
        )
    with mlflow.start_run():
        mlflow.pyfunc.log_model(
            name="model", python_model=Echo(), registered_model_name="echo-pyfunc"
        )
    client = MlflowClient(tracking_uri=mlflow_url)
    client.set_registered_model_alias("churn-sk", "champion", "1")
    return {
        "url": mlflow_url,
        "sk": sk,
        "xgb": xgb,
        "run_id": run.info.run_id,
        "accuracy": accuracy,
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    return root


def mlserve(repo: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MLSERVE_MODELS_DIR": str(repo),
        "MLSERVE_TRITON__GRPC_PORT": "1",
        "MLFLOW_TRACKING_URI": "",
    }
    return run_mlserve(*args, env=env, timeout=timeout)


def test_registered_sklearn_model_is_published_with_its_provenance(
    registry: dict[str, Any], repo: Path
) -> None:
    done = mlserve(
        repo,
        "load",
        "models:/churn-sk/1",
        "--name",
        "churn",
        "--tracking-uri",
        registry["url"],
        "--json",
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["version"] == "v1"
    assert result["flavor"] == "sklearn"
    assert result["features"] == FEATURES  # from the signature
    assert result["parity"]["passed"] is True
    assert result["parity"]["n_samples"] >= 30  # the input example
    assert result["tag_error"] is None
    metadata = ModelMetadata.model_validate_json((repo / "churn/1/metadata.json").read_text())
    provenance = metadata.extra["mlflow"]
    assert provenance["run_id"] == registry["run_id"]
    assert provenance["params"] == {"C": "1.0", "max_iter": "500"}
    assert provenance["registered_model"] == "churn-sk"
    assert metadata.metrics["accuracy"] == pytest.approx(registry["accuracy"])
    assert metadata.reference_profile is not None
    tags = MlflowClient(tracking_uri=registry["url"]).get_model_version("churn-sk", "1").tags
    assert tags["mlserve.served_as"] == "churn v1"
    assert str(repo.resolve()) in tags["mlserve.served_at"]


@pytest.mark.parametrize("uri", ["models:/churn-sk@champion", "models:/churn-sk/champion"])
def test_aliases_resolve_to_the_registered_version(
    registry: dict[str, Any], repo: Path, uri: str
) -> None:
    done = mlserve(
        repo, "load", uri, "--name", "churn", "--tracking-uri", registry["url"], "--json"
    )

    assert done.returncode == 0, done.stderr
    metadata = ModelMetadata.model_validate_json((repo / "churn/1/metadata.json").read_text())
    assert metadata.extra["mlflow"]["registered_version"] == "1"


def test_run_uri_and_tracking_uri_from_the_environment(
    registry: dict[str, Any], repo: Path
) -> None:
    env_run = run_mlserve(
        "load",
        f"runs:/{registry['run_id']}/model",
        "--name",
        "churn-run",
        "--json",
        timeout=180,
        env={
            **os.environ,
            "MLSERVE_MODELS_DIR": str(repo),
            "MLSERVE_TRITON__GRPC_PORT": "1",
            "MLFLOW_TRACKING_URI": registry["url"],
        },
    )

    assert env_run.returncode == 0, env_run.stderr
    assert json.loads(env_run.stdout)["run_id"] == registry["run_id"]
    run_tags = MlflowClient(tracking_uri=registry["url"]).get_run(registry["run_id"]).data.tags
    assert run_tags["mlserve.served_as"] == "churn-run v1"


@pytest.mark.parametrize(
    ("registered", "flavor"), [("churn-xgb", "xgboost"), ("churn-lgbm", "lightgbm")]
)
def test_boosted_tree_flavors_are_converted(
    registry: dict[str, Any], repo: Path, registered: str, flavor: str
) -> None:
    done = mlserve(
        repo,
        "load",
        f"models:/{registered}/1",
        "--name",
        registered,
        "--tracking-uri",
        registry["url"],
        "--json",
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["flavor"] == flavor
    assert result["framework"] == flavor
    assert result["features"] == FEATURES
    assert result["parity"]["passed"] is True


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/no-such-model/1", "has no models:/no-such-model/1"),
        ("models:/churn-sk/7", "has no models:/churn-sk/7"),
        ("models:/churn-sk", "must be models:/<name>/<version|alias|stage>"),
        ("runs:/0123456789abcdef0123456789abcdef/model", "has no runs:/"),
        ("models:/echo-pyfunc/1", "flavor(s) python_function, which mlserve cannot convert"),
    ],
)
def test_bad_uris_are_one_line_and_change_nothing(
    registry: dict[str, Any], repo: Path, uri: str, message: str
) -> None:
    before = tree_digest(repo)
    done = mlserve(repo, "load", uri, "--name", "churn", "--tracking-uri", registry["url"])

    assert done.returncode == 1
    assert message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert tree_digest(repo) == before


def test_unreachable_mlflow_is_one_line_within_the_timeout(repo: Path) -> None:
    started = time.monotonic()
    done = mlserve(
        repo,
        "load",
        "models:/churn/1",
        "--name",
        "churn",
        "--tracking-uri",
        "http://127.0.0.1:9",
        timeout=60,
    )

    assert done.returncode == 1
    assert "MLflow at http://127.0.0.1:9 is unreachable" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 30


def test_no_tracking_uri_says_how_to_set_one(repo: Path) -> None:
    done = mlserve(repo, "load", "models:/churn/1", "--name", "churn")

    assert done.returncode == 1
    assert "set MLFLOW_TRACKING_URI or pass --tracking-uri" in done.stderr
