"""The platform's serving seams on a real tritonserver: deploy (screen, export, publish),
catalog, lifecycle and predictions through the data plane, checked against the native
models."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingRegressor, IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlserve.errors import ConflictError, ConversionError, InvalidInputError, NotFoundError
from mlserve.kinds.tabular import label_value
from mlserve.serving.platform_adapters import RepositoryCatalog, TritonDeployer, TritonLifecycle
from mlserve.serving.publisher import Publisher
from mlserve.triton.client import TritonClient
from tests.support.dataplane import dataplane_for, predict_records
from tests.support.triton_server import TritonServer

FEATURES = ["age", "income", "plan"]


def frame(n: int = 300, seed: int = 3) -> tuple[pd.DataFrame, npt.NDArray[Any]]:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50, 15, n).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        }
    )
    y = ((data.age / 80 + (data.plan == "pro") * 0.5 + data.income / 200) > 0.9).astype(int)
    return data, y.to_numpy()


def dumped(model: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def records(data: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return [
        {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
        for row in data[columns].to_dict("records")
    ]


def snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


class Seams:
    def __init__(self, triton: TritonServer, client: TritonClient) -> None:
        self.repository = triton.repository
        self.publisher = Publisher(triton.repository, client)
        self.deployer = TritonDeployer(self.publisher)
        self.lifecycle = TritonLifecycle(self.publisher)
        self.catalog = RepositoryCatalog(triton.repository, client)
        self.plane = dataplane_for(triton.repository, client)
        self.logs: list[str] = []

    async def predict_records(
        self, name: str, version: int, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        return await predict_records(self.plane, name, version, rows)

    async def deploy(self, model: Any, name: str, version: int, **kw: Any) -> None:
        await self.deployer.deploy(
            dumped(model),
            name,
            version,
            kw.get("features"),
            kw.get("background"),
            kw.get("metrics"),
            kw.get("task_type"),
            self.logs.append,
        )


@pytest.fixture
async def seams(triton_server: TritonServer) -> AsyncIterator[Seams]:
    client = TritonClient(triton_server.grpc_url, timeout_s=30)
    try:
        yield Seams(triton_server, client)
    finally:
        await client.close()


def test_labels_come_back_as_numbers_when_they_are_numbers() -> None:
    assert [label_value(s) for s in ["1", "-2", "0.5", "yes", "nan"]] == [1, -2, 0.5, "yes", "nan"]


async def test_pipeline_deploys_and_predicts_like_sklearn(seams: Seams) -> None:
    data, y = frame()
    numeric = ["age", "income"]
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))]).fit(
        data[numeric], y
    )
    background = records(data.head(100), numeric)
    await seams.deploy(
        model,
        "adapters-churn",
        1,
        features=numeric,
        background=background,
        metrics={"auc": 0.9},
        task_type="classification",
    )
    assert any("parity passed" in line for line in seams.logs)
    sample = data[numeric].iloc[:40]  # 40 records: three Triton requests of at most 16
    out = await seams.predict_records("adapters-churn", 1, records(sample, numeric))
    assert [o["prediction"] for o in out] == model.predict(sample).tolist()
    probs = np.array([[o["probabilities"]["0"], o["probabilities"]["1"]] for o in out])
    np.testing.assert_allclose(probs, model.predict_proba(sample), atol=1e-4)
    with pytest.raises(InvalidInputError, match=r"records\[0\].*'income'"):
        await seams.predict_records("adapters-churn", 1, [{"age": 1}])

    [version] = await seams.catalog.versions("adapters-churn")
    assert (version.version, version.active, version.task_type) == (1, True, "classification")
    assert version.features == numeric
    assert version.metrics["auc"] == 0.9
    assert "adapters-churn" in await seams.catalog.model_names()
    assert version.internal_url is not None

    await seams.lifecycle.stop("adapters-churn", 1, remove=False)
    assert [v.active for v in await seams.catalog.versions("adapters-churn")] == [False]
    await seams.lifecycle.start("adapters-churn", 1)
    assert [v.active for v in await seams.catalog.versions("adapters-churn")] == [True]
    await seams.lifecycle.stop("adapters-churn", 1, remove=True)
    assert await seams.catalog.versions("adapters-churn") == []
    with pytest.raises(NotFoundError):
        await seams.lifecycle.start("adapters-churn", 1)


async def test_regressor_and_anomaly_detector(seams: Seams) -> None:
    data, _ = frame(seed=5)
    numeric = data[["age", "income"]]
    regressor = GradientBoostingRegressor(n_estimators=20, random_state=0).fit(
        numeric, data.income * 2
    )
    await seams.deploy(regressor, "adapters-price", 1, task_type="regression")
    out = await seams.predict_records("adapters-price", 1, records(numeric[:5], ["age", "income"]))
    np.testing.assert_allclose(
        [o["prediction"] for o in out], regressor.predict(numeric[:5]), rtol=1e-4
    )
    [version] = await seams.catalog.versions("adapters-price")
    assert version.task_type == "regression"

    detector = IsolationForest(n_estimators=20, random_state=0).fit(numeric)
    await seams.deploy(detector, "adapters-outliers", 1)
    odd = pd.DataFrame({"age": [40.0, 500.0], "income": [50.0, -900.0]})
    flagged = await seams.predict_records("adapters-outliers", 1, records(odd, ["age", "income"]))
    assert [o["prediction"] for o in flagged] == detector.predict(odd).tolist()
    assert flagged[1]["score"] < 0


async def test_bad_uploads_fail_before_the_repository_changes(seams: Seams) -> None:
    root = seams.repository.root
    before = snapshot(root)
    with pytest.raises(ConversionError, match="not a readable joblib/pickle file"):
        await seams.deployer.deploy(
            b"\x80\x04broken" * 50, "adapters-bad", 1, None, None, None, None, seams.logs.append
        )
    with pytest.raises(ConversionError, match=r"'os\.system'"):
        await seams.deployer.deploy(
            b"cos\nsystem\n(S'true'\ntR.",
            "adapters-bad",
            1,
            None,
            None,
            None,
            None,
            seams.logs.append,
        )
    with pytest.raises(ConversionError, match="holds a dict, not a model"):
        await seams.deployer.deploy(
            dumped({"a": 1}), "adapters-bad", 1, None, None, None, None, seams.logs.append
        )
    assert snapshot(root) == before
    assert await seams.catalog.versions("adapters-bad") == []


async def test_start_beyond_the_served_window_is_a_conflict(seams: Seams) -> None:
    data, y = frame(seed=9)
    numeric = data[["age", "income"]]
    limit = seams.repository.options.serve_versions
    for version in range(1, limit + 2):
        await seams.deploy(LogisticRegression().fit(numeric, y), "adapters-window", version)
    states = {v.version: v.active for v in await seams.catalog.versions("adapters-window")}
    assert states[1] is False
    assert all(states[v] for v in range(2, limit + 2))
    with pytest.raises(ConflictError, match="only the newest"):
        await seams.lifecycle.start("adapters-window", 1)
