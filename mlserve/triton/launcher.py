"""Run the real ``tritonserver`` shipped in the ``nvidia-pytriton`` wheel.

The wheel carries the server binary, its libraries, the Python backend and one backend stub
per Python version. :class:`EmbeddedTriton` assembles a backend directory (the Python
backend, the stub matching this interpreter, and mlserve's ONNX runner as the Python-based
backend ``mlserve_onnx``), starts the server in EXPLICIT model-control mode on loopback,
waits until it is ready, and, when supervised, restarts it if it dies and reloads the
models that were loaded.

Shared memory: the Python backend gives each model instance a ``/dev/shm`` region that
Triton does not remove when it is killed (and not always when it stops). Each lifetime
names its regions with its own prefix (``mlserve<pid>p<grpc port>r<restart>_``); the
regions of a lifetime are removed when it stops or dies (before the supervisor restarts
it), and at start those of earlier lifetimes on the same port whose process is gone.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import httpx

from mlserve.errors import MLServeError, ServiceUnavailableError
from mlserve.settings import Settings
from mlserve.triton.stub_env import stub_paths

log = logging.getLogger(__name__)

RUNNER_BACKEND = "mlserve_onnx"
_RUNNER_SOURCE = Path(__file__).parent / "backend" / "model.py"
PYTHON_RUNNER_BACKEND = "mlserve_python"
"""Custom Python models (``mlserve.kinds.custom``) run in this Python-based backend."""
_PYTHON_RUNNER_SOURCE = Path(__file__).parent / "backend" / "python_model.py"


class TritonNotInstalledError(MLServeError):
    """The nvidia-pytriton wheel (which ships tritonserver) is not installed."""


def pytriton_home() -> Path:
    """The ``pytriton`` package folder, found without importing it."""
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonNotInstalledError(
            "tritonserver not found: install the nvidia-pytriton==0.7.0 wheel "
            "(`make install` does) or set MLSERVE_TRITON_URL to an external Triton"
        )
    return Path(next(iter(spec.submodule_search_locations)))


class EmbeddedTriton:
    """A tritonserver process serving ``repository``, owned by this Python process."""

    def __init__(
        self,
        repository: Path,
        *,
        workdir: Path,
        host: str = "127.0.0.1",
        http_port: int = 8000,
        grpc_port: int = 8001,
        metrics_port: int = 8002,
        startup_timeout_s: float = 120.0,
        log_path: Path | None = None,
        ort_threads: int = 1,
        stub_site: Path | None = None,
    ) -> None:
        self.repository = repository.resolve()
        self.workdir = workdir.resolve()
        self.host = host
        self.http_port = http_port
        self.grpc_port = grpc_port
        self.metrics_port = metrics_port
        self.startup_timeout_s = startup_timeout_s
        self.log_path = (log_path or self.workdir / "tritonserver.log").resolve()
        self.restarts = 0
        self.ort_threads = ort_threads
        self.stub_site = stub_site
        self._restarting: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._models: set[str] = set()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        # One client for the supervisor's polling: a fresh one per call costs an SSL context.
        self._http = httpx.Client(timeout=2.0, trust_env=False)
        self._supervisor: threading.Thread | None = None
        self._backends: Path | None = None
        self._shm_prefix: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedTriton:
        triton = settings.triton
        workdir = settings.models_dir.resolve().parent / "var" / "triton"
        return cls(
            settings.models_dir,
            workdir=workdir,
            host=triton.host,
            http_port=triton.http_port,
            grpc_port=triton.grpc_port,
            metrics_port=triton.metrics_port,
            startup_timeout_s=triton.startup_timeout_s,
            log_path=(triton.log_dir / "tritonserver.log") if triton.log_dir else None,
            ort_threads=triton.ort_threads,
            stub_site=triton.stub_site,
        )

    # -- addresses ----------------------------------------------------------------------

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def shm_prefix(self) -> str | None:
        """The ``/dev/shm`` region prefix of the running lifetime (None when stopped)."""
        return self._shm_prefix

    @property
    def loaded_models(self) -> set[str]:
        with self._lock:
            return set(self._models)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, models: Iterable[str] = ()) -> None:
        """Start the server, wait until it is ready, then load ``models``."""
        with self._lock:
            self._spawn()
            self._wait_ready()
            for name in models:
                self.load_model(name)

    def stop(self) -> None:
        """Stop supervision and the server (SIGTERM, then SIGKILL after a grace period)."""
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
            self._supervisor = None
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process is not None:
            _kill_group(process.pid)
        self._remove_shm()

    def supervise(self, interval_s: float = 0.5) -> None:
        """Watch the server in a background thread; restart it and reload its models if
        it dies. Also keeps the set of loaded models in step with Triton's own view."""
        self._stop.clear()
        self._supervisor = threading.Thread(
            target=self._watch, args=(interval_s,), name="triton-supervisor", daemon=True
        )
        self._supervisor.start()

    def load_model(self, name: str) -> None:
        """Ask Triton to (re)load ``name``; raise with Triton's reason on failure."""
        response = self._http.post(f"{self.http_url}/v2/repository/models/{name}/load", timeout=300)
        if response.status_code != 200:
            raise ServiceUnavailableError(f"Triton could not load {name}: {_error_text(response)}")
        with self._lock:
            self._models.add(name)

    def remember(self, name: str) -> None:
        """Note that ``name`` was loaded by someone else, so a restart reloads it."""
        with self._lock:
            self._models.add(name)

    # -- internals ----------------------------------------------------------------------

    def _spawn(self) -> None:
        home = pytriton_home()
        env = self._environment(home)
        if self._backends is None:
            self._backends = self._assemble_backends(home / "tritonserver")
        backends = self._backends
        remove_orphaned_shm(self.grpc_port)
        self._shm_prefix = f"mlserve{os.getpid()}p{self.grpc_port}r{self.restarts}_"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        command = [
            str(home / "tritonserver" / "bin" / "tritonserver"),
            f"--model-repository={self.repository}",
            f"--backend-directory={backends}",
            "--model-control-mode=explicit",
            f"--http-address={self.host}",
            f"--http-port={self.http_port}",
            f"--grpc-address={self.host}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-address={self.host}",
            f"--metrics-port={self.metrics_port}",
            "--allow-metrics=true",
            "--exit-timeout-secs=5",
            "--log-verbose=0",
            f"--backend-config=python,shm-region-prefix-name={self._shm_prefix}",
        ]
        log.info("starting tritonserver (log: %s)", self.log_path)
        self._process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log_file.close()

    def _assemble_backends(self, server_home: Path) -> Path:
        backends = self.workdir / "backends"
        python_dir = backends / "python"
        runner_dir = backends / RUNNER_BACKEND
        python_dir.mkdir(parents=True, exist_ok=True)
        runner_dir.mkdir(parents=True, exist_ok=True)
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        stub = server_home / "python_backend_stubs" / version / "triton_python_backend_stub"
        if not stub.is_file():
            raise TritonNotInstalledError(
                f"the pytriton wheel has no Python backend stub for Python {version}; "
                "use Python 3.8-3.13"
            )
        sources = [
            server_home / "backends" / "python" / "libtriton_python.so",
            server_home / "backends" / "python" / "triton_python_backend_utils.py",
            stub,
        ]
        for source in sources:
            shutil.copy2(source, python_dir / source.name)
        shutil.copy2(_RUNNER_SOURCE, runner_dir / "model.py")
        python_runner_dir = backends / PYTHON_RUNNER_BACKEND
        python_runner_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(_PYTHON_RUNNER_SOURCE, python_runner_dir / "model.py")
        return backends

    def _environment(self, home: Path) -> dict[str, str]:
        env = dict(os.environ)
        libs = [str(home.parent / "nvidia_pytriton.libs"), str(sysconfig.get_config_var("LIBDIR"))]
        if env.get("LD_LIBRARY_PATH"):
            libs.append(env["LD_LIBRARY_PATH"])
        env["LD_LIBRARY_PATH"] = os.pathsep.join(libs)
        # The stub's numpy 1.x (when this environment has numpy 2) goes first; see stub_env.
        stub = [str(p) for p in stub_paths(self.stub_site)]
        paths = [p for p in sys.path if p and Path(p).is_dir()]
        env["PYTHONPATH"] = os.pathsep.join(stub + paths)
        env["MLSERVE_ORT_THREADS"] = str(self.ort_threads)
        return env

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        url = f"{self.http_url}/v2/health/ready"
        while time.monotonic() < deadline:
            process = self._process
            if process is None or process.poll() is not None:
                raise ServiceUnavailableError(
                    f"tritonserver exited during start-up; last log lines:\n{self._log_tail()}"
                )
            try:
                if self._http.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ServiceUnavailableError(
            f"tritonserver not ready after {self.startup_timeout_s:.0f}s; log: {self.log_path}"
        )

    def _watch(self, interval_s: float) -> None:
        last_sync = 0.0
        while not self._stop.wait(interval_s):
            process = self._process
            if process is not None and process.poll() is not None and not self._stop.is_set():
                self._restart(process.returncode)
            elif time.monotonic() - last_sync > 2.0:
                self._sync_loaded_models()
                last_sync = time.monotonic()

    def unavailable_reason(self) -> str | None:
        """Why inference cannot be sent now (the server died and is being restarted, its
        models reloaded), or None. Sent meanwhile, a request would fail or, for a model that
        is loading, wait in Triton until the load ends, past short deadlines."""
        return self._restarting

    def _restart(self, returncode: int | None) -> None:
        log.error("tritonserver exited (code %s); restarting", returncode)
        self._restarting = f"the embedded Triton exited (code {returncode}) and is restarting"
        old = self._process
        if old is not None:
            _kill_group(old.pid)
        self._remove_shm()
        with self._lock:
            models = sorted(self._models)
            self.restarts += 1
            try:
                self._spawn()
                self._wait_ready()
            except Exception:
                log.exception("tritonserver restart failed; will retry")
                return
            for name in models:
                try:
                    self.load_model(name)
                except MLServeError:
                    log.exception("could not reload %s after restart", name)
            self._restarting = None
        log.warning("tritonserver restarted; reloaded %s", ", ".join(models) or "no models")

    def _remove_shm(self) -> None:
        """Remove the ``/dev/shm`` regions of the current (ended) lifetime."""
        prefix, self._shm_prefix = self._shm_prefix, None
        if prefix:
            remove_shm_regions(prefix)

    def _sync_loaded_models(self) -> None:
        try:
            response = self._http.post(
                f"{self.http_url}/v2/repository/index", json={"ready": True}, timeout=2.0
            )
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            ready = {entry["name"] for entry in response.json() if entry.get("state") == "READY"}
            with self._lock:
                self._models = ready

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


SHM_DIR = Path("/dev/shm")


def shm_regions(prefix: str) -> list[Path]:
    """The ``/dev/shm`` regions whose names start with ``prefix``."""
    try:
        return sorted(p for p in SHM_DIR.iterdir() if p.name.startswith(prefix))
    except OSError:
        return []


def remove_shm_regions(prefix: str) -> int:
    """Unlink every region named ``prefix*``; how many were removed."""
    removed = 0
    for path in shm_regions(prefix):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            path.unlink()
            removed += 1
    return removed


def remove_orphaned_shm(grpc_port: int) -> int:
    """Remove regions an earlier embedded Triton on ``grpc_port`` left behind when the
    process that owned it (the pid in the prefix) is gone, e.g. after ``kill -9``."""
    removed = 0
    pattern = re.compile(rf"^mlserve(\d+)p{grpc_port}r\d+_")
    for path in shm_regions("mlserve"):
        match = pattern.match(path.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError, PermissionError):
                path.unlink()
                removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(pgid: int) -> None:
    """Kill what is left of a server's process group (its Python backend stubs)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return response.text
