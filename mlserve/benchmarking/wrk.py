"""``wrk``, a load generator written in C, sending unique bodies: for benchmarks whose
figure is a ratio of two server set-ups on a machine the load generator shares.

Why: ``mlserve benchmark``'s load generator is Python; on 2 cores it took 55-60 µs of CPU
per request, a quarter of the machine, and competed with what it measured (one worker
against two: the second worker's gain went to the client). ``wrk`` (Debian package, ``make
system-packages``) takes 22-30 µs per request here. Every body of the file is sent once
(cold caches), in order, by :file:`wrk_bodies.lua`.

    bodies = write_bodies(tmp / "bodies", (orjson.dumps({"text": t}) for t in texts))
    result = run_wrk(WrkRun(url, "/predict", bodies, connections=64, seconds=10))
    result.req_per_s, result.p50_ms, result.p99_ms, result.errors, result.cpu_s

Write more bodies than a run sends (``req/s x seconds``, and the warm-up's): past the last
one wrk starts again from the first, and those are cache hits.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).with_name("wrk_bodies.lua")
_LATENCY = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
GRACE_S = 60.0
"""How long past its run wrk may take to report before it counts as hung."""


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no report; the message says which."""


@dataclass(frozen=True)
class WrkRun:
    """One fixed-length run: ``connections`` clients, each sending its next request as soon
    as the last one is answered (a closed loop, like ``mlserve benchmark``'s concurrency)."""

    url: str
    """The server's base URL, ``http://host:port``."""
    path: str
    bodies: Path
    """From :func:`write_bodies`."""
    connections: int
    seconds: float
    threads: int = 1
    """wrk threads (at most 8): one keeps up with ~30,000 req/s here."""
    start: int = 0
    """The body to start from: give a warm-up run another part of the file."""
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass(frozen=True)
class WrkResult:
    """wrk's report, read from its output."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    """Answers other than 2xx/3xx, plus socket errors (connect, read, write, timeout)."""
    cpu_s: float
    """wrk's own CPU time (user + system): the load generator's share of the cores."""

    @property
    def req_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def wrk_binary() -> str:
    """The ``wrk`` on PATH; :class:`WrkError` saying how to install it if there is none."""
    found = shutil.which("wrk")
    if found is None:
        raise WrkError("wrk is not installed: run `make system-packages` (Debian package wrk)")
    return found


def write_bodies(path: Path, bodies: Iterable[bytes]) -> Path:
    """Writes ``bodies`` as :file:`wrk_bodies.lua` reads them; returns ``path``."""
    with path.open("wb") as out:
        for body in bodies:
            out.write(b"%d\n" % len(body))
            out.write(body)
    return path


def run_wrk(run: WrkRun) -> WrkResult:
    """Runs wrk once; :class:`WrkError` if it fails or prints no report."""
    if not 1 <= run.threads <= 8:
        raise WrkError(f"threads must be 1 to 8, not {run.threads}")
    for name, value in run.headers.items():
        if any(c in name + value for c in "|\r\n") or ":" in name:
            raise WrkError(
                f"header {name!r} cannot be passed to wrk_bodies.lua: names and values may not "
                "hold '|' or line breaks, names no ':'"
            )
    seconds = max(1, round(run.seconds))
    command = [wrk_binary(), "-t", str(run.threads), "-c", str(max(run.connections, run.threads))]
    command += ["-d", f"{seconds}s", "--latency", "-s", str(SCRIPT), run.url]
    env = dict(
        os.environ,
        WRK_BODIES=str(run.bodies),
        WRK_PATH=run.path,
        WRK_HEADERS="|".join(f"{name}: {value}" for name, value in run.headers.items()),
        WRK_START=str(run.start),
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=seconds + GRACE_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise WrkError(
            f"wrk did not end within {GRACE_S:g} s after its {seconds} s run; is the server "
            "answering? (wrk stopped, its figures dropped)"
        ) from None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise WrkError(f"wrk exited {done.returncode}: {(done.stderr or done.stdout).strip()}")
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return parse_report(done.stdout, cpu_s=cpu_s)


def parse_report(text: str, *, cpu_s: float = 0.0) -> WrkResult:
    """The figures of wrk's ``--latency`` report; :class:`WrkError` if one is missing."""
    total = _TOTAL.search(text)
    latencies = {p: float(v) * _TO_MS[unit] for p, v, unit in _LATENCY.findall(text)}
    if total is None or set(latencies) != {"50", "99"}:
        raise WrkError(f"wrk printed no --latency report: {text.strip()[:300]!r}")
    sockets = _SOCKET_ERRORS.search(text)
    errors = sum(int(n) for n in sockets.groups()) if sockets else 0
    non_2xx = _NON_2XX.search(text)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * _TO_MS[total.group(3)] / 1000,
        p50_ms=latencies["50"],
        p99_ms=latencies["99"],
        errors=errors + (int(non_2xx.group(1)) if non_2xx else 0),
        cpu_s=cpu_s,
    )
