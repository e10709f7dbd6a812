"""``mlserve load``: export a model file to ONNX, check parity, publish a new version."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from mlserve.cli.output import console, err_console, fail, print_error, print_json
from mlserve.cli.release import change_release, operator_name
from mlserve.converters.base import ExportedModel, ParityReport
from mlserve.errors import ConflictError, InvalidInputError, MLServeError
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
from mlserve.triton.replicas import TritonReplicas

MAX_MODEL_BYTES = 200 * 1024 * 1024
MAX_BACKGROUND_BYTES = 100 * 1024 * 1024
_MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle", ".pt", ".pth", ".ts", ".torchscript", ".onnx")


def load_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="joblib/pickle pipeline, PyTorch file, transformer folder, or an MLflow "
            "models:/<name>/<version|alias|stage> or runs:/<run_id>/<path> URI."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name", "-n", help="Model name in the repository (default: from the file name)."
        ),
    ] = None,
    version: Annotated[int | None, typer.Option(help="Version number (default: next).")] = None,
    samples: Annotated[
        Path | None,
        typer.Option(
            help="Text file (one text per line) for the parity check and drift reference."
        ),
    ] = None,
    background: Annotated[
        Path | None,
        typer.Option(
            help="Feature rows (CSV, Parquet, JSON records or JSON lines) for the parity check "
            "and drift reference of tabular models."
        ),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option(help="Comma-separated feature names, for tabular models trained on arrays."),
    ] = None,
    task_type: Annotated[
        str | None,
        typer.Option(
            "--task-type",
            help="causal or recommender (with --task-options) to serve a tabular estimator "
            "as a decision model; classification/regression are checked against the model.",
        ),
    ] = None,
    task_options: Annotated[
        str | None,
        typer.Option(
            "--task-options",
            help='JSON options of the task: causal {"action": "offer", "actions": [0, 1, 2], '
            '"baseline": 0, "objective": "max"}; recommender {"user_features": [...], '
            '"item_features": [...], "item_id": "id"}.',
        ),
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
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON (also on failure).")] = False,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow tracking server for models:/ and runs:/ URIs."),
    ] = None,
) -> None:
    """Export PATH to ONNX, check parity against the native model, publish it as NAME.

    Parity runs on --samples / --background when given, else on inputs built from the model
    itself (its vocabulary, its tree thresholds); only user data becomes the drift
    reference. With a Triton running (embedded by `mlserve up`, or MLSERVE_TRITON_URL) the
    version is loaded at once and the control plane serves it within a second; otherwise
    it is written to the repository for the next start. An MLflow ``models:/`` or ``runs:/``
    URI is imported from the tracking server."""
    if str(path).startswith(("models:/", "runs:/")):
        from mlserve.cli.mlflow_load import load_from_mlflow

        if name is None:
            _fail(f"--name is required to import {path}: the name to serve it as", json_out)
        load_from_mlflow(
            str(path), name=name, version=version, tracking_uri=tracking_uri, json_out=json_out
        )
        return
    from mlserve.converters.loading import existing_input_dtype, export_file

    settings = get_settings()
    exported: ExportedModel | None = None
    try:
        name = validate_model_name(name if name is not None else model_name_from_path(path))
        if not path.exists():
            _fail(f"{path} does not exist", json_out)
        validation_set = _read_validation(validation) if validation else None
        sample_texts = _read_samples(samples, json_out) if samples else None
        rows = read_background(background) if background else None
        repository = ModelRepository(settings.models_dir, ServingOptions.from_settings(settings))
        with console.status(f"exporting {path.name} to ONNX and checking parity ..."):
            exported = export_file(
                path,
                name=name,
                sample_texts=sample_texts,
                background=rows,
                max_bytes=MAX_MODEL_BYTES,
                features=_feature_list(features),
                input_dtype=existing_input_dtype(repository, name),
                task_type=task_type,
                task_options=task_options,
            )
        if not exported.parity.passed:
            _refuse(path, exported.parity, json_out)
        if gate and validation_set is None:
            load_validation_set(repository, name)  # the 404 saying how to give one
        grpc = settings.external_triton or f"{settings.triton.host}:{settings.triton.grpc_port}"
        metadata, served = asyncio.run(
            _publish(repository, grpc, settings.triton.replicas, exported, name, version)
        )
        if validation_set is not None:
            store_validation_set(repository, name, validation_set)
    except MLServeError as exc:
        _fail(exc.message, json_out)
    report = None
    if gate:
        report = _gated(settings, repository, name, metadata.version, served)
    result = {
        "published": True,
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


def model_name_from_path(path: Path) -> str:
    """The model name a file or folder stands for: its name without model suffixes
    (``reviews.joblib`` -> ``reviews``); validated like any name."""
    stem = path.name
    while Path(stem).suffix.lower() in _MODEL_SUFFIXES:
        stem = stem[: -len(Path(stem).suffix)]
    try:
        return validate_model_name(stem)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"{exc.message}; the name comes from the file name {path.name!r}: pass --name"
        ) from None


def read_background(path: Path) -> list[dict[str, Any]]:
    """Feature rows from a CSV, Parquet, JSON (a list of records) or JSON-lines file."""
    import json

    import pandas as pd

    if not path.is_file():
        raise InvalidInputError(f"--background {path} does not exist")
    if path.stat().st_size > MAX_BACKGROUND_BYTES:
        raise InvalidInputError(
            f"--background {path} is over {MAX_BACKGROUND_BYTES // 1_000_000} MB: pass a sample "
            "of at most 1000 rows"
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".jsonl", ".ndjson"):
            frame = pd.read_json(path, lines=True)
        elif suffix == ".json":
            records = json.loads(path.read_text())
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise InvalidInputError(
                    f"--background {path} must hold a JSON list of records "
                    '([{"feature": value}, ...])'
                )
            return records
        else:
            raise InvalidInputError(
                f"--background {path} has an unknown type {suffix or '(none)'!r}: use .csv, "
                ".parquet, .json (a list of records) or .jsonl"
            )
    except MLServeError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InvalidInputError(f"cannot read --background {path}: {first}") from None
    if frame.empty:
        raise InvalidInputError(f"--background {path} has no rows")
    return list(frame.to_dict(orient="records"))


def _fail(message: str, json_out: bool, parity: ParityReport | None = None) -> NoReturn:
    if json_out:
        print_json({"published": False, "error": message, "parity": parity and parity.to_dict()})
    fail(message)


def _refuse(path: Path, parity: ParityReport, json_out: bool) -> NoReturn:
    """The one-line refusal, then the worst inputs (native vs served) on stderr."""
    message = f"{path.name} not published: {parity.summary()}"
    if json_out:
        _fail(message, json_out, parity)
    print_error(message)
    for line in parity.worst_lines():
        err_console.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(1)


async def _publish(
    repository: ModelRepository,
    grpc: str,
    replica_urls: list[str],
    exported: ExportedModel,
    name: str,
    version: int | None,
) -> tuple[ModelMetadata, bool]:
    triton = TritonClient(grpc)
    replicas = TritonReplicas.of(triton, replica_urls)  # a publish reaches every Triton
    try:
        if await triton.server_ready():
            metadata = await Publisher(repository, replicas).publish(exported, name, version)
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
        await replicas.close()
        await triton.close()


def _feature_list(features: str | None) -> list[str] | None:
    if not features:
        return None
    return [f.strip() for f in features.split(",") if f.strip()]


def _read_samples(path: Path, json_out: bool) -> list[str]:
    try:
        texts = [line for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read --samples {path}: {exc}", json_out)
    if not texts:
        _fail(f"--samples {path} has no texts; put one text per line", json_out)
    return texts
