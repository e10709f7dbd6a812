"""Numpy arrays to and from Triton's gRPC tensors (KServe v2 ``raw_*_contents``).

Kept apart from the client so the encoding rules sit in one small place: strings travel as
``BYTES`` (each element a 4-byte little-endian length and its UTF-8 bytes), numbers as
their raw little-endian buffer with Triton's datatype name.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import numpy.typing as npt
from tritonclient.grpc import service_pb2
from tritonclient.utils import deserialize_bytes_tensor, np_to_triton_dtype, triton_to_np_dtype

from mlserve.errors import TritonError


def add_input(request: service_pb2.ModelInferRequest, name: str, array: npt.NDArray[Any]) -> None:
    """Append ``array`` to ``request`` as input ``name``."""
    tensor = request.inputs.add()
    tensor.name = name
    tensor.shape.extend(array.shape)
    if array.dtype.kind in ("U", "S", "O"):
        tensor.datatype = "BYTES"
        request.raw_input_contents.append(_serialize_bytes(array))
    else:
        datatype = np_to_triton_dtype(array.dtype)
        if datatype is None:
            raise TritonError(f"input {name!r}: numpy dtype {array.dtype} has no Triton type")
        tensor.datatype = datatype
        request.raw_input_contents.append(np.ascontiguousarray(array).tobytes())


def read_outputs(
    response: service_pb2.ModelInferResponse, names: list[str]
) -> dict[str, npt.NDArray[Any]]:
    """The outputs ``names`` of ``response`` as arrays of their declared shapes."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    raw = response.raw_output_contents
    for index, output in enumerate(response.outputs):
        if output.name not in names:
            continue
        if index >= len(raw):
            raise TritonError(f"Triton sent output {output.name!r} without raw contents")
        if output.datatype == "BYTES":
            array = deserialize_bytes_tensor(raw[index])
        else:
            array = np.frombuffer(raw[index], dtype=triton_to_np_dtype(output.datatype))
        arrays[output.name] = array.reshape(tuple(output.shape))
    missing = [name for name in names if name not in arrays]
    if missing:
        raise TritonError(f"Triton's answer lacks output(s) {missing}")
    return arrays


def _serialize_bytes(array: npt.NDArray[Any]) -> bytes:
    parts: list[bytes] = []
    for item in array.ravel():
        data = item.encode("utf-8") if isinstance(item, str) else bytes(item)
        parts.append(struct.pack("<I", len(data)))
        parts.append(data)
    return b"".join(parts)
