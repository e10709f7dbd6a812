"""``mlserve load``: publishes good models, refuses bad ones with one line, changes nothing."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
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


PHRASES = {
    "positive": "the delivery was quick and the support team was friendly",
    "negative": "the package arrived broken and nobody answered my emails",
    "neutral": "the order was placed on monday and delivered on friday",
}


def three_phrase_pipeline(tmp_path: Path) -> Path:
    """Issue 24's model: TF-IDF + LogisticRegression on 90 texts of three phrases."""
    texts = [PHRASES[label] for label in PHRASES for _ in range(30)]
    labels = [label for label in PHRASES for _ in range(30)]
    pipeline = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression())])
    pipeline.fit(texts, labels)
    path = tmp_path / "model.joblib"
    joblib.dump(pipeline, path)
    return path


def test_a_small_domain_vocabulary_model_publishes_without_samples(
    repo: Path, tmp_path: Path
) -> None:
    path = three_phrase_pipeline(tmp_path)

    result = runner.invoke(app, ["load", str(path), "--name", "sentiment", "--json"])

    assert result.exit_code == 0, result.output
    parity = json.loads(result.stdout)["parity"]
    assert parity["passed"] is True
    assert parity["label_mismatches"] == 0
    assert parity["unrepresentative"] is None
    metadata = json.loads((repo / "sentiment" / "1" / "metadata.json").read_text())
    assert metadata["reference_profile"] is None  # no user data: no drift reference


def test_samples_that_miss_the_vocabulary_are_refused_as_unrepresentative(
    repo: Path, tmp_path: Path
) -> None:
    path = three_phrase_pipeline(tmp_path)
    samples = tmp_path / "samples.txt"
    samples.write_text("\n".join(generate(100).test_texts[:60] + ["zzz qqq"] * 60))

    result = runner.invoke(
        app, ["load", str(path), "--name", "sentiment", "--samples", str(samples)]
    )

    assert result.exit_code != 0
    first = result.stderr.strip().splitlines()[0]
    assert "unrepresentative" in first
    assert "have no in-vocabulary token" in first
    assert "--samples" in first
    assert not (repo / "sentiment").exists()


def test_bigrams_with_sublinear_tf_publish_exactly(repo: Path, tmp_path: Path) -> None:
    data = generate(300)
    pipeline = Pipeline(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("clf", LogisticRegression(max_iter=500, C=10.0)),
        ]
    )
    pipeline.fit(data.train_texts, data.train_labels)
    path = tmp_path / "bigrams.joblib"
    joblib.dump(pipeline, path)

    result = runner.invoke(app, ["load", str(path), "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["name"] == "bigrams"  # from the file name
    assert report["parity"]["max_abs_diff"] < 1e-5


def diverging_pipeline(tmp_path: Path) -> tuple[Path, Path]:
    """A pipeline whose lowercasing differs from ONNX Runtime's on dotted capital I:
    Python lowercases 'İ' to 'i' + U+0307 (the token becomes 'stanbul'), ONNX to 'i'."""
    texts = ["istanbul is great", "stanbul is bad", "ankara is fine"] * 10
    labels = ["pos", "neg", "mid"] * 10
    pipeline = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression(C=100.0))])
    pipeline.fit(texts, labels)
    path = tmp_path / "cities.joblib"
    joblib.dump(pipeline, path)
    samples = tmp_path / "cities.txt"
    samples.write_text("\n".join(["İstanbul is", "istanbul is", "ankara is"] * 5))
    return path, samples


def test_a_pipeline_that_fails_parity_shows_the_worst_inputs(repo: Path, tmp_path: Path) -> None:
    path, samples = diverging_pipeline(tmp_path)
    before = tree_digest(repo)

    result = runner.invoke(app, ["load", str(path), "--samples", str(samples)])

    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: cities.joblib not published: parity FAILED")
    assert "5 label mismatches beyond ties" in lines[0]
    assert "likely cause: tokenization" in lines[0]
    assert len(lines) == 1 + 5  # the refusal, then each differing row
    assert "native neg vs served pos" in lines[1]
    assert "İstanbul is" in lines[1]
    assert tree_digest(repo) == before


