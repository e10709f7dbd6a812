"""The real perf_analyzer and ``mlserve benchmark --target triton-grpc``, same Triton, same model.

Starts a stack (``mlserve up`` on free ports, temp repository, sample ``sentiment``, the
default configuration unless ``--no-queue-policy``), then for each concurrency level and
round runs both tools in turn (the order alternates between rounds so a slow spell of a
shared machine does not always hit the same tool) against Triton's gRPC port, each for the
same measurement window, and prints throughput, p50 and p99 of both and their ratios, and
how much CPU each client process used (cores, and µs per request including its start-up):
on a small machine the load generator shares the cores with Triton, so a costlier client
leaves Triton less.

    make perf-analyzer
    .venv/bin/python benchmarks/perf_analyzer_compare.py [--concurrency 1 16] [--rounds 2]

Both send one text per request as a [1, 1] BYTES tensor, texts of the sample data set made
unique by a prefix; both measure windows until three agree within the stability percentage.
Writes ``benchmarks/results/perf_analyzer_compare.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mlserve.benchmarking.local_stack import local_stack
from mlserve.benchmarking.perf_analyzer import (
    PerfAnalyzerError,
    PerfAnalyzerRun,
    PerfRow,
    parse_perf_csv,
    run_perf_analyzer,
    write_text_inputs,
)
from mlserve.benchmarking.workload import TextWorkload, default_texts

RESULTS = Path(__file__).parent / "results"
NO_QUEUE_POLICY = {"MLSERVE_TRITON__MAX_QUEUE_SIZE": "0", "MLSERVE_TRITON__QUEUE_TIMEOUT_MS": "0"}
WITH_QUEUE_POLICY = {
    "MLSERVE_TRITON__MAX_QUEUE_SIZE": "256",
    "MLSERVE_TRITON__QUEUE_TIMEOUT_MS": "5000",
}
console = Console()


def main() -> None:
    args = _parse_args()
    env = WITH_QUEUE_POLICY if args.queue_policy else {}
    with tempfile.TemporaryDirectory(prefix="mlserve-pa-") as tmp:
        folder = Path(tmp)
        workload = TextWorkload(default_texts(), unique_ratio=1.0, pool_size=32, seed=7)
        texts = workload.take(args.texts)
        inputs = write_text_inputs(folder / "inputs.json", texts)
        text_file = folder / "texts.txt"
        text_file.write_text("\n".join(texts) + "\n")
        console.print("starting mlserve up (sample models, embedded Triton) ...")
        with local_stack(folder, env=env) as stack:
            results = _measure(args, stack.triton_grpc, inputs, text_file, folder)
    _report(args, results)


def _measure(
    args: argparse.Namespace, grpc: str, inputs: Path, texts: Path, folder: Path
) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    for concurrency in args.concurrency:
        for round_no in range(args.rounds):
            order = (
                ["perf_analyzer", "mlserve"] if round_no % 2 == 0 else ["mlserve", "perf_analyzer"]
            )
            for tool in order:
                workdir = folder / f"{tool}-c{concurrency}-r{round_no}"
                workdir.mkdir()
                cpu_before, started = _children_cpu_s(), time.perf_counter()
                try:
                    if tool == "perf_analyzer":
                        row = _perf_analyzer(args, grpc, inputs, concurrency, workdir)
                    else:
                        row = _mlserve_benchmark(args, grpc, texts, concurrency, workdir)
                except PerfAnalyzerError as exc:  # e.g. no stable windows on a busy machine
                    console.print(f"c={concurrency} round {round_no + 1} {tool}: {exc}")
                    results.append(
                        {"tool": tool, "round": round_no, "level": concurrency, "failed": str(exc)}
                    )
                    continue
                wall_s = time.perf_counter() - started
                client_cores = (_children_cpu_s() - cpu_before) / wall_s
                console.print(
                    f"c={concurrency} round {round_no + 1} {tool}: {row.throughput:,.0f} infer/s, "
                    f"p50 {row.p50_us / 1000:.2f} ms, p99 {row.p99_us / 1000:.2f} ms; the client "
                    f"used {client_cores:.2f} cores, ~{client_cores / row.throughput * 1e6:.0f} µs "
                    "of CPU per request"
                )
                results.append(
                    {
                        "tool": tool,
                        "round": round_no,
                        **asdict(row),
                        "client_cores": client_cores,
                        "client_us_per_request": client_cores / row.throughput * 1e6,
                    }
                )
    return results


def _children_cpu_s() -> float:
    """CPU seconds of the finished child processes (the tool runs) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _perf_analyzer(
    args: argparse.Namespace, grpc: str, inputs: Path, concurrency: int, workdir: Path
) -> PerfRow:
    run = PerfAnalyzerRun(
        model="sentiment",
        url=grpc,
        input_data=inputs,
        concurrency=(concurrency,),
        measurement_interval_ms=args.measurement_interval,
        stability_percentage=args.stability_percentage,
        max_trials=args.max_trials,
    )
    (row,) = run_perf_analyzer(run, workdir=workdir)
    return row


