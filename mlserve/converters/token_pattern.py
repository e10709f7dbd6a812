"""scikit-learn ``token_pattern`` (Python ``re``) to an RE2 pattern with the same matches.

ONNX Runtime's ``Tokenizer`` runs RE2, whose ``\\w``, ``\\d``, ``\\s`` and ``\\b`` are
ASCII-only, while scikit-learn's patterns run under Python's Unicode rules: ``\\w`` is
every letter, number and ``_`` ("génial" is one word, not "g" + "nial"). The translation
walks Python's own parse of the pattern and writes each piece in RE2 syntax with the
Unicode classes spelt out (``\\w`` -> ``[\\p{L}\\p{N}_]``, ``\\d`` -> ``\\p{Nd}``, ``\\s`` ->
the characters ``str.isspace`` accepts). RE2 has no Unicode word boundary, so ``\\b`` is
accepted only where it cannot change a match: around a greedy run of ``\\w`` (the default
``(?u)\\b\\w\\w+\\b`` becomes ``[\\p{L}\\p{N}_]{2,}``). Everything RE2 lacks (look-around,
back-references, other ``\\b``) raises :class:`ConversionError` with one line naming the
pattern and what to change.
"""

from __future__ import annotations

import re
from functools import lru_cache
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from mlserve.errors import ConversionError

WORD_CLASS = r"\p{L}\p{N}_"
"""Python's Unicode ``\\w`` (``str.isalnum()`` or ``_``) inside an RE2 character class."""
DIGIT_CLASS = r"\p{Nd}"
_ASCII_WORD = "a-zA-Z0-9_"
_ASCII_SPACE = r"\t\n\x0b\f\r "
_WORKAROUND = "use a pattern without it, e.g. the default (?u)\\b\\w\\w+\\b, \\w+ or \\S+"

c = sre_constants


@lru_cache(maxsize=1)
def python_whitespace() -> str:
    """Every character ``str.isspace`` (and so Python's ``\\s`` and ``str.split``) accepts."""
    return "".join(chr(i) for i in range(0x3001) if chr(i).isspace())


def space_class() -> str:
    """Python's Unicode ``\\s`` inside an RE2 character class."""
    return "".join(_escape(ord(ch)) for ch in python_whitespace())


def translate_token_pattern(pattern: str) -> str:
    """The RE2 pattern that finds the tokens ``re.findall(pattern, text)`` finds."""
    try:
        compiled = re.compile(pattern)
        parsed = sre_parse.parse(pattern, compiled.flags)
    except re.error as exc:
        raise ConversionError(f"token_pattern {pattern!r} is not a valid regex ({exc})") from None
    if compiled.groups > 1:
        raise _refusal(pattern, "has more than one capturing group (scikit-learn rejects it)")
    if compiled.flags & re.IGNORECASE:
        raise _refusal(pattern, "ignores case ((?i): RE2 folds Unicode case differently)")
    if compiled.match(""):
        raise _refusal(pattern, "matches the empty string")
    flags = compiled.flags
    emitter = _Emitter(pattern, ascii_only=bool(flags & re.ASCII))
    items = list(parsed)
    if compiled.groups == 1 and (len(items) != 1 or items[0][0] is not c.SUBPATTERN):
        raise _refusal(
            pattern,
            "has a capturing group that is not the whole pattern (scikit-learn then "
            "keeps only the group; the ONNX tokenizer keeps the whole match)",
        )
    body = emitter.sequence(_drop_word_boundaries(pattern, items))
    prefix = "".join(flag for bit, flag in ((re.MULTILINE, "m"), (re.DOTALL, "s")) if flags & bit)
    return f"(?{prefix}){body}" if prefix else body


def _refusal(pattern: str, what: str) -> ConversionError:
    return ConversionError(
        f"token_pattern {pattern!r} {what}, which the ONNX tokenizer (RE2) cannot reproduce: "
        f"{_WORKAROUND}"
    )


def _is_word_item(item: tuple[Any, Any]) -> int | None:
    """How many ``\\w`` characters ``item`` matches at least when it is ``\\w``, ``\\w+``,
    ``\\w{n,}``..., else None."""
    op, av = item
    if op is c.IN and list(av) == [(c.CATEGORY, c.CATEGORY_WORD)]:
        return 1
    if op is c.MAX_REPEAT:
        low, high, sub = av
        if high is c.MAXREPEAT and len(sub) == 1 and _is_word_item(sub[0]) == 1:
            return int(low)
    return None


