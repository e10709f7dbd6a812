"""Monitoring: reference profiles, drift detection, serving statistics, alerts, metrics.

The pieces, each usable alone and composed by :class:`mlserve.monitoring.hub.MonitoringHub`:

- :mod:`~mlserve.monitoring.profile` builds a version's reference profile at publish time;
- :mod:`~mlserve.monitoring.drift` compares live traffic windows with that profile, and
  per-interval serving figures with their own baseline;
- :mod:`~mlserve.monitoring.serving_stats` keeps bounded request counters per version;
- :mod:`~mlserve.monitoring.alerts` turns all of it into a list of alerts;
- :mod:`~mlserve.monitoring.metrics` exports everything as ``mlserve_*`` Prometheus metrics.
"""
