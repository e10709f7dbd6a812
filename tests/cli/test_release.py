"""``mlserve promote`` and ``mlserve alias`` on a repository (no Triton running: the state
is written for the next start), and ``mlserve list`` showing stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlserve.cli import app
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository
from mlserve.samples.sentiment_model import train_sentiment
from mlserve.settings import get_settings
from tests.repository.test_store import tree_digest

runner = CliRunner()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelRepository:
    """``reviews`` v1 and v2; no Triton listens on the configured port."""
    repository = ModelRepository(tmp_path / "repo", ServingOptions())
    exported = train_sentiment(1)
    repository.publish_version(exported, "reviews")
    repository.publish_version(exported, "reviews")
    monkeypatch.setenv("MLSERVE_MODELS_DIR", str(repository.root))
    monkeypatch.setenv("MLSERVE_TRITON__GRPC_PORT", "1")
    monkeypatch.setenv("MLSERVE_PUBLISH__PROMOTION_GRACE_SECONDS", "0")
    get_settings.cache_clear()
    yield repository
    get_settings.cache_clear()


def test_promote_and_alias_write_the_release_state(repo: ModelRepository) -> None:
    promoted = runner.invoke(
        app, ["promote", "reviews", "1", "--stage", "Production", "--reason", "first", "--json"]
    )
    aliased = runner.invoke(app, ["alias", "reviews", "challenger", "2", "--json"])
    listed = runner.invoke(app, ["list", "--json"])

    assert promoted.exit_code == 0, promoted.output
    assert json.loads(promoted.stdout)["production"] == 1
    assert json.loads(promoted.stdout)["serving"] is False
    assert aliased.exit_code == 0, aliased.output
    assert json.loads(aliased.stdout)["aliases"] == {"challenger": 2}
    rows = json.loads(listed.stdout)["models"][0]["versions"]
    assert [(r["stage"], r["aliases"]) for r in rows] == [
        ("Production", []),
        ("None", ["challenger"]),
    ]
    last = repo.history("reviews")[-1]
    assert last.by.startswith("cli")
    assert (last.action, last.alias) == ("alias", "challenger")


def test_alias_delete_removes_it(repo: ModelRepository) -> None:
    runner.invoke(app, ["alias", "reviews", "champion", "2"])

    removed = runner.invoke(app, ["alias", "reviews", "champion", "--delete", "--json"])

    assert removed.exit_code == 0, removed.output
    assert json.loads(removed.stdout)["aliases"] == {}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["promote", "reviews", "1", "--stage", "Live"], "None, Staging, Production, Archived"),
        (["promote", "reviews", "5"], "allowed versions: 1, 2"),
        (["promote", "nothing", "1"], "nothing"),
        (["alias", "reviews", "champion"], "give the VERSION"),
        (["alias", "reviews", "Champion!", "1"], "alias"),
    ],
)
def test_bad_input_exits_non_zero_and_changes_nothing(
    repo: ModelRepository, args: list[str], words: str
) -> None:
    before = tree_digest(repo.root)

    result = runner.invoke(app, args)

    assert result.exit_code != 0
    assert words in result.output
    assert tree_digest(repo.root) == before