def _mlserve_benchmark(
    args: argparse.Namespace, grpc: str, texts: Path, concurrency: int, workdir: Path
) -> PerfRow:
    csv_path = workdir / "mlserve.csv"
    command = [sys.executable, "-m", "mlserve.cli.main", "benchmark", "sentiment", "1000000"]
    command += ["--target", "triton-grpc", "--url", grpc, "-c", str(concurrency)]
    command += ["--measurement-interval", str(args.measurement_interval)]
    command += ["--stability-percentage", str(args.stability_percentage)]
    command += ["--max-trials", str(args.max_trials), "--data", str(texts), "--csv", str(csv_path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    (workdir / "mlserve.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"mlserve benchmark failed: {done.stderr.strip()[-500:]}")
    (row,) = parse_perf_csv(csv_path.read_text())
    return row


def _report(args: argparse.Namespace, results: list[dict[str, object]]) -> None:
    table = Table(title="perf_analyzer vs mlserve benchmark, Triton gRPC, medians over rounds")
    for column in ("c", "tool", "infer/s", "p50 ms", "p99 ms", "client CPU µs/request"):
        table.add_column(column, justify="right")
    summary = []
    for concurrency in args.concurrency:
        medians = {}
        for tool in ("perf_analyzer", "mlserve"):
            rows = [
                r
                for r in results
                if r["tool"] == tool and r["level"] == concurrency and "failed" not in r
            ]
            if not rows:
                console.print(f"c={concurrency}: no {tool} measurement settled")
                break
            medians[tool] = {
                key: statistics.median(float(r[key]) for r in rows)  # type: ignore[arg-type]
                for key in ("throughput", "p50_us", "p99_us", "client_us_per_request")
            }
            m = medians[tool]
            table.add_row(
                str(concurrency),
                tool,
                f"{m['throughput']:,.0f}",
                f"{m['p50_us'] / 1000:.2f}",
                f"{m['p99_us'] / 1000:.2f}",
                f"{m['client_us_per_request']:.0f}",
            )
        if len(medians) < 2:
            continue
        ratio = {
            key: medians["mlserve"][key] / medians["perf_analyzer"][key]
            for key in ("throughput", "p50_us", "p99_us")
        }
        summary.append({"concurrency": concurrency, "medians": medians, "mlserve_over_pa": ratio})
    console.print(table)
    for entry in summary:
        r = entry["mlserve_over_pa"]
        assert isinstance(r, dict)
        within = abs(r["throughput"] - 1) <= 0.1 and abs(r["p50_us"] - 1) <= 0.1
        console.print(
            f"c={entry['concurrency']}: mlserve / perf_analyzer throughput {r['throughput']:.2f}, "
            f"p50 {r['p50_us']:.2f}, p99 {r['p99_us']:.2f}"
            + (" (within 10%)" if within else " (differ by more than 10%)")
        )
    RESULTS.mkdir(exist_ok=True)
    out = {
        "format": "mlserve.perf_analyzer_compare/1",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "queue_policy": args.queue_policy,
        "measurement_interval_ms": args.measurement_interval,
        "runs": results,
        "summary": summary,
    }
    (RESULTS / "perf_analyzer_compare.json").write_text(json.dumps(out, indent=2))


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measurement-interval", type=int, default=5000, help="ms per window")
    parser.add_argument(
        "--stability-percentage",
        type=float,
        default=25.0,
        help="both tools: the last 3 windows agree within this %% (10 rarely settles on a "
        "shared 2-core VM)",
    )
    parser.add_argument("--max-trials", type=int, default=15)
    parser.add_argument("--texts", type=int, default=5000, help="distinct texts sent")
    parser.add_argument(
        "--queue-policy",
        action="store_true",
        help="Publish with the former default queue policy (256 / 5000 ms) to show its stalls.",
    )
    return parser.parse_args()


if __name__ == "__main__":
    main()
