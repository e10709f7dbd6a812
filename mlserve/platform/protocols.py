"""The seams between the ``/api/v1`` platform and the serving stack.

The platform owns accounts, A/B weights, materialization, webhooks, feedback and metrics;
it does not convert, publish, load or run models. Those four jobs come in through the
protocols below, implemented by the serving layer (tabular converters + Publisher, the
Triton lifecycle, the data plane's predict core, and a catalog over ``ModelRepository``). Versions
are plain integers here; the routes translate ``"v1"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from mlserve.dataplane.request import PredictionBatch
from mlserve.dataplane.request import PredictRequest as CoreRequest


@dataclass(frozen=True)
class CatalogVersion:
    """One published version of a model, as the catalog knows it."""

    version: int
    active: bool
    """Loaded/served (not stopped by an operator)."""
    deployed_at: datetime
    task_type: str = "classification"
    """``classification`` or ``regression``; picks accuracy vs MAE for online metrics."""
    features: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    """Offline metrics recorded at deploy time (for ``/models/{name}/evolution``)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """The version's metadata document, shown as ``model_metadata``."""
    internal_url: str | None = None
    """Where the serving stack runs it (e.g. the Triton model/version), for operators."""


class ModelCatalog(Protocol):
    """Read-only view of the published models."""

    async def model_names(self) -> list[str]:
        """Models with at least one version, sorted."""
        ...

    async def versions(self, name: str) -> list[CatalogVersion]:
        """Versions of ``name``, ascending; empty when the model is unknown."""
        ...


class Deployer(Protocol):
    """Converts an uploaded model and publishes it as ``name`` version ``version``."""

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
        """Return when the version is published and serving; raise an MLServeError (its
        message is shown to the user) otherwise. ``log`` may be called from any thread;
        each line is appended to the deployment's logs."""
        ...


class ModelLifecycle(Protocol):
    """Switches versions off and on in the serving stack."""

    async def stop(self, name: str, version: int, remove: bool) -> None:
        """Stop serving the version; with ``remove`` also delete it from the repository.
        NotFoundError for an unknown model/version."""
        ...

    async def start(self, name: str, version: int) -> None:
        """Serve a stopped version again. NotFoundError for an unknown model/version."""
        ...


class PredictCore(Protocol):
    """The data plane (:class:`mlserve.dataplane.core.DataPlane`): every prediction of the
    platform goes through it, like every other route's."""

    async def predict(self, request: CoreRequest) -> PredictionBatch:
        """Answers in input order; MLServeError subclasses for bad input and failures."""
        ...
