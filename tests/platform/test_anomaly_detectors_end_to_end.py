"""The four outlier detectors through every route, with their scores, against real parts.

IsolationForest, OneClassSVM, EllipticEnvelope and LocalOutlierFactor(novelty=True) are
deployed by the real ``mlserve-sdk`` 0.4.0 client (``/api/v1/deploy``: the upload sandbox,
the ONNX export, Triton) with background data, then asked through ``/predict``,
``/batch-predict``, ``/api/v1/predict`` (the client's ``predict``) and the Open Inference
Protocol (``tritonclient.http``). Every route answers a label and a score per row equal to
the native ``predict`` and ``decision_function`` (the score's documented direction:
negative = outlier, lower = more anomalous, for all four). Then the scores feed data quality
(``get_data_quality``: outlier share against the background's) and drift (the
``anomaly_score``/``anomaly_label`` signals of ``/monitoring/drift``). The module runs its
own control plane (drift windows of 50 requests) in front of the session's tritonserver.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import tritonclient.http as triton_http
from mlserve_sdk.client import MLServeClient
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

from mlserve.control_plane.schemas import BatchPredictResponse, PredictResponse
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, stack_settings
from tests.support.control_plane import ControlPlaneServer
from tests.support.triton_server import TritonServer

FEATURES = ["x1", "x2"]
DETECTORS: dict[str, Any] = {
    "od-iforest": lambda: IsolationForest(n_estimators=50, random_state=0),
    "od-ocsvm": lambda: OneClassSVM(nu=0.1, gamma="scale"),
    "od-envelope": lambda: EllipticEnvelope(random_state=0),
    "od-lof": lambda: LocalOutlierFactor(n_neighbors=20, novelty=True),
}
NAMES = list(DETECTORS)
PROBES = pd.DataFrame({"x1": [0.1, 6.0, -5.0, 0.4], "x2": [-0.2, 6.0, 7.0, 0.3]})
"""Two central rows (inliers for every detector) and two far away (outliers)."""
DRIFT_WINDOW = 50
pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


def training(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(0.0, 1.0, (n, 2)), columns=FEATURES)


def records(frame: pd.DataFrame) -> list[dict[str, float]]:
    return [{k: float(v) for k, v in row.items()} for row in frame.to_dict("records")]


class Deployed:
    def __init__(self, url: str, models: dict[str, Any], data: pd.DataFrame) -> None:
        self.url, self.models, self.data = url, models, data

    def native(self, name: str, frame: pd.DataFrame) -> tuple[list[int], npt.NDArray[Any]]:
        model = self.models[name]
        return model.predict(frame).tolist(), model.decision_function(frame)


@pytest.fixture(scope="module")
def deployed(
    triton_server: TritonServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    data = training()
    models = {name: make().fit(data) for name, make in DETECTORS.items()}
    state = tmp_path_factory.mktemp("anomaly")
    settings = stack_settings(
        triton_server,
        state,
        monitoring={"triton_poll_seconds": 1.0, "drift_window": DRIFT_WINDOW},
    )
    with ControlPlaneServer(settings) as server:
        sdk = MLServeClient(server_url=server.base_url)
        sdk.login(ADMIN_USER, ADMIN_PASSWORD)
        started = {
            name: sdk.deploy(
                model=model,
                name=name,
                version="v1",
                features=FEATURES,
                background_df=data.head(200),
            )["deployment_id"]
            for name, model in models.items()
        }
        for name, deployment_id in started.items():
            final = sdk.wait_for_deployment(deployment_id, poll_interval=1, timeout=600)
            assert final["status"] == "success", (name, final)
        yield Deployed(server.base_url, models, data)


@pytest.fixture(scope="module")
def sdk(deployed: Deployed) -> MLServeClient:
    client = MLServeClient(server_url=deployed.url)
    client.login(ADMIN_USER, ADMIN_PASSWORD)
    return client


def check_direction(labels: list[int], scores: npt.NDArray[Any]) -> None:
    """Central probes are inliers with positive scores, far ones outliers with negative."""
    assert labels == [1, -1, -1, 1]
    assert min(scores[0], scores[3]) > 0
    assert max(scores[1], scores[2]) < 0


@pytest.mark.parametrize("name", NAMES)
def test_predict_answers_label_and_score(name: str, deployed: Deployed) -> None:
    labels, scores = deployed.native(name, PROBES)
    check_direction(labels, scores)
    for record, label, score in zip(records(PROBES), labels, scores, strict=True):
        answer = httpx.post(
            f"{deployed.url}/predict", json={"model": name, "features": record}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        PredictResponse.model_validate(body)
        assert body["prediction"] == label
        assert body["label"] == ("outlier" if label == -1 else "inlier")
        assert body["score"] == pytest.approx(score, rel=1e-4, abs=1e-4)
        assert body["probabilities"] is None


@pytest.mark.parametrize("name", NAMES)
def test_batch_predict_answers_labels_and_scores(name: str, deployed: Deployed) -> None:
    frame = pd.concat([PROBES, deployed.data.iloc[200:230]], ignore_index=True)
    labels, scores = deployed.native(name, frame)
    answer = httpx.post(
        f"{deployed.url}/batch-predict",
        json={"model": name, "features": records(frame)},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    BatchPredictResponse.model_validate(answer.json())
    predictions = answer.json()["predictions"]
    assert [p["prediction"] for p in predictions] == labels
    assert [p["label"] for p in predictions] == ["outlier" if v == -1 else "inlier" for v in labels]
    np.testing.assert_allclose([p["score"] for p in predictions], scores, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_api_v1_predict_through_the_sdk_answers_scores(
    name: str, deployed: Deployed, sdk: MLServeClient
) -> None:
    labels, scores = deployed.native(name, PROBES)
    answer = sdk.predict(name, "v1", {"inputs": records(PROBES)})
    assert answer["predictions"] == labels
    np.testing.assert_allclose(answer["scores"], scores, rtol=1e-4, atol=1e-4)
    assert len(answer["prediction_ids"]) == len(PROBES)
    listed = {m["name"]: m for m in sdk.list_models()}
    assert listed[name]["task_type"] == "anomaly-detection"


@pytest.mark.parametrize("name", NAMES)
def test_open_inference_protocol_answers_scores(name: str, deployed: Deployed) -> None:
    labels, scores = deployed.native(name, PROBES)
    client = triton_http.InferenceServerClient(deployed.url.removeprefix("http://"))
    metadata = client.get_model_metadata(name)
    [numeric] = [i for i in metadata["inputs"] if i["name"] == "input"]
    dtype = np.float64 if numeric["datatype"] == "FP64" else np.float32
    tensor = triton_http.InferInput("input", [len(PROBES), 2], numeric["datatype"])
    tensor.set_data_from_numpy(PROBES[FEATURES].to_numpy(dtype=dtype))
    outputs = [triton_http.InferRequestedOutput(n) for n in ("scores", "label")]

    result = client.infer(name, [tensor], outputs=outputs)

    assert result.as_numpy("label").ravel().tolist() == labels
    np.testing.assert_allclose(result.as_numpy("scores").ravel(), scores, rtol=1e-4, atol=1e-4)
    assert {o["name"] for o in metadata["outputs"]} == {"scores", "label"}


def test_data_quality_reports_the_outlier_share_against_the_background(
    deployed: Deployed, sdk: MLServeClient
) -> None:
    name = "od-iforest"
    # 40 rows like the background, then 20 far away: a third of the window is anomalous.
    rng = np.random.default_rng(5)
    far = pd.DataFrame(rng.normal(8.0, 0.5, (20, 2)), columns=FEATURES)
    frame = pd.concat([deployed.data.iloc[200:240], far], ignore_index=True)
    _, scores = deployed.native(name, frame)
    sdk.predict(name, "v1", {"inputs": records(frame)})

    report = sdk.get_data_quality(name, "v1", hours=1)
    anomaly = report["anomaly"]
    # Every logged row of a detector has a score (earlier tests may have logged a few more).
    assert anomaly["n"] == report["n"] >= len(frame)
    assert anomaly["outlier_share"] >= (scores < 0).sum() / report["n"] > 0.25
    assert anomaly["score"]["min"] <= scores.min() + 1e-4
    _, background = deployed.native(name, deployed.data.head(200))
    assert anomaly["has_reference"] is True
    assert anomaly["reference_outlier_share"] == pytest.approx((background < 0).mean())
    assert anomaly["reference_outlier_share"] < 0.2
    assert anomaly["status"] == "drifted"
    assert anomaly["score_psi"] >= 0.25
    assert "negative = outlier" in anomaly["direction"]


def test_data_quality_of_a_classifier_has_no_anomaly_section(sdk: MLServeClient) -> None:
    sdk.predict("sentiment", "v1", {"inputs": ["great product", "awful battery"]})
    report = sdk.get_data_quality("sentiment", "v1", hours=1)
    assert report["n"] >= 2
    assert report.get("anomaly") is None


def test_drift_watches_the_scores(deployed: Deployed) -> None:
    name = "od-envelope"
    ok = httpx.get(f"{deployed.url}/monitoring/drift/{name}", timeout=30).json()
    assert ok["versions"][0]["status"] in ("collecting", "ok")
    # Earlier tests' rows partly fill the current window: complete it with calm rows, so the
    # next windows hold only what this test sends.
    observed = current(deployed, name)["observed"]
    if observed:
        filler = training(DRIFT_WINDOW - observed, seed=10)
        wait_for_window(deployed, name, filler, expect_drift=False)
    # A window of rows like the background: the score signals match the reference.
    calm = training(DRIFT_WINDOW, seed=11)
    wait_for_window(deployed, name, calm, expect_drift=False)
    # A window where every row is far away: the scores and the outlier share drift.
    rng = np.random.default_rng(12)
    shifted = pd.DataFrame(rng.normal(4.0, 1.0, (DRIFT_WINDOW, 2)), columns=FEATURES)
    signals = wait_for_window(deployed, name, shifted, expect_drift=True)
    assert signals["anomaly_score"]["drifted"] is True
    assert signals["anomaly_label"]["drifted"] is True


def wait_for_window(
    deployed: Deployed, name: str, frame: pd.DataFrame, *, expect_drift: bool
) -> dict[str, dict[str, Any]]:
    before = current(deployed, name)["windows_evaluated"]
    for record in records(frame):
        answer = httpx.post(
            f"{deployed.url}/predict", json={"model": name, "features": record}, timeout=30
        )
        assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 30
    report = current(deployed, name)
    while report["windows_evaluated"] <= before and time.monotonic() < deadline:
        time.sleep(0.3)
        report = current(deployed, name)
    assert report["windows_evaluated"] == before + 1, report
    signals = {s["signal"]: s for s in report["signals"]}
    assert {"anomaly_score", "anomaly_label"} <= set(signals), sorted(signals)
    if not expect_drift:
        assert signals["anomaly_score"]["drifted"] is False, signals["anomaly_score"]
    return signals


def current(deployed: Deployed, name: str) -> dict[str, Any]:
    answer = httpx.get(f"{deployed.url}/monitoring/drift/{name}", timeout=30)
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()["versions"][0]
    return report


def test_the_reference_profile_holds_the_background_scores(
    deployed: Deployed, triton_server: TritonServer
) -> None:
    repository = triton_server.repository
    for name in NAMES:
        profile = repository.metadata(name, 1).reference_profile
        assert profile is not None, name
        signals = profile["signals"]
        _, scores = deployed.native(name, deployed.data.head(200))
        assert signals["anomaly_score"]["n"] == 200
        assert signals["anomaly_label"]["categories"] == ["inlier", "outlier"]
        assert signals["anomaly_label"]["counts"][1] == int((scores < 0).sum()), name
