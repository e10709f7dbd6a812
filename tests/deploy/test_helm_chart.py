"""The Helm chart (``deploy/helm/mlserve``), rendered by Helm's engine and validated offline.

Every built-in object of every variant (default, KServe, external state store, everything
optional off) is validated, strictly, against the Kubernetes OpenAPI schemas bundled in
``kubernetes-validate``; the custom resources (ServiceMonitor, InferenceService), whose
schemas ship with their operators, are checked for the fields their controllers need. Then
the wiring: Services select pods, the control plane reaches the Triton, state and cache
Services through Secrets that exist, the HPA scales a Deployment of the chart.
"""

from __future__ import annotations

import json
import re
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.deploy.helm_chart import (
    CHART,
    KUBERNETES_VERSION,
    matches,
    one,
    pod_labels,
    render,
)

CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("serving.kserve.io/v1beta1", "InferenceService"),
}
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "kserve": {"kserve": {"enabled": True}},
    "external-state-and-secrets": {
        "stateStore": {"external": {"existingSecret": "my-state", "secretKey": "url"}},
        "auth": {"existingSecret": "my-auth"},
        "modelRepository": {"existingClaim": "shared-models"},
    },
    "minimal": {
        "cache": {"enabled": False},
        "networkPolicy": {"enabled": False},
        "monitoring": {"serviceMonitor": {"enabled": False}},
        "controlPlane": {"autoscaling": {"enabled": False}, "pdb": {"enabled": False}},
        "triton": {"gpus": 0, "pdb": {"enabled": False}},
    },
}


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_validates_against_the_kubernetes_schemas(variant: str) -> None:
    objects = render(VARIANTS[variant])
    assert len(objects) >= 5
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "demo"


def test_the_validator_catches_a_misspelt_field() -> None:
    deployment = one(render(), "Deployment", "demo-mlserve-triton")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessProbes"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_helm_lint_finds_no_errors() -> None:
    report = helm.lint(str(CHART), {"auth": {"adminPassword": "x"}}, strict=True)
    assert report["errors"] == [], report
    assert [m for m in report["messages"] if m["severity"] >= 2] == [], report


