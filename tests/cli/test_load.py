"""``mlserve load``: publishes good models, refuses bad ones with one line, changes nothing."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import joblib
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from typer.testing import CliRunner

from mlserve.cli import app
from mlserve.samples.sentiment_data import generate
from mlserve.settings import get_settings
from tests.repository.test_store import tree_digest

runner = CliRunner()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty repository; no Triton listens on the configured port."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setenv("MLSERVE_MODELS_DIR", str(root))
    monkeypatch.setenv("MLSERVE_TRITON__GRPC_PORT", "1")
    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def pipeline_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = generate(300)
    pipeline = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression(max_iter=500))])
    pipeline.fit(data.train_texts, data.train_labels)
    path = tmp_path_factory.mktemp("models") / "pipeline.joblib"
    joblib.dump(pipeline, path)
    return path


def test_load_publishes_a_text_pipeline(repo: Path, pipeline_file: Path) -> None:
    result = runner.invoke(app, ["load", str(pipeline_file), "--name", "reviews", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["version"] == "v1"
    assert report["parity"]["passed"] is True
    assert report["serving"] is False
    assert (repo / "reviews" / "1" / "model.onnx").is_file()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is not a model at all", "not a readable joblib/pickle file"),
        (pickle.dumps({"just": "a dict"}), "holds a dict, not a model"),
        (b"\x80\x04\x95corrupt", "not a readable joblib/pickle file"),
    ],
    ids=["text-file", "pickled-dict", "corrupt-pickle"],
)
def test_bad_files_exit_non_zero_with_one_line_and_leave_the_repository_alone(
    repo: Path, pipeline_file: Path, tmp_path: Path, content: bytes, reason: str
) -> None:
    assert runner.invoke(app, ["load", str(pipeline_file), "--name", "reviews"]).exit_code == 0
    before = tree_digest(repo)
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(content)

    result = runner.invoke(app, ["load", str(bad), "--name", "reviews"])

    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert reason in lines[0].lower()
    assert tree_digest(repo) == before


def test_a_pipeline_that_fails_parity_is_not_published(repo: Path, tmp_path: Path) -> None:
    data = generate(300)
    # skl2onnx's TF-IDF with bigrams and sublinear tf diverges from scikit-learn:
    # exactly what the parity check exists to catch.
    pipeline = Pipeline(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("clf", LogisticRegression(max_iter=500, C=10.0)),
        ]
    )
    pipeline.fit(data.train_texts, data.train_labels)
    path = tmp_path / "diverging.joblib"
    joblib.dump(pipeline, path)

    result = runner.invoke(app, ["load", str(path), "--name", "reviews"])

    assert result.exit_code != 0
    assert "parity FAILED" in result.stderr
    assert list(repo.iterdir()) == [] or not (repo / "reviews").exists()


def test_missing_file_and_bad_name_are_one_line_errors(repo: Path, pipeline_file: Path) -> None:
    missing = runner.invoke(app, ["load", "/nonexistent/model.joblib", "--name", "x"])
    assert missing.exit_code == 1
    assert "does not exist" in missing.stderr
    bad_name = runner.invoke(app, ["load", str(pipeline_file), "--name", "../etc"])
    assert bad_name.exit_code == 1
    assert "is not allowed" in bad_name.stderr
