"""Prometheus metrics of the model lifecycle: experiments, mirror copies and stages.

- ``mlserve_experiment_requests_total{experiment,model,variant,outcome}``: requests (and
  mirror copies) each experiment variant answered, ``outcome`` ``ok`` or ``error`` (5xx);
  counted per process on the request path (Prometheus sums the replicas).
- ``mlserve_experiment_decision{experiment,model,outcome,winner}``: 1 for a running
  experiment's decision so far (``continue``, ``winner``, ``no_difference``), refreshed by
  the experiment supervisor every few seconds; an ended experiment's series is removed.
- ``mlserve_mirror_copies_total{model,outcome}``: mirror copies ``answered``, ``failed``
  or ``dropped`` (the in-flight bound was reached).
- ``mlserve_model_stage{model,version,stage}``: 1 for each version's stage (``None``,
  ``Staging``, ``Production``, ``Archived``), refreshed by the model watch; "which version
  is Production" is ``mlserve_model_stage{stage="Production"} == 1``.

Experiment ids and model names are labels: both are bounded by what admins create.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge


class LifecycleMetrics:
    """The lifecycle's series, registered in the control plane's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.experiment_requests = Counter(
            "mlserve_experiment_requests",
            "Requests (and mirror copies) answered per experiment variant; outcome ok or "
            "error (5xx).",
            ("experiment", "model", "variant", "outcome"),
            registry=registry,
        )
        self.experiment_decision = Gauge(
            "mlserve_experiment_decision",
            "1 for a running experiment's decision so far (continue, winner, no_difference).",
            ("experiment", "model", "outcome", "winner"),
            registry=registry,
        )
        self.mirror_copies = Counter(
            "mlserve_mirror_copies",
            "Mirror (shadow) copies: answered, failed, or dropped at the in-flight bound.",
            ("model", "outcome"),
            registry=registry,
        )
        self.model_stage = Gauge(
            "mlserve_model_stage",
            "1 for each model version's stage (None, Staging, Production, Archived).",
            ("model", "version", "stage"),
            registry=registry,
        )

    def observe_experiment(self, experiment: str, model: str, variant: str, ok: bool) -> None:
        self.experiment_requests.labels(experiment, model, variant, "ok" if ok else "error").inc()

    def observe_mirror_copy(self, model: str, outcome: str) -> None:
        self.mirror_copies.labels(model, outcome).inc()

    def set_decisions(self, decisions: Iterable[tuple[str, str, str, str]]) -> None:
        """The running experiments' ``(experiment, model, outcome, winner)`` (all of them:
        the series of experiments not listed are removed)."""
        self.experiment_decision.clear()
        for experiment, model, outcome, winner in decisions:
            self.experiment_decision.labels(experiment, model, outcome, winner).set(1.0)

    def set_stages(self, stages: Mapping[str, Mapping[int, str]]) -> None:
        """``model -> {version: stage}`` for every published model (replaces the last)."""
        self.model_stage.clear()
        for model, versions in stages.items():
            for version, stage in versions.items():
                self.model_stage.labels(model, str(version), stage).set(1.0)
