"""The upload sandbox's child: ``python -m mlserve.platform.upload_sandbox_child <dir>``.

``<dir>`` is the private temp dir the server made for this run. It holds ``job.json``
(written by the server: what to do and the limits), and ``model.bin`` (the upload). The
child confines itself (:mod:`mlserve.platform.sandbox_confinement`) *before* it reads the
upload, checks its decompressed size, loads it with the allowlist
(:mod:`mlserve.platform.model_screening`) and, for ``export`` jobs, exports it with the
converters. It writes ``result.json`` (``{"ok": true, ...}`` or ``{"ok": false, "status":
<http status>, "error": <message>}``) and, on success of an export, ``model.onnx`` and
``metadata.json``. Progress lines go to stdout, one JSON object each.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mlserve.errors import ConversionError, MLServeError


def _say(line: str) -> None:
    print(json.dumps({"log": line}), flush=True)


def _preload() -> None:
    """Import the loader's own libraries before confinement; whatever the model needs is
    imported lazily afterwards (reading files stays allowed, no bytecode is written)."""
    import joblib  # noqa: F401
    import numpy  # noqa: F401


def run(work: Path) -> dict[str, Any]:
    from mlserve.platform import model_screening
    from mlserve.platform.sandbox_confinement import Limits, confine

    job = json.loads((work / "job.json").read_text())
    _preload()
    enforced = confine(work, Limits(**job["limits"]))
    _say(f"sandbox: {', '.join(k for k, v in enforced.items() if v)} enforced")
    model_path = work / "model.bin"
    model_screening.check_decompressed_size(model_path, int(job["max_decompressed_bytes"]))
    obj = model_screening.load_restricted(model_path)
    cls = type(obj)
    loaded = (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    if not any(callable(getattr(obj, method, None)) for method in ("predict", "predict_proba")):
        raise ConversionError(
            f"model file holds a {loaded}, not a model: upload a fitted estimator "
            "(an object with predict), " + model_screening.SKOPS_HINT
        )
    if job["action"] == "screen":
        return {"ok": True, "loaded": loaded, "enforced": enforced, "features": _features(obj)}
    _say(f"loaded {loaded}; exporting to ONNX")
    from mlserve.converters.loading import export_native_model
    from mlserve.platform import exported_wire

    exported = export_native_model(
        obj,
        name=job["name"],
        features=job.get("features"),
        background=job.get("background"),
        metrics=job.get("metrics"),
        task_type=job.get("task_type"),
        input_dtype=job.get("input_dtype", "float64"),
    )
    if exported.input_kind not in ("tabular", "causal", "recommender"):
        raise ConversionError(
            f"{job['name']}: /api/v1/deploy serves models that take feature records; this is "
            f"a {exported.input_kind} model — publish it with `mlserve load` instead"
        )
    onnx_bytes, metadata = exported_wire.encode(exported)
    (work / "model.onnx").write_bytes(onnx_bytes)
    (work / "metadata.json").write_bytes(metadata)
    return {"ok": True, "loaded": loaded, "enforced": enforced}


def _features(obj: Any) -> list[str] | None:
    """The column names the estimator was fitted on (``feature_names_in_``), if it kept them."""
    names = getattr(obj, "feature_names_in_", None)
    if names is None:
        return None
    try:
        return [str(n) for n in list(names)][:10_000]
    except TypeError:
        return None


def main() -> None:
    work = Path(sys.argv[1])
    try:
        result = run(work)
    except MLServeError as exc:
        result = {"ok": False, "status": exc.status_code, "error": exc.message}
    except MemoryError:
        result = {"ok": False, "status": 413, "error": "memory"}
    except Exception as exc:
        detail = (str(exc).strip().splitlines() or ["no detail"])[0][:300]
        result = {"ok": False, "status": 400, "error": f"{type(exc).__name__}: {detail}"}
    (work / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
