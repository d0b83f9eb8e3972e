"""JSON that came from outside (request bodies, token segments), decoded one strict way.

RFC 8259 leaves much to the parser: a name given twice in one object (one parser keeps
the first, another the last, so signed evidence could be read two ways), lone
surrogates, NaN, numbers past any float. What is refused here is refused for every
caller: text that is not UTF-8 or not exactly one JSON value, nesting deeper than
MAX_DEPTH, a name twice in one object, non-numbers and overflowing numbers, lone
surrogates, and control characters in strings other than tab, line feed and carriage
return (they reach PostgreSQL as errors, terminals as escapes, and logs as forged lines).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Deeper than any document of the contract by far; shallow enough that nothing that
# walks a decoded value (canonical encoding, msgspec) comes near Python's recursion limit.
MAX_DEPTH = 32

# Nesting is measured on the text before it is decoded, so that no decoder recurses into
# hostile depth: a RecursionError inside C code is not a state to rely on. Strings are
# dropped, then innermost empty pairs, once per level.
_NOT_BRACKETS = re.compile(r'"[^"]*"|[^\[\]{}"]+')
_NOT_BRACKETS_ESCAPED = re.compile(r'"(?:[^"\\]|\\.)*"|[^\[\]{}"]+')
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class RefusedJSON(ValueError):
    """Why a JSON text was refused; `field` names the string at fault, when one is."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason if field is None else f"{field}: {reason}")
        self.reason = reason
        self.field = field


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        names = [name for name, _ in pairs]
        twice = next(name for name in names if names.count(name) > 1)
        raise RefusedJSON(f"the name {twice!r} appears twice in one object")
    return found


def _constant(name: str) -> Any:
    raise RefusedJSON(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RefusedJSON(f"the number {text[:20]} is out of range")
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant,
                            parse_float=_float)


def decode(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The value of one JSON text, or RefusedJSON saying why not."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise RefusedJSON(f"not UTF-8 (byte {exc.start})") from None
    # Brackets inside strings count too: a cheap bound that spares most texts the measure.
    if text.count("[") + text.count("{") > max_depth and _nested_deeper(text, max_depth):
        raise RefusedJSON(f"nested deeper than {max_depth}, or unbalanced")
    try:
        value = _DECODER.decode(text)
    except RefusedJSON:
        raise
    except ValueError as exc:  # JSONDecodeError, or an integer of over 4300 digits
        raise RefusedJSON(f"not JSON: {exc}") from None
    # A forbidden character is escaped (after a backslash), raw DEL, or raw C1 (not
    # ASCII): text with none of them, most text on the hot path, needs no walk.
    if "\\" in text or "\x7f" in text or not text.isascii():
        _check_text(value, "")
    return value


def _nested_deeper(text: str, max_depth: int) -> bool:
    pattern = _NOT_BRACKETS_ESCAPED if "\\" in text else _NOT_BRACKETS
    brackets = pattern.sub("", text)
    for _ in range(max_depth):
        if not brackets:
            return False
        brackets = _EMPTY_PAIR.sub("", brackets)
    return bool(brackets)


def _check_text(value: Any, path: str) -> None:
    if isinstance(value, str):
        if _FORBIDDEN.search(value):
            _refuse_text(value, path or "body")
    elif isinstance(value, dict):
        for name, item in value.items():
            inner = f"{path}.{name}" if path else name
            if _FORBIDDEN.search(name):
                _refuse_text(name, f"{path or 'body'} (a name)")
            _check_text(item, inner)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, f"{path}[{i}]")


def _refuse_text(text: str, field: str) -> None:
    bad = _FORBIDDEN.search(text)
    assert bad is not None
    char = bad.group()
    if "\ud800" <= char <= "\udfff":
        raise RefusedJSON(f"holds a lone surrogate (U+{ord(char):04X})")
    raise RefusedJSON(f"holds the control character U+{ord(char):04X}", field)
