"""Online policy models: configure, choose actions, learn from feedback, report metrics.

Contract:

- ``configure`` stores the model (``online:models`` hash, field ``<name>/v<N>``) and records
  a deployment that is already ``success`` (there is nothing to build), so the client's
  ``wait_for_deployment`` returns at once. Configuring the same contract again is a no-op;
  a different contract for an existing version is a 409.
- ``predict`` validates every row against the contract, then serves each row with one of the
  model's policies drawn uniformly (an even split to compare them) and answers ``action``,
  ``policy_id``, ``mode`` and ``epsilon`` per row. Learning is fresh: feedback this replica
  accepted counts at once, feedback other replicas appended within ``refresh_s`` (50 ms;
  checking the store on every call would cost a round trip per prediction).
- ``feedback`` validates the whole batch (unknown policy id or action, non-numeric feature,
  missing reward: a 422 naming the row and field) before anything is written, so a rejected
  batch leaves the learning state unchanged; an accepted batch is one atomic ledger entry.
- Prediction counters are batched in memory and appended at most once per
  ``pull_flush_s`` (and on ``metrics`` and ``close``): a crash loses at most that much of
  the pull counts, never learning state.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from mlserve.errors import ConflictError, InvalidInputError, NotFoundError
from mlserve.platform.deployments import DeploymentService
from mlserve.platform.policies.contract import (
    FeatureContract,
    number,
    parse_contract,
    parse_task_type,
)
from mlserve.platform.policies.ledger import Counters, PolicyLedger, hour_of
from mlserve.platform.policies.linear import LinearStats
from mlserve.platform.policies.rl_metrics import rl_metrics
from mlserve.platform.policies.selection import choose
from mlserve.platform.store import StateStore
from mlserve.platform.versions import parse_version, version_label

MAX_ROWS = 1000
"""Most rows one ``online_predict`` or ``online_feedback`` call may carry."""
_MODELS = "online:models"


@dataclass
class OnlineModel:
    name: str
    version: int
    task_type: str
    contract: FeatureContract
    created_at: str
    created_by: str | None
    deployment_id: int

    @property
    def key(self) -> str:
        return f"{self.name}/{version_label(self.version)}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "version": self.version,
                "task_type": self.task_type,
                "contract": self.contract.model_dump(),
                "created_at": self.created_at,
                "created_by": self.created_by,
                "deployment_id": self.deployment_id,
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> OnlineModel:
        data = json.loads(raw)
        data["contract"] = FeatureContract.model_validate(data["contract"])
        return cls(**data)


@dataclass
class _Served:
    model: OnlineModel
    ledger: PolicyLedger
    pending: dict[int, Counters] = field(default_factory=dict)
    last_flush: float = field(default_factory=time.monotonic)


def _rows(body: Any, field_name: str, example: str) -> list[Any]:
    rows = body.get(field_name) if isinstance(body, dict) else None
    if not isinstance(rows, list) or not rows:
        raise InvalidInputError(f"{field_name} must be a non-empty list; send e.g. {example}")
    if len(rows) > MAX_ROWS:
        raise InvalidInputError(
            f"{field_name} holds {len(rows)} rows; the limit is {MAX_ROWS}: split the call"
        )
    return rows


class OnlinePolicyService:
    """All online policy models of one platform, over a shared :class:`StateStore`."""

    def __init__(
        self,
        store: StateStore,
        deployments: DeploymentService,
        *,
        pull_flush_s: float = 1.0,
        refresh_s: float = 0.05,
        seed: int | None = None,
    ) -> None:
        self._store = store
        self._deployments = deployments
        self._served: dict[str, _Served] = {}
        self._pull_flush_s = pull_flush_s
        self._refresh_s = refresh_s
        self._rng = np.random.default_rng(seed)

    # -- models ----------------------------------------------------------------------------

    async def configure(
        self,
        name: str,
        version: str,
        task_type: str | None,
        contract_json: str | None,
        created_by: str | None,
    ) -> dict[str, Any]:
        from mlserve.repository.store import validate_model_name

        name = validate_model_name(name)
        number_ = parse_version(version)
        task = parse_task_type(task_type)
        if not contract_json:
            raise InvalidInputError(
                "feature_contract is required: a JSON object with 'features' and 'actions'"
            )
        contract = parse_contract(contract_json)
        key = f"{name}/{version_label(number_)}"
        existing = await self._store.hget(_MODELS, key)
        if existing is not None:
            model = OnlineModel.from_json(existing)
            if model.contract != contract or model.task_type != task:
                raise ConflictError(
                    f"{key} is already configured with another contract; configure a new "
                    "version (e.g. v2) to change features, actions or policies"
                )
            return self._configured(model, "already configured with this contract")
        deployment = await self._deployments.create(name, number_, created_by)
        model = OnlineModel(
            name, number_, task, contract, datetime.now(UTC).isoformat(), created_by, deployment.id
        )
        if not await self._store.hsetnx(_MODELS, key, model.to_json()):
            await self._deployments.mark_failed(deployment.id, f"{key} was configured meanwhile")
            raise ConflictError(f"{key} was configured by another request just now")
        await self._deployments.mark_building(deployment.id)
        await self._deployments.append_log(
            deployment.id,
            f"online policy model {key}: {len(contract.features)} features, "
            f"{len(contract.actions)} actions, policies "
            + ", ".join(f"{i}={p.type}" for i, p in enumerate(contract.policies)),
        )
        await self._deployments.mark_success(deployment.id)
        return self._configured(model, "configured")

    @staticmethod
    def _configured(model: OnlineModel, status: str) -> dict[str, Any]:
        base = f"/api/v1/%s/{model.name}/{version_label(model.version)}"
        return {
            "deployment_id": model.deployment_id,
            "model": model.name,
            "version": version_label(model.version),
            "task_type": model.task_type,
            "status": status,
            "actions": model.contract.actions,
            "features": model.contract.feature_names,
            "policies": [
                {"policy_id": i, **p.model_dump()} for i, p in enumerate(model.contract.policies)
            ],
            "predict_url": base % "online_predict",
            "feedback_url": base % "online_feedback",
            "metrics_url": base % "metrics/rl",
        }

    async def names(self) -> list[str]:
        return sorted({key.rsplit("/", 1)[0] for key in await self._store.hgetall(_MODELS)})

    async def versions(self, name: str) -> list[int]:
        """Configured versions of ``name`` (empty when there is no such online model)."""
        return sorted(
            parse_version(label)
            for model, _, label in (k.rpartition("/") for k in await self._store.hgetall(_MODELS))
            if model == name
        )

    async def _get(self, name: str, version: str) -> _Served:
        key = f"{name}/{version_label(parse_version(version))}"
        served = self._served.get(key)
        if served is None:
            raw = await self._store.hget(_MODELS, key)
            if raw is None:
                raise NotFoundError(
                    f"no online policy model {key}; configure it first "
                    "(POST /api/v1/model_config, the client's configure_online_model)"
                )
            model = OnlineModel.from_json(raw)
            contract = model.contract
            ledger = PolicyLedger(
                self._store, key, len(contract.actions), contract.dimension, contract.ridge
            )
            served = self._served.setdefault(key, _Served(model, ledger))
        return served

    # -- serving ---------------------------------------------------------------------------

    async def predict(self, name: str, version: str, body: Any) -> dict[str, Any]:
        served = await self._get(name, version)
        contract = served.model.contract
        rows = _rows(body, "inputs", '{"inputs": [{"age": 30, "income": 52000.0}]}')
        contexts = contract.contexts(rows, "inputs[{i}]")
        state = await served.ledger.refresh(max_age_s=self._refresh_s)
        fit = state.fit
        z = fit.standardize(contexts)
        policy_ids = self._rng.integers(0, len(contract.policies), size=len(rows))
        answers: list[dict[str, Any]] = [{} for _ in rows]
        hour = hour_of(time.time())
        pending = served.pending.setdefault(hour, {})
        # Rows grouped by policy in plain Python: most calls carry one row, where numpy's
        # unique/flatnonzero cost more than the choice itself.
        groups: dict[int, list[int]] = {}
        for i, policy_id in enumerate(policy_ids.tolist()):
            groups.setdefault(policy_id, []).append(i)
        for pid, idx in sorted(groups.items()):
            spec = contract.policies[pid]
            choices = choose(
                spec, fit, z[idx], self._rng, exploration_share=self._share(served, pid)
            )
            counters = pending.setdefault(pid, [0.0, 0.0, 0.0])
            for i, c in zip(idx, choices, strict=True):
                answers[i] = {
                    "action": contract.actions[c.action],
                    "action_index": c.action,
                    "policy_id": pid,
                    "policy": spec.type,
                    "mode": "explore" if c.explore else "exploit",
                    "epsilon": c.epsilon,
                }
                counters[0] += 1
                counters[1] += c.explore
                counters[2] += c.epsilon
        if time.monotonic() - served.last_flush >= self._pull_flush_s:
            await self._flush(served)
        return {
            "model": served.model.name,
            "version": version_label(served.model.version),
            "predictions": answers,
            "prediction_ids": [uuid.uuid4().hex for _ in rows],
            "learned_from": state.fit.observations,
        }

    @staticmethod
    def _share(served: _Served, policy_id: int) -> float:
        pulls = explored = 0.0
        for source in (served.ledger.state.pulls_by_hour, served.pending):
            for counters in source.values():
                row = counters.get(policy_id)
                if row:
                    pulls, explored = pulls + row[0], explored + row[1]
        return explored / pulls if pulls else 0.0

    async def feedback(self, name: str, version: str, body: Any) -> dict[str, Any]:
        served = await self._get(name, version)
        contract = served.model.contract
        example = (
            '{"feedback": [{"features": {...}, "action": "show_discount", "reward": 1, '
            '"policy_id": 0}]}'
        )
        rows = _rows(body, "feedback", example)
        actions = np.zeros(len(rows), dtype=np.int64)
        rewards = np.zeros(len(rows))
        policies = np.zeros(len(rows), dtype=np.int64)
        features = []
        for i, row in enumerate(rows):
            where = f"feedback[{i}]"
            if not isinstance(row, dict):
                raise InvalidInputError(f"{where} must be an object; send e.g. {example}")
            for required in ("features", "action", "reward", "policy_id"):
                if required not in row:
                    raise InvalidInputError(
                        f"{where}.{required} is required (as online_predict answered it)"
                    )
            features.append(row["features"])
            actions[i] = contract.action_index(row["action"], f"{where}.action")
            rewards[i] = number(row["reward"], f"{where}.reward")
            pid = row["policy_id"]
            if (
                isinstance(pid, bool)
                or not isinstance(pid, int)
                or not 0 <= pid < len(contract.policies)
            ):
                raise InvalidInputError(
                    f"{where}.policy_id {pid!r} is not a policy of {served.model.key}; "
                    f"policy ids are 0-{len(contract.policies) - 1} (use the one "
                    "online_predict answered)"
                )
            policies[i] = pid
        contexts = contract.contexts(features, "feedback[{i}].features")
        delta = LinearStats.delta(len(contract.actions), contexts, actions, rewards)
        per_policy: dict[int, list[float]] = {}
        for pid in np.unique(policies):
            r = rewards[policies == pid]
            per_policy[int(pid)] = [float(len(r)), float(r.sum()), float((r**2).sum())]
        await served.ledger.append_feedback(delta, per_policy)
        state = served.ledger.state
        return {
            "model": served.model.name,
            "version": version_label(served.model.version),
            "accepted": len(rows),
            "avg_reward": float(rewards.mean()),
            "per_policy": {
                str(p): {"n": int(v[0]), "avg_reward": v[1] / v[0]} for p, v in per_policy.items()
            },
            "learned_from": state.fit.observations,
            "message": f"learned from {len(rows)} feedback rows",
        }

    async def metrics(
        self, name: str, version: str, window_hours: int, granularity: str
    ) -> dict[str, Any]:
        served = await self._get(name, version)
        await self._flush(served)
        state = await served.ledger.refresh(pulls=True)
        return rl_metrics(
            served.model.name,
            version_label(served.model.version),
            served.model.contract.policies,
            state,
            window_hours=window_hours,
            granularity=granularity,
        )

    async def _flush(self, served: _Served) -> None:
        pending, served.pending = served.pending, {}
        served.last_flush = time.monotonic()
        await served.ledger.append_pulls(pending)

    async def close(self) -> None:
        """Append the pull counters not yet flushed."""
        await asyncio.gather(*(self._flush(s) for s in self._served.values()))