def _drop_word_boundaries(pattern: str, items: list[Any]) -> list[Any]:
    """Remove ``\\b`` around a greedy run of ``\\w`` (where it cannot change a match)."""
    inner = items
    if len(inner) == 1 and inner[0][0] is c.SUBPATTERN:
        inner = list(inner[0][1][-1])
    starts = bool(inner) and inner[0] == (c.AT, c.AT_BOUNDARY)
    ends = bool(inner) and inner[-1] == (c.AT, c.AT_BOUNDARY)
    body = inner[int(starts) : len(inner) - int(ends)]
    if (starts or ends) and body:
        counts = [_is_word_item(i) for i in body]
        unbounded = body[-1][0] is c.MAX_REPEAT
        if all(n is not None for n in counts) and unbounded:
            total = sum(n for n in counts if n is not None)
            return [(c.MAX_REPEAT, (total, c.MAXREPEAT, [(c.IN, [(c.CATEGORY, c.CATEGORY_WORD)])]))]
    for item in inner:
        if item[0] is c.AT and item[1] in (c.AT_BOUNDARY, c.AT_NON_BOUNDARY):
            raise _refusal(pattern, "uses \\b or \\B other than around \\w+")
    return items


class _Emitter:
    def __init__(self, pattern: str, *, ascii_only: bool) -> None:
        self.pattern = pattern
        self.ascii_only = ascii_only

    def sequence(self, items: Any) -> str:
        return "".join(self.item(op, av) for op, av in items)

    def item(self, op: Any, av: Any) -> str:
        if op is c.LITERAL:
            return _escape(av)
        if op is c.NOT_LITERAL:
            return f"[^{_escape(av)}]"
        if op is c.ANY:
            return "."
        if op is c.IN:
            return self.char_class(av)
        if op is c.CATEGORY:
            return f"[{self.category(av)}]" if not _negated(av) else f"[^{self.category(av)}]"
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, high, sub = av
            upper = "" if high is c.MAXREPEAT else str(high)
            body = self.sequence(sub)
            if len(sub) != 1 or sub[0][0] in (c.SUBPATTERN, c.BRANCH):
                body = f"(?:{body})"
            lazy = "?" if op is c.MIN_REPEAT else ""
            return f"{body}{{{low},{upper}}}{lazy}" if upper != str(low) else f"{body}{{{low}}}"
        if op is c.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if add_flags & ~re.UNICODE or del_flags:
                raise _refusal(self.pattern, "sets flags inside a group")
            return f"(?:{self.sequence(sub)})"
        if op is c.BRANCH:
            return "(?:" + "|".join(self.sequence(b) for b in av[1]) + ")"
        if op is c.AT:
            anchors = {
                c.AT_BEGINNING: "^",
                c.AT_BEGINNING_STRING: r"\A",
                c.AT_END: "$",
                c.AT_END_STRING: r"\z",
            }
            if av in anchors:
                return anchors[av]
            raise _refusal(self.pattern, "uses \\b or \\B other than around \\w+")
        raise _refusal(self.pattern, f"uses {str(op).lower()}")

    def char_class(self, items: Any) -> str:
        negate = bool(items) and items[0][0] is c.NEGATE
        parts = []
        for op, av in items[int(negate) :]:
            if op is c.LITERAL:
                parts.append(_escape(av))
            elif op is c.RANGE:
                parts.append(f"{_escape(av[0])}-{_escape(av[1])}")
            elif op is c.CATEGORY and not _negated(av):
                parts.append(self.category(av))
            elif op is c.CATEGORY and not negate and len(items) == 1:
                return f"[^{self.category(av)}]"
            else:
                raise _refusal(self.pattern, "negates a class inside a character set")
        return f"[{'^' if negate else ''}{''.join(parts)}]"

    def category(self, av: Any) -> str:
        name = str(av).replace("CATEGORY_NOT_", "").replace("CATEGORY_", "")
        if name == "WORD":
            return _ASCII_WORD if self.ascii_only else WORD_CLASS
        if name == "DIGIT":
            return "0-9" if self.ascii_only else DIGIT_CLASS
        if name == "SPACE":
            return _ASCII_SPACE if self.ascii_only else space_class()
        raise _refusal(self.pattern, f"uses the category {name.lower()}")


def _negated(av: Any) -> bool:
    return "NOT" in str(av)


def _escape(code: int) -> str:
    ch = chr(code)
    if ch.isascii() and ch.isalnum():
        return ch
    return f"\\x{{{code:x}}}"
