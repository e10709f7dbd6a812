"""``mlserve load models:/...`` and ``runs:/...``: import from MLflow, publish, tag back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mlserve.cli.output import console, fail, print_json
from mlserve.converters.mlflow_source import MlflowImport, MlflowSource
from mlserve.errors import MLServeError
from mlserve.repository.metadata import ModelMetadata
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository, validate_model_name
from mlserve.serving.publisher import Publisher
from mlserve.settings import Settings, get_settings
from mlserve.triton.client import TritonClient
from mlserve.triton.replicas import TritonReplicas


def load_from_mlflow(
    model_uri: str,
    *,
    name: str,
    version: int | None,
    tracking_uri: str | None,
    json_out: bool,
) -> None:
    """Export ``model_uri`` from MLflow, publish it as ``name``, tag the MLflow version."""
    settings = get_settings()
    started = time.perf_counter()
    try:
        validate_model_name(name)
        source = MlflowSource(
            tracking_uri or settings.mlflow.tracking_uri, timeout_s=settings.mlflow.timeout_s
        )
        with console.status(f"importing {model_uri} from MLflow and checking parity ..."):
            imported = source.export(model_uri, name=name, trusted=True)
        if not imported.exported.parity.passed:
            fail(f"{model_uri} not published: {imported.exported.parity.summary()}")
        metadata, served = asyncio.run(_publish(settings, imported, name, version))
    except MLServeError as exc:
        fail(exc.message)
    where = _where(settings, served)
    tag_error = None
    try:
        source.tag_serving(imported, served_as=f"{name} v{metadata.version}", where=where)
    except Exception as exc:  # the version is published; say the tag failed, do not undo
        tag_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "name": name,
        "version": f"v{metadata.version}",
        "framework": metadata.framework,
        "flavor": imported.flavor,
        "model_uri": model_uri,
        "run_id": imported.run_id,
        "features": metadata.features,
        "parity": metadata.parity,
        "serving": served,
        "served_at": where,
        "tag_error": tag_error,
        "seconds": round(seconds, 2),
    }
    if json_out:
        print_json(result)
        return
    console.print(
        f"published {name} v{metadata.version} from {model_uri} ({imported.flavor}, run "
        f"{imported.run_id}) in {seconds:.1f} s; {imported.exported.parity.summary()}"
    )
    if tag_error:
        console.print(f"[yellow]could not tag the MLflow version:[/] {tag_error}")
    if not served:
        console.print("Triton is not running: the version is loaded by the next `mlserve up`")


def _where(settings: Settings, served: bool) -> str:
    if not served:
        return f"repository {settings.models_dir.resolve()} (not yet served)"
    host = "127.0.0.1" if settings.server.host in ("0.0.0.0", "::") else settings.server.host
    return f"http://{host}:{settings.server.port}"


async def _publish(
    settings: Settings, imported: MlflowImport, name: str, version: int | None
) -> tuple[ModelMetadata, bool]:
    repository = ModelRepository(settings.models_dir, ServingOptions.from_settings(settings))
    grpc = settings.external_triton or f"{settings.triton.host}:{settings.triton.grpc_port}"
    triton = TritonClient(grpc)
    replicas = TritonReplicas.of(triton, settings.triton.replicas)  # a publish reaches all
    try:
        if await triton.server_ready():
            publisher = Publisher(repository, replicas)
            return await publisher.publish(imported.exported, name, version), True
        from mlserve.serving.reference import reference_profile

        metadata = await asyncio.to_thread(
            repository.publish_version,
            imported.exported,
            name,
            version,
            reference_profile=reference_profile(imported.exported),
        )
        return metadata, False
    finally:
        await replicas.close()
        await triton.close()
