"""``benchmarks/compare_serving.py`` end to end against the session stack: its JSON format
(``mlserve.compare_serving/1``) is what future changes are judged by, so it is pinned here."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import Stack

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "compare_serving.py"
SCENARIOS = [
    "onnxruntime",
    "triton-grpc",
    "triton-http",
    "predict-cold",
    "predict-warm",
    "batch-predict-cold",
    "batch-predict-warm",
]
STEP_FIELDS = {
    "concurrency",
    "throughput",
    "inferences_per_s",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "errors",
    "errors_by_kind",
    "cache_hit_ratio",
    "server_queue_us",
    "server_compute_infer_us",
    "server_avg_batch_size",
}


def test_one_run_compares_every_path_on_the_same_model_and_load(
    stack: Stack, tmp_path: Path
) -> None:
    output = tmp_path / "compare.json"
    command = [
        sys.executable, str(SCRIPT),
        "--url", stack.base_url,
        "--triton-grpc", stack.triton.grpc_url,
        "--triton-http", stack.triton.http_url,
        "--models-dir", str(stack.repository.root),
        "--concurrency", "1", "2",
        "--requests", "60", "--window-s", "0.3", "--max-windows", "3", "--batch-size", "4",
        "--no-overload", "--rounds", "2", "--output", str(output),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "targets (issue 4)" in run.stdout
    doc = json.loads(output.read_text())
    assert doc["format"] == "mlserve.compare_serving/1"
    assert doc["model"]["name"] == "sentiment"
    assert doc["load"]["concurrency"] == [1, 2]
    assert list(doc["scenarios"]) == SCENARIOS
    for name, scenario in doc["scenarios"].items():
        steps = scenario["steps"]
        assert [s["concurrency"] for s in steps] == [1, 2], name
        for step in steps:
            assert step.keys() >= STEP_FIELDS, name
            assert step["errors"] == 0, (name, step["errors_by_kind"])
            assert step["throughput"] > 0, name
    cold, warm = doc["scenarios"]["predict-cold"], doc["scenarios"]["predict-warm"]
    assert all(s["cache_hit_ratio"] == 0 for s in cold["steps"])
    assert all(s["cache_hit_ratio"] == 1 for s in warm["steps"])
    assert all(s["server_requests"] == 0 for s in warm["steps"])  # Triton never saw them
    assert doc["scenarios"]["batch-predict-cold"]["steps"][0]["server_avg_batch_size"] >= 4
    assert "predict_cold_over_triton_http_throughput_c2" in doc["ratios"]
    assert "predict_cold_minus_triton_grpc_p50_ms_c1" in doc["ratios"]
    assert {t["name"].split(" (")[0] for t in doc["targets"]} == {
        "predict keeps 60% of Triton HTTP throughput",
        "predict p50 within 1.5 ms of Triton gRPC p50",
        "warm-cache p50 3x lower than cold",
        "warm-cache throughput 3x higher than cold",
    }
    assert all(isinstance(t["met"], bool) for t in doc["targets"])
    key = "predict_warm_over_cold_throughput_c2"
    by_round = [r["ratios"][key] for r in doc["rounds"]]
    assert len(by_round) == 2
    assert doc["ratios"][key] == round((by_round[0] + by_round[1]) / 2, 3)  # the median
    stamped = list(tmp_path.glob("compare-*.json"))
    assert len(stamped) == 1
    assert json.loads(stamped[0].read_text()) == doc


def test_medians_over_rounds_add_up_error_counts() -> None:
    spec = importlib.util.spec_from_file_location("compare_serving", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]

    merged = module.median_ratios(
        [
            {"a": 1.0, "b": None, "overload_other_errors": {"timeout": 1}},
            {"a": 3.0, "b": None, "overload_other_errors": {}},
            {"a": 2.5, "b": None, "overload_other_errors": {"timeout": 2, "http_500": 1}},
        ]
    )
    assert merged == {"a": 2.5, "b": None, "overload_other_errors": {"timeout": 3, "http_500": 1}}
