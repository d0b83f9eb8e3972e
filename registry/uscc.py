"""Unified social credit codes (GB 32100-2015): the check character that catches typos."""

from __future__ import annotations

# GB 32100-2015 excludes I, O, Z, S and V so that codes survive handwriting.
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(_ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_problem(code: str) -> str | None:
    """Why `code` is not a valid USCC, or None when it is."""
    if len(code) != 18:
        return "must be 18 characters"
    bad = [ch for ch in code if ch not in _VALUE]
    if bad:
        return f"character {bad[0]!r} is not allowed"
    total = sum(_VALUE[ch] * w for ch, w in zip(code[:17], _WEIGHTS, strict=True))
    expected = _ALPHABET[(31 - total % 31) % 31]
    if code[17] != expected:
        return "check digit mismatch"
    return None
