"""scikit-learn's ``CountVectorizer``/``TfidfVectorizer`` (and a following
``TfidfTransformer``) as an ONNX graph that computes what scikit-learn computes.

skl2onnx's own converter is not exact (its tokenizer replaces the default token pattern
by ``[a-zA-Z0-9_]+``, ``sublinear_tf`` becomes ``log(tf + 1)``, stop words are matched
against whole texts, ``char_wb`` is missing), so the vectorizer is built here and only the
estimators after it are left to skl2onnx. The graph, from ``text`` (STRING ``[N, 1]``) to
``features`` (FLOAT ``[N, V]``, V = ``len(vocabulary_)``):

* ``lowercase``: ``StringNormalizer`` (LOWER, locale pinned to ``C.UTF-8``);
* ``analyzer="word"``: ``Tokenizer`` with the token pattern translated to RE2
  (:mod:`mlserve.converters.token_pattern`); stop words are removed from the token list
  before n-grams are formed, as scikit-learn does (a sort moves them behind the kept
  tokens, then they become padding);
* ``analyzer="char"``: one token per character, runs of two or more whitespace characters
  collapsed to one space (scikit-learn's ``\\s\\s+`` -> ``" "``);
* ``analyzer="char_wb"``: words (split on Python whitespace) padded with one space each,
  character n-grams counted per word, plus scikit-learn's extra count of a whole padded
  word shorter than the smallest n;
* ``TfIdfVectorizer`` (ONNX, mode TF) counts the vocabulary's n-grams; then ``binary``,
  ``sublinear_tf`` (``1 + log(tf)`` for non-zero counts), ``idf_`` and ``norm`` (l1/l2).

What cannot be reproduced is refused before conversion with one line
(:func:`check_vectorizer`): ``HashingVectorizer``, ``strip_accents``, custom
``preprocessor``/``tokenizer``/``analyzer`` callables, untranslatable token patterns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

from mlserve.converters.token_pattern import python_whitespace, translate_token_pattern
from mlserve.errors import ConversionError

STRING_LOCALE = "C.UTF-8"
FEATURES = "mlserve_vectorized"
"""Name of the vectorizer's output, the input of the estimators after it."""
_P = "mlserve_vec_"


def check_vectorizer(vectorizer: Any) -> None:
    """Refuse, with one line, what the graph cannot reproduce exactly."""
    kind = type(vectorizer).__name__
    if kind == "HashingVectorizer":
        raise ConversionError(
            "HashingVectorizer cannot be served exactly (ONNX has no scikit-learn-compatible "
            "hashing of tokens into its 2**20 columns): train with TfidfVectorizer or "
            "CountVectorizer instead"
        )
    if kind not in ("TfidfVectorizer", "CountVectorizer"):
        raise ConversionError(f"{kind} is not a supported text vectorizer")
    if callable(vectorizer.analyzer):
        raise ConversionError(
            f"{kind}(analyzer=<function>) runs Python code ONNX cannot reproduce: use "
            "analyzer='word', 'char' or 'char_wb'"
        )
    for option in ("preprocessor", "tokenizer"):
        if getattr(vectorizer, option, None) is not None:
            raise ConversionError(
                f"{kind}({option}=<function>) runs Python code ONNX cannot reproduce: "
                f"leave {option} unset and clean the texts before training"
            )
    if vectorizer.strip_accents is not None:
        raise ConversionError(
            f"{kind}(strip_accents={vectorizer.strip_accents!r}) has no ONNX equivalent "
            "(Unicode decomposition): strip accents from the texts before training and "
            "before sending them, and train with strip_accents=None"
        )
    if not getattr(vectorizer, "vocabulary_", None):
        raise ConversionError(f"{kind} is not fitted: fit the pipeline before exporting")
    if vectorizer.analyzer == "word":
        pattern = translate_token_pattern(vectorizer.token_pattern)
        if vectorizer.ngram_range[1] > 1 and any(" " in w for w in vectorizer.vocabulary_):
            import re

            if any(
                any(ch.isspace() for ch in t)
                for t in re.findall(vectorizer.token_pattern, "a b\tc d")
            ):
                raise ConversionError(
                    f"token_pattern {vectorizer.token_pattern!r} matches whitespace, so "
                    "n-grams of its tokens are ambiguous: use a pattern without whitespace"
                )
        del pattern


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{_P}{stem}_{self.count}"

    def const(self, stem: str, value: Any) -> str:
        name = self.name(stem)
        array = np.asarray(value)
        if array.dtype.kind in "OUS":
            values: Any = [str(v).encode() for v in array.ravel()]
            tensor = helper.make_tensor(name, TensorProto.STRING, array.shape, values)
        else:
            tensor = numpy_helper.from_array(array, name)
        self.initializers.append(tensor)
        return name

    def op(self, op_type: str, inputs: list[str], stem: str | None = None, **attrs: Any) -> str:
        output = self.name(stem or op_type.lower())
        domain = attrs.pop("domain", "")
        self.nodes.append(
            helper.make_node(op_type, inputs, [output], name=output, domain=domain, **attrs)
        )
        return output

    def op_n(self, op_type: str, inputs: list[str], n_out: int, **attrs: Any) -> list[str]:
        outputs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=outputs[0], **attrs))
        return outputs


