"""``mlserve load model.onnx``: an existing export with its metadata is checked, then kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlserve.converters.loading import export_file
from mlserve.errors import ConversionError
from mlserve.repository.store import ModelRepository
from mlserve.samples.sentiment_model import train_sentiment

LIMIT = 10_000_000


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A version folder written by mlserve: model.onnx + metadata.json."""
    root = tmp_path_factory.mktemp("source")
    repository = ModelRepository(root)
    repository.publish_version(train_sentiment(1), "sentiment")
    return repository.version_dir("sentiment", 1)


def test_an_onnx_file_with_its_metadata_is_imported(published: Path, tmp_path: Path) -> None:
    exported = export_file(published / "model.onnx", name="copy", max_bytes=LIMIT)

    assert exported.parity.passed
    assert exported.labels == ["negative", "neutral", "positive"]
    assert exported.training["imported_from"].endswith("model.onnx")
    target = ModelRepository(tmp_path)
    target.publish_version(exported, "copy")
    assert target.metadata("copy", 1).framework == "sklearn"
    assert exported.reference_data is None  # built-in smoke texts are no drift reference
    given = export_file(
        published / "model.onnx", name="copy", sample_texts=["great", "awful"], max_bytes=LIMIT
    )
    assert given.reference_data == ["great", "awful"]


def test_onnx_without_metadata_or_with_wrong_labels_is_refused(
    published: Path, tmp_path: Path
) -> None:
    lonely = tmp_path / "lonely" / "model.onnx"
    lonely.parent.mkdir()
    shutil.copy(published / "model.onnx", lonely)
    with pytest.raises(ConversionError, match="has no metadata"):
        export_file(lonely, name="m", max_bytes=LIMIT)

    metadata = json.loads((published / "metadata.json").read_text())
    metadata["labels"] = ["a", "b"]
    (lonely.parent / "metadata.json").write_text(json.dumps(metadata))
    exported = export_file(lonely, name="m", max_bytes=LIMIT)
    assert not exported.parity.passed
    assert "output shape" in exported.parity.mismatches[0]["reason"]

    (lonely.parent / "metadata.json").write_text("{not json")
    with pytest.raises(ConversionError, match="not valid mlserve metadata"):
        export_file(lonely, name="m", max_bytes=LIMIT)
