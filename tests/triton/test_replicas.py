"""Replica settings: readiness over several Tritons, and inconsistent settings refused.

* ``TritonReplicas.ready_versions`` is what every replica serving the model has READY
  (real tritonservers: the session one and a second one on another repository);
  ``dns:host:port`` replicas are every address of the host; a publish skips a listed
  replica that is down.
* A control plane whose own Triton or a listed replica does not see its model repository
  is refused at start with one line saying what to change: a model of the repository
  missing from that Triton (``mlserve up`` exits 2 before anything is published or
  served; a control plane built by ``create_app`` fails its start-up), or an empty
  repository (where ``mlserve up`` would publish the samples) in front of a Triton that
  serves another one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlserve.control_plane.stack import ServingStack
from mlserve.errors import SettingsError
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository
from mlserve.samples.sentiment_model import SAMPLE_NAME, train_sentiment
from mlserve.serving.publisher import Publisher
from mlserve.triton.client import TritonClient
from mlserve.triton.replicas import TritonReplicas, check_repository
from tests.conftest import stack_settings
from tests.support.triton_server import TritonServer

FIX = (
    "start every Triton with --model-repository on the folder MLSERVE_MODELS_DIR names "
    "(shared by all replicas), or point MLSERVE_TRITON_URL / MLSERVE_TRITON__REPLICAS at "
    "Tritons that serve it"
)


@pytest.fixture(scope="module")
def other_triton() -> Iterator[TritonServer]:
    """A second tritonserver on a repository of its own, serving ``sentiment`` v2 only."""
    with TritonServer() as server:
        server.repository.publish_version(train_sentiment(2), SAMPLE_NAME, 2)
        server.server.load_model(SAMPLE_NAME)
        yield server


def up(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "mlserve"), "up", *args],
        env={**os.environ, "MLSERVE_CONFIG": "/nonexistent/config.yaml", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_a_version_is_ready_when_every_replica_serving_the_model_has_it(
    triton_server: TritonServer, other_triton: TritonServer
) -> None:
    # The session Triton serves sentiment v1, the other v2: no version is on both.
    primary = TritonClient(triton_server.grpc_url)
    replicas = TritonReplicas.of(primary, [triton_server.grpc_url, other_triton.grpc_url])
    assert replicas.urls == [triton_server.grpc_url, other_triton.grpc_url]  # no duplicate
    assert 1 in await primary.ready_versions(SAMPLE_NAME)
    assert await replicas.ready_versions(SAMPLE_NAME) == []
    # A replica that does not answer, or serves no version of the model, holds nobody back.
    down = TritonReplicas.of(primary, ["127.0.0.1:9"])
    assert await down.ready_versions(SAMPLE_NAME) == await primary.ready_versions(SAMPLE_NAME)
    assert await replicas.ready_versions("no-such-model") == []
    await replicas.close()
    await down.close()
    await primary.close()


async def test_dns_replicas_are_every_address_of_the_name_looked_up_on_use(
    triton_server: TritonServer, other_triton: TritonServer
) -> None:
    port = other_triton.grpc_url.rsplit(":", 1)[1]
    primary = TritonClient(triton_server.grpc_url)
    replicas = TritonReplicas.of(primary, [f"dns:localhost:{port}", "dns:no-such-host.invalid:1"])
    assert replicas.urls == [triton_server.grpc_url]
    current = [client.url for client in await replicas.current()]
    assert current[0] == triton_server.grpc_url
    assert f"127.0.0.1:{port}" in current  # localhost's address; the unknown name adds none
    assert len(current) == len(set(current)) <= 3  # (and [::1] where localhost has it)
    assert await replicas.ready_versions(SAMPLE_NAME) == []  # v1 here, v2 there
    await replicas.close()
    await primary.close()


async def test_a_publish_skips_a_replica_that_is_down(triton_server: TritonServer) -> None:
    primary = TritonClient(triton_server.grpc_url)
    replicas = TritonReplicas.of(primary, ["127.0.0.1:9"])  # nothing listens there
    publisher = Publisher(triton_server.repository, replicas)
    metadata = await publisher.publish(train_sentiment(1), "replica-down")
    assert await primary.ready_versions("replica-down") == [metadata.version]
    assert await replicas.ready_versions("replica-down") == [metadata.version]
    await replicas.close()
    await primary.close()


async def test_a_control_plane_with_a_replica_on_another_repository_is_refused_at_start(
    triton_server: TritonServer, other_triton: TritonServer, tmp_path: Path
) -> None:
    # Its own Triton serves its repository; the listed replica serves another one.
    primary = TritonClient(triton_server.grpc_url)
    await Publisher(triton_server.repository, primary).publish(train_sentiment(1), "only-here")
    await primary.close()
    settings = stack_settings(triton_server, tmp_path, triton={"replicas": [other_triton.grpc_url]})
    stack = ServingStack.build(settings)
    with pytest.raises(SettingsError) as refused:
        await stack.start()
    await stack.stop()
    message = refused.value.message
    assert message.startswith(f"Triton at {other_triton.grpc_url} does not see model(s) ")
    assert "only-here" in message.split(" of the model repository ", 1)[0]
    assert f"of the model repository {triton_server.repository_path} (it lists: " in message
    assert message.endswith(FIX)
    # A replica that does not answer is reported, not refused: it loads the folder later.
    unreachable = TritonReplicas.of(TritonClient(triton_server.grpc_url), ["127.0.0.1:9"])
    assert await check_repository(unreachable, [SAMPLE_NAME], [SAMPLE_NAME], tmp_path) == [
        "127.0.0.1:9"
    ]
    await unreachable.close()
    await unreachable.primary.close()


def test_up_against_a_triton_without_the_repositorys_model_is_refused(
    triton_server: TritonServer, tmp_path: Path
) -> None:
    repository = ModelRepository(tmp_path / "models", ServingOptions())
    repository.publish_version(train_sentiment(1), "reviews", 1)
    done = up(
        {
            "MLSERVE_MODELS_DIR": str(repository.root),
            "MLSERVE_TRITON_URL": triton_server.grpc_url,
            "MLSERVE_TRITON__REPLICAS": json.dumps([triton_server.grpc_url]),
            "MLSERVE_AUTH__STATE_PATH": str(tmp_path / "state.sqlite3"),
        },
        tmp_path,
        "--no-samples",
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(
        f"error: Triton at {triton_server.grpc_url} does not see model(s) reviews of the "
        f"model repository {repository.root.resolve()} (it lists: "
    ), line
    assert line.endswith(FIX), line


def test_up_with_an_empty_repository_against_another_triton_publishes_nothing(
    triton_server: TritonServer, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    done = up(
        {
            "MLSERVE_MODELS_DIR": str(models),
            "MLSERVE_TRITON_URL": triton_server.grpc_url,
            "MLSERVE_AUTH__STATE_PATH": str(tmp_path / "state.sqlite3"),
        },
        tmp_path,
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    prefix = f"error: Triton at {triton_server.grpc_url} serves another model repository"
    assert line.startswith(f"{prefix} (it lists: "), line
    assert SAMPLE_NAME in line.split("(it lists: ", 1)[1].split(";", 1)[0], line
    assert f"{models} holds no model): {FIX}" in line, line
    assert not any(models.glob("*/*/model.onnx"))  # the samples were not published
