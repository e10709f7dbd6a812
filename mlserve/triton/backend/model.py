"""mlserve's generic ONNX Runtime runner for Triton's Python backend.

Triton loads this file as the Python-based backend ``mlserve_onnx`` (the launcher places it
at ``<backend-dir>/mlserve_onnx/model.py``); a model selects it with
``backend: "mlserve_onnx"`` and keeps only ``model.onnx`` in each version folder.

``execute`` receives every request of a dynamic batch at once. It concatenates their
inputs, runs the ONNX session once and splits the outputs back, so Triton's batching turns
into one ONNX Runtime call. It runs inside Triton's stub process, which builds its own
``sys.path``: the launcher passes the serving interpreter's paths in ``PYTHONPATH`` and we
put them in front here, before importing numpy and onnxruntime. It must not import mlserve.
"""

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
import onnxruntime as ort  # noqa: E402
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


def _providers(kind: str | None) -> list[str]:
    available = ort.get_available_providers()
    if kind == "GPU" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _as_text(array: Any) -> Any:
    """Triton hands BYTES tensors over as ``bytes`` objects; ONNX Runtime string ops (e.g.
    OneHotEncoder categories) match ``str`` only."""
    if array.dtype != np.object_:
        return array
    flat = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in array.ravel()]
    return np.array(flat, dtype=object).reshape(array.shape)


def _stack(arrays: list[Any]) -> Any:
    """Concatenate along the batch axis, right-padding ragged trailing dims with zeros.

    Token inputs of separate requests differ in sequence length; zero is both BERT's pad id
    and a masked-out attention position, so padding changes no result.
    """
    if len(arrays) == 1:
        return arrays[0]
    shape = tuple(max(a.shape[d] for a in arrays) for d in range(1, arrays[0].ndim))
    if all(a.shape[1:] == shape for a in arrays):
        return np.concatenate(arrays)
    padded = []
    for a in arrays:
        pad = [(0, 0)] + [(0, want - have) for want, have in zip(shape, a.shape[1:], strict=False)]
        padded.append(np.pad(a, pad))
    return np.concatenate(padded)


class TritonPythonModel:
    """One instance of one version of one model."""

    def initialize(self, args: dict[str, Any]) -> None:
        if _NUMPY_MAJOR >= 2 and not os.environ.get("MLSERVE_STUB_NUMPY2_OK"):
            raise RuntimeError(_NUMPY2_REFUSAL)
        config = json.loads(args["model_config"])
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        options = ort.SessionOptions()
        threads = int(os.environ.get("MLSERVE_ORT_THREADS", "1"))
        if threads:
            options.intra_op_num_threads = threads
        # Spinning worker threads burn the cores Triton and the control plane need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            path, sess_options=options, providers=_providers(args.get("model_instance_kind"))
        )
        self.input_names = [i["name"] for i in config["input"]]
        self.output_names = [o["name"] for o in config["output"]]
        self.logger = pb_utils.Logger
        self.logger.log_info(
            f"mlserve_onnx: {args['model_name']} v{args['model_version']} on "
            f"{self.session.get_providers()[0]}"
        )

    def execute(self, requests: list[Any]) -> list[Any]:
        batches = [
            {
                name: _as_text(pb_utils.get_input_tensor_by_name(r, name).as_numpy())
                for name in self.input_names
            }
            for r in requests
        ]
        sizes = [b[self.input_names[0]].shape[0] for b in batches]
        try:
            feed = {name: _stack([b[name] for b in batches]) for name in self.input_names}
            results = self.session.run(self.output_names, feed)
        except Exception as exc:  # one bad batch fails its requests, not the server
            error = pb_utils.TritonError(f"ONNX Runtime failed: {exc}")
            return [pb_utils.InferenceResponse(error=error) for _ in requests]
        responses = []
        offset = 0
        for size in sizes:
            tensors = [
                pb_utils.Tensor(name, np.ascontiguousarray(result[offset : offset + size]))
                for name, result in zip(self.output_names, results, strict=False)
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            offset += size
        return responses