def build_vectorizer(
    vectorizer: Any, transformer: Any | None, text_input: str
) -> tuple[list[NodeProto], list[TensorProto]]:
    """Nodes and initializers computing :data:`FEATURES` from ``text_input`` ([N, 1])."""
    check_vectorizer(vectorizer)
    g = _Graph()
    pad = _pad_value(vectorizer.vocabulary_)
    text = g.op("Reshape", [text_input, g.const("flat", np.array([-1], dtype=np.int64))])
    if vectorizer.lowercase:
        text = g.op("StringNormalizer", [text], case_change_action="LOWER", locale=STRING_LOCALE)
    analyzer = vectorizer.analyzer
    min_n, max_n = vectorizer.ngram_range
    if analyzer == "word":
        tokens = g.op(
            "Tokenizer",
            [text],
            domain="com.microsoft",
            tokenexp=translate_token_pattern(vectorizer.token_pattern),
            mark=0,
            mincharnum=1,
            pad_value=pad,
        )
        stop_words = sorted(vectorizer.get_stop_words() or ())
        if stop_words and max_n > 1:
            tokens = _remove(g, tokens, _lookup(g, tokens, stop_words), pad)
        counts = _count_ngrams(g, tokens, vectorizer.vocabulary_, min_n, max_n, split=_words)
    elif analyzer == "char":
        chars = _collapse_whitespace(g, _chars(g, text, pad), pad)
        counts = _count_ngrams(g, chars, vectorizer.vocabulary_, min_n, max_n, split=list)
    elif analyzer == "char_wb":
        counts = _char_wb_counts(g, text, vectorizer.vocabulary_, min_n, max_n, pad)
    else:
        raise ConversionError(f"analyzer {analyzer!r} is not supported")
    features = _weight(g, counts, vectorizer, transformer)
    g.nodes.append(helper.make_node("Identity", [features], [FEATURES], name=f"{_P}out"))
    return g.nodes, g.initializers


def _pad_value(vocabulary: dict[str, int]) -> str:
    pad = "\x00pad"
    while pad in vocabulary or any(pad in key for key in vocabulary):
        pad += "\x00"
    return pad


def _words(key: str) -> list[str]:
    return key.split(" ")


def _count_ngrams(
    g: _Graph,
    tokens: str,
    vocabulary: dict[str, int],
    min_n: int,
    max_n: int,
    split: Any,
    width: int | None = None,
) -> str:
    """``TfIdfVectorizer`` (TF mode): counts of each vocabulary n-gram per row."""
    entries = sorted((len(split(key)), split(key), index) for key, index in vocabulary.items())
    pool: list[str] = []
    starts = []
    indexes = []
    for n in range(1, max_n + 1):
        starts.append(len(pool))
        for length, parts, index in entries:
            if length == n:
                pool.extend(parts)
                indexes.append(index)
    if len(indexes) != len(vocabulary):
        raise ConversionError("the vocabulary has n-grams outside ngram_range; refit it")
    width = width or max(vocabulary.values()) + 1
    counts = g.op(
        "TfIdfVectorizer",
        [tokens],
        mode="TF",
        min_gram_length=min_n,
        max_gram_length=max_n,
        max_skip_count=0,
        pool_strings=pool,
        ngram_counts=starts,
        ngram_indexes=indexes,
        weights=[1.0] * len(indexes),
    )
    # An empty batch of tokens ([N, 0]) gives [N, 0] or [0]; reshape to [N, V'] either way
    # (V' = the largest index counted + 1), then pad to the vocabulary's width.
    produced = max(indexes) + 1
    shape = g.const("counts_shape", np.array([-1, produced], dtype=np.int64))
    counts = g.op("Reshape", [counts, shape])
    if produced < width:
        pads = g.const("wpad", np.array([0, 0, 0, width - produced], dtype=np.int64))
        counts = g.op("Pad", [counts, pads])
    return counts


