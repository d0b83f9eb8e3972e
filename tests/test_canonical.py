"""The canonical encoding and the chain hash match docs/change-log.md byte for byte."""

from __future__ import annotations

from typing import Any

import pytest

from registry.canonical import canonical, check_loggable, sha256_hex
from registry.changelog import GENESIS, Change, chain, entry_hash


@pytest.mark.parametrize(
    ("value", "spelled"),
    [
        ({"b": [1, "é"], "a": None, "A": "x\ny"}, b'{"A":"x\\ny","a":null,"b":[1,"\xc3\xa9"]}'),
        ("\x00\x08\t\n\x0c\r\x1f\x7f/\u2028", b'"\\u0000\\b\\t\\n\\f\\r\\u001f\x7f/\xe2\x80\xa8"'),
        ('"\\', b'"\\"\\\\"'),
        ({"\uffff": 1, "\U0001f600": 2, "z": 3}, '{"z":3,"\uffff":1,"\U0001f600":2}'.encode()),
        ([True, False, -17, 0, 2**53 - 1], b"[true,false,-17,0,9007199254740991]"),
    ],
)
def test_canonical_spelling(value: Any, spelled: bytes) -> None:
    assert canonical(value) == spelled
    check_loggable(value)


@pytest.mark.parametrize("value", [1.5, {"n": 2**53}, {"when": object()}, {1: "a"}, [0.0]])
def test_values_with_more_than_one_spelling_cannot_be_logged(value: Any) -> None:
    with pytest.raises(ValueError, match=r"cannot be logged|keys must be strings"):
        check_loggable(value)


def test_the_chain_follows_the_written_recipe() -> None:
    first, second = chain("node-a", 0, GENESIS, [Change("member", "m1", "upsert", {"k": 1}),
                                                  Change("member", "m1", "delete", None)])
    assert first.data_hash == sha256_hex(b'{"k":1}')
    body = (b'{"data_hash":"' + first.data_hash.encode()
            + b'","id":"m1","op":"upsert","origin":"node-a","seq":1,"type":"member"}')
    assert first.hash == sha256_hex(bytes(32) + body)
    assert second.prev == first.hash
    assert second.data_hash == "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b"
    assert second.hash == entry_hash(prev=first.hash, seq=2, origin="node-a", type="member",
                                     id="m1", op="delete", data_hash=second.data_hash)


def test_an_op_must_fit_its_data() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        chain("node-a", 0, GENESIS, [Change("member", "m1", "delete", {"k": 1})])
