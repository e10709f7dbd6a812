"""Experiments over a real SQLite state store, with a settable version catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlserve.lifecycle.experiment_routing import ExperimentRouting
from mlserve.lifecycle.experiment_stats import ExperimentStats
from mlserve.lifecycle.experiment_supervisor import ExperimentSupervisor
from mlserve.lifecycle.experiments import ExperimentSpec, ExperimentStore
from mlserve.platform.feedback import Outcomes
from mlserve.platform.store_sqlite import SqliteStore

CATALOG: dict[str, dict[int, bool]] = {"churn": {1: True, 2: True, 3: True, 4: False}}


async def version_states(model: str) -> dict[int, bool]:
    return dict(CATALOG.get(model, {}))


async def no_feedback(model: str, version: int, since: float) -> Outcomes:
    return Outcomes(0, None, [])


def spec(**overrides: Any) -> ExperimentSpec:
    body: dict[str, Any] = {
        "name": "churn v1 vs v2",
        "model_type": "churn",
        "variants": [
            {"name": "control", "version": "1", "traffic_percentage": 70},
            {"name": "treatment", "version": "2", "traffic_percentage": 30},
        ],
        "duration_hours": 24,
    }
    body.update(overrides)
    return ExperimentSpec.model_validate(body)


class Parts:
    """Store, routing and supervisor over one SQLite file (a replica, or a restart)."""

    def __init__(self, path: Path, promote: Any = None, notify: Any = None) -> None:
        self.state = SqliteStore(path)
        self.experiments = ExperimentStore(self.state, version_states)
        self.routing = ExperimentRouting(self.experiments, ExperimentStats(self.state))
        self.supervisor = ExperimentSupervisor(
            self.experiments,
            self.routing,
            no_feedback,
            promote=promote,
            notify=notify,
            interval_s=0.2,
        )

    async def close(self) -> None:
        await self.supervisor.stop()
        await self.state.close()
