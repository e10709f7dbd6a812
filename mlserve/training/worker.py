"""The training job itself, run inside a training process (never the serving process).

:func:`run_job` reads the dataset, searches hyperparameters with Optuna (TPE sampler,
median pruner over cross-validation folds, a trial budget and a time budget), refits the
best configuration, measures it on held-out rows and exports it to ONNX with the parity
check on those rows. Progress goes to the job's log file, one line per event; a
``cancel`` file beside it stops the search at the next fold. Each trial is logged to
MLflow as a child run when a tracking server is configured.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlserve.converters.base import ExportedModel
from mlserve.errors import InvalidInputError, MLServeError
from mlserve.training.options import LOWER_IS_BETTER, TrainingOptions

CV_FOLDS = 3
MIN_ROWS = 50
MAX_BACKGROUND_ROWS = 1000


class JobCancelledError(MLServeError):
    """The job was cancelled."""

    status_code = 409


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
    holdout: dict[str, float] = field(default_factory=dict)
    mlflow_run_id: str | None = None


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

    log = JobLog(spec.log_path)
    options = spec.options
    features, target = read_dataset(spec.dataset, options, spec.max_rows)
    names = [str(c) for c in features.columns]
    labels: list[str] | None = None
    y_all = target.to_numpy()
    if options.task == "classification":
        labels = sorted({str(v) for v in y_all})
        y_all = np.array([labels.index(str(v)) for v in y_all])
    stratify = y_all if options.task == "classification" else None
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
    best_params, best_score, trials, pruned = _search(spec, x_train, y_train, log, tracker)
    if spec.cancel_path.exists():
        raise JobCancelledError("cancelled")
    from mlserve.training.search import build

    model = build(options.task, best_params, options.seed).fit(x_train, y_train)
    holdout = {options.metric_name: _score(options, model, x_test, y_test)}
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
        "trials": trials,
        "pruned": pruned,
        "best_params": best_params,
        "cv_score": best_score,
        "rows": len(features),
        "target": options.target,
    }
    log(f"exported to ONNX; {exported.parity.summary()}")
    return JobOutcome(
        exported=exported,
        best_params=best_params,
        best_score=best_score,
        trials=trials,
        pruned=pruned,
        holdout=holdout,
        mlflow_run_id=tracker.parent_run,
    )


def _search(
    spec: JobSpec, x: Any, y: Any, log: JobLog, tracker: _Tracker
) -> tuple[dict[str, Any], float, int, int]:
    options = spec.options
    from mlserve.training.search import default_params, suggest

    if not options.optimize:
        params = default_params(options.task, options.estimator)
        return params, _cross_validate(spec, params, x, y, None), 1, 0
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction: Literal["minimize", "maximize"] = (
        "minimize" if options.metric_name in LOWER_IS_BETTER else "maximize"
    )
    study = optuna.create_study(
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=options.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0),
    )

    def objective(trial: Any) -> float:
        params = suggest(trial, options.task, options.estimator)
        trial.set_user_attr("params", params)
        return _cross_validate(spec, params, x, y, trial)

    def after_trial(study: Any, trial: Any) -> None:
        state = trial.state.name.lower()
        value = "" if trial.value is None else f" {options.metric_name} {trial.value:.4f}"
        log(f"trial {trial.number}: {state}{value} {trial.user_attrs.get('params', {})}")
        tracker.trial(trial)
        if spec.cancel_path.exists():
            study.stop()

    study.optimize(
        objective,
        n_trials=options.n_optimization_trials,
        timeout=options.time_budget_s,
        callbacks=[after_trial],
        catch=(ValueError,),
    )
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    pruned = sum(t.state.name == "PRUNED" for t in study.trials)
    if not done:
        if spec.cancel_path.exists():
            raise JobCancelledError("cancelled")
        raise InvalidInputError("no trial completed: check the dataset and the time budget")
    best = study.best_trial
    return dict(best.user_attrs["params"]), float(best.values[0]), len(study.trials), pruned


def _cross_validate(spec: JobSpec, params: dict[str, Any], x: Any, y: Any, trial: Any) -> float:
    from sklearn.model_selection import KFold, StratifiedKFold

    from mlserve.training.search import build

    options = spec.options
    splitter = (
        StratifiedKFold(CV_FOLDS, shuffle=True, random_state=options.seed)
        if options.task == "classification"
        else KFold(CV_FOLDS, shuffle=True, random_state=options.seed)
    )
    scores: list[float] = []
    for step, (train, valid) in enumerate(splitter.split(x, y)):
        if spec.cancel_path.exists():
            raise JobCancelledError("cancelled")
        model = build(options.task, params, options.seed).fit(x[train], y[train])
        scores.append(_score(options, model, x[valid], y[valid]))
        if trial is not None:
            import optuna

            trial.report(sum(scores) / len(scores), step)
            if trial.should_prune():
                raise optuna.TrialPruned
    return sum(scores) / len(scores)


def _score(options: TrainingOptions, model: Any, x: Any, y: Any) -> float:
    from sklearn import metrics

    name = options.metric_name
    if name in ("roc_auc", "log_loss"):
        proba = model.predict_proba(x)
        if name == "log_loss":
            return float(metrics.log_loss(y, proba, labels=list(range(proba.shape[1]))))
        if proba.shape[1] == 2:
            return float(metrics.roc_auc_score(y, proba[:, 1]))
        return float(metrics.roc_auc_score(y, proba, multi_class="ovr"))
    predicted = model.predict(x)
    if name == "accuracy":
        return float(metrics.accuracy_score(y, predicted))
    if name == "f1":
        return float(metrics.f1_score(y, predicted, average="macro"))
    if name == "r2":
        return float(metrics.r2_score(y, predicted))
    if name == "rmse":
        return math.sqrt(float(metrics.mean_squared_error(y, predicted)))
    return float(metrics.mean_absolute_error(y, predicted))


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
            self.client.log_metric(child.info.run_id, "cv_score", float(trial.value))
        self.client.set_terminated(child.info.run_id)

    def finish(self, params: dict[str, Any], holdout: dict[str, float]) -> None:
        if self.client is None or self.parent_run is None:
            return
        for key, value in params.items():
            self.client.log_param(self.parent_run, f"best.{key}", str(value))
        for key, value in holdout.items():
            self.client.log_metric(self.parent_run, f"holdout_{key}", value)
        self.client.set_terminated(self.parent_run)
