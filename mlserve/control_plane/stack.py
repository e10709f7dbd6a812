"""Everything the control plane runs on, built from settings and started in the lifespan.

``ServingStack`` owns the Triton client (and, without an external Triton, the embedded
server), the repository, registry, publisher, the data plane (router, shared calls, cache,
limiter, observer), the HTTP edge's memo of repeated bodies and the monitoring hub.
Routes receive it through ``request.app.state.stack``; nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest

from mlserve.control_plane.repeats import RepeatedRequests
from mlserve.dataplane.bookkeeping import Bookkeeping, RunsPending
from mlserve.dataplane.core import DataPlane
from mlserve.dataplane.inference import SharedCalls
from mlserve.dataplane.mirror import Mirror
from mlserve.dataplane.observer import Observer
from mlserve.dataplane.routing import Router
from mlserve.errors import MLServeError, SettingsError
from mlserve.monitoring.hub import MonitoringHub
from mlserve.monitoring.metrics_listener import MetricsListener
from mlserve.monitoring.recorder import PredictionRecorder, RecorderMetrics
from mlserve.monitoring.worker_metrics import WorkerMetrics, worker_exchange
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository
from mlserve.serving.cache.base import PredictionCache
from mlserve.serving.cache.factory import build_cache
from mlserve.serving.limiter import InflightLimiter
from mlserve.serving.publisher import Publisher
from mlserve.serving.registry import ModelRegistry
from mlserve.settings import Settings
from mlserve.triton.client import TritonClient
from mlserve.triton.launcher import EmbeddedTriton
from mlserve.triton.metrics import snapshot_from_metrics_text
from mlserve.triton.replicas import RepositoryControl, TritonReplicas, check_repository

log = logging.getLogger(__name__)


@dataclass
class ServingStack:
    """The control plane's long-lived objects."""

    settings: Settings
    triton: TritonClient
    """This control plane's own Triton: inference, health, metrics."""
    control: RepositoryControl
    """What publishes and readiness go through: ``triton``, or every replica
    (``triton.replicas``)."""
    repository: ModelRepository
    registry: ModelRegistry
    publisher: Publisher
    router: Router
    dataplane: DataPlane
    bookkeeping: Bookkeeping
    """Answered requests' observations and log lines, done while the loop waits for Triton."""
    repeats: RepeatedRequests | None
    """Predict bodies answered before (the HTTP edge's memo; None: off)."""
    recorder: PredictionRecorder | None
    cache: PredictionCache
    limiter: InflightLimiter
    monitoring: MonitoringHub
    metrics_registry: CollectorRegistry
    embedded: EmbeddedTriton | None = None
    worker_metrics: WorkerMetrics | None = None
    """The exchange of metric snapshots with the other workers (several workers only)."""
    metrics_listener: MetricsListener | None = None
    """``/metrics`` on ``monitoring.port``, when set."""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, *, triton: TritonClient | None = None) -> ServingStack:
        """Wire the objects; nothing starts or connects until :meth:`start`."""
        embedded = None
        if triton is None:
            if settings.external_triton:
                triton = TritonClient(
                    settings.external_triton,
                    timeout_s=settings.triton.request_timeout_s,
                    metrics_url=settings.triton.metrics_url,
                    http_url=settings.inference_http_url,
                )
            else:
                embedded = EmbeddedTriton.from_settings(settings)
                over_http = settings.triton.infer_protocol == "http"
                triton = TritonClient(
                    embedded.grpc_url,
                    timeout_s=settings.triton.request_timeout_s,
                    metrics_url=embedded.metrics_url,
                    http_url=embedded.http_url if over_http else None,
                    unavailable=embedded.unavailable_reason,
                )
        control: RepositoryControl = (
            TritonReplicas.of(triton, settings.triton.replicas)
            if settings.triton.replicas
            else triton
        )
        repository = ModelRepository(settings.models_dir, ServingOptions.from_settings(settings))
        registry = ModelRegistry(repository, control, settings.default_model)
        metrics_registry = CollectorRegistry()
        bookkeeping = Bookkeeping()
        metrics_registry.register(RunsPending(bookkeeping))  # first: collections see it all
        triton.on_sent = bookkeeping.run_pending
        monitoring = MonitoringHub(
            settings.monitoring,
            metrics_registry,
            reference_lookup=lambda model, version: (
                repository.metadata(model, version).reference_profile
            ),
        )
        cache = build_cache(settings)
        cache.add_availability_listener(
            lambda available: (
                None
                if available
                else monitoring.metrics.observe_cache_error("redis", "unavailable")
            )
        )
        limiter = InflightLimiter.from_settings(settings.limits)
        monitoring.metrics.set_inflight_source(limiter.inflight_counts)
        recorder = None
        if settings.monitoring.enabled:
            samples_per_second = settings.monitoring.drift_samples_per_second
            recorder = PredictionRecorder(monitoring, samples_per_second=samples_per_second)
            metrics_registry.register(RecorderMetrics(recorder))
        exchange = worker_exchange(settings, metrics_registry)
        router = Router(registry)
        calls = SharedCalls(
            triton,
            max_batch_size=settings.max_batch_size,
            calls_in_flight=settings.triton.effective_calls_in_flight,
            gather_turns=settings.triton.gather_turns,
            max_call_items=settings.limits.max_inflight_per_model,
        )
        dataplane = DataPlane(
            router,
            calls,
            cache,
            limiter,
            settings.limits,
            Observer(monitoring, recorder),
            default_text_model=settings.default_model,
            default_record_model=settings.default_tabular_model,
            mirror=Mirror(registry, calls, settings.limits, monitoring.metrics.lifecycle),
            bookkeeping=bookkeeping,
        )
        repeats = (
            RepeatedRequests(
                max_entries=settings.cache.max_size,
                max_body_bytes=settings.cache.replay_max_body_bytes,
                ttl_seconds=settings.cache.ttl_seconds,
            )
            if cache.backend == "memory" and settings.cache.replay_max_body_bytes > 0
            else None
        )
        publisher = Publisher(repository, control, on_change=registry.invalidate)
        return cls(
            settings=settings,
            triton=triton,
            control=control,
            repository=repository,
            registry=registry,
            publisher=publisher,
            router=router,
            dataplane=dataplane,
            bookkeeping=bookkeeping,
            repeats=repeats,
            recorder=recorder,
            cache=cache,
            limiter=limiter,
            monitoring=monitoring,
            metrics_registry=metrics_registry,
            embedded=embedded,
            worker_metrics=exchange,
            metrics_listener=(
                MetricsListener(
                    exchange.exposition if exchange else lambda: generate_latest(metrics_registry),
                    settings.server.host,
                    settings.monitoring.port,
                    reuse_port=exchange is not None,
                )
                if settings.monitoring.port
                else None
            ),
        )

    async def start(self) -> None:
        """Start the embedded Triton (if any), load the published models, begin polling."""
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.start)
            self.embedded.supervise()
            if isinstance(self.control, TritonReplicas):
                await self.check_replicas()
            loaded = await self.publisher.load_all()
            for name in loaded:
                self.embedded.remember(name)
        elif await self.triton.answers():  # (server_ready is false while any model loads)
            await self.check_replicas()
            # An external Triton may have started before these versions were published.
            try:
                await self.publisher.load_all()
            except MLServeError as exc:
                log.error("could not load the published models into Triton: %s", exc)
        else:
            log.warning(
                "external Triton at %s is not ready; models load when it is", self.triton.url
            )
        if self.metrics_listener is not None:
            await self.metrics_listener.start()
        if self.settings.monitoring.enabled:
            self._tasks.append(asyncio.create_task(self._poll_triton(), name="triton-poll"))
        if self.recorder is not None:
            recorder = self.recorder.run()
            self._tasks.append(asyncio.create_task(recorder, name="prediction-recorder"))

    async def check_replicas(self) -> None:
        """Refuse to start (:class:`SettingsError`, one line) when a Triton this control
        plane drives does not see the repository's models: inconsistent replica settings."""
        every = self.repository.model_names()
        active = [name for name in every if self.repository.active_versions(name)]
        try:
            unreachable = await check_repository(self.control, active, every, self.repository.root)
        except SettingsError as exc:
            log.error("%s", exc.message)  # one line above the server's traceback
            raise
        for url in unreachable:
            log.warning("Triton replica %s is not ready; it loads the models later", url)

    async def stop(self) -> None:
        self.bookkeeping.run_pending()  # before the recorder's last drain
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.dataplane.mirror is not None:
            await self.dataplane.mirror.drain()
        if self.metrics_listener is not None:
            await self.metrics_listener.stop()
        await self.cache.close()
        await self.triton.close()
        if isinstance(self.control, TritonReplicas):
            await self.control.close()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)

    async def _poll_triton(self) -> None:
        interval = self.settings.monitoring.triton_poll_seconds
        while True:
            snapshot = None
            try:
                snapshot = snapshot_from_metrics_text(await self.triton.metrics_text())
            except Exception as exc:  # Triton down: the control plane's own figures go on
                log.debug("Triton metrics unavailable: %s", exc)
            try:
                self.monitoring.tick(snapshot)
            except Exception:
                log.exception("monitoring tick failed")
            await asyncio.sleep(interval)
