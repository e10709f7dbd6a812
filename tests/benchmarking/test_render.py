"""The renderers: perf_analyzer CSV, JSON and the rich table."""

from __future__ import annotations

import csv
import io

import orjson
from rich.console import Console

from mlserve.benchmarking import CSV_COLUMNS, StepResult, render_csv, render_json, render_table
from mlserve.benchmarking.server_stats import ServerBreakdown

SERVER = ServerBreakdown(
    requests=300,
    failures=0,
    queue_us=120.4,
    compute_input_us=30.0,
    compute_infer_us=800.0,
    compute_output_us=20.0,
    avg_batch_size=2.5,
)


def step(concurrency: int | None = 4, *, server: ServerBreakdown | None = SERVER) -> StepResult:
    return StepResult(
        concurrency=concurrency,
        request_rate=None if concurrency else 50.0,
        throughput=100.0,
        inferences_per_s=100.0,
        requests=300,
        avg_ms=2.0,
        p50_ms=1.5,
        p90_ms=3.0,
        p95_ms=3.5,
        p99_ms=4.25,
        errors_by_kind={"http_429": 2},
        cache_hit_ratio=0.25,
        stable=True,
        windows=3,
        measured_s=3.0,
        server=server,
    )


def test_csv_has_perf_analyzers_columns_in_microseconds() -> None:
    rows = list(csv.reader(io.StringIO(render_csv([step(), step(8, server=None)]))))

    assert rows[0] == [
        "Concurrency",
        "Inferences/Second",
        "Client Send",
        "Network+Server Send/Recv",
        "Server Queue",
        "Server Compute Input",
        "Server Compute Infer",
        "Server Compute Output",
        "Client Recv",
        "p50 latency",
        "p90 latency",
        "p95 latency",
        "p99 latency",
    ]
    assert tuple(rows[0]) == CSV_COLUMNS
    # 2000 µs mean latency - 970.4 µs inside Triton = 1030 µs network + control plane
    assert rows[1] == [
        "4",
        "100.00",
        "0",
        "1030",
        "120",
        "30",
        "800",
        "20",
        "0",
        "1500",
        "3000",
        "3500",
        "4250",
    ]
    # without server statistics the whole latency is network+server, server columns 0
    assert rows[2] == [
        "8",
        "100.00",
        "0",
        "2000",
        "0",
        "0",
        "0",
        "0",
        "0",
        "1500",
        "3000",
        "3500",
        "4250",
    ]


def test_csv_in_request_rate_mode_starts_with_the_rate() -> None:
    rows = list(csv.reader(io.StringIO(render_csv([step(None)]))))
    assert rows[0][0] == "Request Rate"
    assert rows[1][0] == "50"


def test_json_lists_steps_with_client_and_server_fields() -> None:
    [with_server, without] = orjson.loads(render_json([step(), step(8, server=None)]))

    assert with_server["concurrency"] == 4
    assert with_server["throughput"] == 100.0
    assert (with_server["p50_ms"], with_server["p99_ms"]) == (1.5, 4.25)
    assert with_server["errors"] == 2
    assert with_server["errors_by_kind"] == {"http_429": 2}
    assert with_server["cache_hit_ratio"] == 0.25
    assert with_server["server_queue_us"] == 120.4
    assert with_server["server_compute_infer_us"] == 800.0
    assert with_server["server_avg_batch_size"] == 2.5
    assert without["server_queue_us"] is None
    assert set(with_server) == set(without)


def test_table_shows_one_row_per_step() -> None:
    console = Console(record=True, width=200)
    console.print(render_table([step(), step(8, server=None)], title="sentiment", wide=True))
    text = console.export_text()

    assert "concurrency 4" in text
    assert "concurrency 8" in text
    assert "100.0" in text
    assert "4.25" in text
    assert "http_429 2" in text
    assert "25%" in text
    assert "2.50" in text


def test_the_default_table_fits_80_columns_and_wide_shows_everything() -> None:
    steps = [step(), step(8, server=None)]
    narrow = Console(record=True, width=80)
    narrow.print(render_table(steps, title="sentiment"))
    wide = Console(record=True, width=200)
    wide.print(render_table(steps, title="sentiment", wide=True))
    lines = narrow.export_text().splitlines()

    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    for cell in ("c=4", "100.0", "1.50", "4.25", "http_429 2", "25%", "2.50"):
        assert cell in text, cell
    assert "…" not in text
    assert "Compute µs" in wide.export_text()
