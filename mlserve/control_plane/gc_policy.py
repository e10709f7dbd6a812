"""The control plane's garbage-collector policy while it serves.

Two things made the event loop pause for every request at once under load:

* **Start-up objects** (libraries, models, settings: ~290,000 objects) were rescanned by
  every full collection. They live as long as the process, so start-up garbage is
  collected once and the rest is frozen (``gc.freeze``): full collections no longer look at
  it (~80 ms pauses before, measured with ``gc.callbacks``).
* **Full collections themselves.** The caches (prediction cache and replayed bodies,
  10,000 entries each by default) keep ~85,000 container objects alive that churn with the
  traffic; CPython runs a full collection once the old generation has grown by a quarter
  and ten young collections passed, which at c=16 was every ~0.6 s, each pausing the loop
  25-35 ms while finding nothing to free: all 16 clients' requests waited, and p99.9 was
  ~40 ms where p99 was 10 ms (``benchmarks/tail_latency.py``, docs/performance.md). With
  ``server.gc_full_collection_threshold`` young collections between full ones (1,000 by
  default instead of CPython's 10) full collections come about once a minute under load.

Young collections still run as often as ever, so short-lived cyclic garbage (most of what
a request leaves) is freed as before; only cycles that already survived into the old
generation wait longer to be freed. Thresholds are restored when serving ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serving_gc(full_collection_threshold: int) -> Iterator[None]:
    """Freeze what start-up left alive and space full collections out while the block runs;
    the previous thresholds are back afterwards (start-up objects stay frozen)."""
    gc.collect()
    gc.freeze()
    previous = gc.get_threshold()
    gc.set_threshold(previous[0], previous[1], full_collection_threshold)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