def _lookup(g: _Graph, tokens: str, keys: list[str]) -> str:
    """INT64 mask, 1 where the token is one of ``keys``."""
    return g.op(
        "LabelEncoder",
        [tokens],
        domain="ai.onnx.ml",
        keys_strings=keys,
        values_int64s=[1] * len(keys),
        default_int64=0,
    )


def _remove(g: _Graph, tokens: str, drop: str, pad: str) -> str:
    """Move the tokens where ``drop`` is 1 behind the others (order kept) and pad them."""
    shape = g.op("Shape", [tokens])
    width = g.op(
        "Slice",
        [shape, g.const("one", np.array([1], dtype=np.int64)), g.const("two", np.array([2]))],
    )
    width_scalar = g.op("Squeeze", [width])
    positions = g.op(
        "Range",
        [g.const("zero", np.array(0, dtype=np.int64)), width_scalar, g.const("step", np.array(1))],
    )
    big = g.op("Mul", [drop, g.op("Add", [width_scalar, g.const("one_s", np.array(1))])])
    key = g.op("Add", [big, positions])
    _, order = g.op_n("TopK", [key, width], 2, axis=1, largest=0, sorted=1)
    moved = g.op("GatherElements", [tokens, order], axis=1)
    moved_drop = g.op("GatherElements", [drop, order], axis=1)
    is_dropped = g.op("Cast", [moved_drop], to=TensorProto.BOOL)
    return g.op("Where", [is_dropped, g.const("pad", np.array([pad], dtype=object)), moved])


def _chars(g: _Graph, text: str, pad: str) -> str:
    return g.op(
        "Tokenizer",
        [text],
        domain="com.microsoft",
        separators=[""],
        mark=0,
        mincharnum=1,
        pad_value=pad,
    )


def _shift(g: _Graph, mask: str, right: bool) -> str:
    """``mask`` shifted one column (filled with 0), to see a neighbour's value."""
    pads = [0, 1, 0, 0] if right else [0, 0, 0, 1]
    padded = g.op("Pad", [mask, g.const("pads", np.array(pads, dtype=np.int64))])
    start, end = (0, -1) if right else (1, np.iinfo(np.int64).max)
    return g.op(
        "Slice",
        [
            padded,
            g.const("start", np.array([start], dtype=np.int64)),
            g.const("end", np.array([end], dtype=np.int64)),
            g.const("axis", np.array([1], dtype=np.int64)),
        ],
    )


def _collapse_whitespace(g: _Graph, chars: str, pad: str) -> str:
    """scikit-learn's ``re.sub(r"\\s\\s+", " ", text)`` on a matrix of characters."""
    space = _lookup(g, chars, list(python_whitespace()))
    before = _shift(g, space, right=True)
    after = _shift(g, space, right=False)
    in_run = g.op("Mul", [space, g.op("Max", [before, after])])
    spaced = g.op(
        "Where",
        [
            g.op("Cast", [in_run], to=TensorProto.BOOL),
            g.const("sp", np.array([" "], dtype=object)),
            chars,
        ],
    )
    return _remove(g, spaced, g.op("Mul", [space, before]), pad)