def test_triton_requests_a_gpu_is_ready_on_its_health_endpoint_and_reads_the_pvc() -> None:
    objects = render()
    triton = one(objects, "Deployment", "demo-mlserve-triton")
    pod = triton["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert "--model-control-mode=explicit" in container["command"]
    claim = pod["volumes"][0]["persistentVolumeClaim"]["claimName"]
    pvc = one(objects, "PersistentVolumeClaim", claim)
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    control_plane = one(objects, "Deployment", "demo-mlserve-control-plane")
    volumes = control_plane["spec"]["template"]["spec"]["volumes"]
    assert {"name": "models", "persistentVolumeClaim": {"claimName": claim}} in volumes


def test_the_control_plane_reaches_triton_state_and_cache_through_objects_of_the_chart() -> None:
    objects = render()
    env = env_of(one(objects, "Deployment", "demo-mlserve-control-plane"))
    triton_service = one(objects, "Service", "demo-mlserve-triton")
    assert env["MLSERVE_TRITON_URL"] == "demo-mlserve-triton:8001"
    assert env["MLSERVE_TRITON__HTTP_URL"] == "http://demo-mlserve-triton:8000"
    assert {p["port"] for p in triton_service["spec"]["ports"]} == {8000, 8001, 8002}
    assert env["MLSERVE_CACHE__REDIS_URL"] == "redis://demo-mlserve-cache:6379/0"
    assert env["MLSERVE_AUTH__TRUST_LOOPBACK"] == "false"  # sidecars, port-forward: no admin
    state_ref = env["MLSERVE_AUTH__STATE_REDIS_URL"]["secretKeyRef"]
    state_secret = one(objects, "Secret", state_ref["name"])
    state_url = state_secret["stringData"][state_ref["key"]]
    assert state_url == "redis://demo-mlserve-state-0.demo-mlserve-state:6379/0"
    auth = one(objects, "Secret", env["MLSERVE_ADMIN_PASSWORD"]["secretKeyRef"]["name"])
    assert auth["stringData"]["admin-password"] == "not-a-default-password"
    assert (
        "--no-samples"
        in one(objects, "Deployment", "demo-mlserve-control-plane")["spec"]["template"]["spec"][
            "containers"
        ][0]["command"]
    )


def test_the_control_plane_publishes_to_every_triton_pod_through_a_headless_service() -> None:
    objects = render()
    env = env_of(one(objects, "Deployment", "demo-mlserve-control-plane"))
    assert json.loads(env["MLSERVE_TRITON__REPLICAS"]) == ["dns:demo-mlserve-triton-pods:8001"]
    pods = one(objects, "Service", "demo-mlserve-triton-pods")
    assert pods["spec"]["clusterIP"] == "None"
    assert pods["spec"]["publishNotReadyAddresses"] is True
    triton = one(objects, "Deployment", "demo-mlserve-triton")
    assert matches(pods["spec"]["selector"], triton["spec"]["template"]["metadata"]["labels"])
    assert [p["port"] for p in pods["spec"]["ports"]] == [8001]


def test_state_store_persists_and_never_evicts_while_the_cache_evicts() -> None:
    objects = render()
    state = one(objects, "StatefulSet", "demo-mlserve-state")
    state_args = " ".join(state["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "--appendonly yes" in state_args
    assert "--maxmemory-policy noeviction" in state_args
    assert state["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]
    cache = one(objects, "Deployment", "demo-mlserve-cache")
    cache_args = " ".join(cache["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "--maxmemory-policy allkeys-lru" in cache_args
    assert "--appendonly no" in cache_args


def test_every_service_and_budget_selects_pods_of_the_chart() -> None:
    objects = render()
    labels = pod_labels(objects)
    selectors = [o["spec"]["selector"] for o in objects if o["kind"] == "Service"]
    selectors += [
        o["spec"]["selector"]["matchLabels"]
        for o in objects
        if o["kind"] in ("PodDisruptionBudget", "Deployment", "StatefulSet")
    ]
    for selector in selectors:
        assert any(matches(selector, pod) for pod in labels), selector


def test_service_monitors_scrape_a_named_port_of_an_existing_service() -> None:
    objects = render()
    services = [o for o in objects if o["kind"] == "Service"]
    monitors = [o for o in objects if o["kind"] == "ServiceMonitor"]
    assert {m["metadata"]["name"] for m in monitors} == {
        "demo-mlserve-control-plane",
        "demo-mlserve-triton",
    }
    for monitor in monitors:
        selector = monitor["spec"]["selector"]["matchLabels"]
        (service,) = [s for s in services if matches(selector, s["metadata"]["labels"])]
        port_names = {p["name"] for p in service["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in port_names
            assert endpoint["path"] == "/metrics"


def test_the_hpa_scales_the_control_plane_on_the_adapters_metric() -> None:
    objects = render()
    hpa = one(objects, "HorizontalPodAutoscaler", "demo-mlserve-control-plane")
    target = hpa["spec"]["scaleTargetRef"]
    one(objects, target["kind"], target["name"])
    (metric,) = hpa["spec"]["metrics"]
    assert metric["pods"]["metric"]["name"] == "mlserve_inflight_requests"
    adapter = yaml.safe_load((CHART.parent / "prometheus-adapter-values.yaml").read_text())
    (rule,) = adapter["rules"]["custom"]
    assert rule["name"]["as"] == "mlserve_inflight_requests"
    deployment = one(objects, "Deployment", "demo-mlserve-control-plane")
    assert "replicas" not in deployment["spec"]  # the HPA owns the count


def test_network_policies_let_only_the_control_plane_reach_triton_state_and_cache() -> None:
    objects = render()
    control_plane_pod = one(objects, "Deployment", "demo-mlserve-control-plane")["spec"][
        "template"
    ]["metadata"]["labels"]
    for name in ("demo-mlserve-triton", "demo-mlserve-state-store", "demo-mlserve-cache"):
        policy = one(objects, "NetworkPolicy", name)
        first = policy["spec"]["ingress"][0]
        (peer,) = first["from"]
        assert matches(peer["podSelector"]["matchLabels"], control_plane_pod)


def test_the_kserve_variant_serves_the_same_pvc_through_an_inference_service() -> None:
    objects = render({"kserve": {"enabled": True}})
    kinds = {o["kind"] for o in objects}
    assert "InferenceService" in kinds
    assert not any(o["kind"] == "Deployment" and "triton" in o["metadata"]["name"] for o in objects)
    isvc = one(objects, "InferenceService", "demo-mlserve")
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"]["name"] == "triton"
    assert model["storageUri"] == "pvc://demo-mlserve-models"
    assert "--model-control-mode=explicit" in model["args"]
    assert model["resources"]["limits"]["nvidia.com/gpu"] == "1"
    service = one(objects, "Service", "demo-mlserve-triton")
    assert service["spec"]["selector"] == {"serving.kserve.io/inferenceservice": "demo-mlserve"}


def test_a_release_without_an_admin_password_is_refused_with_the_fix() -> None:
    with (
        helm.Chart.load(CHART) as chart,
        pytest.raises(helm.HelmError, match=r"auth\.adminPassword is required"),
    ):
        chart.render({}, name="demo", namespace="serving")


def test_every_value_is_documented_by_a_comment() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        if re.match(r"^[a-zA-Z]\w*:", line) and not lines[i - 1].lstrip().startswith("#"):
            undocumented.append(line)
    assert undocumented == []


PENDING_SETTINGS = {"MLSERVE_AUTH__STATE_REDIS_URL"}
"""Set by the chart for the durable state store, a setting the hardening branch adds
(``auth.state_redis_url``); accepted whether or not this checkout has it yet."""


def test_every_setting_the_chart_passes_is_a_setting_of_mlserve() -> None:
    from mlserve.settings import Settings

    env = env_of(one(render(), "Deployment", "demo-mlserve-control-plane"))
    unknown = []
    for name in env:
        if not name.startswith("MLSERVE_"):
            continue
        section, _, key = name.removeprefix("MLSERVE_").lower().partition("__")
        field = Settings.model_fields.get(section)
        known = field is not None and (
            not key or key in getattr(field.annotation, "model_fields", {})
        )
        if not known and name not in PENDING_SETTINGS:
            unknown.append(name)
    assert unknown == []