def test_json_output_is_printed_on_failure_too(repo: Path, tmp_path: Path) -> None:
    path, samples = diverging_pipeline(tmp_path)

    result = runner.invoke(app, ["load", str(path), "--samples", str(samples), "--json"])

    assert result.exit_code != 0
    report = json.loads(result.stdout)
    assert report["published"] is False
    assert "parity FAILED" in report["error"]
    worst = report["parity"]["mismatches"]
    assert len(worst) == 5
    assert {m["native_label"] for m in worst} == {"neg"}
    assert {m["served_label"] for m in worst} == {"pos"}
    refused = runner.invoke(app, ["load", "/nonexistent/x.joblib", "--json"])
    assert refused.exit_code != 0
    assert json.loads(refused.stdout)["error"].endswith("does not exist")


def test_the_name_comes_from_the_file_name_and_is_validated(
    repo: Path, pipeline_file: Path, tmp_path: Path
) -> None:
    odd = tmp_path / "-odd name.joblib"
    odd.write_bytes(pipeline_file.read_bytes())

    result = runner.invoke(app, ["load", str(odd)])

    assert result.exit_code != 0
    assert "comes from the file name '-odd name.joblib': pass --name" in result.stderr
    assert list(repo.iterdir()) == []


def test_missing_file_and_bad_name_are_one_line_errors(repo: Path, pipeline_file: Path) -> None:
    missing = runner.invoke(app, ["load", "/nonexistent/model.joblib", "--name", "x"])
    assert missing.exit_code == 1
    assert "does not exist" in missing.stderr
    bad_name = runner.invoke(app, ["load", str(pipeline_file), "--name", "../etc"])
    assert bad_name.exit_code == 1
    assert "is not allowed" in bad_name.stderr


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A scaled random forest trained on a DataFrame, and its rows."""
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 300).astype(float),
            "income": rng.normal(50.0, 15.0, 300).round(2),
        }
    )
    y = (frame.age / 80 + frame.income / 100 > 1.0).astype(int)
    model = Pipeline(
        [("scale", StandardScaler()), ("forest", RandomForestClassifier(20, random_state=0))]
    ).fit(frame, y)
    path = tmp_path_factory.mktemp("churn") / "churn.joblib"
    joblib.dump(model, path)
    return path, frame


@pytest.mark.parametrize("kind", ["csv", "parquet", "json", "jsonl"])
def test_background_rows_drive_parity_and_the_drift_reference(
    repo: Path, churn: tuple[Path, pd.DataFrame], tmp_path: Path, kind: str
) -> None:
    path, frame = churn
    rows = tmp_path / f"rows.{kind}"
    if kind == "csv":
        frame.to_csv(rows, index=False)
    elif kind == "parquet":
        frame.to_parquet(rows)
    elif kind == "json":
        rows.write_text(json.dumps(frame.to_dict(orient="records")))
    else:
        frame.to_json(rows, orient="records", lines=True)

    result = runner.invoke(app, ["load", str(path), "--background", str(rows), "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["name"] == "churn"
    assert report["parity"]["n_samples"] == 300
    metadata = json.loads((repo / "churn" / "1" / "metadata.json").read_text())
    assert metadata["reference_profile"] is not None
    assert metadata["preprocessing"]["numeric_dtype"] == "float64"


def test_a_tabular_model_without_background_checks_its_thresholds_and_has_no_reference(
    repo: Path, churn: tuple[Path, pd.DataFrame]
) -> None:
    path, _ = churn

    result = runner.invoke(app, ["load", str(path), "--json"])

    assert result.exit_code == 0, result.output
    metadata = json.loads((repo / "churn" / "1" / "metadata.json").read_text())
    assert metadata["reference_profile"] is None
    assert metadata["extra"]["parity_data"] == "synthetic"
    assert metadata["parity"]["n_samples"] > 200  # synthetic rows plus threshold rows


@pytest.mark.parametrize(
    ("content", "suffix", "reason"),
    [
        ("age,salary\n30,1.0\n", "csv", "background_data: records[0]"),
        ("[1, 2, 3]", "json", "must hold a JSON list of records"),
        ("a\tb", "tsv", "unknown type '.tsv'"),
        ("", "csv", "cannot read --background"),
    ],
    ids=["wrong-columns", "not-records", "unknown-type", "empty"],
)
def test_bad_background_files_are_one_line_errors_and_change_nothing(
    repo: Path,
    churn: tuple[Path, pd.DataFrame],
    tmp_path: Path,
    content: str,
    suffix: str,
    reason: str,
) -> None:
    path, _ = churn
    rows = tmp_path / f"rows.{suffix}"
    rows.write_text(content)
    before = tree_digest(repo)

    result = runner.invoke(app, ["load", str(path), "--background", str(rows)])

    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert reason in lines[0]
    assert tree_digest(repo) == before


def test_a_new_version_takes_the_input_type_of_the_earlier_ones(
    repo: Path, churn: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    # Triton keeps one input type per model: a model whose versions took float32 (as
    # before float64 inputs) gets float32 versions; a new model gets float64.
    scaled, frame = churn
    forest = joblib.load(scaled).steps[-1][1]
    path = tmp_path / "churn.joblib"
    joblib.dump(
        RandomForestClassifier(20, random_state=0).fit(
            frame, forest.classes_[(frame.age / 80 + frame.income / 100 > 1.0).astype(int)]
        ),
        path,
    )
    assert runner.invoke(app, ["load", str(path)]).exit_code == 0
    first = repo / "churn" / "1" / "metadata.json"
    metadata = json.loads(first.read_text())
    assert metadata["preprocessing"]["numeric_dtype"] == "float64"
    metadata["preprocessing"]["numeric_dtype"] = "float32"
    first.write_text(json.dumps(metadata))

    result = runner.invoke(app, ["load", str(path), "--json"])

    assert result.exit_code == 0, result.output
    second = json.loads((repo / "churn" / "2" / "metadata.json").read_text())
    assert second["preprocessing"]["numeric_dtype"] == "float32"
    assert [i["datatype"] for i in second["inputs"]] == ["FP32"]
    # a scaled forest is not exact behind a float32 input: refused, with the reason
    refused = runner.invoke(app, ["load", str(scaled), "--name", "churn"])
    assert refused.exit_code != 0
    assert "earlier versions of this model take float32 input" in refused.stderr


def test_load_with_task_options_publishes_a_causal_model(repo: Path, tmp_path: Path) -> None:
    from mlserve.repository.metadata import ModelMetadata
    from tests.support.decision_models import causal_model

    model, background = causal_model()
    path, rows = tmp_path / "promo.joblib", tmp_path / "rows.csv"
    joblib.dump(model, path)
    background.to_csv(rows, index=False)
    options = '{"action": "offer", "actions": [0, 1, 2], "baseline": 0, "objective": "max"}'
    result = runner.invoke(
        app,
        [
            "load",
            str(path),
            "--background",
            str(rows),
            "--task-type",
            "causal",
            "--task-options",
            options,
            "--json",
        ],
    )

    assert result.exit_code == 0, result.output
    metadata = ModelMetadata.model_validate_json(
        (repo / "promo" / "1" / "metadata.json").read_text()
    )
    assert metadata.input_kind == "causal"
    assert metadata.extra["causal"]["actions"] == [0, 1, 2]


def test_load_refuses_a_causal_model_without_its_action_column(repo: Path, tmp_path: Path) -> None:
    from tests.support.decision_models import causal_model

    model, _ = causal_model()
    path = tmp_path / "promo.joblib"
    joblib.dump(model, path)
    before = tree_digest(repo)
    result = runner.invoke(
        app,
        [
            "load",
            str(path),
            "--task-type",
            "causal",
            "--task-options",
            '{"action": "channel", "actions": [0, 1]}',
        ],
    )

    assert result.exit_code != 0
    assert "action column 'channel' is not one of" in result.output
    assert tree_digest(repo) == before
