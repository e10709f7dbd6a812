"""Plain descriptions of published models, shared by ``GET /models`` and ``mlserve list``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlserve.errors import MLServeError, NotFoundError
from mlserve.repository.store import ModelRepository
from mlserve.triton.client import ModelState, TritonClient

GATE_FILE = "gate.json"
"""Where :mod:`mlserve.lifecycle.gate` stores its report in a version's folder."""


async def triton_states(triton: TritonClient | None) -> dict[tuple[str, int], ModelState] | None:
    """Triton's view of every version, or None when Triton cannot be asked."""
    if triton is None:
        return None
    try:
        rows = await triton.model_index()
    except MLServeError:
        return None
    return {(r.name, r.version): r for r in rows if r.version is not None}


def version_rows(
    repository: ModelRepository,
    name: str,
    states: dict[tuple[str, int], ModelState] | None,
) -> list[dict[str, Any]]:
    release = repository.release_state(name)
    disabled = set(release.disabled_versions)
    rows = []
    for version in repository.versions(name):
        meta = repository.metadata(name, version)
        state = states.get((name, version)) if states is not None else None
        rows.append(
            {
                "version": f"v{version}",
                "framework": meta.framework,
                "task": meta.task,
                "input_kind": meta.input_kind,
                "labels": meta.labels,
                "metrics": meta.metrics,
                "published_at": meta.published_at.isoformat(),
                "enabled": version not in disabled,
                "state": state.state if state else ("unknown" if states is None else "UNAVAILABLE"),
                "parity": meta.parity.get("passed"),
                "stage": release.stage(version),
                "aliases": release.aliases_of(version),
                "gate": _gate_report(repository.version_dir(name, version)),
            }
        )
    return rows


def _gate_report(version_dir: Path) -> dict[str, Any] | None:
    """The release gate's report stored with a version (``gate.json``), if it was judged."""
    path = version_dir / GATE_FILE
    if not path.is_file():
        return None
    report: dict[str, Any] = json.loads(path.read_text())
    return report


async def describe_models(
    repository: ModelRepository, triton: TritonClient | None
) -> list[dict[str, Any]]:
    states = await triton_states(triton)
    return [
        {"name": name, "versions": version_rows(repository, name, states)}
        for name in repository.model_names()
    ]


async def describe_model(
    repository: ModelRepository, triton: TritonClient | None, name: str
) -> dict[str, Any]:
    if not repository.versions(name):
        available = ", ".join(repository.model_names()) or "none"
        raise NotFoundError(f"model {name!r} not found; available models: {available}")
    return {"name": name, "versions": version_rows(repository, name, await triton_states(triton))}
