"""The training job itself, run inside a training process (never the serving process).

:func:`run_job` reads the dataset, holds out ``test_size`` of the rows, searches
hyperparameters on the rest (:mod:`mlserve.training.study`: Optuna, successive halving on
data fractions, a trial budget and a time budget), refits the best configuration on all
training rows, measures it on the held-out rows and exports it to ONNX with the parity
check on those rows. Progress goes to the job's log file, one line per event; a
``cancel`` file beside it stops the search before the next fit. Each trial is logged to
MLflow as a child run when a tracking server is configured.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlserve.converters.base import ExportedModel
from mlserve.errors import InvalidInputError
from mlserve.lifecycle.validation import ValidationSet
from mlserve.training.options import TrainingOptions
from mlserve.training.study import JobCancelledError, score, search, search_rows

MIN_ROWS = 50
MAX_BACKGROUND_ROWS = 1000
MAX_VALIDATION_ROWS = 5000
"""Held-out rows kept for the gate (its predictions go through Triton)."""


@dataclass(frozen=True)
class JobSpec:
    """Everything a training process needs (picklable: it crosses the process boundary)."""

    name: str
    dataset: Path
    options: TrainingOptions
    log_path: Path
    cancel_path: Path
    max_rows: int
    threads: int
    nice: int
    tracking_uri: str | None = None


@dataclass
class JobOutcome:
    exported: ExportedModel
    best_params: dict[str, Any]
    best_score: float
    trials: int
    pruned: int
    full_fits: int = 0
    cpu_seconds: float = 0.0
    """CPU time the training process spent on the job (the search's real cost: its wall
    time depends on what serving and the machine leave it)."""
    holdout: dict[str, float] = field(default_factory=dict)
    mlflow_run_id: str | None = None
    validation: ValidationSet | None = None
    """The held-out rows and their labels: the champion/challenger gate's data when the
    model has no validation set of its own."""


class JobLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%H:%M:%S')} {line}\n")


def limit_process(threads: int, nice: int, idle: bool = False) -> None:
    """Process initializer: lower priority (SCHED_IDLE with ``idle``, where Linux has it)
    and cap library threads before any fit."""
    os.nice(nice)
    if idle and hasattr(os, "sched_setscheduler"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)


def read_dataset(path: Path, options: TrainingOptions, max_rows: int) -> tuple[Any, Any]:
    """``(features frame, target series)``; InvalidInputError naming what is wrong."""
    import pandas as pd

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, nrows=max_rows + 1)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise InvalidInputError(f"dataset cannot be read ({type(exc).__name__}: {first})") from None
    if len(frame) > max_rows:
        raise InvalidInputError(
            f"dataset has more than {max_rows} rows (training.max_rows): sample it down"
        )
    check_columns([str(c) for c in frame.columns], options.target)
    frame = frame.dropna(subset=[options.target])
    if len(frame) < MIN_ROWS:
        raise InvalidInputError(f"dataset has {len(frame)} labelled rows; at least {MIN_ROWS}")
    features = frame.drop(columns=[options.target])
    text = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if text:
        raise InvalidInputError(
            f"columns {', '.join(text[:10])} are not numeric: encode them as numbers first "
            "(training takes numeric features)"
        )
    target = frame[options.target]
    if options.task == "regression" and not pd.api.types.is_numeric_dtype(target):
        raise InvalidInputError(
            f"target {options.target!r} is not numeric: use task classification"
        )
    if options.task == "classification" and target.nunique() < 2:
        raise InvalidInputError(f"target {options.target!r} has a single class")
    return features.astype("float64"), target


def check_columns(columns: list[str], target: str) -> None:
    if target not in columns:
        shown = ", ".join(columns[:20])
        raise InvalidInputError(
            f"target column {target!r} is not in the dataset (columns: {shown}): set target "
            "to one of them"
        )
    if len(columns) < 2:
        raise InvalidInputError("the dataset needs at least one feature column besides target")


def run_job(spec: JobSpec) -> JobOutcome:
    """Train, select, export; raises MLServeError subclasses with one-line reasons."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    cpu_started = time.process_time()
    log = JobLog(spec.log_path)
    options = spec.options
    features, target = read_dataset(spec.dataset, options, spec.max_rows)
    names = [str(c) for c in features.columns]
    labels: list[str] | None = None
    y_all = target.to_numpy()
    if options.task == "classification":
        labels = sorted({str(v) for v in y_all})
        y_all = np.array([labels.index(str(v)) for v in y_all])
    splittable = labels is not None and np.unique(y_all, return_counts=True)[1].min() >= 2
    stratify = y_all if splittable else None  # a class of one row cannot be stratified
    x_train, x_test, y_train, y_test = train_test_split(
        features.to_numpy(),
        y_all,
        test_size=options.test_size,
        random_state=options.seed,
        stratify=stratify,
    )
    log(
        f"training process {os.getpid()}: {len(features)} rows, {len(names)} features, "
        f"target {options.target!r}"
    )
    tracker = _Tracker(spec)
    rows = search_rows(x_train, y_train, options.task == "classification", options.seed)
    found = search(
        options, rows, cancelled=spec.cancel_path.exists, log=log, on_trial=tracker.trial
    )
    best_params = found.params
    if spec.cancel_path.exists():
        raise JobCancelledError("cancelled")
    log(
        f"search: {found.trials} trials, {found.pruned} pruned, {found.full_fits} fitted on "
        f"all {len(rows.y_fit)} search rows; refitting the best on {len(y_train)} rows"
    )
    from mlserve.training.search import build

    model = build(options.task, best_params, options.seed).fit(x_train, y_train)
    holdout = {options.metric_name: score(options, model, x_test, y_test)}
    log(f"best {best_params} -> holdout {options.metric_name} {holdout[options.metric_name]:.4f}")
    tracker.finish(best_params, holdout)
    from mlserve.converters.loading import export_native_model

    background = [
        dict(zip(names, row, strict=True)) for row in x_test[:MAX_BACKGROUND_ROWS].tolist()
    ]
    exported = export_native_model(
        model,
        name=spec.name,
        features=names,
        background=background,
        metrics=holdout,
        task_type=options.task,
    )
    if labels is not None and exported.labels and len(exported.labels) == len(labels):
        exported.labels = labels
    exported.training = {
        **exported.training,
        "trials": found.trials,
        "pruned": found.pruned,
        "full_fits": found.full_fits,
        "best_params": best_params,
        "search_score": found.score,
        "rows": len(features),
        "target": options.target,
    }
    cpu_s = round(time.process_time() - cpu_started, 2)
    log(f"exported to ONNX; {exported.parity.summary()}; training process CPU {cpu_s} s")
    held_out = x_test[:MAX_VALIDATION_ROWS].tolist()
    truths = y_test[:MAX_VALIDATION_ROWS].tolist()
    validation = ValidationSet(
        records=[dict(zip(names, row, strict=True)) for row in held_out],
        labels=[labels[int(t)] for t in truths] if labels is not None else truths,
    )
    return JobOutcome(
        exported=exported,
        best_params=best_params,
        best_score=found.score,
        trials=found.trials,
        pruned=found.pruned,
        full_fits=found.full_fits,
        cpu_seconds=cpu_s,
        holdout=holdout,
        mlflow_run_id=tracker.parent_run,
        validation=validation,
    )


