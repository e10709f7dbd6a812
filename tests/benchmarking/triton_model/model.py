"""A tiny text model for Triton's Python backend, used by the benchmark tests.

Input ``text`` (BYTES [n, 1]), output ``probabilities`` (FP32 [n, 3]) derived from the text
length: a real model served by a real Triton, cheap enough for tests. Like mlserve's runner
it puts the serving interpreter's paths (``PYTHONPATH``) first, so the stub uses the same
numpy (<2) that Triton 2.51's BYTES handling needs.
"""

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


class TritonPythonModel:
    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:
            texts = pb_utils.get_input_tensor_by_name(request, "text").as_numpy()
            lengths = np.array([[float(len(row[0]))] for row in texts], dtype=np.float32)
            scores = np.concatenate([lengths, lengths * 2, lengths * 3], axis=1)
            probabilities = (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)
            responses.append(
                pb_utils.InferenceResponse([pb_utils.Tensor("probabilities", probabilities)])
            )
        return responses
