"""Loading an untrusted model file with an allowlist: classes only, no side effects.

Why: a joblib/pickle file is a program. Unpickling calls whatever callables the stream
names, so an uploaded "model" could run code. This module is what the upload sandbox
(:mod:`mlserve.platform.upload_sandbox`) runs *inside its child process*; the server
process never unpickles an upload.

The rule (:func:`admits`): a global the stream names must be

- in a module of the model ecosystem (``ALLOWED_ROOTS``: numpy, scipy, sklearn, xgboost,
  lightgbm, pandas, a few stdlib containers), outside its file, network, code-generation
  and testing corners (``DENIED_PARTS``, ``DENIED_CLASSES``), with a plain name (no
  ``DataFrame.to_csv``-style attribute path), and
- a **class**, or one of the few known reconstructor functions numpy, pandas and
  scikit-learn pickles use (``RECONSTRUCTORS``, plus Cython's ``__pyx_unpickle_*``).

So no function with side effects (``DataFrame.to_csv``, ``numpy.save``, ``eval``,
``os.system`` ...) can be called while loading: those are functions or methods, never
admitted. Class constructors still run; the classes whose constructors touch files or
call raw pointers are denied by name.

The decompressed size of the stream is bounded before anything is unpickled
(:func:`check_decompressed_size`). ``.skops`` files (scikit-learn's safe format, the
recommended upload) are loaded with ``skops.io.load`` trusting exactly the types this same
rule admits.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from mlserve.errors import ConversionError, PayloadTooLargeError

SKOPS_HINT = (
    "save the model with skops instead (skops.io.dump(model, 'model.skops'), the "
    "recommended upload format), or joblib.dump(model, path) of a plain fitted estimator"
)

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
"""``builtins`` classes a model may use (never ``eval``, ``exec``, ``getattr``, ``open``)."""

RECONSTRUCTORS = frozenset(
    {
        "copyreg._reconstructor",
        "copyreg.__newobj__",
        "copyreg.__newobj_ex__",
        "_codecs.encode",
        "numpy.core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy._core.numeric._frombuffer",
        "numpy.ma.core._mareconstruct",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        # numpy 2 pickles a RandomState's bit generator with its SeedSequence (GradientBoosting,
        # HistGradientBoosting and MLP models hold one): Cython's unpickler of that class.
        "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
        "pandas._libs.internals._unpickle_block",
        "pandas.core.internals.blocks.new_block",
        "pandas.core.indexes.base._new_Index",
        "pandas._libs.tslibs.timestamps._unpickle_timestamp",
        "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
        "pandas._libs.tslibs.nattype.__nat_unpickle",
        "sklearn.metrics._dist_metrics.newObj",
        "sklearn.neighbors._kd_tree.newObj",
        "sklearn.neighbors._ball_tree.newObj",
    }
)
"""The only functions a stream may call: they rebuild objects from their arguments (which
themselves passed this screen) and touch no file, process or network."""

DENIED_PARTS = (
    "testing",
    "_testutils",
    "f2py",
    "distutils",
    "ctypeslib",
    "ccallback",
    "memmap",
    "npyio",
    "datasource",
    "datasets",
    "externals",
    "parallel",
    "computation",
    "pandas.io",
    "scipy.io",
    "scipy.datasets",
    "dask",
    "spark",
    "tracker",
    "callback",
    "plotting",
)
"""Dotted-path fragments refused even inside an allowed module: file and network access,
``eval`` engines (``pandas.core.computation``), raw function pointers (``ccallback``)."""

DENIED_CLASSES = frozenset(
    {
        "LowLevelCallable",
        "DataSource",
        "Repository",
        "memmap",
        "HDFStore",
        "ExcelWriter",
        "ExcelFile",
        "vectorize",
        "Memory",
        "MemorizedFunc",
    }
)
"""Class names refused anywhere: their constructors open files or wrap callables."""


def is_allowed(module: str, name: str) -> bool:
    """Whether the global ``module.name`` may be looked up at all (before it is imported)."""
    root = module.partition(".")[0]
    if root not in ALLOWED_ROOTS or "." in name or name in DENIED_CLASSES:
        return False
    if root == "builtins":
        return module == "builtins" and name in SAFE_BUILTINS
    if root in ("copyreg", "_codecs"):
        return f"{module}.{name}" in RECONSTRUCTORS
    if root == "joblib":
        return module == "joblib.numpy_pickle" and name == "NumpyArrayWrapper"
    dotted = f"{module}.{name}".lower()
    return not any(part in dotted for part in DENIED_PARTS)


def admits(module: str, name: str, obj: object) -> bool:
    """Whether the looked-up object may be used by the stream: a class, or a known
    reconstructor function (never a function or method with side effects)."""
    if not is_allowed(module, name):
        return False
    if isinstance(obj, type):
        return True
    return f"{module}.{name}" in RECONSTRUCTORS or (
        name.startswith("__pyx_unpickle_") and module.partition(".")[0] in ("sklearn", "pandas")
    )


def refused_message(dotted: str) -> str:
    """The refusal for a stream naming ``dotted``."""
    return (
        f"model file refused: it references {dotted!r}, which is not a class a scikit-learn, "
        "XGBoost or LightGBM model is made of (loading it could run code on the server); "
        + SKOPS_HINT
    )


def is_skops_file(path: Path) -> bool:
    """A ``.skops`` archive: a zip holding skops' ``schema.json``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return "schema.json" in archive.namelist()


