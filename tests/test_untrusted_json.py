"""registry/untrusted_json.py: what it refuses and why, and what it keeps as it came."""

from __future__ import annotations

from typing import Any

import pytest

from registry.untrusted_json import MAX_DEPTH, RefusedJSON, decode


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (_nested(MAX_DEPTH), eval(_nested(MAX_DEPTH))),  # noqa: S307 - a literal of lists
        ('["' + "[" * 100 + '"]', ["[" * 100]),
        ('{"a\\"[[[[[[": ' + _nested(3) + "}", {'a"[[[[[[': [[[]]]}),
        ('{"x": "tab\\tline\\ncr\\r"}', {"x": "tab\tline\ncr\r"}),
        ('{"x": [1, null, "\\t"]}', {"x": [1, None, "\t"]}),
        ('"\\ud83d\\ude00"', "\U0001f600"),
        ('{"n": 1.5e3, "i": -12}', {"n": 1500.0, "i": -12}),
        (b'{"name": "\xe6\xb5\x8b"}', {"name": "测"}),
    ],
)
def test_plain_json_is_decoded(text: str | bytes, value: Any) -> None:
    assert decode(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_nested(MAX_DEPTH + 1), "nested deeper"),
        ('{"a": ' * 5000 + "1" + "}" * 5000, "nested deeper"),
        ("[" * 40 + "]" * 39, "nested deeper"),
        (b'"\xff"', "not UTF-8"),
        (b'"\xed\xa0\x80"', "not UTF-8"),
        ('{"a": 1, "a": 1}', "appears twice"),
        ('[{"b": {"c": 1, "c": 2}}]', "appears twice"),
        ("NaN", "not a JSON number"),
        ("[-Infinity]", "not a JSON number"),
        ("1e999", "out of range"),
        ("9" * 5000, "not JSON"),
        ('"\\ud800"', "lone surrogate"),
        ('["ok", "\\udc00x"]', "lone surrogate"),
        ("\ufeff{}", "not JSON"),
        ("{} {}", "not JSON"),
        ("", "not JSON"),
    ],
)
def test_malformed_texts_are_refused_without_a_field(text: str | bytes, reason: str) -> None:
    with pytest.raises(RefusedJSON) as refused:
        decode(text)
    assert reason in refused.value.reason
    assert refused.value.field is None


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"name": "\\u0000"}', "name"),
        ('{"a": {"b": ["ok", "x\\u001by"]}}', "a.b[1]"),
        ('{"a": "del\x7f"}', "a"),
        ('{"a": "c1\x85"}', "a"),
        ('{"a": "\\b"}', "a"),
        ('"\\f"', "body"),
        ('{"k\\u0000": 1}', "body (a name)"),
    ],
)
def test_control_characters_name_their_field(text: str, field: str) -> None:
    with pytest.raises(RefusedJSON) as refused:
        decode(text)
    assert refused.value.field == field
    assert "control character" in refused.value.reason
