"""``mlserve load --gate --validation FILE`` against the session's real Triton: the
candidate is judged as Triton serves it, and the control plane follows the decision.
Each command runs as its own process, as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import joblib
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlserve.samples.sentiment_data import LABELS, generate
from tests.conftest import Stack

ROTATED = {label: LABELS[(i + 1) % len(LABELS)] for i, label in enumerate(LABELS)}


@pytest.fixture
def cli_env(stack: Stack) -> dict[str, str]:
    """The CLI's environment: the session's repository and Triton."""
    return {
        **os.environ,
        "MLSERVE_MODELS_DIR": str(stack.repository.root),
        "MLSERVE_TRITON_URL": stack.triton.grpc_url,
        "MLSERVE_TRITON__HTTP_URL": stack.triton.http_url,
        "MLSERVE_PUBLISH__PROMOTION_GRACE_SECONDS": "0.5",
    }


def mlserve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from mlserve.cli import main; main()", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def pipeline_file(folder: Path, name: str, labels_of: dict[str, str] | None = None) -> Path:
    data = generate(600)
    labels = [labels_of[x] for x in data.train_labels] if labels_of else data.train_labels
    pipeline = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression(max_iter=500))])
    pipeline.fit(data.train_texts, labels)
    path = folder / f"{name}.joblib"
    joblib.dump(pipeline, path)
    return path


def test_load_gate_promotes_only_a_better_version(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    name = "cli-gated"
    good = pipeline_file(tmp_path, "good")
    bad = pipeline_file(tmp_path, "bad", ROTATED)
    data = generate(300, seed=99)
    validation = tmp_path / "validation.json"
    validation.write_text(json.dumps({"texts": data.test_texts, "labels": data.test_labels}))

    first = mlserve(cli_env, "load", str(bad), "--name", name, "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    assert mlserve(cli_env, "promote", name, "1").returncode == 0
    better = mlserve(
        cli_env, "load", str(good), "--name", name, "--gate", "--validation", str(validation)
    )
    worse = mlserve(cli_env, "load", str(bad), "--name", name, "--gate", "--json")

    assert better.returncode == 0, better.stdout + better.stderr
    assert "promoted to Production" in better.stdout + better.stderr
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert worse.stdout, worse.stdout + worse.stderr
    report = json.loads(worse.stdout)["gate"]
    assert report["passed"] is False
    assert report["champion"]["version"] == 2
    assert stack.repository.release_state(name).production() == 2
    listed = mlserve(cli_env, "list", "--json")
    rows = {
        m["name"]: m["versions"] for m in json.loads(listed.stdout)["models"] if m["name"] == name
    }[name]
    assert [r["stage"] for r in rows] == ["Archived", "Production", "None"]
    assert rows[1]["gate"]["passed"] is True
    answer = httpx.post(
        f"{stack.base_url}/predict", json={"model": name, "text": "great"}, timeout=30
    ).json()
    assert answer["version"] == "v2"


def test_load_gate_without_a_validation_set_publishes_nothing(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    good = pipeline_file(tmp_path, "good")

    result = mlserve(cli_env, "load", str(good), "--name", "cli-gated-none", "--gate")

    assert result.returncode != 0
    assert "validation" in result.stdout + result.stderr
    assert stack.repository.versions("cli-gated-none") == []
