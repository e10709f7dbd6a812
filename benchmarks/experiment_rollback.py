"""Seconds from a guardrail breach to the rollback, with the supervisor's default 1 s pass.

A 50/50 experiment over a SQLite state store; variant B starts answering 5xx (30 errors
counted at once, the guardrail's minimum is 20 requests); the time until the stored
experiment says B is rolled back, and then whether any of 10,000 assignments still lands
on B. Target (issue 20): within 10 s, none after.

Usage::

    .venv/bin/python benchmarks/experiment_rollback.py [--trials 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from mlserve.lifecycle.experiment_routing import ExperimentRouting
from mlserve.lifecycle.experiment_stats import ExperimentStats
from mlserve.lifecycle.experiment_supervisor import ExperimentSupervisor
from mlserve.lifecycle.experiments import ExperimentSpec, ExperimentStore
from mlserve.platform.feedback import Outcomes
from mlserve.platform.store_sqlite import SqliteStore


async def _states(model: str) -> dict[int, bool]:
    return {1: True, 2: True}


async def _no_feedback(model: str, version: int, since: float) -> Outcomes:
    return Outcomes(0, None, [])


async def trial(path: Path) -> tuple[float, int]:
    store = SqliteStore(path)
    experiments = ExperimentStore(store, _states)
    routing = ExperimentRouting(experiments, ExperimentStats(store))
    supervisor = ExperimentSupervisor(experiments, routing, _no_feedback)
    spec = ExperimentSpec.model_validate(
        {
            "name": "rollback",
            "model": "m",
            "variants": [
                {"name": "A", "version": 1, "traffic_percentage": 50},
                {"name": "B", "version": 2, "traffic_percentage": 50},
            ],
            "duration_hours": 1,
        }
    )
    experiment = await experiments.create(spec)
    await routing.running()
    supervisor.start()
    await asyncio.sleep(0.5)
    started = time.monotonic()
    for _ in range(30):
        routing.observe("m", 2, 500, 0.01)
    while not (await experiments.get(experiment.id)).rolled_back:  # noqa: ASYNC110 (polls the store)
        await asyncio.sleep(0.01)
    seconds = time.monotonic() - started
    await asyncio.sleep(0)
    to_b = sum([await routing.variant_for("m", f"e{i}") == 2 for i in range(10_000)])
    await supervisor.stop()
    await store.close()
    return seconds, to_b


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    results = []
    for i in range(args.trials):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(await trial(Path(tmp) / f"state{i}.sqlite3"))
    seconds = [s for s, _ in results]
    print(
        json.dumps(
            {
                "trials": args.trials,
                "rollback_seconds_median": statistics.median(seconds),
                "rollback_seconds_max": max(seconds),
                "assignments_to_b_after_rollback": sum(n for _, n in results),
                "target": "<= 10 s, 0 after",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
