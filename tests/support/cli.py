"""The installed ``mlserve`` console script, run as a user runs it."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

MLSERVE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "mlserve"
"""The console script ``make install`` puts in the project's venv."""


def run_mlserve(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``mlserve ARGS...``: its exit status, stdout and stderr as text; never raises on a
    non-zero exit (tests assert on it)."""
    return subprocess.run(
        [str(MLSERVE), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else dict(env),
        check=False,
    )
