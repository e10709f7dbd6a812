"""Screening and exporting an uploaded model in a sandboxed child process.

The server never unpickles an upload. :class:`UploadSandbox` writes the upload into a
private temp dir (mode 0700) and runs :mod:`mlserve.platform.upload_sandbox_child` there
with a minimal environment; the child limits its memory, CPU time and file size, leaves
the network and installs an audit hook (:mod:`mlserve.platform.sandbox_confinement`
documents what is enforced), bounds the decompressed size and loads the file with the
class-only allowlist (:mod:`mlserve.platform.model_screening`). What comes back is JSON
and ONNX bytes (:mod:`mlserve.platform.exported_wire`), never a pickle. A wall-clock
timeout kills the child; the temp dir is removed either way.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlserve.errors import ConversionError, MLServeError, PayloadTooLargeError
from mlserve.platform.model_screening import SKOPS_HINT
from mlserve.platform.sandbox_confinement import Limits

if TYPE_CHECKING:
    from mlserve.converters.base import ExportedModel

MAX_RESULT_BYTES = 1024 * 1024
MAX_METADATA_BYTES = 64 * 1024 * 1024
"""Largest metadata document the server reads back (reference rows dominate)."""


@dataclass(frozen=True)
class SandboxSettings:
    """Limits of one sandbox run (``auth.upload_*`` settings)."""

    memory_bytes: int = 3 * 1024**3
    cpu_seconds: int = 300
    file_bytes: int = 1024**3
    max_decompressed_bytes: int = 400_000_000
    wall_seconds: float = 600.0


class UploadSandbox:
    """Runs screening and export of untrusted uploads in a confined child process."""

    def __init__(self, settings: SandboxSettings | None = None, scratch_dir: Path | None = None):
        self.settings = settings or SandboxSettings()
        self.scratch_dir = scratch_dir

    def screen(self, model_bytes: bytes) -> str:
        """Load the upload under the allowlist in the child; the loaded class's name, or
        ConversionError (400) / PayloadTooLargeError (413) naming the problem."""
        if not model_bytes:
            raise ConversionError("model file is empty: upload a .skops, joblib or pickle file")
        return self.inspect(model_bytes)[0]

    def inspect(self, model_bytes: bytes) -> tuple[str, list[str] | None]:
        """:meth:`screen`, and the feature names the estimator was fitted on (None when it
        kept none: fitted on an array), for checks a deploy can make before it starts."""
        if not model_bytes:
            raise ConversionError("model file is empty: upload a .skops, joblib or pickle file")
        result, _ = self._run({"action": "screen"}, model_bytes, None)
        features = result.get("features")
        names = [str(f) for f in features] if isinstance(features, list) else None
        return str(result["loaded"]), names

    def export(
        self,
        model_bytes: bytes,
        *,
        name: str,
        features: list[str] | None,
        background: list[dict[str, Any]] | None,
        metrics: dict[str, float] | None,
        task_type: str | None,
        log: Callable[[str], None],
        input_dtype: str = "float64",
    ) -> ExportedModel:
        """Load and export the upload in the child; the ONNX export and its metadata.
        ``input_dtype`` must match the model's existing versions (Triton keeps one input
        type per model: :func:`mlserve.converters.loading.existing_input_dtype`)."""
        job = {
            "action": "export",
            "name": name,
            "features": features,
            "background": background,
            "metrics": metrics,
            "task_type": task_type,
            "input_dtype": input_dtype,
        }
        from mlserve.platform import exported_wire

        _, (onnx_bytes, metadata) = self._run(job, model_bytes, log)
        return exported_wire.decode(onnx_bytes, metadata)

    def _run(
        self, job: dict[str, Any], model_bytes: bytes, log: Callable[[str], None] | None
    ) -> tuple[dict[str, Any], tuple[bytes, bytes]]:
        limits = Limits(
            memory_bytes=self.settings.memory_bytes,
            cpu_seconds=self.settings.cpu_seconds,
            file_bytes=self.settings.file_bytes,
        )
        work = Path(tempfile.mkdtemp(prefix="mlserve-sandbox-", dir=self.scratch_dir))
        try:
            os.chmod(work, 0o700)
            (work / "model.bin").write_bytes(model_bytes)
            document = {
                **job,
                "limits": asdict(limits),
                "max_decompressed_bytes": self.settings.max_decompressed_bytes,
            }
            (work / "job.json").write_text(json.dumps(document))
            returncode = self._spawn(work, log)
            result = self._result(work, returncode)
            if not result.get("ok"):
                raise _error(result, self.settings)
            if job["action"] != "export":
                return result, (b"", b"")
            metadata = _read_bounded(work / "metadata.json", MAX_METADATA_BYTES)
            return result, ((work / "model.onnx").read_bytes(), metadata)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _spawn(self, work: Path, log: Callable[[str], None] | None) -> int:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "TMPDIR": str(work),
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        command = [sys.executable, "-m", "mlserve.platform.upload_sandbox_child", str(work)]
        with subprocess.Popen(
            command,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ) as child:
            timed_out = threading.Event()

            def kill() -> None:
                timed_out.set()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)

            timer = threading.Timer(self.settings.wall_seconds, kill)
            timer.start()
            try:
                _relay(child, log)
                returncode = child.wait()
            finally:
                timer.cancel()
        if timed_out.is_set():
            raise ConversionError(
                f"loading the model took longer than {self.settings.wall_seconds:.0f} s "
                "(MLSERVE_AUTH__UPLOAD_WALL_SECONDS); nothing was published"
            )
        return returncode

    def _result(self, work: Path, returncode: int) -> dict[str, Any]:
        path = work / "result.json"
        if path.is_file():
            parsed: dict[str, Any] = json.loads(_read_bounded(path, MAX_RESULT_BYTES))
            return parsed
        if returncode in (-24, -9):  # SIGXCPU / SIGKILL after RLIMIT_CPU
            raise ConversionError(
                f"loading the model used more than {self.settings.cpu_seconds} s of CPU "
                "(MLSERVE_AUTH__UPLOAD_CPU_SECONDS); nothing was published"
            )
        raise ConversionError(
            f"the sandbox loading the model ended without a result (exit status {returncode}); "
            "it may have exceeded a limit. " + SKOPS_HINT
        )


def _relay(child: subprocess.Popen[bytes], log: Callable[[str], None] | None) -> None:
    """Forward the child's progress lines to ``log`` (bounded lines; others dropped)."""
    stdout = child.stdout
    if stdout is None:
        return
    for raw in iter(lambda: stdout.readline(4096), b""):
        try:
            line = json.loads(raw).get("log")
        except (ValueError, AttributeError):
            continue
        if log is not None and isinstance(line, str):
            log(line[:500])


def _read_bounded(path: Path, limit: int) -> bytes:
    if path.stat().st_size > limit:
        raise ConversionError(f"the sandbox's {path.name} exceeds {limit} bytes")
    return path.read_bytes()


def _error(result: dict[str, Any], settings: SandboxSettings) -> MLServeError:
    message = str(result.get("error", "unknown error"))
    status = int(result.get("status", 400))
    if message == "memory":
        return PayloadTooLargeError(
            f"loading the model needed more than {settings.memory_bytes} bytes of memory "
            "(MLSERVE_AUTH__UPLOAD_MEMORY_BYTES): upload a smaller model. " + SKOPS_HINT
        )
    if status == 413:
        return PayloadTooLargeError(message)
    if status == 422:
        from mlserve.errors import InvalidInputError

        return InvalidInputError(message)
    return ConversionError(message)
