"""Dashboards and rules against the real thing: a running control plane and Triton, and a
real Prometheus (the Debian ``prometheus`` binary) scraping them with the shipped rules."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from mlserve.samples.sentiment_model import train_sentiment
from mlserve.serving.reference import reference_profile
from mlserve.triton.metrics import TRITON_METRIC_NAMES
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack
from tests.deploy.promql import (
    PROMETHEUS_GENERATED,
    RULE_FILES,
    alert_base,
    dashboard_queries,
    grafana_to_promql,
    metric_names,
    recorded_names,
    rules,
    template_metric_names,
)
from tests.support.redis_server import free_port

MODEL = "observability-sentiment"
RELEASED = "observability-release"
"""v2 in Production; an experiment of v1 against v2 with v3 as its mirror (releases.json)."""
GPU_ONLY = frozenset(
    n for n in TRITON_METRIC_NAMES if n.startswith("nv_gpu_") or n == "nv_energy_consumption"
)
WORDS = [
    "the",
    "battery",
    "screen",
    "delivery",
    "support",
    "refund",
    "price",
    "camera",
    "great",
    "awful",
    "slow",
    "fine",
]


def exposed_names(text: str) -> set[str]:
    """Sample names of a Prometheus exposition, including families without samples yet."""
    names: set[str] = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()[:4]
            base = name.removesuffix("_total") if kind == "counter" else name
            names.update(base + s for s in suffixes.get(kind, ("",)))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def _texts(n: int) -> list[str]:
    rng = uuid.uuid4().int
    return [
        f"{WORDS[(rng >> i) % len(WORDS)]} is {WORDS[(i * 7) % len(WORDS)]} {uuid.uuid4().hex[:6]}"
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def traffic(stack: Stack) -> Iterator[None]:
    """A model with a reference profile, a drift window's worth of predictions, cache hits,
    client errors, and light unique traffic in the background for the whole module."""
    exported = train_sentiment(1)
    stack.repository.publish_version(
        exported, MODEL, 1, reference_profile=reference_profile(exported)
    )
    stack.triton.server.load_model(MODEL)
    url = f"{stack.base_url}/batch-predict"
    with httpx.Client(timeout=30) as client:
        # At most monitoring.drift_samples_per_second predictions a second enter the drift
        # windows: send until a window was evaluated, not a count that depends on speed.
        deadline = time.monotonic() + 90
        evaluated = 0
        while not evaluated and time.monotonic() < deadline:
            for _ in range(4):
                response = client.post(url, json={"model": MODEL, "texts": _texts(50)})
                assert response.status_code == 200, response.text
            time.sleep(0.5)
            drift = client.get(f"{stack.base_url}/monitoring/drift/{MODEL}").json()
            evaluated = drift["versions"][0]["windows_evaluated"]
        assert evaluated, drift
        repeated = {"model": MODEL, "texts": ["the battery is great"] * 5}
        for _ in range(3):
            assert client.post(url, json=repeated).status_code == 200
        missing = client.post(url, json={"model": f"{MODEL}-v99", "texts": ["x"]})
        assert missing.status_code == 404
    stop_experiment = _release_and_experiment(stack)
    stop = threading.Event()

    def background() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                client.post(url, json={"model": MODEL, "texts": _texts(2)})
                client.post(url, json={"texts": _texts(1)})
                client.post(url, json={"model": RELEASED, "texts": _texts(2)})
                stop.wait(0.2)

    thread = threading.Thread(target=background, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        stop_experiment()


def _release_and_experiment(stack: Stack) -> Any:
    """``RELEASED`` v1..v3, v2 promoted to Production, an experiment of v1 against v2 with
    v3 mirrored; returns what stops the experiment."""
    for version in (1, 2, 3):
        stack.repository.publish_version(train_sentiment(1 + version % 2), RELEASED, version)
    stack.triton.server.load_model(RELEASED)
    base = stack.base_url
    token = httpx.post(
        f"{base}/api/v1/token",
        data={"username": ADMIN_USER, "password": ADMIN_PASSWORD},
        timeout=60,
    ).json()["access_token"]
    admin = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 30
    while httpx.post(
        f"{base}/predict", json={"model": f"{RELEASED}-v3", "text": "x"}, timeout=60
    ).is_error:
        assert time.monotonic() < deadline, "observability-release v3 not served"
        time.sleep(0.3)
    promoted = httpx.post(
        f"{base}/models/{RELEASED}/promote",
        params={"version": 2, "target_stage": "Production"},
        headers=admin,
        timeout=60,
    )
    assert promoted.status_code == 200, promoted.text
    body = {
        "name": "observability A/B",
        "model_type": RELEASED,
        "variants": [
            {"name": "control", "version": "1", "traffic_percentage": 50},
            {"name": "treatment", "version": "2", "traffic_percentage": 50},
            {"name": "shadow", "version": "3", "traffic_percentage": 0, "mirror": True},
        ],
        "duration_hours": 1,
    }
    created = httpx.post(f"{base}/experiments", json=body, headers=admin, timeout=60)
    assert created.status_code == 201, created.text
    experiment_id = created.json()["experiment_id"]

    def stop() -> None:
        httpx.post(f"{base}/experiments/{experiment_id}/stop", headers=admin, timeout=60)

    return stop


@pytest.fixture(scope="module")
def scraped(stack: Stack, traffic: None) -> tuple[set[str], set[str], bool]:
    """Names the control plane and Triton expose, and whether Triton has GPU metrics."""
    plane = httpx.get(f"{stack.base_url}/metrics", timeout=10)
    triton = httpx.get(stack.triton_metrics_url, timeout=10)
    assert plane.status_code == 200
    assert triton.status_code == 200
    plane_names, triton_names = exposed_names(plane.text), exposed_names(triton.text)
    assert not any(n.startswith("nv_") for n in plane_names), "control plane re-exports Triton"
    return plane_names, triton_names, any(n.startswith("nv_gpu_") for n in triton_names)


def test_every_dashboard_and_rule_metric_is_exposed(
    scraped: tuple[set[str], set[str], bool],
) -> None:
    plane, triton, has_gpu = scraped
    exposed = plane | triton | recorded_names() | PROMETHEUS_GENERATED
    if not has_gpu:
        exposed |= GPU_ONLY  # documented Triton GPU metrics; a CPU-only Triton has none
    used: dict[str, str] = {}
    for query in dashboard_queries():
        used.update(dict.fromkeys(metric_names(query.expr), query.where))
    for rule in rules():
        where = rule.get("record") or rule.get("alert")
        used.update(dict.fromkeys(metric_names(rule["expr"]), f"rule {where}"))
    for board, name in template_metric_names():
        used[name] = f"{board} variable"
    missing = {name: where for name, where in used.items() if name not in exposed}
    assert not missing, f"queries name metrics the stack does not export: {missing}"
    assert any(n.startswith("mlserve_") for n in used)
    assert any(n.startswith("nv_") for n in used)


@pytest.fixture(scope="module")
def prometheus(stack: Stack, traffic: None) -> Iterator[str]:
    """A real Prometheus scraping the stack every second, with the shipped rule files."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: `make system-packages` (Debian package)"
    work = Path(tempfile.mkdtemp(prefix="mlserve-prometheus-"))
    port = free_port()
    triton = urlsplit(stack.triton_metrics_url)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULE_FILES],
        "scrape_configs": [
            {
                "job_name": "mlserve",
                "static_configs": [{"targets": [urlsplit(stack.base_url).netloc]}],
            },
            {
                "job_name": "triton",
                "metrics_path": triton.path,
                "static_configs": [{"targets": [triton.netloc]}],
            },
        ],
    }  # fmt: skip
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (work / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (work / "prometheus.log").read_text()[-2000:]
            try:
                if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "prometheus not ready after 30 s"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert response.status_code == 200, (expr, body)
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_rules_and_dashboard_queries_return_data(
    prometheus: str, scraped: tuple[set[str], set[str], bool]
) -> None:
    _, _, has_gpu = scraped
    checks: dict[str, str] = {}
    for query in dashboard_queries():
        if not has_gpu and metric_names(query.expr) <= GPU_ONLY:
            continue
        checks[query.where] = grafana_to_promql(query.expr)
    for rule in rules():
        if "record" in rule:
            checks[f"recording rule {rule['record']}"] = rule["record"]
        else:
            checks[f"alert {rule['alert']} (watched series)"] = alert_base(rule["expr"])
    for board, name in template_metric_names():
        checks[f"{board} variable"] = name
    deadline = time.monotonic() + 60
    empty = dict(checks)
    while empty and time.monotonic() < deadline:
        empty = {where: expr for where, expr in empty.items() if not _query(prometheus, expr)}
        if empty:
            time.sleep(1)
    assert not empty, f"no data after 60 s for: {empty}"

    response = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()
    loaded = [rule for group in response["data"]["groups"] for rule in group["rules"]]
    assert len(loaded) == len(rules())
    unhealthy = [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"]
    assert not unhealthy
    targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()
    assert {t["labels"]["job"]: t["health"] for t in targets["data"]["activeTargets"]} == {
        "mlserve": "up",
        "triton": "up",
    }


def test_drift_series_come_from_the_reference_model(prometheus: str) -> None:
    scores = _query(prometheus, f'mlserve_drift_score{{model="{MODEL}"}}')
    signals = {series["metric"]["signal"] for series in scores}
    assert {"text_length", "predicted_label", "confidence"} <= signals
