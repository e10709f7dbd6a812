"""Stages and aliases on disk, without Triton: the rules, the refusals, what gets loaded.

``ReleaseManager(repository, apply=None)`` is what ``mlserve promote`` does when Triton is
not running: it writes the release state and the config Triton will read.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from mlserve.converters.base import ExportedModel
from mlserve.errors import ConflictError, InvalidInputError, NotFoundError
from mlserve.lifecycle.release import ReleaseManager
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import STATE_FILE, ModelRepository
from mlserve.samples.sentiment_model import train_sentiment


@pytest.fixture(scope="module")
def exported() -> ExportedModel:
    return train_sentiment(1)


@pytest.fixture
def repository(tmp_path: Path, exported: ExportedModel) -> ModelRepository:
    repository = ModelRepository(tmp_path / "repo", ServingOptions(serve_versions=2))
    for _ in range(4):
        repository.publish_version(exported, "reviews")
    return repository


def releases(repository: ModelRepository, **options: object) -> ReleaseManager:
    return ReleaseManager(repository, None, grace_seconds=0, **options)  # type: ignore[arg-type]


def state_bytes(repository: ModelRepository) -> bytes:
    path = repository.root / "reviews" / STATE_FILE
    return path.read_bytes() if path.is_file() else b""


def test_new_versions_start_in_none_and_the_newest_window_is_loaded(
    repository: ModelRepository,
) -> None:
    state = repository.release_state("reviews")

    assert [state.stage(v) for v in (1, 2, 3, 4)] == ["None"] * 4
    assert state.production() is None
    assert repository.active_versions("reviews") == [3, 4]


def test_publish_default_stage_is_a_setting(tmp_path: Path, exported: ExportedModel) -> None:
    repository = ModelRepository(tmp_path / "r", ServingOptions(default_stage="Staging"))
    repository.publish_version(exported, "reviews")

    assert repository.release_state("reviews").stage(1) == "Staging"
    assert repository.history("reviews")[-1].to_stage == "Staging"


def test_production_is_loaded_whatever_its_age_and_one_at_a_time(
    repository: ModelRepository,
) -> None:
    manager = releases(repository)

    asyncio.run(manager.promote("reviews", 1, "Production", by="ada", reason="first"))
    assert repository.active_versions("reviews") == [1, 3, 4]
    state = asyncio.run(manager.promote("reviews", 2, "production", by="bob", reason="better"))

    assert state.production() == 2
    assert [v for v, s in state.stages.items() if s == "Production"] == [2]
    assert state.stage(1) == "Archived"
    assert 1 in repository.disabled_versions("reviews")
    assert repository.active_versions("reviews") == [2, 3, 4]
    config = (repository.root / "reviews" / "config.pbtxt").read_text()
    assert "versions: [ 2, 3, 4 ]" in config
    moves = [(t.version, t.from_stage, t.to_stage, t.by) for t in repository.history("reviews")]
    assert moves[-3:] == [
        (1, "None", "Production", "ada"),
        (1, "Production", "Archived", "bob"),
        (2, "None", "Production", "bob"),
    ]


def test_an_archived_version_is_restored_by_promoting_it(repository: ModelRepository) -> None:
    manager = releases(repository)
    asyncio.run(manager.promote("reviews", 4, "Archived", by="ada"))
    assert 4 not in repository.active_versions("reviews")

    state = asyncio.run(manager.promote("reviews", 4, "Staging", by="ada", reason="restore"))

    assert state.stage(4) == "Staging"
    assert 4 in repository.active_versions("reviews")


def test_previous_production_can_stay_as_a_fallback(repository: ModelRepository) -> None:
    manager = releases(repository, previous_production="fallback")
    asyncio.run(manager.promote("reviews", 1, "Production", by="ada"))

    state = asyncio.run(manager.promote("reviews", 4, "Production", by="ada"))

    assert state.stage(1) == "Staging"
    assert state.aliases == {"fallback": 1}
    assert repository.active_versions("reviews") == [1, 3, 4]


def test_aliases_pin_versions_and_are_removed(repository: ModelRepository) -> None:
    manager = releases(repository)

    state = asyncio.run(manager.set_alias("reviews", "champion", 1, by="ada"))
    assert state.aliases == {"champion": 1}
    assert repository.active_versions("reviews") == [1, 3, 4]
    state = asyncio.run(manager.drop_alias("reviews", "champion", by="ada"))

    assert state.aliases == {}
    assert [t.action for t in repository.history("reviews")][-2:] == ["alias", "unalias"]


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda m: m.promote("reviews", 2, "Live", by="x"), InvalidInputError, "target_stage"),
        (lambda m: m.promote("reviews", 9, "Production", by="x"), NotFoundError, "version 9"),
        (lambda m: m.promote("nope", 1, "Production", by="x"), NotFoundError, "nope"),
        (lambda m: m.set_alias("reviews", "Bad Alias", 1, by="x"), InvalidInputError, "alias"),
        (lambda m: m.set_alias("reviews", "champion", 9, by="x"), NotFoundError, "allowed"),
        (lambda m: m.drop_alias("reviews", "ghost", by="x"), NotFoundError, "ghost"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    repository: ModelRepository, call: object, error: type[Exception], words: str
) -> None:
    before = state_bytes(repository), repository.history("reviews")

    with pytest.raises(error) as raised:
        asyncio.run(call(releases(repository)))  # type: ignore[operator]

    assert words in str(raised.value)
    assert (state_bytes(repository), repository.history("reviews")) == before


def test_unknown_stage_lists_the_allowed_stages(repository: ModelRepository) -> None:
    with pytest.raises(InvalidInputError) as raised:
        asyncio.run(releases(repository).promote("reviews", 1, "Live", by="x"))

    assert "None, Staging, Production, Archived" in str(raised.value)


def test_a_version_that_failed_parity_cannot_be_promoted(repository: ModelRepository) -> None:
    path = repository.version_dir("reviews", 3) / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["parity"]["passed"] = False
    path.write_text(json.dumps(metadata))
    before = state_bytes(repository)

    with pytest.raises(ConflictError) as raised:
        asyncio.run(releases(repository).promote("reviews", 3, "Production", by="x"))

    assert "parity" in str(raised.value)
    assert state_bytes(repository) == before


def test_stopping_a_version_keeps_its_stage(repository: ModelRepository) -> None:
    asyncio.run(releases(repository).promote("reviews", 4, "Staging", by="ada"))

    repository.set_version_enabled("reviews", 4, False)

    state = repository.release_state("reviews")
    assert state.stage(4) == "Staging"
    assert state.disabled_versions == [4]


def test_a_hostile_alias_is_refused_without_echoing_it_whole() -> None:
    from mlserve.lifecycle.stages import check_alias

    with pytest.raises(InvalidInputError) as raised:
        check_alias("x" * 5000)

    assert len(str(raised.value)) < 300
