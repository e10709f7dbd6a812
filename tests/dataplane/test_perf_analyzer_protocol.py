"""The real perf_analyzer drives the control plane's Open Inference Protocol endpoint as
it drives Triton: text and tabular models, over HTTP, with our own inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlserve.benchmarking.perf_analyzer import PerfAnalyzerRun, run_perf_analyzer, write_text_inputs
from tests.conftest import Stack
from tests.dataplane.conftest import Kinds


def tabular_inputs(path: Path) -> Path:
    rows = [[5.1, 3.5, 1.4, 0.2], [6.2, 3.4, 5.4, 2.3], [5.9, 3.0, 4.2, 1.5]]
    data = [{"input": {"content": row, "shape": [4]}} for row in rows]
    path.write_text(json.dumps({"data": data}))
    return path


@pytest.mark.parametrize("kind", ["text", "tabular"])
def test_perf_analyzer_measures_the_control_plane(
    kind: str, kinds: Kinds, stack: Stack, tmp_path: Path
) -> None:
    if kind == "text":
        inputs = write_text_inputs(tmp_path / "inputs.json", ["great", "awful", "it is fine"])
    else:
        inputs = tabular_inputs(tmp_path / "inputs.json")
    run = PerfAnalyzerRun(
        model=getattr(kinds, kind),
        url=stack.base_url.removeprefix("http://"),
        protocol="http",
        input_data=inputs,
        concurrency=(2,),
        measurement_interval_ms=500,
        stability_percentage=1000,  # prove it runs here; benchmarks/ measures speed
        max_trials=10,
    )

    rows = run_perf_analyzer(run, workdir=tmp_path, timeout_s=180)

    assert rows[0].throughput > 10
    assert 0 < rows[0].p50_us <= rows[0].p99_us
