"""``POST /models/{name}/train`` end to end: the real control plane, tritonserver, the
training process pool, Optuna, and a real ``mlflow server`` for the trial log."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from mlserve.errors import InvalidInputError, NotFoundError
from mlserve.training.jobs import check_dataset_path
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack
from tests.support.cli import run_mlserve


def dataset(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(0, 1, n) for i in range(4)})
    score = frame.x0 + 0.5 * frame.x1 - frame.x2 + rng.normal(0, 0.3, n)
    frame["churned"] = np.where(score > 0, "yes", "no")
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


@pytest.fixture
def admin(stack: Stack) -> httpx.Client:
    client = httpx.Client(base_url=stack.base_url, timeout=60)
    login = client.post("/api/v1/token", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return client


def start(client: httpx.Client, name: str, frame: pd.DataFrame, **fields: Any) -> httpx.Response:
    data = {
        "target": "churned",
        **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()},
    }
    return client.post(
        f"/models/{name}/train",
        data=data,
        files={"dataset": ("train.csv", io.BytesIO(csv_bytes(frame)), "text/csv")},
    )


def wait(client: httpx.Client, name: str, job_id: str, timeout_s: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/models/{name}/train/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_optuna_search_publishes_and_serves(
    admin: httpx.Client, mlflow_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_url)
    answer = start(
        admin,
        "churn-trained",
        dataset(),
        n_optimization_trials=8,
        estimator="auto",
        auto_promote=True,
        metric="accuracy",
    )
    assert answer.status_code == 202, answer.text
    job = wait(admin, "churn-trained", answer.json()["job_id"])

    assert job["status"] == "succeeded", job
    assert job["serving"] is True
    assert job["promotion"] == (
        f"churn-trained v{job['version']} passed the gate on accuracy and is in Production"
    )
    assert admin.get("/models/churn-trained/versions").json()["production"] == job["version"]
    assert job["result"]["trials"] == 8
    assert job["result"]["full_fits"] == 8 - job["result"]["pruned"]
    assert job["result"]["cpu_seconds"] > 0
    assert job["result"]["holdout"]["accuracy"] > 0.8
    logs = "\n".join(job["logs"])
    assert "trial 0:" in logs
    assert "parity passed" in logs
    worker_pid = int(logs.split("training process ")[1].split(":")[0])
    assert worker_pid != os.getpid()  # not the serving process
    rows = dataset(20, seed=5).drop(columns=["churned"]).to_dict("records")
    predicted = admin.post(
        f"/api/v1/predict/churn-trained/v{job['version']}", json={"inputs": rows}
    )
    assert predicted.status_code == 200, predicted.text
    assert set(predicted.json()["predictions"]) <= {"yes", "no"}
    runs = MlflowClient(tracking_uri=mlflow_url).search_runs(
        [
            MlflowClient(tracking_uri=mlflow_url)
            .get_experiment_by_name("mlserve-train-churn-trained")
            .experiment_id
        ]
    )
    children = [
        r for r in runs if r.data.tags.get("mlflow.parentRunId") == job["result"]["mlflow_run_id"]
    ]
    assert len(children) == 8
    assert all("estimator" in r.data.params for r in children)


def test_the_gate_keeps_a_worse_trained_version_out_of_production(admin: httpx.Client) -> None:
    first = start(
        admin,
        "churn-gated",
        dataset(seed=6),
        optimize=False,
        estimator="logistic_regression",
        auto_promote=True,
    )
    champion = wait(admin, "churn-gated", first.json()["job_id"])
    noise = dataset(seed=7)
    noise["churned"] = np.random.default_rng(7).permutation(noise["churned"].to_numpy())
    second = start(
        admin,
        "churn-gated",
        noise,
        optimize=False,
        estimator="logistic_regression",
        auto_promote=True,
    )
    worse = wait(admin, "churn-gated", second.json()["job_id"])
    versions = admin.get("/models/churn-gated/versions").json()

    assert champion["promotion"].endswith("is in Production"), champion
    assert worse["status"] == "succeeded", worse
    assert worse["promotion"].startswith(
        f"not promoted: the gate kept churn-gated v{worse['version']} out of Production"
    ), worse
    assert versions["production"] == champion["version"]  # the champion still serves
    assert any("not promoted" in line for line in worse["logs"])


def test_without_auto_promote_the_version_is_published_stopped(
    admin: httpx.Client, stack: Stack
) -> None:
    answer = start(
        admin, "churn-candidate", dataset(seed=2), optimize=False, estimator="logistic_regression"
    )
    job = wait(admin, "churn-candidate", answer.json()["job_id"])

    assert job["status"] == "succeeded", job
    assert job["serving"] is False
    assert job["version"] in stack.repository.versions("churn-candidate")
    assert job["version"] in stack.repository.disabled_versions("churn-candidate")


def start_long_search(admin: httpx.Client, name: str, seed: int, until: str) -> tuple[str, str]:
    """A search of 150 random-forest trials, once its log shows ``until``: (job id, logs)."""
    answer = start(
        admin,
        name,
        dataset(3000, seed=seed),
        n_optimization_trials=150,
        estimator="random_forest",
        time_budget_s=600,
    )
    job_id = answer.json()["job_id"]
    deadline = time.monotonic() + 60
    logs = ""
    while until not in logs:
        assert time.monotonic() < deadline
        time.sleep(0.3)
        logs = "\n".join(admin.get(f"/models/{name}/train/{job_id}").json()["logs"])
    return job_id, logs


def test_cancel_stops_a_running_search(admin: httpx.Client, stack: Stack) -> None:
    before = stack.repository.versions("churn-cancelled")
    job_id, _ = start_long_search(admin, "churn-cancelled", seed=4, until="trial 1:")

    cancelled = admin.post(f"/models/churn-cancelled/train/{job_id}/cancel")
    job = wait(admin, "churn-cancelled", job_id, timeout_s=60)

    assert cancelled.status_code == 200
    assert job["status"] == "cancelled"
    assert stack.repository.versions("churn-cancelled") == before
    again = admin.post(f"/models/churn-cancelled/train/{job_id}/cancel")
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("fields", "frame", "status", "message"),
    [
        ({"target": "nope"}, dataset(100), 422, "target column 'nope' is not in the dataset"),
        ({"n_optimization_trials": 5000}, dataset(100), 422, "training.max_trials"),
        ({"estimator": "svm"}, dataset(100), 422, "not a classification family"),
        ({"metric": "rmse"}, dataset(100), 422, "does not fit classification"),
        ({"colour": "red"}, dataset(100), 422, "unknown form field(s) colour"),
        ({"dataset_path": "train.csv"}, dataset(100), 422, "not both or neither"),
    ],
)
def test_bad_requests_are_refused_before_queueing(
    admin: httpx.Client, fields: dict[str, Any], frame: pd.DataFrame, status: int, message: str
) -> None:
    answer = start(admin, "churn-bad", frame, **fields)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]


def test_dataset_path_needs_a_data_root_and_admin(admin: httpx.Client, stack: Stack) -> None:
    no_root = admin.post("/models/m/train", data={"target": "y", "dataset_path": "a.csv"})
    assert no_root.status_code == 422
    assert "no training.data_root" in no_root.json()["error"]
    anonymous = httpx.post(f"{stack.base_url}/models/m/train", data={"target": "y"})
    assert anonymous.status_code == 401
    assert admin.get("/models/m/train/t1").status_code == 404


def test_dataset_paths_stay_under_the_root(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "train.csv").write_text("a,b\n1,2\n")
    (tmp_path / "secret.csv").write_text("a\n1\n")
    (root / "link.csv").symlink_to(tmp_path / "secret.csv")

    assert check_dataset_path(root, "sub/train.csv") == (root / "sub" / "train.csv").resolve()
    for escape in (
        "../secret.csv",
        str(tmp_path / "secret.csv"),
        "link.csv",
        "sub/../../secret.csv",
    ):
        with pytest.raises(InvalidInputError, match="leaves the data root"):
            check_dataset_path(root, escape)
    with pytest.raises(NotFoundError):
        check_dataset_path(root, "sub/missing.csv")


def test_cli_train_waits_for_the_job(stack: Stack, tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    dataset(400, seed=7).to_csv(data, index=False)
    env = {**os.environ, "MLSERVE_ADMIN_USER": ADMIN_USER, "MLSERVE_ADMIN_PASSWORD": ADMIN_PASSWORD}
    train = ("train", "churn-cli", "--data", str(data), "--url", stack.base_url)
    done = run_mlserve(
        *train,
        "--target",
        "churned",
        "--trials",
        "3",
        "--auto-promote",
        "--wait",
        "--json",
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert '"status": "succeeded"' in done.stdout
    bad = run_mlserve(*train, "--target", "nope", env=env)
    assert bad.returncode == 1
    assert "target column 'nope' is not in the dataset" in bad.stderr


def test_a_killed_training_process_fails_the_job_and_the_next_one_runs(
    admin: httpx.Client,
) -> None:
    job_id, logs = start_long_search(admin, "churn-killed", seed=6, until="training process ")
    os.kill(int(logs.split("training process ")[1].split(":")[0]), 9)

    job = wait(admin, "churn-killed", job_id, timeout_s=60)
    after = wait(
        admin,
        "churn-killed",
        start(admin, "churn-killed", dataset(seed=8), optimize=False).json()["job_id"],
    )

    assert job["status"] == "failed"
    assert "the training process died" in job["error"]
    assert after["status"] == "succeeded", after
