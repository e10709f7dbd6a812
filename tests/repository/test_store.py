"""The versioned Triton repository: atomic publish, refusals, and the generated config."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlserve.converters.base import ExportedModel, ParityReport
from mlserve.errors import ConflictError, InvalidInputError, ParityError
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository
from mlserve.samples.sentiment_model import train_sentiment


@pytest.fixture(scope="module")
def exported() -> ExportedModel:
    return train_sentiment(1)


def tree_digest(root: Path) -> str:
    """Every file path and content under ``root``: equal digests mean nothing changed."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if ".staging" in path.parts[-2:] or path.suffix == ".lock":
            continue
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_publish_writes_model_config_labels_and_metadata(
    tmp_path: Path, exported: ExportedModel
) -> None:
    repository = ModelRepository(tmp_path / "repo", ServingOptions(max_batch_size=32))

    metadata = repository.publish_version(exported, "sentiment")

    folder = tmp_path / "repo" / "sentiment"
    assert metadata.version == 1
    assert metadata.display_version == "v1"
    assert (folder / "1" / "model.onnx").is_file()
    assert (folder / "labels.txt").read_text().split() == ["negative", "neutral", "positive"]
    config = (folder / "config.pbtxt").read_text()
    assert 'backend: "mlserve_onnx"' in config
    assert "max_batch_size: 32" in config
    assert "dynamic_batching" in config
    assert "default_queue_policy" not in config  # the default: no batcher stalls
    assert "version_policy: { specific: { versions: [ 1 ] } }" in config
    stored = repository.metadata("sentiment", 1)
    assert stored.labels == exported.labels
    assert stored.parity["passed"] is True
    assert stored.metrics["accuracy"] > 0.8  # the sample data flips 6% of labels
    assert stored.framework == "sklearn"
    assert stored.training["trained_at"]
    assert stored.preprocessing


def test_versions_increment_and_the_newest_three_stay_loadable(
    tmp_path: Path, exported: ExportedModel
) -> None:
    repository = ModelRepository(tmp_path, ServingOptions(serve_versions=3))
    for _ in range(4):
        repository.publish_version(exported, "m")

    assert repository.versions("m") == [1, 2, 3, 4]
    assert repository.active_versions("m") == [2, 3, 4]
    assert repository.model_config(
        repository.metadata("m", 4), [2, 3, 4]
    ).version_policy.specific == (2, 3, 4)


def test_onnxruntime_backend_config_for_the_ngc_container(
    tmp_path: Path, exported: ExportedModel
) -> None:
    repository = ModelRepository(
        tmp_path, ServingOptions(backend="onnxruntime", instance_kind="KIND_GPU")
    )
    repository.publish_version(exported, "m")
    config = (tmp_path / "m" / "config.pbtxt").read_text()
    assert 'backend: "onnxruntime"' in config
    assert "KIND_GPU" in config


def test_failed_parity_is_refused_and_nothing_is_written(
    tmp_path: Path, exported: ExportedModel
) -> None:
    repository = ModelRepository(tmp_path)
    repository.publish_version(exported, "m")
    before = tree_digest(tmp_path)
    bad = ExportedModel(
        **{**exported.__dict__, "parity": ParityReport(5, 0.3, 1e-4, [{"index": 0}])}
    )

    with pytest.raises(ParityError, match="parity FAILED"):
        repository.publish_version(bad, "m")

    assert tree_digest(tmp_path) == before


def test_existing_version_is_a_conflict_and_bad_names_are_refused(
    tmp_path: Path, exported: ExportedModel
) -> None:
    repository = ModelRepository(tmp_path)
    repository.publish_version(exported, "m", 3)
    with pytest.raises(ConflictError, match="v3 exists already"):
        repository.publish_version(exported, "m", 3)
    for name in ("", "9lives", "a/b", "../x", "model-v2", "x" * 65):
        with pytest.raises(InvalidInputError, match="is not allowed"):
            repository.publish_version(exported, name)
    assert repository.model_names() == ["m"]


def test_a_crash_while_writing_leaves_no_partial_version(
    tmp_path: Path, exported: ExportedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = ModelRepository(tmp_path)
    repository.publish_version(exported, "m")
    before = tree_digest(tmp_path)

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mlserve.repository.store.onnx.save_model", disk_full)
    with pytest.raises(OSError, match="No space"):
        repository.publish_version(exported, "m")

    assert tree_digest(tmp_path) == before
    assert repository.versions("m") == [1]


def test_disabling_a_version_removes_it_from_the_policy(
    tmp_path: Path, exported: ExportedModel
) -> None:
    repository = ModelRepository(tmp_path)
    repository.publish_version(exported, "m")
    repository.publish_version(exported, "m")
    repository.set_version_enabled("m", 2, False)
    assert repository.active_versions("m") == [1]
    repository.set_version_enabled("m", 2, True)
    assert repository.active_versions("m") == [1, 2]
    repository.remove_version("m", 1)
    assert repository.versions("m") == [2]


def test_queue_limits_write_a_queue_policy_that_lets_requests_override_the_timeout(
    tmp_path: Path, exported: ExportedModel
) -> None:
    options = ServingOptions(max_queue_size=256, queue_timeout_us=5_000_000)
    repository = ModelRepository(tmp_path, options)
    repository.publish_version(exported, "m")

    config = (tmp_path / "m" / "config.pbtxt").read_text()
    assert "max_queue_size: 256" in config
    assert "default_timeout_microseconds: 5000000" in config
    assert "allow_timeout_override: true" in config


def test_no_queue_limits_means_no_queue_policy_block(
    tmp_path: Path, exported: ExportedModel
) -> None:
    repository = ModelRepository(tmp_path, ServingOptions(max_queue_size=0, queue_timeout_us=0))
    repository.publish_version(exported, "m")

    config = (tmp_path / "m" / "config.pbtxt").read_text()
    assert "dynamic_batching {" in config
    assert "max_queue_delay_microseconds: 0" in config
    assert "default_queue_policy" not in config