def check_decompressed_size(path: Path, max_bytes: int) -> int:
    """The decompressed size of a joblib/pickle (or ``.skops``) file; PayloadTooLargeError
    once it exceeds ``max_bytes``, found by streaming in 1 MiB chunks (nothing is kept)."""
    if is_skops_file(path):
        with zipfile.ZipFile(path) as archive:
            total = sum(item.file_size for item in archive.infolist())
        if total > max_bytes:
            raise _too_large(max_bytes)
        return total
    from joblib import numpy_pickle

    total = 0
    with open(path, "rb") as handle, _JoblibStream(numpy_pickle, handle, str(path)) as stream:
        while chunk := stream.read(1 << 20):
            total += len(chunk)
            if total > max_bytes:
                raise _too_large(max_bytes)
    return total


def load_restricted(path: Path) -> object:
    """The object in a joblib/pickle or ``.skops`` file, loaded under the allowlist; a
    ConversionError naming the refused global (or the corruption) otherwise."""
    if is_skops_file(path):
        return _load_skops(path)
    from joblib import numpy_pickle

    refused: list[str] = []

    class AllowlistUnpickler(numpy_pickle.NumpyUnpickler):  # type: ignore[misc]
        def find_class(self, module: str, name: str) -> Any:
            if not is_allowed(module, name):
                refused.append(f"{module}.{name}")
                raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
            obj = super().find_class(module, name)
            if not admits(module, name, obj):
                refused.append(f"{module}.{name}")
                raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
            return obj

    try:
        with open(path, "rb") as handle, _JoblibStream(numpy_pickle, handle, str(path)) as fobj:
            return AllowlistUnpickler(str(path), fobj, True).load()
    except (ConversionError, MemoryError):
        raise
    except Exception as exc:
        if refused:
            raise ConversionError(refused_message(refused[0])) from None
        if isinstance(exc, ModuleNotFoundError):
            raise ConversionError(
                f"model file needs the Python module {exc.name!r}, which this server does "
                "not have: export with scikit-learn, xgboost or lightgbm"
            ) from None
        detail = (str(exc).strip().splitlines() or ["no detail"])[0][:200]
        raise ConversionError(
            f"model file is not a readable joblib/pickle file ({type(exc).__name__}: "
            f"{detail}): {SKOPS_HINT}"
        ) from None


def _load_skops(path: Path) -> object:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ConversionError(f"the .skops file cannot be read ({type(exc).__name__})") from None
    for dotted in untrusted:
        module, _, name = dotted.rpartition(".")
        if not is_allowed(module, name) or not admits(module, name, _import(module, name)):
            raise ConversionError(refused_message(dotted))
    try:
        return sio.load(path, trusted=untrusted)
    except Exception as exc:
        detail = (str(exc).strip().splitlines() or ["no detail"])[0][:200]
        raise ConversionError(
            f"the .skops file cannot be loaded ({type(exc).__name__}: {detail})"
        ) from None


def _import(module: str, name: str) -> object:
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


class _JoblibStream:
    """The decompressed stream of a joblib file (plain pickles pass through)."""

    def __init__(self, numpy_pickle: Any, handle: BinaryIO, filename: str) -> None:
        self._context = numpy_pickle._validate_fileobject_and_memmap(handle, filename, None)

    def __enter__(self) -> BinaryIO:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fobj, _ = self._context.__enter__()
        if isinstance(fobj, str):
            raise ConversionError(
                "model file uses the joblib < 0.10 format, which is not accepted: " + SKOPS_HINT
            )
        stream: BinaryIO = fobj
        return stream

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(*exc)


def _too_large(max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"model file decompresses to more than {max_bytes} bytes "
        f"({max_bytes / 1_000_000:.0f} MB, MLSERVE_AUTH__UPLOAD_MAX_DECOMPRESSED_BYTES): "
        "upload a smaller model"
    )
