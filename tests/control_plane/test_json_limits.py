"""Unit tests of the JSON nesting scan that guards every JSON route before parsing."""

from __future__ import annotations

import json

import pytest

from mlserve.control_plane.json_limits import MAX_JSON_DEPTH, check_json_depth, json_depth
from mlserve.errors import InvalidInputError


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"", 0),
        (b"12", 0),
        (b"{}", 1),
        (b'{"inputs": [{"age": 31}]}', 3),
        (b'["[[[[", "{{{{"]', 1),
        (b'{"a": "x\\"[[[[", "b": [[]]}', 3),
        (b'["back\\\\", [["x"]]]', 3),
        (b'"unterminated [[[[', 0),
        (b"[" * 1000 + b"]" * 1000, 1000),
    ],
)
def test_depth_counts_brackets_outside_strings(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth


def test_depth_agrees_with_the_parser_on_real_documents() -> None:
    doc = {"feedback": [{"prediction_id": "p]{", "true_value": [1, {"x": [2]}]}] * 50}
    assert json_depth(json.dumps(doc).encode()) == 6


def test_too_deep_bodies_are_refused_naming_the_limit() -> None:
    check_json_depth(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    with pytest.raises(InvalidInputError, match=f"1000 levels deep; the limit is {MAX_JSON_DEPTH}"):
        check_json_depth(b"[" * 1000 + b"]" * 1000)
