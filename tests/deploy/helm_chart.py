"""Rendering ``deploy/helm/mlserve`` the way ``helm template`` does, offline.

Helm's own Go engine (Helm 4's SDK, bundled in the ``helm-python-sdk`` wheel as
``libhelm_c``) renders the chart; nothing contacts a cluster. :func:`render` returns every
object of every template, NOTES.txt left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

CHART = Path(__file__).parents[2] / "deploy" / "helm" / "mlserve"
RELEASE = "demo"
NAMESPACE = "serving"
KUBERNETES_VERSION = "1.30"
"""The Kubernetes version whose OpenAPI schemas the objects are validated against."""
BASE_VALUES: dict[str, Any] = {"auth": {"adminPassword": "not-a-default-password"}}


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in, nested dicts key by key."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object the chart renders with ``values`` on top of :data:`BASE_VALUES`."""
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(
            merged(BASE_VALUES, values or {}), name=RELEASE, namespace=NAMESPACE
        )
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The object of ``kind`` named ``name``; AssertionError listing the names otherwise."""
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    names = [o["metadata"]["name"] for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"no single {kind} {name}; there are {names}"
    return found[0]


def pod_labels(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The pod template labels of every workload."""
    return [
        o["spec"]["template"]["metadata"]["labels"]
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet")
    ]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())
