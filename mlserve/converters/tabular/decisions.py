"""Decision tasks declared at deploy: causal models and recommenders.

Both are ordinary tabular estimators exported (and parity-checked) like any other; what
makes them a decision model is how requests are answered, declared with the task:

* ``causal``: the estimator predicts an outcome from features *and* an action
  (``y = f(X, A)``). Declared: the ``action`` column, the ``actions`` it can take, the
  ``baseline`` action effects are measured against (default: the first action) and the
  ``objective`` (``max``: the next best action has the highest outcome; ``min``: the
  lowest). Served as the ``causal`` kind (:mod:`mlserve.kinds.causal`).
* ``recommender``: the estimator scores a (user, item) row. Declared: the
  ``user_features`` and ``item_features`` (together, exactly the estimator's features) and
  the ``item_id`` field candidates carry (default ``id``). Served as the ``recommender``
  kind (:mod:`mlserve.kinds.recommender`).

How the task arrives: ``task_type`` is ``"causal"`` / ``"recommender"`` with the options as
JSON in ``task_options`` (a form field of ``/api/v1/deploy``, ``--task-options`` of
``mlserve load``), or ``task_type`` is itself the JSON object with a ``task`` key — what
the 0.4.0 client can send, since its ``deploy`` has no other free field::

    client.deploy(model=m, name="promo", version="v1", task_type=json.dumps(
        {"task": "causal", "action": "offer", "actions": [0, 1, 2], "baseline": 0}))

Errors are :class:`InvalidInputError` (422) naming the option and the fix.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlserve.errors import InvalidInputError

if TYPE_CHECKING:
    from mlserve.converters.base import ExportedModel

CAUSAL = "causal"
RECOMMENDER = "recommender"
DECISION_TASKS = (CAUSAL, RECOMMENDER)
MAX_ACTIONS = 64
"""Most actions a causal model may declare (each request row becomes one row per action)."""
ActionValue = str | int | float

_CAUSAL_EXAMPLE = (
    '{"task": "causal", "action": "offer", "actions": [0, 1, 2], "baseline": 0, "objective": "max"}'
)
_RECOMMENDER_EXAMPLE = (
    '{"task": "recommender", "user_features": ["age", "country"], '
    '"item_features": ["price", "category"], "item_id": "id"}'
)


class CausalOptions(BaseModel):
    """What a causal model declares; stored as ``extra["causal"]`` in its metadata."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["causal"] = "causal"
    action: str = Field(min_length=1, description="The estimator's action (treatment) column.")
    actions: list[ActionValue] = Field(
        description="Every action to evaluate, as the estimator saw them in training."
    )
    baseline: ActionValue | None = Field(
        default=None, description="The action effects are measured against (default: first)."
    )
    objective: Literal["max", "min"] = Field(
        default="max", description="max: the best action has the highest outcome; min: lowest."
    )

    @model_validator(mode="after")
    def _consistent(self) -> CausalOptions:
        if not self.actions:
            raise ValueError(
                f"actions is empty: list the actions to evaluate, e.g. {_CAUSAL_EXAMPLE}"
            )
        if len(self.actions) > MAX_ACTIONS:
            raise ValueError(f"actions lists {len(self.actions)} actions; at most {MAX_ACTIONS}")
        if any(isinstance(a, bool) for a in self.actions):
            raise ValueError("actions must be numbers or strings, not true/false")
        keys = [action_key(a) for a in self.actions]
        if len(set(keys)) != len(keys):
            raise ValueError(f"actions lists an action twice: {self.actions}")
        if self.baseline is None:
            self.baseline = self.actions[0]
        elif action_key(self.baseline) not in keys:
            raise ValueError(
                f"baseline {self.baseline!r} is not among actions {self.actions}: name one of "
                "them (or omit baseline for the first)"
            )
        return self


