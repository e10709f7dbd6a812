"""The feature contract of an online policy model, and input validation against it.

A contract names continuous features and the actions the policy chooses between, plus
(optionally) the policies to run::

    {"features": [{"name": "age", "type": "continuous"}, ...],
     "actions": ["show_discount", "show_premium", "no_action"],
     "policies": [{"type": "epsilon_greedy"}, {"type": "linucb", "alpha": 1.0},
                  {"type": "thompson"}]}

Without ``policies`` all three run side by side (policy ids 0, 1, 2). Every error names
the field, the limit and the fix (:class:`~mlserve.errors.InvalidInputError`, a 422).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlserve.errors import InvalidInputError

TASK_TYPES = ("policy_next", "bandit", "contextual_bandit")
"""``task_type`` values ``configure_online_model`` accepts (S0 uses ``policy_next``)."""
MAX_FEATURES = 64
MAX_ACTIONS = 64
MAX_POLICIES = 8
MAX_NAME = 128


class EpsilonGreedySpec(BaseModel):
    """Explore uniformly with probability ``max(min_epsilon, epsilon * decay**n)`` where
    ``n`` is the number of feedback rows learned so far; otherwise take the best estimate."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["epsilon_greedy"] = "epsilon_greedy"
    epsilon: float = Field(default=0.3, ge=0.0, le=1.0)
    decay: float = Field(default=0.997, gt=0.0, le=1.0)
    min_epsilon: float = Field(default=0.01, ge=0.0, le=1.0)


class LinUCBSpec(BaseModel):
    """Upper confidence bound: estimate + ``alpha`` * its standard error (per action)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["linucb"] = "linucb"
    alpha: float = Field(default=1.0, ge=0.0, le=100.0)


class ThompsonSpec(BaseModel):
    """Linear Thompson sampling: draw weights from N(estimate, ``scale``**2 * A^-1)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["thompson"] = "thompson"
    scale: float = Field(default=0.5, gt=0.0, le=100.0)


PolicySpec = Annotated[EpsilonGreedySpec | LinUCBSpec | ThompsonSpec, Field(discriminator="type")]


def _all_policies() -> list[PolicySpec]:
    return [EpsilonGreedySpec(), LinUCBSpec(), ThompsonSpec()]


class FeatureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=MAX_NAME)
    type: Literal["continuous"] = "continuous"


class FeatureContract(BaseModel):
    """What ``configure_online_model`` declares; see the module docstring."""

    model_config = ConfigDict(extra="forbid")
    features: list[FeatureSpec] = Field(min_length=1, max_length=MAX_FEATURES)
    actions: list[Annotated[str, Field(min_length=1, max_length=MAX_NAME)]] = Field(
        min_length=2, max_length=MAX_ACTIONS
    )
    policies: list[PolicySpec] = Field(
        default_factory=lambda: _all_policies(),
        min_length=1,
        max_length=MAX_POLICIES,
    )
    ridge: float = Field(default=1.0, gt=0.0, le=1e6)

    @field_validator("features")
    @classmethod
    def _unique_features(cls, features: list[FeatureSpec]) -> list[FeatureSpec]:
        names = [f.name for f in features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"feature names must be unique; repeated: {', '.join(duplicates)}")
        return features

    @field_validator("actions")
    @classmethod
    def _unique_actions(cls, actions: list[str]) -> list[str]:
        duplicates = sorted({a for a in actions if actions.count(a) > 1})
        if duplicates:
            raise ValueError(f"actions must be unique; repeated: {', '.join(duplicates)}")
        return actions

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def dimension(self) -> int:
        """Length of a context vector: an intercept plus one entry per feature."""
        return 1 + len(self.features)

    def action_index(self, action: Any, where: str) -> int:
        """The index of ``action`` given by name or by 0-based index."""
        if isinstance(action, str):
            if action in self.actions:
                return self.actions.index(action)
        elif (
            isinstance(action, int)
            and not isinstance(action, bool)
            and 0 <= action < len(self.actions)
        ):
            return action
        raise InvalidInputError(
            f"{where}: unknown action {action!r}; actions are {self.actions} "
            f"(a name or an index 0-{len(self.actions) - 1})"
        )

    def contexts(self, rows: Sequence[Any], where: str) -> npt.NDArray[np.float64]:
        """Validated rows as an ``(n, dimension)`` matrix ``[1, x_1, ..., x_d]``; ``where``
        names row ``i`` in errors, e.g. ``"inputs[{i}]"``."""
        names = self.feature_names
        out = np.ones((len(rows), self.dimension), dtype=np.float64)
        for i, row in enumerate(rows):
            at = where.format(i=i)
            if not isinstance(row, dict):
                example = {n: 1.0 for n in names[:3]}
                raise InvalidInputError(f"{at} must be an object of features like {example}")
            unknown = sorted(set(row) - set(names))
            if unknown:
                raise InvalidInputError(
                    f"{at} has unknown features {unknown}; the contract's features are {names}"
                )
            for j, name in enumerate(names):
                if name not in row:
                    raise InvalidInputError(f"{at} is missing feature {name!r}")
                out[i, j + 1] = number(row[name], f"{at}.{name}")
        return out


def number(value: Any, where: str) -> float:
    """A finite real number; booleans and numeric strings are refused (the contract is
    numeric, and silently coercing hides client bugs)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(
            f"{where} must be a number (the contract's features are continuous); "
            f"got {type(value).__name__} {value!r}"
        )
    result = float(value)
    if not math.isfinite(result):
        raise InvalidInputError(f"{where} must be a finite number (got {value!r})")
    return result


def parse_contract(raw: str | dict[str, Any]) -> FeatureContract:
    """Parse the ``feature_contract`` form field (JSON text) or an already-decoded dict."""
    example = (
        '{"features": [{"name": "age", "type": "continuous"}], '
        '"actions": ["show_discount", "no_action"]}'
    )
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise InvalidInputError(
                f"feature_contract is not valid JSON; send e.g. {example}"
            ) from None
    try:
        return FeatureContract.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"feature_contract.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            if e["loc"]
            else f"feature_contract: {e['msg']}"
            for e in exc.errors()
        )
        raise InvalidInputError(f"{problems}; a valid contract: {example}") from None


def parse_task_type(task_type: str | None) -> str:
    if task_type not in TASK_TYPES:
        raise InvalidInputError(
            f"task_type {task_type!r} is not an online policy type; use one of "
            f"{', '.join(TASK_TYPES)}"
        )
    return task_type
