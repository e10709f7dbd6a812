"""The hyperparameter search: Optuna trials pruned by successive halving on data fractions.

Why this shape: the training process runs at idle CPU priority beside serving, so the
search has to be cheap rather than fast on an idle machine. One validation split (not
k-fold cross-validation) scores every trial, and each trial is fitted on growing nested
subsamples of the search rows (``RUNGS``: 20%, 50%, 100%). After each fraction it reports
its validation score; the median pruner stops a trial whose score is below the median of
the completed trials at that fraction, so most bad configurations cost one fit on a fifth
of the rows and only the promising ones reach a full-data fit.

Contract of :func:`search`: at most ``n_optimization_trials`` trials; no new fit starts
after ``time_budget_s`` once a trial has completed (a running fit finishes); ``cancelled()``
turning true stops it before the next fit with :class:`JobCancelledError`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from mlserve.errors import InvalidInputError, MLServeError
from mlserve.training.options import LOWER_IS_BETTER, TrainingOptions

RUNGS = (0.2, 0.5, 1.0)
"""Shares of the search rows a trial is fitted on, in order; pruning happens between them."""
VALID_SHARE = 0.25
"""Share of the training rows that scores the trials (the rest is fitted on)."""
MIN_RUNG_ROWS = 200
"""A fraction with fewer rows is skipped (too noisy to rank trials on)."""
STARTUP_TRIALS = 5
"""Completed trials before pruning starts."""


class JobCancelledError(MLServeError):
    """The job was cancelled."""

    status_code = 409


@dataclass
class SearchResult:
    params: dict[str, Any]
    score: float
    trials: int
    pruned: int
    full_fits: int
    """Trials fitted on all search rows (the rest stopped on a subsample)."""


@dataclass
class SearchRows:
    """The search split: fit rows ordered so that every prefix keeps the class shares,
    the validation rows, and the prefix lengths a trial is fitted on."""

    x_fit: Any
    y_fit: Any
    x_valid: Any
    y_valid: Any
    sizes: list[int]


def search_rows(x: Any, y: Any, classify: bool, seed: int) -> SearchRows:
    """Split the training rows into fit and validation rows and choose the rung sizes."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    # stratified where every class can be split (a class of one row cannot)
    stratify = y if classify and np.unique(y, return_counts=True)[1].min() >= 2 else None
    x_fit, x_valid, y_fit, y_valid = train_test_split(
        x, y, test_size=VALID_SHARE, random_state=seed, stratify=stratify
    )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y_fit))
    if classify:
        # rank of each row within its class, scaled by the class size: sorting by it
        # interleaves the classes, so any prefix has (nearly) the full data's class shares
        key = np.empty(len(order))
        shuffled = y_fit[order]
        for value in np.unique(shuffled):
            where = np.flatnonzero(shuffled == value)
            key[where] = (np.arange(len(where)) + 0.5) / len(where)
        order = order[np.argsort(key, kind="stable")]
    x_fit, y_fit = x_fit[order], y_fit[order]
    classes = len(np.unique(y_fit)) if classify else 0
    sizes: list[int] = []
    for share in RUNGS:
        size = len(y_fit) if share >= 1 else int(len(y_fit) * share)
        if size < MIN_RUNG_ROWS and size < len(y_fit):
            continue
        if classify and len(np.unique(y_fit[:size])) < classes:
            continue
        sizes.append(size)
    return SearchRows(x_fit, y_fit, x_valid, y_valid, sizes)


def search(
    options: TrainingOptions,
    rows: SearchRows,
    *,
    cancelled: Callable[[], bool],
    log: Callable[[str], None],
    on_trial: Callable[[Any], None],
) -> SearchResult:
    """Run the Optuna study (or one default fit with ``optimize: false``)."""
    from mlserve.training.search import build, default_params, suggest

    deadline = time.monotonic() + options.time_budget_s
    if not options.optimize:
        params = default_params(options.task, options.estimator)
        model = build(options.task, params, options.seed).fit(rows.x_fit, rows.y_fit)
        return SearchResult(params, score(options, model, rows.x_valid, rows.y_valid), 1, 0, 1)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction: Literal["minimize", "maximize"] = (
        "minimize" if options.metric_name in LOWER_IS_BETTER else "maximize"
    )
    study = optuna.create_study(
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=options.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=0),
    )
    full_fits = 0

    def objective(trial: Any) -> float:
        nonlocal full_fits
        params = suggest(trial, options.task, options.estimator)
        trial.set_user_attr("params", params)
        value = math.nan
        for step, size in enumerate(rows.sizes):
            if cancelled():
                raise JobCancelledError("cancelled")
            if time.monotonic() > deadline and _any_complete(study):
                study.stop()
                raise optuna.TrialPruned("time budget spent")
            model = build(options.task, params, options.seed)
            model.fit(rows.x_fit[:size], rows.y_fit[:size])
            value = score(options, model, rows.x_valid, rows.y_valid)
            trial.set_user_attr("rows", size)
            if size == len(rows.y_fit):
                full_fits += 1
                break
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned
        return value

    def after_trial(study: Any, trial: Any) -> None:
        state = trial.state.name.lower()
        last = trial.value
        if last is None and trial.intermediate_values:
            last = trial.intermediate_values[max(trial.intermediate_values)]
        value = "" if last is None else f" {options.metric_name} {last:.4f}"
        rows_used = trial.user_attrs.get("rows")
        on = "" if rows_used is None else f" on {rows_used} rows"
        log(f"trial {trial.number}: {state}{value}{on} {trial.user_attrs.get('params', {})}")
        on_trial(trial)
        if cancelled():
            study.stop()

    study.optimize(
        objective,
        n_trials=options.n_optimization_trials,
        timeout=options.time_budget_s,
        callbacks=[after_trial],
        catch=(ValueError,),
    )
    if cancelled():
        raise JobCancelledError("cancelled")
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    pruned = sum(t.state.name == "PRUNED" for t in study.trials)
    if not done:
        raise InvalidInputError("no trial completed: check the dataset and the time budget")
    best = study.best_trial
    return SearchResult(
        dict(best.user_attrs["params"]), float(best.values[0]), len(study.trials), pruned, full_fits
    )


def _any_complete(study: Any) -> bool:
    return any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))


def score(options: TrainingOptions, model: Any, x: Any, y: Any) -> float:
    """``options.metric_name`` of ``model`` on ``(x, y)``."""
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