def _char_wb_counts(
    g: _Graph, text: str, vocabulary: dict[str, int], min_n: int, max_n: int, pad: str
) -> str:
    """Character n-grams inside each space-padded word, summed over the words.

    scikit-learn also counts a padded word shorter than the smallest n once, whole (its
    loop appends ``w[0:n]`` once and stops): a second count over the keys that are whole
    words (start and end with a space) shorter than the smallest n adds exactly that."""
    space = "".join(f"\\x{{{ord(ch):x}}}" for ch in python_whitespace())
    words = g.op(
        "Tokenizer",
        [text],
        domain="com.microsoft",
        tokenexp=f"[^{space}]+",
        mark=0,
        mincharnum=1,
        pad_value=pad,
    )
    is_word = g.op(
        "Cast",
        [g.op("Sub", [g.const("i1", np.array(1)), _lookup(g, words, [pad])])],
        to=TensorProto.FLOAT,
    )
    chars = _chars(g, words, pad)  # [N, W, C]
    rows = g.const("rows", np.array([-1], dtype=np.int64))
    shape = g.op("Shape", [chars])
    width = g.op(
        "Slice", [shape, g.const("s2", np.array([2], dtype=np.int64)), g.const("e3", np.array([3]))]
    )
    flat = g.op("Reshape", [chars, g.op("Concat", [rows, width], axis=0)])  # [N*W, C]
    column = g.op(
        "Concat",
        [
            g.op(
                "Slice",
                [g.op("Shape", [flat]), g.const("s0", np.array([0])), g.const("e1", np.array([1]))],
            ),
            g.const("c1", np.array([1], dtype=np.int64)),
        ],
        axis=0,
    )
    blank = g.op("Expand", [g.const("blank", np.array([[" "]], dtype=object)), column])
    framed = g.op("Concat", [blank, flat, blank], axis=1)
    # move the padding between the word and its closing space to the end
    framed = _remove(g, framed, _lookup(g, framed, [pad]), pad)
    width_v = max(vocabulary.values()) + 1
    regular = {k: v for k, v in vocabulary.items() if min_n <= len(k) <= max_n}
    counts = _count_ngrams(g, framed, regular, min_n, max_n, split=list, width=width_v)
    whole = {
        k: v
        for k, v in vocabulary.items()
        if len(k) >= 3 and k[0] == k[-1] == " " and " " not in k[1:-1] and len(k) < min_n
    }
    if whole:
        lengths = [len(k) for k in whole]
        extra = _count_ngrams(
            g, framed, whole, min(lengths), max(lengths), split=list, width=width_v
        )
        counts = g.op("Add", [counts, extra])
    grid = g.op(
        "Concat",
        [g.op("Shape", [words]), g.const("v", np.array([width_v], dtype=np.int64))],
        axis=0,
    )
    per_word = g.op("Reshape", [counts, grid])
    mask = g.op("Unsqueeze", [is_word, g.const("ax2", np.array([2], dtype=np.int64))])
    masked = g.op("Mul", [per_word, mask])
    return g.op("ReduceSum", [masked, g.const("ax1c", np.array([1], dtype=np.int64))], keepdims=0)


def _weight(g: _Graph, counts: str, vectorizer: Any, transformer: Any | None) -> str:
    """binary, then (TF-IDF) sublinear tf, idf and the norm, as scikit-learn applies them."""
    x = counts
    if vectorizer.binary:
        x = g.op("Min", [x, g.const("fone", np.array(1.0, dtype=np.float32))])
    tfidf = transformer
    if tfidf is None and type(vectorizer).__name__ == "TfidfVectorizer":
        tfidf = vectorizer
    if tfidf is None:
        return x
    if tfidf.sublinear_tf:
        one = g.const("fone_s", np.array(1.0, dtype=np.float32))
        logged = g.op("Log", [g.op("Max", [x, one])])
        present = g.op(
            "Cast",
            [g.op("Greater", [x, g.const("fzero", np.array(0.0, dtype=np.float32))])],
            to=TensorProto.FLOAT,
        )
        x = g.op("Add", [logged, present])
    if tfidf.use_idf:
        x = g.op("Mul", [x, g.const("idf", np.asarray(tfidf.idf_, dtype=np.float32))])
    if tfidf.norm is None:
        return x
    axis = g.const("axn", np.array([1], dtype=np.int64))
    if tfidf.norm == "l2":
        norm = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [x, x]), axis], keepdims=1)])
    elif tfidf.norm == "l1":
        norm = g.op("ReduceSum", [g.op("Abs", [x]), axis], keepdims=1)
    else:
        raise ConversionError(f"norm {tfidf.norm!r} is not supported: use 'l1', 'l2' or None")
    zero = g.op("Equal", [norm, g.const("fzero_n", np.array(0.0, dtype=np.float32))])
    safe = g.op("Where", [zero, g.const("fone_n", np.array(1.0, dtype=np.float32)), norm])
    return g.op("Div", [x, safe])
