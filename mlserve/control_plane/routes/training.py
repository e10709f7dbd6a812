"""``POST /models/{name}/train`` and its job routes (admin bearer token, as ``/api/v1``).

The form carries the dataset (file part ``dataset``, CSV or Parquet) or ``dataset_path``
(under ``training.data_root``) and the :class:`~mlserve.training.options.TrainingOptions`
fields. The dataset's header is checked at once (a missing target column is a 422 before
anything is queued); the job then runs in the training process and is watched with
``GET /models/{name}/train/{job_id}`` and stopped with ``POST .../cancel``.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request

from mlserve.control_plane.errors import error_responses, invalid_body
from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.api_v1.http_input import read_form
from mlserve.errors import InvalidInputError, PayloadTooLargeError
from mlserve.platform.auth import User
from mlserve.repository.store import validate_model_name
from mlserve.training.jobs import TrainingJob, TrainingJobs, check_dataset_path
from mlserve.training.options import TrainingOptions
from mlserve.training.worker import check_columns

_OPTION_FIELDS = set(TrainingOptions.model_fields)

ModelName = Annotated[str, PathParam(description="The model to train a version of, e.g. churn.")]
JobId = Annotated[
    str, PathParam(description="The id ``POST /models/{name}/train`` answered.", examples=["t1"])
]


class TrainForm(TrainingOptions):
    """``POST /models/{name}/train``'s multipart form: the dataset (a file part or a path on
    the server, exactly one of them) and the training options (documentation: the route reads
    the form itself, to bound the upload while it streams in)."""

    dataset: bytes | None = Field(
        default=None,
        json_schema_extra={"format": "binary"},
        description="The dataset: a CSV with a header row, or a Parquet file (.parquet).",
    )
    dataset_path: str | None = Field(
        default=None,
        description="Instead of ``dataset``: a .csv or .parquet file under the server's "
        "training.data_root.",
    )


_TRAIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": TrainForm.model_json_schema()}},
    }
}


class TrainingJobView(BaseModel):
    """A job as the API shows it."""

    job_id: str
    model: str
    status: str
    options: TrainingOptions
    version: int | None = None
    serving: bool = False
    promotion: str | None = Field(
        default=None,
        description="With auto_promote: what the champion/challenger gate decided (the "
        "version in Production, or why it stays out).",
    )
    error: str | None = None
    result: dict[str, Any] = {}
    created_at: float
    finished_at: float | None = None
    logs: list[str] = []

    @classmethod
    def of(cls, job: TrainingJob, *, logs: bool = True) -> TrainingJobView:
        return cls(
            job_id=job.id,
            model=job.model,
            status=job.status,
            options=job.options,
            version=job.version,
            serving=job.serving,
            promotion=job.promotion,
            error=job.error,
            result=job.result,
            created_at=job.created_at,
            finished_at=job.finished_at,
            logs=job.logs() if logs else [],
        )


def training_router(jobs: TrainingJobs, guards: Guards) -> APIRouter:
    router = APIRouter(tags=["training"])
    settings = jobs.settings

    on_job = error_responses(401, 403, 404, 422)

    @router.post(
        "/models/{name}/train",
        status_code=202,
        response_model=TrainingJobView,
        openapi_extra=_TRAIN_BODY,
        responses=error_responses(400, 401, 403, 404, 413, 422, 429),
    )
    async def train(
        name: ModelName, request: Request, admin: User = Depends(guards.admin)
    ) -> TrainingJobView:
        """Start a training job; 202 with its id (poll ``GET /models/{name}/train/{id}``)."""
        validate_model_name(name)
        form = await read_form(
            request,
            limit=settings.max_upload_bytes + 1024 * 1024,
            max_files=1,
            max_part_size=1024 * 1024,
        )
        fields = {k: v for k, v in form.items() if k in _OPTION_FIELDS and isinstance(v, str)}
        unknown = sorted(set(form.keys()) - _OPTION_FIELDS - {"dataset", "dataset_path"})
        if unknown:
            raise InvalidInputError(
                f"unknown form field(s) {', '.join(unknown)}; fields: dataset or dataset_path, "
                f"{', '.join(sorted(_OPTION_FIELDS))}"
            )
        try:
            options = TrainingOptions.model_validate(fields)
        except ValidationError as exc:
            raise invalid_body(exc.errors()) from None
        options.check_limits(settings)
        upload, path_text = form.get("dataset"), form.get("dataset_path")
        if isinstance(upload, UploadFile) == isinstance(path_text, str):
            raise InvalidInputError(
                "send the dataset either as the file part 'dataset' (CSV or Parquet) or as "
                "'dataset_path' under the server's training.data_root, not both or neither"
            )
        source = (
            None
            if isinstance(upload, UploadFile)
            else check_dataset_path(settings.data_root, str(path_text))
        )
        job = jobs.new_job_folder(name, options)
        try:
            dataset = source or job.folder / _upload_name(upload)
            if isinstance(upload, UploadFile):
                await asyncio.to_thread(_save_upload, upload, dataset, settings.max_upload_bytes)
            await asyncio.to_thread(_check_header, dataset, options.target)
        except BaseException:
            shutil.rmtree(job.folder, ignore_errors=True)
            raise
        return TrainingJobView.of(jobs.submit(job, dataset), logs=False)

    @router.get("/models/{name}/train/{job_id}", response_model=TrainingJobView, responses=on_job)
    async def job_status(
        name: ModelName, job_id: JobId, admin: User = Depends(guards.admin)
    ) -> TrainingJobView:
        """Status, result and the last log lines of one job."""
        return TrainingJobView.of(jobs.get(name, job_id))

    @router.post(
        "/models/{name}/train/{job_id}/cancel",
        response_model=TrainingJobView,
        responses=error_responses(401, 403, 404, 409, 422),
    )
    async def cancel(
        name: ModelName, job_id: JobId, admin: User = Depends(guards.admin)
    ) -> TrainingJobView:
        """Stop a queued or running job at its next fold (409 when it already finished)."""
        return TrainingJobView.of(jobs.cancel(name, job_id), logs=False)

    return router


def _upload_name(upload: Any) -> str:
    suffix = Path(getattr(upload, "filename", "") or "").suffix.lower()
    return "dataset.parquet" if suffix in (".parquet", ".pq") else "dataset.csv"


def _save_upload(upload: UploadFile, target: Path, limit: int) -> None:
    upload.file.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(upload.file, out, length=1024 * 1024)
    if target.stat().st_size > limit:
        target.unlink()
        raise PayloadTooLargeError(
            f"dataset is larger than {limit} bytes (training.max_upload_bytes)"
        )
    if target.stat().st_size == 0:
        raise InvalidInputError("dataset is empty: upload a CSV with a header row")


def _check_header(dataset: Path, target: str) -> None:
    """The dataset's columns, read from its header only (Parquet: its schema)."""
    import pandas as pd

    try:
        if dataset.suffix == ".parquet":
            import pyarrow.parquet as pq

            columns = [str(c) for c in pq.read_schema(dataset).names]
        else:
            columns = [str(c) for c in pd.read_csv(dataset, nrows=0).columns]
    except Exception as exc:
        raise InvalidInputError(
            f"dataset cannot be read as {'Parquet' if dataset.suffix == '.parquet' else 'CSV'} "
            f"({type(exc).__name__})"
        ) from None
    check_columns(columns, target)
