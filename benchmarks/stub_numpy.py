"""Which numpy the embedded Triton's Python-backend stub can run: the measurement behind
``mlserve/triton/stub_env.py``.

One run starts the real embedded Triton twice on a probe model (``backend: "python"``):

- ``numpy2``: the stub imports this environment's numpy 2 (no stub folder);
- ``numpy126``: ``<venv>/triton-stub-site`` (numpy 1.26.4) first on the stub's path, as
  the launcher does.

The probe reads one ``FP32 [2, 3]`` input with ``as_numpy()`` and with DLPack, one ``BYTES
[2]`` input with ``as_numpy()``, answers ``FP32`` through ``pb_utils.Tensor(numpy)`` and
through DLPack, and reports what it read. Then it times sequential gRPC requests (FP32 in,
FP32 out via the working path) and prints what came back right, and the p50/p99 latency.
Usage::

    .venv/bin/python benchmarks/stub_numpy.py [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import tritonclient.grpc as grpcclient

from mlserve.triton.launcher import EmbeddedTriton
from mlserve.triton.stub_env import default_stub_site

PROBE = """
import json, os, site, sys
for _p in reversed([p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]):
    if _p not in sys.path:
        sys.path.insert(0, _p); site.addsitedir(_p)
import numpy as np
import triton_python_backend_utils as pb_utils

class TritonPythonModel:
    def initialize(self, args):
        self.numpy2 = int(np.__version__.split(".")[0]) >= 2

    def execute(self, requests):
        out = []
        for r in requests:
            x = pb_utils.get_input_tensor_by_name(r, "x")
            report = {"numpy": np.__version__, "as_numpy": x.as_numpy().tolist()}
            report["dlpack"] = np.from_dlpack(x).tolist() if self.numpy2 else None
            s = pb_utils.get_input_tensor_by_name(r, "s")
            if s is not None:
                report["bytes"] = [v.decode() for v in s.as_numpy().ravel()]
            y = (np.from_dlpack(x) if self.numpy2 else x.as_numpy()) * 2
            mode = pb_utils.get_input_tensor_by_name(r, "mode").as_numpy().ravel()[0]
            hook = sys.unraisablehook
            sys.unraisablehook = lambda _u: None  # the stub renames consumed capsules
            try:
                if mode == 1:
                    tensor = pb_utils.Tensor.from_dlpack("y", np.ascontiguousarray(y).__dlpack__())
                else:
                    tensor = pb_utils.Tensor("y", np.ascontiguousarray(y, dtype=np.float32))
            finally:
                sys.unraisablehook = hook
            info = np.array([json.dumps(report).encode()], dtype=object)
            out.append(pb_utils.InferenceResponse(
                output_tensors=[tensor, pb_utils.Tensor("report", info)]))
        return out
"""

CONFIG = """backend: "python"
max_batch_size: 0
input [
  { name: "x" data_type: TYPE_FP32 dims: [ 2, 3 ] },
  { name: "mode" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "s" data_type: TYPE_STRING dims: [ 2 ] optional: true }
]
output [
  { name: "y" data_type: TYPE_FP32 dims: [ 2, 3 ] },
  { name: "report" data_type: TYPE_STRING dims: [ 1 ] }
]
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _inputs(mode: int, text: bool) -> list[Any]:
    x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    tensors = [
        grpcclient.InferInput("x", [2, 3], "FP32"),
        grpcclient.InferInput("mode", [1], "INT32"),
    ]
    tensors[0].set_data_from_numpy(x)
    tensors[1].set_data_from_numpy(np.array([mode], dtype=np.int32))
    if text:
        strings = grpcclient.InferInput("s", [2], "BYTES")
        strings.set_data_from_numpy(np.array([b"caf\xc3\xa9", b"ok"], dtype=object))
        tensors.append(strings)
    return tensors


def run(label: str, stub_site: Path | None, requests: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"stub-{label}-"))
    model = root / "repo" / "probe"
    (model / "1").mkdir(parents=True)
    (model / "1" / "model.py").write_text(PROBE)
    (model / "config.pbtxt").write_text(CONFIG)
    server = EmbeddedTriton(
        root / "repo",
        workdir=root / "var",
        http_port=_free_port(),
        grpc_port=_free_port(),
        metrics_port=_free_port(),
        stub_site=stub_site,
    )
    # numpy 2 in the stub: bypass the launcher's refusal on purpose.
    bypass = mock.patch("mlserve.triton.launcher.stub_paths", return_value=[])
    if stub_site is None:
        bypass.start()
    result: dict[str, Any] = {"label": label}
    try:
        server.start(["probe"])
        client = grpcclient.InferenceServerClient(server.grpc_url)
        expected = (np.arange(1, 7, dtype=np.float32).reshape(2, 3) * 2).tolist()

        def check(mode: int) -> str:
            try:
                answer = client.infer("probe", _inputs(mode, text=False))
            except Exception as exc:
                return f"failed: {str(exc)[:60]}"
            try:
                right = answer.as_numpy("y").tolist() == expected
            except ValueError:  # an output of 0 bytes
                right = False
            try:
                result["report"] = json.loads(answer.as_numpy("report")[0])
            except Exception as exc:  # BYTES outputs break under numpy 2 too
                result["report"] = {"numpy": "?", "as_numpy": f"? (BYTES report: {exc})"[:80]}
            return "right" if right else "WRONG"

        def timing(mode: int) -> None:
            times = []
            for _ in range(requests):
                start = time.perf_counter()
                client.infer("probe", _inputs(mode, text=False))
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            result["p50_ms"] = round(statistics.median(times), 3)
            result["p99_ms"] = round(times[int(len(times) * 0.99) - 1], 3)

        result["numpy_output"] = check(0)
        if result["numpy_output"] == "right":
            timing(0)
        else:
            result["dlpack_output"] = check(1)
            timing(1)
        try:  # last: BYTES kills the stub under numpy 2
            answer = client.infer("probe", _inputs(0, text=True))
            result["bytes_input"] = json.loads(answer.as_numpy("report")[0]).get("bytes")
        except Exception as exc:
            result["bytes_input"] = f"failed: {str(exc)[:60]}"
        if "dlpack_output" not in result:  # numpy 1.26's DLPack capsule: may kill the stub
            result["dlpack_output"] = check(1)
    finally:
        server.stop()
        if stub_site is None:
            bypass.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    for label, site in (("numpy2", None), ("numpy126", default_stub_site())):
        result = run(label, site, args.requests)
        report = result.pop("report", {"numpy": "?", "as_numpy": "?"})
        print(
            f"{label:9} stub numpy {report['numpy']}: FP32 as_numpy read "
            f"{report['as_numpy']}, DLPack read {report.get('dlpack')}; output via numpy "
            f"{result['numpy_output']}, via DLPack {result['dlpack_output']}; BYTES input "
            f"{result['bytes_input']}; {args.requests} requests p50 {result['p50_ms']} ms "
            f"p99 {result['p99_ms']} ms"
        )


if __name__ == "__main__":
    main()
