"""Drift reports of published versions over a time window of their live traffic.

The reference is the profile a version stored at publish time; the current sample is the
inputs the prediction log kept for it (``/api/v1/predict`` records its inputs; the plain
``/predict`` routes keep none, so their traffic is not in these reports).
"""

from __future__ import annotations

import asyncio
import time

from mlserve.errors import NotFoundError
from mlserve.monitoring.drift_report.compare import DatasetDrift, DriftPolicy
from mlserve.monitoring.drift_report.sources import parse_window, report_from_window
from mlserve.platform.prediction_log import PredictionLog
from mlserve.repository.store import ModelRepository, validate_model_name


class LiveDriftReports:
    """Builds :class:`DatasetDrift` reports of published versions."""

    def __init__(
        self, repository: ModelRepository, predictions: PredictionLog, policy: DriftPolicy
    ) -> None:
        self._repository = repository
        self._predictions = predictions
        self.policy = policy

    async def report(self, model: str, version: int | None, window: str) -> DatasetDrift:
        """``model`` (``version``, default the newest) over the last ``window`` (e.g. 24h).

        Raises NotFoundError for an unknown model or version, or one without a reference
        profile; InvalidInputError for a malformed window."""
        seconds = parse_window(window)
        validate_model_name(model)
        versions = self._repository.versions(model)
        if not versions:
            raise NotFoundError(
                f"model {model!r} is not published; GET /models lists the published ones"
            )
        chosen = versions[-1] if version is None else version
        metadata = await asyncio.to_thread(self._repository.metadata, model, chosen)
        now = time.time()
        records = await self._predictions.window(model, chosen, now - seconds, now)
        inputs = [r.inputs for r in records if r.inputs]
        return await asyncio.to_thread(
            report_from_window,
            model,
            chosen,
            metadata.reference_profile,
            inputs,
            window=window,
            policy=self.policy,
        )
