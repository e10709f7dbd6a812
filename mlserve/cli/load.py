"""``mlserve load``: export a model file to ONNX, check parity, publish a new version."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from mlserve.cli.output import console, fail, print_json
from mlserve.cli.release import change_release, operator_name
from mlserve.converters.base import ExportedModel
from mlserve.errors import ConflictError, MLServeError
from mlserve.lifecycle.gate import GateReport, stored_report
from mlserve.lifecycle.validation import MAX_BYTES as VALIDATION_MAX_BYTES
from mlserve.lifecycle.validation import (
    ValidationSet,
    load_validation_set,
    parse_validation_set,
    store_validation_set,
)
from mlserve.repository.metadata import ModelMetadata
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository, validate_model_name
from mlserve.serving.publisher import Publisher
from mlserve.settings import Settings, get_settings
from mlserve.triton.client import TritonClient

MAX_MODEL_BYTES = 200 * 1024 * 1024


def load_command(
    path: Annotated[
        Path, typer.Argument(help="joblib/pickle pipeline, PyTorch file or transformer folder.")
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
    gate: Annotated[
        bool,
        typer.Option(
            "--gate",
            help="Then promote it to Production only if it beats the champion on the "
            "validation set (seed S3; needs a running Triton).",
        ),
    ] = False,
    validation: Annotated[
        Path | None,
        typer.Option(
            help='Validation set kept with the model: JSON {"texts"|"records"|"features": '
            '[...], "labels": [...]}.'
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Export PATH to ONNX, check parity against the native model, publish it as NAME.

    With a Triton running (embedded by `mlserve up`, or MLSERVE_TRITON_URL) the version is
    loaded at once and the control plane serves it within a second; otherwise it is written
    to the repository for the next start."""
    from mlserve.converters.loading import export_file

    settings = get_settings()
    try:
        validate_model_name(name)
        if not path.exists():
            fail(f"{path} does not exist")
        validation_set = _read_validation(validation) if validation else None
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
        if gate and validation_set is None:
            load_validation_set(repository, name)  # the 404 saying how to give one
        grpc = settings.external_triton or f"{settings.triton.host}:{settings.triton.grpc_port}"
        metadata, served = asyncio.run(_publish(repository, grpc, exported, name, version))
        if validation_set is not None:
            store_validation_set(repository, name, validation_set)
    except MLServeError as exc:
        fail(exc.message)
    report = None
    if gate:
        report = _gated(settings, repository, name, metadata.version, served)
    result = {
        "name": name,
        "version": f"v{metadata.version}",
        "framework": metadata.framework,
        "labels": metadata.labels,
        "metrics": metadata.metrics,
        "parity": metadata.parity,
        "serving": served,
    }
    if report is not None:
        result["gate"] = report.model_dump(mode="json")
    if json_out:
        print_json(result)
        if report is not None and not report.passed:
            raise typer.Exit(1)
        return
    console.print(
        f"published {name} v{metadata.version} ({metadata.framework}); {exported.parity.summary()}"
    )
    if not served:
        console.print("Triton is not running: the version is loaded by the next `mlserve up`")
    if report is not None:
        verdict = "promoted to Production" if report.passed else "kept out of Production"
        console.print(f"gate: {name} v{metadata.version} {verdict}: {report.reason}")
        if not report.passed:
            raise typer.Exit(1)


def _read_validation(path: Path) -> ValidationSet:
    if not path.is_file():
        fail(f"--validation {path} is not a file")
    if path.stat().st_size > VALIDATION_MAX_BYTES:
        fail(f"--validation {path} is over {VALIDATION_MAX_BYTES} bytes")
    return parse_validation_set(path.read_bytes(), f"--validation {path}")


def _gated(
    settings: Settings, repository: ModelRepository, name: str, version: int, served: bool
) -> GateReport:
    """Promote the new version through the gate; the report (kept with the version)."""
    if not served:
        fail(
            f"{name} v{version} is published, but --gate needs a running Triton: start it "
            f"and run `mlserve promote {name} {version} --gate`"
        )
    try:
        asyncio.run(
            change_release(
                settings,
                repository,
                lambda releases, check: releases.promote(
                    name,
                    version,
                    "Production",
                    by=operator_name(),
                    reason="mlserve load --gate",
                    gate=check,
                ),
                True,
                None,
            )
        )
    except ConflictError:
        pass  # refused: the report says why
    except MLServeError as exc:
        fail(exc.message)
    report = stored_report(repository.version_dir(name, version))
    if report is None:
        fail(f"{name} v{version}: the gate left no report")
    return report


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
