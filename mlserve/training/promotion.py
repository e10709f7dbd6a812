"""``auto_promote`` for trained versions: through the champion/challenger gate into
Production, as ``POST /models/{name}/promote?gate=true`` would.

The gate compares the new version with the model's Production version (or ``champion``
alias) on the model's stored validation set; a model without one gets the job's held-out
rows stored as its validation set first (a set the user stored is never replaced). The
metric is the job's when the gate knows it (``accuracy``, ``f1_macro``, ``auc``, ``rmse``),
else ``rmse`` for regressors and ``publish.gate_metric`` for classifiers.
"""

from __future__ import annotations

from mlserve.errors import NotFoundError
from mlserve.lifecycle.gate import GATE_METRICS, Predict, gate_check
from mlserve.lifecycle.release import ReleaseManager
from mlserve.lifecycle.validation import load_validation_set, store_validation_set
from mlserve.repository.store import ModelRepository
from mlserve.training.jobs import Promotion, TrainingJob
from mlserve.training.options import TrainingOptions
from mlserve.training.worker import JobOutcome


def gate_metric(options: TrainingOptions, default: str) -> str:
    """The metric the gate judges a trained version on."""
    if options.metric_name in GATE_METRICS:
        return options.metric_name
    return "rmse" if options.task == "regression" else default


def gated_promotion(
    releases: ReleaseManager,
    predict: Predict,
    repository: ModelRepository,
    *,
    default_metric: str,
    max_recall_drop: float,
) -> Promotion:
    """The :data:`~mlserve.training.jobs.Promotion` of a control plane: ConflictError (the
    gate's report in its detail) when the version does not beat the champion."""

    async def promote(job: TrainingJob, outcome: JobOutcome) -> str:
        if job.version is None:
            raise ValueError("a trained version is published before it is promoted")
        try:
            load_validation_set(repository, job.model)
        except NotFoundError:
            if outcome.validation is not None:
                store_validation_set(repository, job.model, outcome.validation)
        metric = gate_metric(job.options, default_metric)
        check = gate_check(predict, repository, metric, max_recall_drop)
        await releases.promote(
            job.model,
            job.version,
            "Production",
            by=f"training job {job.id}",
            reason="auto_promote: passed the champion/challenger gate",
            gate=check,
        )
        return f"{job.model} v{job.version} passed the gate on {metric} and is in Production"

    return promote
