"""BYTES tensors in binary form (mlserve/triton/tensors.py: Triton's answers, our /v2) are
written and read exactly as tritonclient writes and reads them."""

from __future__ import annotations

import numpy as np
import pytest
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

from mlserve.triton.tensors import deserialize_bytes, serialize_bytes

CASES = [
    np.array([[b"positive"]], dtype=np.object_),
    np.array([b"", b"a", "caf\u00e9".encode(), b"\x00\xff" * 40], dtype=np.object_),
    np.array([["one", "two"], ["three", ""]], dtype=np.object_),  # str: written as UTF-8
    np.array([], dtype=np.object_),
]


@pytest.mark.parametrize("array", CASES)
def test_written_as_tritonclient_writes_and_read_back(array: np.ndarray) -> None:
    theirs = serialize_byte_tensor(array)
    expected = bytes(theirs.item()) if theirs.size else b""
    assert serialize_bytes(array) == expected
    ours = deserialize_bytes(expected)
    if expected:
        assert ours.tolist() == deserialize_bytes_tensor(expected).tolist()
    assert ours.dtype == np.object_
    assert ours.size == array.size


@pytest.mark.parametrize(
    "raw",
    [b"\x05\x00\x00", b"\x05\x00\x00\x00abc", b"\x01\x00\x00\x00a\x02"],
    ids=["cut-length", "element-past-end", "trailing-partial-length"],
)
def test_malformed_binary_data_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="BYTES"):
        deserialize_bytes(raw)
