"""The Open Inference Protocol (KServe v2) on the wire: request bodies to arrays, answers
to bodies, JSON tensors and the binary tensor data extension.

A request is a JSON document (``inputs``: ``name``, ``datatype``, ``shape``, ``data`` or
``parameters.binary_data_size``; ``outputs`` with ``parameters.binary_data``), followed,
when the ``Inference-Header-Content-Length`` header is present, by the binary tensors in
input order (``BYTES`` elements as a 4-byte little-endian length and their bytes, numbers
as their raw little-endian buffer). Everything malformed is a :class:`BadRequestError`
(400) naming the tensor and what is wrong. Pure functions: no I/O, no model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from mlserve.errors import BadRequestError
from mlserve.triton.tensors import deserialize_bytes, serialize_bytes

HEADER_LENGTH = "inference-header-content-length"
MAX_ELEMENTS = 10_000_000
"""Most elements one tensor may declare (a bound on what a shape can make us allocate)."""

_DTYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}


@dataclass(slots=True)
class InferRequest:
    """A decoded infer request."""

    inputs: dict[str, npt.NDArray[Any]]
    outputs: list[str]
    """Outputs asked for (empty: all)."""
    binary_outputs: set[str]
    """Outputs to answer as binary data."""
    binary_default: bool
    """``parameters.binary_data_output``: every output in binary unless it says otherwise."""
    request_id: str | None
    parameters: dict[str, Any]


def parse_infer_request(body: bytes, header_length: str | None) -> InferRequest:
    """Decode ``body``; ``header_length`` is the ``Inference-Header-Content-Length`` value."""
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise BadRequestError(
                f"Inference-Header-Content-Length {header_length!r} is not a length within "
                f"the {len(body)}-byte body"
            )
        cut = int(header_length)
        header, binary = body[:cut], memoryview(body)[cut:]
    else:
        header, binary = body, memoryview(b"")
    try:
        document = orjson.loads(header)
    except orjson.JSONDecodeError:
        raise BadRequestError(
            'the infer request is not valid JSON: send {"inputs": [{"name": ..., "datatype": '
            '..., "shape": [...], "data": [...]}]}'
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("inputs"), list):
        raise BadRequestError('the infer request needs "inputs", a list of tensors')
    if not document["inputs"]:
        raise BadRequestError('"inputs" is empty: send at least one tensor')
    inputs: dict[str, npt.NDArray[Any]] = {}
    offset = 0
    for index, spec in enumerate(document["inputs"]):
        name, array, used = _tensor(spec, index, binary, offset)
        offset += used
        inputs[name] = array
    if offset != len(binary):
        raise BadRequestError(
            f"the body has {len(binary) - offset} bytes of binary data no input declares"
        )
    outputs, binary_outputs = _outputs(document.get("outputs"))
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequestError('"parameters" must be an object')
    request_id = document.get("id")
    return InferRequest(
        inputs=inputs,
        outputs=outputs,
        binary_outputs=binary_outputs,
        binary_default=bool(parameters.get("binary_data_output", False)),
        request_id=str(request_id) if request_id is not None else None,
        parameters=parameters,
    )


def _tensor(
    spec: Any, index: int, binary: memoryview, offset: int
) -> tuple[str, npt.NDArray[Any], int]:
    where = f"inputs[{index}]"
    if not isinstance(spec, dict):
        raise BadRequestError(f"{where} must be an object with name, datatype, shape, data")
    name, datatype, shape = spec.get("name"), spec.get("datatype"), spec.get("shape")
    if not isinstance(name, str) or not name:
        raise BadRequestError(f"{where}.name must be a non-empty string")
    where = f"input {name!r}"
    if not isinstance(datatype, str) or datatype not in _DTYPES:
        raise BadRequestError(f"{where}: datatype {datatype!r} is not one of {sorted(_DTYPES)}")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise BadRequestError(f"{where}: shape must be a list of non-negative integers")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise BadRequestError(f"{where}: {count} elements; at most {MAX_ELEMENTS} per tensor")
    parameters = spec.get("parameters") or {}
    size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise BadRequestError(f"{where}: binary_data_size {size!r} runs past the body")
        raw = bytes(binary[offset : offset + size])
        return name, _from_binary(raw, datatype, shape, count, where), size
    if "data" not in spec:
        raise BadRequestError(f"{where} has neither data nor parameters.binary_data_size")
    return name, _from_json(spec["data"], datatype, shape, count, where), 0


def _from_binary(
    raw: bytes, datatype: str, shape: list[int], count: int, where: str
) -> npt.NDArray[Any]:
    if datatype == "BYTES":
        try:
            values = deserialize_bytes(raw)
        except ValueError:
            raise BadRequestError(f"{where}: malformed BYTES binary data") from None
        if values.size != count:
            raise BadRequestError(f"{where}: {values.size} strings for shape {shape}")
        return values.reshape(shape)
    dtype = np.dtype(_DTYPES[datatype]).newbyteorder("<")
    if len(raw) != count * dtype.itemsize:
        raise BadRequestError(
            f"{where}: {len(raw)} bytes of binary data for shape {shape} of {datatype} "
            f"({count * dtype.itemsize} expected)"
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _from_json(
    data: Any, datatype: str, shape: list[int], count: int, where: str
) -> npt.NDArray[Any]:
    flat = _flatten(data)
    if len(flat) != count:
        raise BadRequestError(f"{where}: {len(flat)} values for shape {shape} ({count} needed)")
    if datatype == "BYTES":
        if not all(isinstance(v, str) for v in flat):
            raise BadRequestError(f"{where}: BYTES data must be strings")
        return np.array([v.encode() for v in flat], dtype=np.object_).reshape(shape)
    try:
        return np.array(flat, dtype=_DTYPES[datatype]).reshape(shape)
    except (TypeError, ValueError, OverflowError):
        raise BadRequestError(f"{where}: data does not fit datatype {datatype}") from None


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            flat.append(value)
        else:
            stack.pop()
    return flat


def _outputs(raw: Any) -> tuple[list[str], set[str]]:
    if raw is None:
        return [], set()
    if not isinstance(raw, list):
        raise BadRequestError('"outputs" must be a list of {"name": ...}')
    names, binary = [], set()
    for index, spec in enumerate(raw):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise BadRequestError(f"outputs[{index}] must be an object with a name")
        names.append(spec["name"])
        parameters = spec.get("parameters") or {}
        if isinstance(parameters, dict) and parameters.get("binary_data"):
            binary.add(spec["name"])
    return names, binary


def encode_infer_response(
    model: str,
    version: int,
    outputs: Sequence[tuple[str, npt.NDArray[Any]]],
    *,
    binary: set[str],
    request_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> tuple[bytes, int | None]:
    """The answer's body and, when any output is binary, its JSON header's length."""
    specs: list[dict[str, Any]] = []
    buffers: list[bytes] = []
    for name, array in outputs:
        datatype = datatype_of(array)
        spec: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if name in binary:
            raw = _to_binary(array, datatype)
            spec["parameters"] = {"binary_data_size": len(raw)}
            buffers.append(raw)
        elif datatype == "BYTES":
            spec["data"] = [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                for v in array.ravel()
            ]
        else:
            spec["data"] = array.ravel().tolist()
        specs.append(spec)
    document: dict[str, Any] = {
        "model_name": model,
        "model_version": str(version),
        "outputs": specs,
    }
    if request_id is not None:
        document["id"] = request_id
    if parameters:
        document["parameters"] = dict(parameters)
    header = orjson.dumps(document)
    if not buffers:
        return header, None
    return header + b"".join(buffers), len(header)


def _to_binary(array: npt.NDArray[Any], datatype: str) -> bytes:
    if datatype == "BYTES":
        return serialize_bytes(array)
    order = array.dtype.byteorder
    if order == ">" or (order == "=" and not np.little_endian):
        array = array.astype(array.dtype.newbyteorder("<"))
    return array.tobytes()  # C order, contiguous or not


_NAMES = {np.dtype(dtype): name for name, dtype in _DTYPES.items()}


def datatype_of(array: npt.NDArray[Any]) -> str:
    """The protocol's datatype name of ``array``."""
    name = _NAMES.get(array.dtype)
    if name is None:
        raise ValueError(f"no protocol datatype for {array.dtype}")
    return name
