"""One ``/metrics`` for every uvicorn worker of ``mlserve up --workers N``.

Each worker keeps its own lock-free metrics (:mod:`mlserve.monitoring.loop_metrics`: the
request path stays as cheap as with one worker). Once a second, and when it stops, each
worker's event loop takes a snapshot of its registry (what a scrape costs it: ~3 ms for a
few models here) and a thread writes it to ``server.worker_metrics_dir`` (one JSON file
per process, replaced atomically); the worker that answers a scrape merges its live values
with the other workers' snapshots:

* counters and histograms are summed over every worker that ever ran (a worker that died
  keeps its counts, as in prometheus-client's multiprocess mode), ``_created`` is the
  earliest;
* ``mlserve_inflight_requests`` is summed over the live workers;
* other gauges (Triton figures, drift, alerts) are the answering worker's own: every worker
  polls the same Triton, and drift windows stay per worker.

Other workers' counts are at most :data:`FLUSH_INTERVAL_S` old. ``mlserve up`` calls
:func:`prepare_workers` before uvicorn forks: it refuses more workers than cores and gives
the workers a fresh directory; with one worker there is no directory and ``/metrics`` is the
worker's own registry, unchanged.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from mlserve.errors import SettingsError
from mlserve.settings import Settings

FLUSH_INTERVAL_S = 1.0
SUMMED_GAUGES = frozenset({"mlserve_inflight_requests"})
"""Gauges whose workers' values add up (each worker's own load)."""
ENV_DIR = "MLSERVE_SERVER__WORKER_METRICS_DIR"

Snapshot = dict[str, Any]


def prepare_workers(workers: int, *, cores: int | None = None) -> Path | None:
    """Before uvicorn starts ``workers`` processes: refuse more than the cores, and for more
    than one give them a fresh snapshot directory (``server.worker_metrics_dir``, removed
    at exit). Returns it, or None for one worker."""
    cores = cores or os.cpu_count() or 1
    if workers > cores:
        raise SettingsError(
            f"server.workers is {workers} but this machine has {cores} cores: more workers "
            f"than cores only add context switches; use --workers {cores} or fewer "
            "(MLSERVE_SERVER__WORKERS)"
        )
    if workers <= 1:
        return None
    directory = Path(tempfile.mkdtemp(prefix="mlserve-worker-metrics-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    os.environ[ENV_DIR] = str(directory)
    return directory


def snapshot(registry: CollectorRegistry) -> list[dict[str, Any]]:
    """Every metric family of ``registry`` as plain data. Call it on the event loop's thread
    (the loop metrics' one-thread contract)."""
    return [
        {
            "name": family.name,
            "type": family.type,
            "documentation": family.documentation,
            "samples": [[s.name, s.labels, s.value] for s in family.samples],
        }
        for family in registry.collect()
    ]


def merge(
    own: list[dict[str, Any]], others: Iterable[tuple[bool, list[dict[str, Any]]]]
) -> list[Metric]:
    """``own`` families merged with other workers' ``(alive, families)`` by the rules in the
    module docstring."""
    merged: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}

    def add(family: dict[str, Any], *, mine: bool, alive: bool) -> None:
        name, kind = family["name"], family["type"]
        summed = kind != "gauge" or name in SUMMED_GAUGES
        if not mine and (not summed or (kind == "gauge" and not alive)):
            return
        if name not in merged:
            merged[name] = Metric(name, family["documentation"], kind)
            values[name] = {}
        series = values[name]
        for sample_name, labels, value in family["samples"]:
            key = (sample_name, tuple(sorted(labels.items())))
            if key not in series:
                series[key] = value
            elif sample_name.endswith("_created"):
                series[key] = min(series[key], value)
            else:
                series[key] += value

    for family in own:
        add(family, mine=True, alive=True)
    for alive, families in others:
        for family in families:
            add(family, mine=False, alive=alive)
    for name, metric in merged.items():
        metric.samples = [
            Sample(sample_name, dict(labels), value)
            for (sample_name, labels), value in values[name].items()
        ]
    return list(merged.values())


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


class WorkerMetrics:
    """This worker's side of the exchange: writes its snapshots, merges the others'."""

    def __init__(self, directory: Path, registry: CollectorRegistry) -> None:
        self.directory = directory
        self.registry = registry
        self.pid = os.getpid()
        self.parent = os.getppid()
        self._path = directory / f"{self.pid}.json"
        self._lock = threading.Lock()
        self._closed = False

    def write(self, *, final: bool = False) -> None:
        """Replace this worker's snapshot file (atomic rename); after a ``final`` write no
        other (a writer thread still running) replaces it."""
        self._store(snapshot(self.registry), final=final)

    def _store(self, families: list[dict[str, Any]], *, final: bool = False) -> None:
        data = {"pid": self.pid, "parent": self.parent, "families": families}
        with self._lock:  # the writer thread and the last write at exit, never requests
            if self._closed:
                return
            self._closed = final
            partial = self._path.with_suffix(".tmp")
            partial.write_text(json.dumps(data))
            partial.replace(self._path)

    def exposition(self) -> bytes:
        """The merged text exposition of every worker."""
        others = []
        for path in sorted(self.directory.glob("*.json")):
            if path == self._path:
                continue
            try:
                data: Snapshot = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # replaced or removed while read: the next scrape sees it
            others.append((self._is_sibling(int(data["pid"])), data["families"]))
        families = merge(snapshot(self.registry), others)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(families))
        return generate_latest(registry)

    def _is_sibling(self, pid: int) -> bool:
        """Whether ``pid`` is a live worker of the same ``mlserve up`` (same parent)."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return int(stat.rsplit(")", 1)[1].split()[1]) == self.parent

    async def run(self) -> None:
        """Write a snapshot every :data:`FLUSH_INTERVAL_S` until cancelled, and a last one."""
        try:
            while True:
                await asyncio.to_thread(self._store, snapshot(self.registry))
                await asyncio.sleep(FLUSH_INTERVAL_S)
        finally:
            with contextlib.suppress(OSError):
                self.write(final=True)


def worker_exchange(settings: Settings, registry: CollectorRegistry) -> WorkerMetrics | None:
    """This worker's exchange when ``server.worker_metrics_dir`` is set (several workers)."""
    directory = settings.server.worker_metrics_dir
    return None if directory is None else WorkerMetrics(directory, registry)


def worker_metrics_router(exchange: WorkerMetrics | None) -> APIRouter:
    """``GET /metrics`` merged over the workers (include it before the monitoring router),
    and the snapshot writer for this worker's lifetime. Without an exchange (one worker) an
    empty router: the monitoring router's ``/metrics`` answers."""
    if exchange is None:
        return APIRouter()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        writer = asyncio.create_task(exchange.run(), name="worker-metrics")
        try:
            yield
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    router = APIRouter(lifespan=lifespan)

    @router.get("/metrics", include_in_schema=False)
    @router.get("/monitoring/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus metrics of every worker of this control plane (``mlserve_*``)."""
        return Response(exchange.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router
