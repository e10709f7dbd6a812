"""``mlserve load``: export a model file to ONNX, check parity, publish a new version."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from mlserve.cli.output import console, fail, print_json
from mlserve.converters.base import ExportedModel
from mlserve.errors import MLServeError
from mlserve.repository.metadata import ModelMetadata
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository, validate_model_name
from mlserve.serving.publisher import Publisher
from mlserve.settings import get_settings
from mlserve.triton.client import TritonClient

MAX_MODEL_BYTES = 200 * 1024 * 1024


def load_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="joblib/pickle pipeline, PyTorch file, transformer folder, or an MLflow "
            "models:/<name>/<version|alias|stage> or runs:/<run_id>/<path> URI."
        ),
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="Model name in the repository.")],
    version: Annotated[int | None, typer.Option(help="Version number (default: next).")] = None,
    samples: Annotated[
        Path | None,
        typer.Option(
            help="Text file (one text per line) for the parity check and drift reference."
        ),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option(help="Comma-separated feature names, for tabular models trained on arrays."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow tracking server for models:/ and runs:/ URIs."),
    ] = None,
) -> None:
    """Export PATH to ONNX, check parity against the native model, publish it as NAME.

    With a Triton running (embedded by `mlserve up`, or MLSERVE_TRITON_URL) the version is
    loaded at once and the control plane serves it within a second; otherwise it is written
    to the repository for the next start."""
    if str(path).startswith(("models:/", "runs:/")):  # issue 22: import from MLflow
        from mlserve.cli.mlflow_load import load_from_mlflow

        load_from_mlflow(
            str(path), name=name, version=version, tracking_uri=tracking_uri, json_out=json_out
        )
        return
    from mlserve.converters.loading import export_file

    settings = get_settings()
    try:
        validate_model_name(name)
        if not path.exists():
            fail(f"{path} does not exist")
        sample_texts = _read_samples(samples) if samples else None
        with console.status(f"exporting {path.name} to ONNX and checking parity ..."):
            exported = export_file(
                path,
                name=name,
                sample_texts=sample_texts,
                max_bytes=MAX_MODEL_BYTES,
                features=_feature_list(features),
            )
        if not exported.parity.passed:
            fail(f"{path.name} not published: {exported.parity.summary()}")
        repository = ModelRepository(settings.models_dir, ServingOptions.from_settings(settings))
        grpc = settings.external_triton or f"{settings.triton.host}:{settings.triton.grpc_port}"
        metadata, served = asyncio.run(_publish(repository, grpc, exported, name, version))
    except MLServeError as exc:
        fail(exc.message)
    result = {
        "name": name,
        "version": f"v{metadata.version}",
        "framework": metadata.framework,
        "labels": metadata.labels,
        "metrics": metadata.metrics,
        "parity": metadata.parity,
        "serving": served,
    }
    if json_out:
        print_json(result)
        return
    console.print(
        f"published {name} v{metadata.version} ({metadata.framework}); {exported.parity.summary()}"
    )
    if not served:
        console.print("Triton is not running: the version is loaded by the next `mlserve up`")


async def _publish(
    repository: ModelRepository,
    grpc: str,
    exported: ExportedModel,
    name: str,
    version: int | None,
) -> tuple[ModelMetadata, bool]:
    triton = TritonClient(grpc)
    try:
        if await triton.server_ready():
            metadata = await Publisher(repository, triton).publish(exported, name, version)
            return metadata, True
        from mlserve.serving.reference import reference_profile

        metadata = await asyncio.to_thread(
            repository.publish_version,
            exported,
            name,
            version,
            reference_profile=reference_profile(exported),
        )
        return metadata, False
    finally:
        await triton.close()


def _feature_list(features: str | None) -> list[str] | None:
    if not features:
        return None
    return [f.strip() for f in features.split(",") if f.strip()]


def _read_samples(path: Path) -> list[str]:
    try:
        texts = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read --samples {path}: {exc}")
    if not texts:
        fail(f"--samples {path} has no texts; put one text per line")
    return texts
