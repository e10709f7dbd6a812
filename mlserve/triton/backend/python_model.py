"""mlserve's runner for custom Python models in Triton's Python backend (``mlserve_python``).

A custom version folder holds ``predictor.py`` (the user's code) and ``metadata.json``
(features, labels, task, and ``extra.entry_point``: the name of a ``predict(records)``
function, or of a class with a ``predict`` method and optionally ``predict_proba``, built
without arguments). Inputs arrive as the tabular layout (``input`` FP32 numeric features,
``input_str`` BYTES string features, in feature order); ``execute`` turns every request of
a dynamic batch into records, calls the user's code once, and answers ``probabilities``
(one-hot of the predicted label when there is no ``predict_proba``) or ``prediction``.
Like ``model.py`` it runs in Triton's stub process and must not import mlserve.
"""

import importlib.util
import json
import os
import site
import sys
from typing import Any

for _path in reversed([p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]):
    if _path not in sys.path:
        sys.path.insert(0, _path)
        site.addsitedir(_path)

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

# Triton 2.51's stub (pybind11 reading numpy 1.x's dtype layout) misreads every tensor under
# numpy 2: values repeat the first element, outputs come back empty. The launcher gives the
# stub numpy 1.26 (mlserve/triton/stub_env.py); refuse to load rather than answer wrongly.
# A Triton whose stub is built with pybind11 >= 2.12 may set MLSERVE_STUB_NUMPY2_OK=1.
_NUMPY_MAJOR = int(np.__version__.split(".")[0])
_NUMPY2_REFUSAL = (
    f"the Python backend stub runs numpy {np.__version__}, under which Triton 2.51's stub "
    "misreads tensors; give it numpy 1.x first on PYTHONPATH (MLSERVE_TRITON__STUB_SITE, "
    "make install creates <venv>/triton-stub-site)"
)


def _load_entry(version_dir: str, entry_point: str, unique: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"mlserve_custom_{unique}", os.path.join(version_dir, "predictor.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entry = getattr(module, entry_point)
    return entry() if isinstance(entry, type) else entry


class TritonPythonModel:
    """One instance of one version of a custom model."""

    def initialize(self, args: dict[str, Any]) -> None:
        if _NUMPY_MAJOR >= 2 and not os.environ.get("MLSERVE_STUB_NUMPY2_OK"):
            raise RuntimeError(_NUMPY2_REFUSAL)
        version_dir = os.path.join(args["model_repository"], args["model_version"])
        with open(os.path.join(version_dir, "metadata.json")) as handle:
            metadata = json.load(handle)
        features = metadata["preprocessing"]["features"]
        self.names = [f["name"] for f in features]
        self.numeric = [f["name"] for f in features if f["kind"] == "numeric"]
        self.strings = [f["name"] for f in features if f["kind"] == "string"]
        self.labels = [str(label) for label in metadata.get("labels", [])]
        self.task = metadata.get("task", "classification")
        unique = f"{args['model_name']}_{args['model_version']}".replace("-", "_").replace(".", "_")
        entry = _load_entry(version_dir, metadata["extra"]["entry_point"], unique)
        self.predict = entry.predict if hasattr(entry, "predict") else entry
        self.predict_proba = getattr(entry, "predict_proba", None)

    def _records(self, request: Any) -> list[dict[str, Any]]:
        numeric = pb_utils.get_input_tensor_by_name(request, "input")
        strings = pb_utils.get_input_tensor_by_name(request, "input_str")
        rows = numeric.as_numpy() if numeric is not None else None
        texts = strings.as_numpy() if strings is not None else None
        n = rows.shape[0] if rows is not None else texts.shape[0]
        records = []
        for i in range(n):
            record: dict[str, Any] = {}
            if rows is not None:
                for j, name in enumerate(self.numeric):
                    value = float(rows[i, j])
                    record[name] = None if value != value else value
            if texts is not None:
                for j, name in enumerate(self.strings):
                    value = texts[i, j]
                    record[name] = value.decode("utf-8") if isinstance(value, bytes) else value
            records.append({name: record[name] for name in self.names})
        return records

    def _outputs(self, records: list[dict[str, Any]]) -> list[Any]:
        if self.task == "regression":
            values = np.asarray(self.predict(records), dtype=np.float32).reshape(len(records), -1)
            return [("prediction", values)]
        if self.predict_proba is not None:
            matrix = np.asarray(self.predict_proba(records), dtype=np.float32)
            return [("probabilities", matrix.reshape(len(records), len(self.labels)))]
        matrix = np.zeros((len(records), len(self.labels)), dtype=np.float32)
        for row, label in enumerate(self.predict(records)):
            matrix[row, self.labels.index(str(label))] = 1.0
        return [("probabilities", matrix)]

    def execute(self, requests: list[Any]) -> list[Any]:
        try:
            batches = [self._records(r) for r in requests]
            records = [record for batch in batches for record in batch]
            outputs = self._outputs(records)
        except Exception as exc:  # the user's code failed: its requests fail, not the server
            error = pb_utils.TritonError(f"custom model failed: {type(exc).__name__}: {exc}")
            return [pb_utils.InferenceResponse(error=error) for _ in requests]
        responses = []
        offset = 0
        for batch in batches:
            size = len(batch)
            tensors = [
                pb_utils.Tensor(name, np.ascontiguousarray(values[offset : offset + size]))
                for name, values in outputs
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            offset += size
        return responses
