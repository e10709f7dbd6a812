"""The Python environment of the embedded Triton's Python-backend stub: numpy 1.x, apart.

The stub in the ``nvidia-pytriton`` 0.7.0 wheel (Triton 2.51) is built with a pybind11 that
reads numpy's dtype struct with numpy 1.x's layout. Under numpy 2 every tensor it hands to
Python or takes back is wrong, not only ``BYTES`` ones (measured here with numpy 2.4.6):
an ``FP32`` input ``[[1, 2, 3], [4, 5, 6]]`` reads as all ``1.0`` (stride 0), an output comes
back with 0 bytes, and a ``BYTES`` input crashes the stub (the length prefix is read from the
first byte repeated). DLPack transfers do work, but ``BYTES`` tensors have no DLPack form and
are decoded by the stub itself, so a direct Triton client sending text would still crash it.

So the control plane runs numpy 2 and the stub runs numpy 1.26: ``make install`` puts
numpy 1.26.4 alone (``pip install --no-deps --target``) in ``<venv>/triton-stub-site``, and
the launcher puts that folder first on the stub's ``PYTHONPATH``. Everything else the stub
imports (ONNX Runtime, scikit-learn, pandas for custom models) comes from the serving
environment; their wheels are built against numpy 2 and support numpy >= 1.26 at run time.
numpy 1.26 also reads numpy 2 pickles (its ``numpy._core`` aliases), which custom Python
models may load. Tensors keep their ``BYTES`` signature, so direct gRPC/HTTP clients are
unaffected.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from mlserve.errors import MLServeError

STUB_NUMPY = "1.26.4"
"""The numpy the stub runs with (the last 1.x; ``make install`` installs it)."""
STUB_SITE_DIRNAME = "triton-stub-site"


class StubEnvironmentError(MLServeError):
    """The stub would run with a numpy it cannot use, and no numpy 1.x folder exists."""


def default_stub_site() -> Path:
    """Where ``make install`` (and the Dockerfile) put the stub's numpy: ``<prefix>/``
    ``triton-stub-site`` of the serving interpreter's environment."""
    return Path(sys.prefix) / STUB_SITE_DIRNAME


def numpy_major(site: Path | None = None) -> int:
    """The major version of numpy in ``site`` (a ``--target`` folder), or of the serving
    environment's numpy when ``site`` is None; 0 when there is none."""
    if site is None:
        try:
            return int(version("numpy").split(".")[0])
        except PackageNotFoundError:  # pragma: no cover - numpy is a dependency
            return 0
    for info in site.glob("numpy-*.dist-info"):
        return int(info.name.removeprefix("numpy-").split(".")[0])
    return 0


def stub_paths(configured: Path | None = None) -> list[Path]:
    """Folders to put in front of the stub's ``PYTHONPATH``: the numpy 1.x folder when the
    serving environment has numpy 2 (nothing when it has numpy 1.x already).

    Raises :class:`StubEnvironmentError` naming the folder and the command that creates it
    when it is needed and missing, so the server never starts with a stub that would answer
    wrongly.
    """
    if numpy_major() < 2:
        return []
    site = configured or default_stub_site()
    found = numpy_major(site) if site.is_dir() else 0
    if found == 1:
        return [site]
    raise StubEnvironmentError(
        f"the embedded Triton's Python backend stub (Triton 2.51) needs numpy 1.x, and this "
        f"environment has numpy {version('numpy')}; {site} "
        + ("has no numpy 1.x" if site.is_dir() else "does not exist")
        + f": run `pip install --no-deps --target {site} 'numpy=={STUB_NUMPY}'` (make install "
        "does) or set MLSERVE_TRITON__STUB_SITE to such a folder"
    )
