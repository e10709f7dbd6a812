"""scikit-learn token patterns become RE2 patterns that find the same tokens in ONNX
Runtime's tokenizer, or are refused with one line."""

from __future__ import annotations

import re

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from mlserve.converters.token_pattern import translate_token_pattern
from mlserve.errors import ConversionError

TEXTS = [
    "génial café a bb 東京タワー 😀 x1 ÉCOLE",
    "naïve_test 123 4 ½ ٣٤ hello-world",
    "tabs\tand\u00a0nbsp  x\u3000y",
    "Straße ñandú Ωμέγα हिन्दी भाषा",
    "a.b,c;d e!f",
]
PAD = "\x00"


def onnx_tokens(pattern: str, texts: list[str]) -> list[list[str]]:
    node = helper.make_node(
        "Tokenizer", ["x"], ["y"], domain="com.microsoft",
        tokenexp=pattern, mark=0, mincharnum=1, pad_value=PAD,
    )  # fmt: skip
    graph = helper.make_graph(
        [node],
        "tokenize",
        [helper.make_tensor_value_info("x", TensorProto.STRING, None)],
        [helper.make_tensor_value_info("y", TensorProto.STRING, None)],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (tokens,) = session.run(None, {"x": np.array(texts, dtype=object)})
    return [[t for t in row if t != PAD] for row in tokens]


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?u)\b\w\w+\b",
        r"\b\w+\b",
        r"(?u)\b\w\w\w+\b",
        r"\w+",
        r"\S+",
        r"[^\s,;.]+",
        r"\d+",
        r"[a-zA-Z]{2,}",
        r"(\w+)",
        r"\w+(?:-\w+)*",
    ],
)
def test_translated_patterns_find_what_python_finds(pattern: str) -> None:
    translated = translate_token_pattern(pattern)

    assert onnx_tokens(translated, TEXTS) == [re.findall(pattern, t) for t in TEXTS]


def test_the_default_pattern_becomes_unicode_word_runs() -> None:
    assert translate_token_pattern(r"(?u)\b\w\w+\b") == r"[\p{L}\p{N}_]{2,}"


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"\b[a-z]+\b", "uses \\b or \\B other than around \\w+"),
        (r"(?<=x)\w+", "uses assert"),
        (r"(\w)(\w)", "more than one capturing group"),
        (r"a(\w+)", "capturing group that is not the whole pattern"),
        (r"\w*", "matches the empty string"),
        (r"(?i)[a-z]+", "ignores case"),
        (r"\w+\B\w", "uses \\b or \\B"),
        (r"[", "is not a valid regex"),
    ],
)
def test_untranslatable_patterns_are_refused_with_one_line(pattern: str, reason: str) -> None:
    with pytest.raises(ConversionError) as caught:
        translate_token_pattern(pattern)

    message = caught.value.message
    assert reason in message
    assert repr(pattern) in message
    assert "\n" not in message
