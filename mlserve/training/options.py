"""What a training request may ask for, checked before any work starts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlserve.errors import InvalidInputError
from mlserve.settings import TrainingSettings

Task = Literal["classification", "regression"]
ESTIMATORS: dict[str, tuple[str, ...]] = {
    "classification": ("logistic_regression", "random_forest", "xgboost", "lightgbm"),
    "regression": ("ridge", "random_forest", "xgboost", "lightgbm"),
}
AUTO_FAMILIES: dict[str, tuple[str, ...]] = {
    "classification": ("logistic_regression", "lightgbm", "xgboost"),
    "regression": ("ridge", "lightgbm", "xgboost"),
}
"""What ``estimator: auto`` searches: a linear model and the two boosters. A random forest
costs several times a booster's fit for what the boosters already cover, and the search
runs on the CPU serving leaves; ask for ``random_forest`` by name to search it."""
METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1", "roc_auc", "log_loss"),
    "regression": ("r2", "rmse", "mae"),
}
LOWER_IS_BETTER = {"log_loss", "rmse", "mae"}


class TrainingOptions(BaseModel):
    """The fields of ``POST /models/{name}/train`` besides the dataset."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(min_length=1, max_length=256)
    """The column to predict."""
    task: Task = "classification"
    estimator: str = "auto"
    """An estimator family of the task (see ``ESTIMATORS``) or ``auto`` (the families in
    ``AUTO_FAMILIES``, searched too)."""
    optimize: bool = True
    """Search hyperparameters with Optuna; false: one fit with defaults."""
    n_optimization_trials: int = Field(default=20, ge=1)
    time_budget_s: float = Field(default=300.0, gt=0)
    """Stop the search after this long (trials finish first)."""
    metric: str | None = None
    """Default: accuracy (classification), r2 (regression)."""
    auto_promote: bool = False
    """Serve the trained version at once (the promotion hook); false: published stopped."""
    test_size: float = Field(default=0.2, gt=0.05, lt=0.5)
    """Share of rows held out for the final metrics and the parity check."""
    seed: int = 0

    @model_validator(mode="after")
    def _known_choices(self) -> TrainingOptions:
        families = ESTIMATORS[self.task]
        if self.estimator != "auto" and self.estimator not in families:
            raise ValueError(
                f"estimator {self.estimator!r} is not a {self.task} family: use auto or one "
                f"of {', '.join(families)}"
            )
        if self.metric is not None and self.metric not in METRICS[self.task]:
            raise ValueError(
                f"metric {self.metric!r} does not fit {self.task}: use one of "
                f"{', '.join(METRICS[self.task])}"
            )
        return self

    @property
    def metric_name(self) -> str:
        return self.metric or METRICS[self.task][0]

    def check_limits(self, settings: TrainingSettings) -> None:
        """Refuse budgets above the server's maxima (InvalidInputError naming the setting)."""
        if self.n_optimization_trials > settings.max_trials:
            raise InvalidInputError(
                f"n_optimization_trials is {self.n_optimization_trials}, above this server's "
                f"maximum of {settings.max_trials} (training.max_trials): ask for fewer trials"
            )
        if self.time_budget_s > settings.max_time_budget_s:
            raise InvalidInputError(
                f"time_budget_s is {self.time_budget_s:g}, above this server's maximum of "
                f"{settings.max_time_budget_s:g} (training.max_time_budget_s)"
            )
