"""The ``mlserve`` command line: ``up``, ``load``, ``list``, ``stats``, ``benchmark``, ``user``."""

from __future__ import annotations

from mlserve.cli.main import app, main

__all__ = ["app", "main"]
