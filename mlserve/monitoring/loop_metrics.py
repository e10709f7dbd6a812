"""Labelled counters and histograms for the request path, updated without locks.

prometheus-client guards every value with a lock and validates on every call: a counter
``inc`` costs about 1.3 µs and a histogram ``observe`` 3 µs here, and a cached ``/predict``
answer makes six such updates, a tenth of what the control plane spends on it.
:class:`LoopCounter` and :class:`LoopHistogram` keep plain numbers instead (``inc`` about
0.15 µs, ``observe`` 0.4 µs) and are read by the registry at scrape time, with the same
exposition as prometheus-client's own (``_total``/``_created``; ``_bucket``, ``_count``,
``_sum``, ``_created``).

The contract that makes this safe: every update comes from one thread, the control plane's
event loop. A scrape from another thread reads numbers that are at most one update old.

    requests = LoopCounter("mlserve_requests", "Requests.", ("model",), registry=registry)
    requests.labels("sentiment").inc()
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString


class CounterChild:
    """One labelled series of a :class:`LoopCounter`."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (not checked: callers pass counts, never negatives)."""
        self.value += amount


class HistogramChild:
    """One labelled series of a :class:`LoopHistogram`."""

    __slots__ = ("_bounds", "counts", "created", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        """Observations per bucket (not cumulative); the last one is ``+Inf``."""
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        """Count ``value`` in the first bucket whose upper bound is at least ``value``."""
        self.counts[bisect.bisect_left(self._bounds, value)] += 1
        self.sum += value


Child = TypeVar("Child", CounterChild, HistogramChild)


class _Labelled(Collector, Generic[Child]):
    """Labelled series registered on ``registry``; subclasses make children and families."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], Child] = {}
        registry.register(self)

    def labels(self, *values: str) -> Child:
        """The series for ``values`` (created at 0 on first use)."""
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
            child = self._children[values] = self._new_child()
        return child

    def _new_child(self) -> Child:
        raise NotImplementedError

    def _family(self) -> CounterMetricFamily | HistogramMetricFamily:
        raise NotImplementedError

    def describe(self) -> Iterator[Metric]:
        yield self._family()


class LoopCounter(_Labelled[CounterChild]):
    """A labelled counter; see the module docstring for its one-thread contract."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        registry: CollectorRegistry,
    ) -> None:
        super().__init__(name.removesuffix("_total"), documentation, labelnames, registry)

    def _new_child(self) -> CounterChild:
        return CounterChild()

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for values, child in list(self._children.items()):
            family.add_metric(values, child.value, created=child.created)
        yield family


class LoopHistogram(_Labelled[HistogramChild]):
    """A labelled histogram with fixed ``buckets`` (upper bounds; ``+Inf`` is added)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        registry: CollectorRegistry,
        buckets: Sequence[float],
    ) -> None:
        bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        if not bounds:
            raise ValueError(f"{name} needs at least one finite bucket")
        self._bounds = bounds
        go_style: list[str] = [floatToGoString(b) for b in bounds]  # type: ignore[no-untyped-call]
        self._labels = [*go_style, "+Inf"]
        super().__init__(name, documentation, labelnames, registry)

    def _new_child(self) -> HistogramChild:
        return HistogramChild(self._bounds)

    def _family(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for values, child in list(self._children.items()):
            counts, total = list(child.counts), child.sum
            cumulative, running = [], 0
            for le, count in zip(self._labels, counts, strict=True):
                running += count
                cumulative.append((le, float(running)))
            family.add_metric(values, cumulative, total)
            labels = dict(zip(self.labelnames, values, strict=True))
            family.samples.append(Sample(f"{self.name}_created", labels, child.created))
        yield family
