"""Training jobs: queued, run in the training process pool, published when done.

Jobs run in a ``spawn`` process pool of ``training.workers`` processes (default one) at
idle CPU priority (SCHED_IDLE, nice 19) and capped to ``training.worker_threads`` threads,
so a search never runs in the serving event loop and gets the CPU serving leaves. The
serving process only waits on the job's future, reads its log file and, once the job
returns its ONNX export, publishes it with the
:class:`~mlserve.serving.publisher.Publisher` (the usual parity-checked path). With
``auto_promote`` the version is published and released through the champion/challenger gate
(:mod:`mlserve.training.promotion`); without, it is published
stopped (a candidate an admin starts).

Job records live in memory (the newest ``MAX_JOBS``); a restart forgets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import shutil
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlserve.errors import (
    ConflictError,
    InvalidInputError,
    MLServeError,
    NotFoundError,
    OverloadedError,
    ParityError,
)
from mlserve.serving.publisher import Publisher
from mlserve.settings import TrainingSettings
from mlserve.training.options import TrainingOptions
from mlserve.training.study import JobCancelledError
from mlserve.training.worker import (
    JobOutcome,
    JobSpec,
    limit_process,
    run_job,
)

logger = logging.getLogger(__name__)
JobStatus = Literal["queued", "running", "publishing", "succeeded", "failed", "cancelled"]
MAX_JOBS = 100
MAX_LOG_LINES = 500
FINISHED: tuple[JobStatus, ...] = ("succeeded", "failed", "cancelled")


@dataclass
class TrainingJob:
    id: str
    model: str
    options: TrainingOptions
    folder: Path
    status: JobStatus = "queued"
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error: str | None = None
    version: int | None = None
    serving: bool = False
    promotion: str | None = None
    """With ``auto_promote``: what the release gate decided."""
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.folder / "job.log"

    @property
    def cancel_path(self) -> Path:
        return self.folder / "cancel"

    def logs(self) -> list[str]:
        try:
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        return lines[-MAX_LOG_LINES:]


Promotion = Callable[[TrainingJob, JobOutcome], Awaitable[str]]
"""How ``auto_promote`` releases a published trained version
(:func:`mlserve.training.promotion.gated_promotion`: the release manager and the
champion/challenger gate): its message says what happened; an MLServeError (a 409 from the
gate) when the version stays out of Production."""


class TrainingJobs:
    """Submit, watch and cancel training jobs."""

    def __init__(
        self,
        settings: TrainingSettings,
        work_dir: Path,
        publisher: Publisher,
        *,
        tracking_uri: str | None = None,
        promote: Promotion | None = None,
    ) -> None:
        self.settings = settings
        self.work_dir = work_dir
        self.publisher = publisher
        self.tracking_uri = tracking_uri
        self.promote = promote
        self._jobs: OrderedDict[str, TrainingJob] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._executor: ProcessPoolExecutor | None = None
        self._ids = itertools.count(int(time.time()) % 100_000 * 1000)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.settings.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=limit_process,
                initargs=(
                    self.settings.worker_threads,
                    self.settings.worker_nice,
                    self.settings.worker_idle_priority,
                ),
            )
        return self._executor

    def new_job_folder(self, model: str, options: TrainingOptions) -> TrainingJob:
        """A job record with its own folder (the caller puts the dataset there)."""
        active = [j for j in self._jobs.values() if j.status not in FINISHED]
        if len(active) >= self.settings.max_queued_jobs:
            raise OverloadedError(
                f"{len(active)} training jobs are queued or running (training.max_queued_jobs)"
                ": wait for one to finish",
                retry_after=30.0,
            )
        job_id = f"t{next(self._ids)}"
        folder = self.work_dir / job_id
        folder.mkdir(parents=True, exist_ok=False)
        return TrainingJob(id=job_id, model=model, options=options, folder=folder)

    def submit(self, job: TrainingJob, dataset: Path) -> TrainingJob:
        """Queue ``job`` on ``dataset`` (a file the job may read until it finishes)."""
        self._jobs[job.id] = job
        while len(self._jobs) > MAX_JOBS:
            oldest = next(iter(self._jobs.values()))
            if oldest.status not in FINISHED:
                break
            self._forget(oldest)
        spec = JobSpec(
            name=job.model,
            dataset=dataset,
            options=job.options,
            log_path=job.log_path,
            cancel_path=job.cancel_path,
            max_rows=self.settings.max_rows,
            threads=self.settings.worker_threads,
            nice=self.settings.worker_nice,
            tracking_uri=self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None,
        )
        task = asyncio.create_task(self._run(job, spec), name=f"train-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, model: str, job_id: str) -> TrainingJob:
        job = self._jobs.get(job_id)
        if job is None or job.model != model:
            raise NotFoundError(
                f"no training job {job_id!r} for model {model!r}; POST /models/{model}/train "
                "starts one"
            )
        return job

    def cancel(self, model: str, job_id: str) -> TrainingJob:
        job = self.get(model, job_id)
        if job.status in FINISHED:
            raise ConflictError(f"training job {job_id} is {job.status} already")
        if job.status == "publishing":
            raise ConflictError(f"training job {job_id} is publishing its version; too late")
        job.cancel_path.touch()
        return job

    async def _run(self, job: TrainingJob, spec: JobSpec) -> None:
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._pool(), run_job, spec)
            job.status = "running"
            outcome = await future
            if job.cancel_path.exists():
                raise JobCancelledError("cancelled")
            if not outcome.exported.parity.passed:
                raise ParityError(f"not published: {outcome.exported.parity.summary()}")
            job.status = "publishing"
            if job.options.auto_promote:
                job.version = (await self.publisher.publish(outcome.exported, job.model)).version
                job.serving = True
                if self.promote is not None:
                    self._log(job, await self._promoted(self.promote, job, outcome))
            else:
                metadata = await self.publisher.publish(outcome.exported, job.model)
                job.version = metadata.version
                await self.publisher.set_enabled(job.model, job.version, False)
            job.result = {
                "best_params": outcome.best_params,
                "search_score": outcome.best_score,
                "full_fits": outcome.full_fits,
                "cpu_seconds": outcome.cpu_seconds,
                "holdout": outcome.holdout,
                "trials": outcome.trials,
                "pruned": outcome.pruned,
                "mlflow_run_id": outcome.mlflow_run_id,
            }
            state = "serving" if job.serving else "published stopped (start it to serve)"
            self._log(job, f"{job.model} v{job.version} {state}")
            job.status = "succeeded"
        except MLServeError as exc:
            if job.cancel_path.exists():
                job.status = "cancelled"
            else:
                job.status, job.error = "failed", exc.message
        except BrokenProcessPool:
            self._executor = None  # the next job starts a fresh training process
            job.status = "failed"
            job.error = "the training process died (out of memory or killed); try a smaller dataset"
        except Exception as exc:
            logger.exception("training job %s failed unexpectedly", job.id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"[:300]
        finally:
            job.finished_at = time.time()
            if job.error:
                self._log(job, f"failed: {job.error}")
            for data in job.folder.glob("dataset*"):
                data.unlink(missing_ok=True)

    @staticmethod
    async def _promoted(promote: Promotion, job: TrainingJob, outcome: JobOutcome) -> str:
        """Release the published version through ``promote``; a version kept out (the
        gate's 409, or no validation set) stays published, served by explicit version
        only, and the job still succeeds, its ``promotion`` saying why."""
        try:
            message = await promote(job, outcome)
        except MLServeError as exc:
            job.promotion = f"not promoted: {exc.message}"
            return job.promotion
        job.promotion = message
        return message

    @staticmethod
    def _log(job: TrainingJob, line: str) -> None:
        with contextlib.suppress(OSError), job.log_path.open("a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def _forget(self, job: TrainingJob) -> None:
        self._jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    async def shutdown(self) -> None:
        for job in self._jobs.values():
            if job.status not in FINISHED:
                job.cancel_path.touch()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def check_dataset_path(root: Path | None, requested: str) -> Path:
    """``requested`` resolved under ``root``; refuses anything outside it or missing."""
    if root is None:
        raise InvalidInputError(
            "dataset_path is not accepted: this server has no training.data_root; upload the "
            "dataset as the 'dataset' file instead"
        )
    base = root.resolve()
    candidate = (base / requested).resolve()
    if not candidate.is_relative_to(base):
        raise InvalidInputError(
            f"dataset_path {requested!r} leaves the data root: give a path inside "
            "training.data_root"
        )
    if not candidate.is_file():
        raise NotFoundError(f"dataset_path {requested!r} is not a file under the data root")
    if candidate.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InvalidInputError(f"dataset_path {requested!r} must be a .csv or .parquet file")
    return candidate
