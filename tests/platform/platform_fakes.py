"""In-memory stand-ins for the four serving seams the lead implements (catalog, lifecycle,
deployer, predictor). Pure logic, used only where the real thing is the lead's: everything
of the platform itself (store, Redis, HTTP, webhooks) is real in these tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mlserve.dataplane.request import Prediction, PredictionBatch, PredictRequest, Timings
from mlserve.errors import ConflictError, ConversionError, InvalidInputError, NotFoundError
from mlserve.kinds import RecordInputs
from mlserve.platform.protocols import CatalogVersion

FEATURES = ["age", "income"]


@dataclass
class FakeCatalog:
    """Models and versions kept in a dict; the lifecycle and deployer change it."""

    models: dict[str, dict[int, CatalogVersion]] = field(default_factory=dict)

    def add(
        self,
        name: str,
        version: int,
        *,
        task_type: str = "classification",
        metrics: dict[str, float] | None = None,
        active: bool = True,
    ) -> None:
        deployed = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=version)
        self.models.setdefault(name, {})[version] = CatalogVersion(
            version=version,
            active=active,
            deployed_at=deployed,
            task_type=task_type,
            features=list(FEATURES),
            metrics=metrics or {},
            metadata={"framework": "sklearn", "name": name, "version": version},
        )

    def set_active(self, name: str, version: int, active: bool) -> None:
        v = self.models[name][version]
        self.models[name][version] = CatalogVersion(**{**v.__dict__, "active": active})

    async def model_names(self) -> list[str]:
        return sorted(n for n, vs in self.models.items() if vs)

    async def versions(self, name: str) -> list[CatalogVersion]:
        return [v for _, v in sorted(self.models.get(name, {}).items())]


@dataclass
class FakeLifecycle:
    catalog: FakeCatalog
    calls: list[tuple[str, str, int, bool]] = field(default_factory=list)

    def _check(self, name: str, version: int) -> None:
        if version not in self.catalog.models.get(name, {}):
            raise NotFoundError(f"{name} has no version v{version}")

    async def stop(self, name: str, version: int, remove: bool) -> None:
        self._check(name, version)
        self.calls.append(("stop", name, version, remove))
        if remove:
            del self.catalog.models[name][version]
        else:
            self.catalog.set_active(name, version, False)

    async def start(self, name: str, version: int) -> None:
        self._check(name, version)
        self.calls.append(("start", name, version, False))
        self.catalog.set_active(name, version, True)


@dataclass
class FakeDeployer:
    """'Converts' in a worker thread like a real converter; models named ``broken*`` fail."""

    catalog: FakeCatalog
    release: asyncio.Event | None = None
    received: list[dict[str, Any]] = field(default_factory=list)

    async def deploy(
        self,
        model_bytes: bytes,
        name: str,
        version: int,
        features: list[str] | None,
        background: list[dict[str, Any]] | None,
        metrics: dict[str, float] | None,
        task_type: str | None,
        log: Callable[[str], None],
    ) -> None:
        self.received.append(
            {
                "name": name,
                "version": version,
                "size": len(model_bytes),
                "features": features,
                "background_rows": len(background or []),
                "metrics": metrics,
                "task_type": task_type,
            }
        )

        def convert() -> None:
            log(f"loading model in thread {threading.current_thread().name}")
            if name.startswith("broken"):
                raise ConversionError("parity FAILED: the ONNX export differs from the model")
            log("exported to ONNX; parity passed")

        await asyncio.to_thread(convert)
        if self.release is not None:
            await self.release.wait()
        self.catalog.add(
            name, version, task_type=task_type or "classification", metrics=metrics or {}
        )


@dataclass
class FakePredictor:
    """The data plane's ``predict`` over records: class 1 when ``age + income`` exceeds a
    per-version threshold (v1: 50, others: 40). Versions are routed by the platform's own
    A/B service (``route``, wired by the harness): the routing of the real data plane is
    tested against the real stack in tests/dataplane."""

    calls: list[tuple[str, int, int]] = field(default_factory=list)
    route: Callable[[str, Sequence[str | None] | None, int], Awaitable[list[int]]] | None = None
    catalog: Any = None

    async def predict(self, request: PredictRequest) -> PredictionBatch:
        assert isinstance(request.inputs, RecordInputs)
        name, records = str(request.model), [dict(r) for r in request.inputs.records]
        if request.version is None:
            assert self.route is not None
            versions = await self.route(name, request.entity_ids, len(records))
        else:
            states = {v.version: v.active for v in await self.catalog.versions(name)}
            if request.version not in states:
                raise NotFoundError(f"{name} has no version v{request.version}")
            if not states[request.version]:
                raise ConflictError(
                    f"{name} v{request.version} is published but not served; start it with "
                    f"POST /api/v1/start/{name}/v{request.version}"
                )
            versions = [request.version] * len(records)
        predictions = []
        for version, record in zip(versions, records, strict=True):
            (out,) = await self.predict_records(name, version, [record])
            probabilities = out["probabilities"]
            predictions.append(
                Prediction(
                    str(out["prediction"]), max(probabilities.values()), probabilities, False, False
                )
            )
        routed_by = "explicit" if request.version is not None else "ab"
        timings = Timings(0.001, 0.0, 0.0, 0.001)
        return PredictionBatch(
            name, versions[0], predictions, routed_by, timings, "tabular", tuple(versions)
        )

    async def predict_records(
        self, name: str, version: int, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        self.calls.append((name, version, len(records)))
        threshold = 50.0 if version == 1 else 40.0
        out = []
        for i, record in enumerate(records):
            missing = [f for f in FEATURES if f not in record]
            if missing:
                raise InvalidInputError(f"inputs[{i}] lacks feature(s) {missing}")
            score = float(record["age"] or 0) + float(record["income"] or 0)
            p1 = 0.9 if score > threshold else 0.2
            out.append(
                {
                    "prediction": int(score > threshold),
                    "probabilities": {"0": round(1 - p1, 3), "1": p1},
                }
            )
        return out
