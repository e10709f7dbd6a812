"""Screening uploaded model files before they are unpickled for real.

Why: a joblib/pickle file is a program. Unpickling calls whatever callables the stream
names (``os.system``, ``builtins.eval`` ...), so an uploaded "model" can run code in the
server. Only admins may deploy, and the docs say so; this screen is the second line. It
replays the stream with an unpickler whose ``find_class`` resolves only an allowlist —
the modules fitted scikit-learn, XGBoost and LightGBM estimators are made of (numpy,
scipy, sklearn, xgboost, lightgbm, pandas, a few builtins and container types), minus
their file, network, testing and code-generation corners. Anything else is refused with
:class:`~mlserve.errors.ConversionError` *before* the real load, so a refused file has
executed nothing outside the allowlist and the repository is never touched.

It is a mitigation, not a sandbox: constructors of allowlisted classes still run. PyTorch
modules and old (< 0.10) joblib formats are refused here; deploy those with ``mlserve
load`` from a trusted shell.
"""

from __future__ import annotations

import io
import pickle
import warnings
from pathlib import Path
from typing import Any, BinaryIO

from mlserve.errors import ConversionError

ALLOWED_ROOTS = frozenset(
    {
        "numpy",
        "scipy",
        "sklearn",
        "xgboost",
        "lightgbm",
        "pandas",
        "joblib",
        "collections",
        "copyreg",
        "_codecs",
        "datetime",
        "builtins",
    }
)
"""Top-level modules a model may reference at all."""

SAFE_BUILTINS = frozenset(
    {
        "bool",
        "bytearray",
        "bytes",
        "complex",
        "dict",
        "float",
        "frozenset",
        "int",
        "list",
        "object",
        "range",
        "set",
        "slice",
        "str",
        "tuple",
    }
)
"""``builtins`` names a model may use (never ``eval``, ``exec``, ``getattr``, ``open`` ...)."""

DENIED_PARTS = (
    "testing",
    "_testutils",
    "f2py",
    "distutils",
    "ctypeslib",
    "memmap",
    "npyio",
    "datasets",
    "externals",
    "parallel",
    "pandas.io",
    "scipy.io",
    "dask",
    "spark",
    "tracker",
    "callback",
    "plotting",
)
"""Dotted-path fragments refused even inside an allowed module (file/network access,
code execution helpers, cluster clients)."""

DENIED_NAMES = frozenset(
    {
        "load",
        "loads",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "loadtxt",
        "genfromtxt",
        "fromfile",
        "tofile",
        "fromregex",
        "dump",
        "dumps",
        "read_pickle",
        "to_pickle",
        "eval",
        "exec",
        "system",
        "popen",
        "import_module",
        "__import__",
    }
)
"""Attribute names refused in any module (loaders, writers, ``eval``-likes)."""


def is_allowed(module: str, name: str) -> bool:
    """Whether the global ``module.name`` may be resolved while loading a model."""
    root = module.partition(".")[0]
    if root not in ALLOWED_ROOTS:
        return False
    if root == "builtins":
        return module == "builtins" and name in SAFE_BUILTINS
    if root == "copyreg":
        return module == "copyreg" and name in ("_reconstructor", "__newobj__", "__newobj_ex__")
    if root == "joblib":
        return module == "joblib.numpy_pickle" and name == "NumpyArrayWrapper"
    dotted = f"{module}.{name}"
    if any(part in dotted for part in DENIED_PARTS):
        return False
    return name.rpartition(".")[2] not in DENIED_NAMES


def screen_model_bytes(data: bytes) -> None:
    """:func:`screen_model_file` for an upload held in memory."""
    if not data:
        raise ConversionError("model file is empty: upload a joblib.dump or pickle file")
    _screen(io.BytesIO(data), "upload")


def screen_model_file(path: Path) -> None:
    """Replay ``path`` with the allowlist; ConversionError naming the refused global (or
    the corruption) when it does not pass. Returns nothing: load it for real afterwards."""
    with open(path, "rb") as handle:
        _screen(handle, str(path))


def _screen(handle: BinaryIO, filename: str) -> None:
    from joblib import numpy_pickle

    refused: list[str] = []

    class ScreeningUnpickler(numpy_pickle.NumpyUnpickler):  # type: ignore[misc]
        def find_class(self, module: str, name: str) -> Any:
            if not is_allowed(module, name):
                refused.append(f"{module}.{name}")
                raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
            return super().find_class(module, name)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with numpy_pickle._validate_fileobject_and_memmap(handle, filename, None) as (
                fobj,
                _,
            ):
                if isinstance(fobj, str):
                    raise ConversionError(
                        "model file uses the joblib < 0.10 format, which is not accepted: "
                        "save it again with a current joblib.dump"
                    )
                ScreeningUnpickler(filename, fobj, True).load()
    except ConversionError:
        raise
    except Exception as exc:
        if refused:
            raise ConversionError(
                f"model file refused: it references {refused[0]!r}, which is not part of a "
                "scikit-learn, XGBoost or LightGBM model (loading it could run code on the "
                "server). Upload a model saved with joblib.dump(estimator, path)"
            ) from None
        detail = (str(exc).strip().splitlines() or ["no detail"])[0][:200]
        raise ConversionError(
            f"model file is not a readable joblib/pickle file ({type(exc).__name__}: "
            f"{detail}): save it with joblib.dump(model, path)"
        ) from None