class RecommenderOptions(BaseModel):
    """What a recommender declares; stored as ``extra["recommender"]`` in its metadata."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["recommender"] = "recommender"
    user_features: list[str] = Field(min_length=1, description="Features of the user.")
    item_features: list[str] = Field(min_length=1, description="Features of each candidate.")
    item_id: str = Field(default="id", min_length=1, description="The candidates' id field.")

    @model_validator(mode="after")
    def _disjoint(self) -> RecommenderOptions:
        both = sorted(set(self.user_features) & set(self.item_features))
        if both:
            raise ValueError(f"{both} are listed as user and as item features: list each once")
        if self.item_id in self.item_features or self.item_id in self.user_features:
            raise ValueError(
                f"item_id {self.item_id!r} is also a feature: name the id field differently"
            )
        return self


DecisionOptions = CausalOptions | RecommenderOptions


def action_key(action: ActionValue) -> str:
    """An action as the text answers are keyed by (``1.0`` and ``1`` are the same action)."""
    if isinstance(action, float) and action.is_integer():
        return str(int(action))
    return str(action)


def parse_task(
    task_type: str | None, task_options: str | dict[str, Any] | None = None
) -> tuple[str | None, DecisionOptions | None]:
    """``(task, options)``: the task name and, for a decision task, its validated options.
    A plain task (``classification``...) passes through with None; InvalidInputError (422)
    names a bad option."""
    task = (task_type or "").strip() or None
    options: Any = task_options
    if task is not None and task.startswith("{"):
        options, task = _json(task, "task_type"), None
        if not isinstance(options, dict) or not isinstance(options.get("task"), str):
            raise InvalidInputError(
                f"task_type as JSON must be an object with a task key, e.g. {_CAUSAL_EXAMPLE}"
            )
        task = options["task"]
    elif isinstance(options, str):
        options = _json(options, "task_options") if options.strip() else None
    if task not in DECISION_TASKS:
        if options is not None:
            raise InvalidInputError(
                f"task_options only apply to task_type causal or recommender (got {task!r})"
            )
        return task, None
    if options is None:
        example = _CAUSAL_EXAMPLE if task == CAUSAL else _RECOMMENDER_EXAMPLE
        raise InvalidInputError(
            f"task_type {task} needs its options: send task_options (or task_type) as {example}"
        )
    if not isinstance(options, dict):
        raise InvalidInputError("task_options must be a JSON object")
    options = {"task": task, **options}
    try:
        parsed: DecisionOptions = (
            CausalOptions.model_validate(options)
            if task == CAUSAL
            else RecommenderOptions.model_validate(options)
        )
    except ValidationError as exc:
        raise InvalidInputError(f"{task} task options: {_first(exc)}") from None
    return task, parsed


def check_features(options: DecisionOptions, features: list[str]) -> None:
    """InvalidInputError when ``options`` do not fit an estimator taking ``features``: the
    action column must be one of them (and not the only one); user and item features must
    be exactly them."""
    if isinstance(options, CausalOptions):
        if options.action not in features:
            raise InvalidInputError(
                f"action column {options.action!r} is not one of the estimator's features "
                f"{features}: train the estimator on the action, or name its action column"
            )
        if len(features) < 2:
            raise InvalidInputError(
                f"the estimator's only feature is the action {options.action!r}: a causal "
                "model needs features to decide on"
            )
        return
    declared = options.user_features + options.item_features
    missing = [f for f in features if f not in declared]
    unknown = [f for f in declared if f not in features]
    if missing or unknown:
        raise InvalidInputError(
            f"user_features + item_features must be the estimator's features {features}: "
            f"not declared {missing or 'none'}, not a feature {unknown or 'none'}"
        )


def options_of(extra: dict[str, Any], task: str) -> DecisionOptions:
    """The options stored in a version's ``extra`` (as :func:`parse_task` validated them)."""
    stored = extra.get(task)
    if task == CAUSAL:
        return CausalOptions.model_validate(stored)
    return RecommenderOptions.model_validate(stored)


def _json(text: str, field: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{field} is not valid JSON ({exc.msg}): send e.g. {_CAUSAL_EXAMPLE}"
        ) from None


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def apply_decision(exported: ExportedModel, options: DecisionOptions) -> None:
    """Make the tabular export ``exported`` a decision model: check ``options`` against its
    features and task, set its kind and keep the options in ``extra``."""
    from mlserve.converters.tabular.spec import TabularSpec

    check_features(options, list(exported.features))
    if exported.task not in ("regression", "classification"):
        raise InvalidInputError(
            f"a {options.task} model's estimator must be a regressor or a binary classifier; "
            f"this one is a {exported.task} model"
        )
    if exported.task == "classification" and len(exported.labels) != 2:
        raise InvalidInputError(
            f"a {options.task} classifier must have two classes (its outcome or score is the "
            f"probability of the second, {exported.labels[-1:]}); this one has "
            f"{len(exported.labels)}: use a binary classifier or a regressor"
        )
    if isinstance(options, CausalOptions):
        spec = TabularSpec.from_dict(exported.preprocessing)
        kind = next(f.kind for f in spec.features if f.name == options.action)
        wrong = [a for a in options.actions if (kind == "numeric") != isinstance(a, int | float)]
        if wrong:
            raise InvalidInputError(
                f"action column {options.action!r} is {kind}, but actions {wrong} are not "
                f"{'numbers' if kind == 'numeric' else 'strings'}: list the actions as the "
                "estimator saw them in training"
            )
    exported.input_kind = options.task
    exported.extra[options.task] = options.model_dump(mode="json")