class _Tracker:
    """Trials as MLflow child runs of one parent run (nothing without a tracking server)."""

    def __init__(self, spec: JobSpec) -> None:
        self.client: Any = None
        self.parent_run: str | None = None
        self._experiment: str | None = None
        if not spec.tracking_uri:
            return
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=spec.tracking_uri)
        experiment_name = f"mlserve-train-{spec.name}"
        found = self.client.get_experiment_by_name(experiment_name)
        self._experiment = (
            found.experiment_id if found else self.client.create_experiment(experiment_name)
        )
        run = self.client.create_run(self._experiment, run_name=f"train {spec.name}")
        self.parent_run = run.info.run_id
        options = spec.options.model_dump(exclude={"target"})
        for key, value in {**options, "target": spec.options.target}.items():
            self.client.log_param(self.parent_run, key, str(value))

    def trial(self, trial: Any) -> None:
        if self.client is None or self.parent_run is None:
            return
        child = self.client.create_run(
            self._experiment,
            run_name=f"trial {trial.number}",
            tags={"mlflow.parentRunId": self.parent_run, "optuna.state": trial.state.name},
        )
        for key, value in trial.user_attrs.get("params", {}).items():
            self.client.log_param(child.info.run_id, key, str(value))
        if trial.value is not None:
            self.client.log_metric(child.info.run_id, "validation_score", float(trial.value))
        for step, value in trial.intermediate_values.items():
            self.client.log_metric(child.info.run_id, "rung_score", float(value), step=step)
        if "rows" in trial.user_attrs:
            self.client.log_param(child.info.run_id, "fit_rows", str(trial.user_attrs["rows"]))
        self.client.set_terminated(child.info.run_id)

    def finish(self, params: dict[str, Any], holdout: dict[str, float]) -> None:
        if self.client is None or self.parent_run is None:
            return
        for key, value in params.items():
            self.client.log_param(self.parent_run, f"best.{key}", str(value))
        for key, value in holdout.items():
            self.client.log_metric(self.parent_run, f"holdout_{key}", value)
        self.client.set_terminated(self.parent_run)
